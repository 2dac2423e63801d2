"""Snapshots through the client: create, wait, download (hash-checked), rows, pandas, datasets."""

from __future__ import annotations

import hashlib
import json

import pytest

from core.roles import Roles
from tests.client.conftest import token_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def imported(rw, project, rankings_file):
    rw.projects.import_file("parrots", rankings_file, progress=False)
    return project


def test_create_wait_download_and_rows(rw, imported, tmp_path):
    from rankwise_client import Snapshot

    snapshot = rw.projects.get("parrots").create_snapshot("pairwise", seed=3,
                                                           split={"train": 0.5, "validation": 0.25, "test": 0.25})  # fmt: skip
    assert isinstance(snapshot, Snapshot) and snapshot.project == "parrots"
    assert snapshot.wait(timeout=60) is snapshot and snapshot.is_ready
    assert snapshot.settings["seed"] == 3 and snapshot.files[0].path == "pairs.jsonl"

    path = snapshot.download(tmp_path / "pairs.jsonl", progress=False)
    assert path == tmp_path / "pairs.jsonl"
    assert path.read_bytes() and hashlib.sha256(path.read_bytes()).hexdigest() == snapshot.sha256
    (tmp_path / "folder").mkdir()
    in_folder = rw.snapshots.download(snapshot.id, tmp_path / "folder", progress=False)
    assert in_folder == tmp_path / "folder" / f"snapshot-{snapshot.id}-pairs.jsonl"
    assert in_folder.read_bytes() == path.read_bytes()

    rows = snapshot.rows()
    assert len(rows) == snapshot.rows_written and {"prompt", "chosen", "rejected"} <= set(rows[0])
    assert [json.loads(line) for line in path.read_text().splitlines()] == rows
    train = snapshot.rows(split="train")
    assert train and all(r["split"] == "train" for r in train)

    listed = list(rw.snapshots.list(project="parrots", status="ready"))
    assert [s.id for s in listed] == [snapshot.id]


def test_to_pandas_and_to_hf_dataset(rw, imported):
    snapshot = rw.snapshots.create("parrots", format="rankings").wait()
    frame = snapshot.to_pandas()
    assert len(frame) == 12 and {"id", "prompt", "completions", "annotations"} <= set(frame.columns)

    pairwise = rw.snapshots.create("parrots", format="pairwise").wait()
    dataset = pairwise.to_hf_dataset()
    assert sum(len(part) for part in dataset.values()) == pairwise.rows_written
    assert set(dataset) <= {"train", "validation", "test"}
    assert "chosen" in dataset["train"].column_names


def test_hf_snapshot_loads_from_its_own_files(rw, imported, tmp_path):
    snapshot = rw.snapshots.create("parrots", format="hf").wait()
    frame = snapshot.to_pandas()
    assert len(frame) == snapshot.rows_written and set(frame["split"]) <= {
        "train",
        "validation",
        "test",
    }
    dataset = snapshot.to_hf_dataset()
    assert sum(len(part) for part in dataset.values()) == snapshot.rows_written
    folder = snapshot.download(tmp_path / "hf-copy", progress=False)
    for entry in snapshot.files:
        data = (folder / entry.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry.sha256


def test_failed_snapshot_raises_job_failed(rw, imported, settings, monkeypatch):
    from rankwise_client import JobFailed

    import exports.services

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(exports.services, "_manifest", broken)
    snapshot = rw.snapshots.create("parrots", format="rankings")
    with pytest.raises(JobFailed) as caught:
        snapshot.wait(timeout=60)
    assert caught.value.status == "failed" and "disk on fire" in caught.value.error


def test_ml_engineer_cannot_create_but_can_read(live_server, rw, imported):
    from rankwise_client import Client, PermissionDenied

    mle = Client(live_server.url, token_for(Roles.ML_ENGINEER, project=imported))
    with pytest.raises(PermissionDenied):
        mle.snapshots.create("parrots", format="rankings")
    built = rw.snapshots.create("parrots", format="rankings").wait()
    assert mle.snapshots.get(built.id).sha256 == built.sha256
    assert len(mle.snapshots.get(built.id).rows()) == 12
