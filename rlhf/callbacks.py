"""The narrow interface between a training loop and whoever drives it.

The Celery worker implements it to write progress to the database and to honour a
cancellation; the CLI uses :class:`PrintCallbacks`. Trainers call ``on_progress`` every
few steps, ``should_stop`` once per optimisation step, and ``on_checkpoint`` after they
write one, so a driver can record where a resume would start.
"""

from __future__ import annotations

import sys
import time
from typing import Any


class RunCallbacks:
    """Default: do nothing, never stop."""

    def on_start(self, total_steps: int, info: dict[str, Any]) -> None:
        """``info["start_step"]`` is the step a resumed run continues after (0: from scratch);
        anything reported for later steps by an earlier attempt is about to be redone."""

    def on_progress(self, step: int, total_steps: int, metrics: dict[str, Any]) -> None:
        pass

    def on_log(self, line: str) -> None:
        pass

    def on_checkpoint(self, step: int, path: str) -> None:
        pass

    def on_samples(self, step: int, samples: list[dict[str, Any]]) -> None:
        pass

    def should_stop(self) -> bool:
        return False


class PrintCallbacks(RunCallbacks):
    """What the CLI uses: one line per progress report on stderr."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.t0 = time.monotonic()

    def on_start(self, total_steps: int, info: dict[str, Any]) -> None:
        elapsed = time.monotonic() - self.t0
        print(f"[{elapsed:7.1f}s] training {total_steps} steps", file=self.stream, flush=True)

    def on_progress(self, step: int, total_steps: int, metrics: dict[str, Any]) -> None:
        shown = " ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in metrics.items()
            if not isinstance(v, (list, dict))
        )
        elapsed = time.monotonic() - self.t0
        print(f"[{elapsed:7.1f}s] step {step}/{total_steps} {shown}", file=self.stream, flush=True)

    def on_log(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def on_checkpoint(self, step: int, path: str) -> None:
        print(f"checkpoint at step {step}: {path}", file=self.stream, flush=True)


class StopRequested(Exception):
    """Raised inside a trainer when ``should_stop`` answered True; drivers mark the run cancelled."""
