import io
import json

import pytest

from annotate.services.imports import prompts_import
from exports.models import DatasetSnapshot
from exports.services import snapshot_create


@pytest.fixture(autouse=True)
def artifacts(settings, tmp_path):
    """Each test writes snapshots in its own folder: test runs share ARTIFACTS_DIR otherwise."""
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    return settings.ARTIFACTS_DIR


def import_lines(project, lines, fmt="rankwise"):
    data = "\n".join(json.dumps(line) for line in lines).encode()
    return prompts_import(project=project, source=io.BytesIO(data), fmt=fmt)


@pytest.fixture
def build(django_capture_on_commit_callbacks):
    """Create a snapshot through the service and run its Celery task (eager) on commit."""

    def _build(project, fmt="pairwise", user=None, **options) -> DatasetSnapshot:
        with django_capture_on_commit_callbacks(execute=True):
            snapshot = snapshot_create(project=project, fmt=fmt, options=options, user=user)
        snapshot.refresh_from_db()
        assert snapshot.status == DatasetSnapshot.Status.READY, snapshot.error
        return snapshot

    return _build


def read_jsonl(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
