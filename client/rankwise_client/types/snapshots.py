"""Dataset snapshots."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from rankwise_client.types.base import ApiObject

# --- snapshots ---------------------------------------------------------------------------------


@dataclass(kw_only=True)
class SnapshotFile(ApiObject):
    path: str = ""
    size: int = 0
    sha256: str = ""


@dataclass(kw_only=True)
class Snapshot(ApiObject):
    id: int | None = None
    project: str = ""
    format: str = ""
    status: str = ""
    progress: float | None = None
    prompts_total: int | None = None
    prompts_done: int | None = None
    rows_written: int | None = None
    row_counts: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    sha256: str = ""
    file_path: str = ""
    size_bytes: int | None = None
    files: list[SnapshotFile] = field(default_factory=list)
    code_version: str = ""
    data_as_of: datetime | None = None
    error: str = ""
    created_by: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    download_url: str | None = None
    _nested: ClassVar[dict[str, type]] = {"files": SnapshotFile}
    FINISHED: ClassVar[frozenset[str]] = frozenset({"ready", "failed"})

    @property
    def is_ready(self) -> bool:
        return self.status == "ready"

    def refresh(self) -> Snapshot:
        return self._refresh_from(self.client.snapshots.get(self.id))

    def wait(self, **kwargs) -> Snapshot:
        """Poll until ready (returns self, updated) or failed (raises JobFailed)."""
        return self._refresh_from(self.client.snapshots.wait(self.id, **kwargs))

    def download(self, dest=None, **kwargs) -> Path:
        return self.client.snapshots.download(self.id, dest, **kwargs)

    def rows(self, split: str | None = None) -> list[dict]:
        return self.client.snapshots.rows(self.id, split=split)

    def to_pandas(self, split: str | None = None):
        return self.client.snapshots.to_pandas(self.id, split=split)

    def to_hf_dataset(self):
        return self.client.snapshots.to_hf_dataset(self.id)
