"""The Celery app a fault test's worker runs: the project's own, slowed down where the
environment asks, so that a test can kill it in the middle of a task.

RANKWISE_FAULTS_SLOW_EMIT_S: seconds per prompt written into a snapshot.
RANKWISE_FAULTS_FAKE_GENERATE_S: generation answers without a model, after this many seconds.
"""

import os
import time

from config.celery import app  # noqa: F401  (the worker's -A target)

_emit_delay = float(os.environ.get("RANKWISE_FAULTS_SLOW_EMIT_S") or 0)
_generate_delay = os.environ.get("RANKWISE_FAULTS_FAKE_GENERATE_S")

if _emit_delay:
    import django

    django.setup()
    from exports import services

    _real_emit = services._emit

    def _slow_emit(*args, **kwargs):
        time.sleep(_emit_delay)
        return _real_emit(*args, **kwargs)

    services._emit = _slow_emit

if _generate_delay is not None:
    import sys
    import types

    def _fake_generate(model, prompts, *, k, **options):
        time.sleep(float(_generate_delay))
        return [[f"answer {j} to {p}" for j in range(k)] for p in prompts]

    # In place of the module (which imports torch): the job's service imports it lazily.
    sys.modules["rlhf.generate"] = types.SimpleNamespace(generate_completions=_fake_generate)
