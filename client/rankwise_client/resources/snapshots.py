"""``client.snapshots``: create, wait, download, and load as rows, a DataFrame or a dataset.

A snapshot never changes once built, so its files are cached by id and SHA-256 under the
client's ``cache_dir`` (``$RANKWISE_CACHE_DIR``, else ``~/.cache/rankwise``): a second
``to_pandas()`` reads the local copy. Every download is checked against the SHA-256 the server
lists for the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rankwise_client.errors import JobFailed, RankwiseError
from rankwise_client.progress import ProgressLine, bar, human_bytes
from rankwise_client.resources.base import Resource, object_id, poll_until, project_slug
from rankwise_client.types import Snapshot, SnapshotFile


def _optional(module: str, extra: str):
    try:
        return __import__(module)
    except ImportError:
        raise RankwiseError(
            f"this needs {module}: pip install 'rankwise-client[{extra}]' (or pip install {module})"
        ) from None


class Snapshots(Resource):
    def create(self, project, format: str = "rankings", **options: Any) -> Snapshot:
        """Admins. Queues the build and returns the pending snapshot (``.wait()`` for it).
        ``format``: pairwise, rankings or hf; options as the API's: mode, min_agreement,
        exclude_flags, only_reviewed, annotated_from, annotated_to, ties, seed, split,
        holdout_annotators. Not retried: each call makes a snapshot."""
        body = {"project": project_slug(project), "format": format}
        for key, value in options.items():
            body[key] = value.isoformat() if hasattr(value, "isoformat") else value
        return Snapshot.from_api(self._http.call("POST", "snapshots/", json=body), self._client)

    def get(self, snapshot) -> Snapshot:
        data = self._http.get(f"snapshots/{object_id(snapshot, 'snapshot')}/")
        return Snapshot.from_api(data, self._client)

    def list(self, *, project=None, status: str | None = None, format: str | None = None,
             page_size: int | None = None) -> Iterator[Snapshot]:  # fmt: skip
        """Newest first, every page."""
        query = {"project": project_slug(project) if project is not None else None,
                 "status": status, "format": format, "page_size": page_size}  # fmt: skip
        for item in self._http.paginate("snapshots/", query):
            yield Snapshot.from_api(item, self._client)

    def wait(self, snapshot, *, timeout: float | None = None, poll: float = 1.0,
             progress: bool = False) -> Snapshot:  # fmt: skip
        """Poll until ready; a failed build raises JobFailed carrying the snapshot."""
        sid = object_id(snapshot, "snapshot")
        line = ProgressLine(enabled=progress)

        def show(s: Snapshot) -> None:
            line.update(f"snapshot {s.id} {s.status} {bar(s.progress or 0)} "
                        f"{s.rows_written or 0} rows")  # fmt: skip

        done = poll_until(
            lambda: self.get(sid), finished=lambda s: s.status in Snapshot.FINISHED,
            timeout=timeout, poll=poll, on_update=show,
            describe=lambda s: f"snapshot {s.id} is {s.status}",
        )  # fmt: skip
        line.close()
        if done.status != "ready":
            raise JobFailed(done, f"snapshot {done.id} {done.status}: {done.error}")
        return done

    # --- files -----------------------------------------------------------------------------

    def _entry(self, snap: Snapshot, file: str | None) -> SnapshotFile:
        if file is None:
            data = [f for f in snap.files if f.path.endswith(".jsonl")]
            if len(data) != 1:
                names = ", ".join(f.path for f in snap.files)
                raise RankwiseError(
                    f"snapshot {snap.id} ({snap.format}): name the file, one of {names}"
                )
            return data[0]
        for entry in snap.files:
            if entry.path == file:
                return entry
        raise RankwiseError(f"snapshot {snap.id} has no file {file!r}")

    def _fetch(self, snap: Snapshot, entry: SnapshotFile, dest: Path, progress: bool) -> Path:
        line = ProgressLine(enabled=progress)

        def show(done: int, total: int | None) -> None:
            total = total or entry.size
            line.update(f"downloading {entry.path} {bar(done / total if total else 1)} "
                        f"{human_bytes(done)} / {human_bytes(total)}")  # fmt: skip

        digest = self._http.download(
            f"snapshots/{snap.id}/download/", dest, params={"file": entry.path}, on_bytes=show
        )
        line.close()
        if entry.sha256 and digest != entry.sha256:
            dest.unlink(missing_ok=True)
            raise RankwiseError(
                f"{entry.path}: SHA-256 {digest} is not the snapshot's {entry.sha256}"
            )
        return dest

    def download(self, snapshot, dest: str | Path | None = None, *, file: str | None = None,
                 progress: bool = True) -> Path:  # fmt: skip
        """Download the data file (pairwise, rankings) or the named ``file``: to ``dest`` (a
        file name, or an existing folder), else to ``snapshot-<id>-<name>`` here. For an
        ``hf`` snapshot without ``file``, every file goes under the folder ``dest``."""
        snap = snapshot if isinstance(snapshot, Snapshot) and snapshot.files else self.get(snapshot)
        if snap.format == "hf" and file is None:
            folder = Path(dest) if dest is not None else Path(f"snapshot-{snap.id}")
            for entry in snap.files:
                self._fetch(snap, entry, folder / entry.path, progress)
            return folder
        entry = self._entry(snap, file)
        name = f"snapshot-{snap.id}-{Path(entry.path).name}"
        target = Path(dest) if dest is not None else Path(name)
        if target.is_dir():
            target = target / name
        return self._fetch(snap, entry, target, progress)

    def cached(self, snapshot, files: list[str] | None = None) -> Path:
        """The snapshot's folder in the cache with ``files`` (default: all) downloaded."""
        snap = (
            snapshot
            if isinstance(snapshot, Snapshot) and snap_ready(snapshot)
            else self.get(snapshot)
        )
        if not snap.is_ready:
            raise RankwiseError(f"snapshot {snap.id} is {snap.status}, not ready: wait() for it")
        folder = self._client.cache_dir / "snapshots" / f"{snap.id}-{snap.sha256[:16]}"
        for entry in snap.files:
            if files is not None and not any(entry.path.startswith(f) for f in files):
                continue
            target = folder / entry.path
            if not (target.is_file() and target.stat().st_size == entry.size):
                self._fetch(snap, entry, target, progress=False)
        return folder

    def rows(self, snapshot, *, split: str | None = None) -> list[dict]:
        """The JSONL rows (pairwise, rankings), optionally those of one split."""
        snap = self.get(snapshot)
        if snap.format == "hf":
            return self.to_pandas(snap, split=split).to_dict("records")
        entry = self._entry(snap, None)
        path = self.cached(snap, [entry.path]) / entry.path
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        return [r for r in rows if split is None or r.get("split") == split]

    def to_pandas(self, snapshot, *, split: str | None = None):
        """A pandas DataFrame of the rows (an hf snapshot: its parquet splits, with a
        ``split`` column)."""
        pd = _optional("pandas", "pandas")
        snap = self.get(snapshot)
        if snap.format != "hf":
            return pd.DataFrame(self.rows(snap, split=split))
        folder = self.cached(snap, ["parquet/"])
        frames = []
        for path in sorted((folder / "parquet").glob("*.parquet")):
            if split is None or path.stem == split:
                frame = pd.read_parquet(path)
                if "split" not in frame.columns:
                    frame["split"] = path.stem
                frames.append(frame)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def to_hf_dataset(self, snapshot):
        """A ``datasets.DatasetDict`` by split (rows without a split: one ``Dataset``)."""
        datasets = _optional("datasets", "datasets")
        snap = self.get(snapshot)
        if snap.format == "hf":
            return datasets.load_from_disk(str(self.cached(snap, ["hf/"]) / "hf"))
        rows = self.rows(snap)
        if rows and all("split" in r for r in rows):
            by_split: dict[str, list[dict]] = {}
            for row in rows:
                by_split.setdefault(row["split"], []).append(row)
            return datasets.DatasetDict(
                {name: datasets.Dataset.from_list(part) for name, part in by_split.items()}
            )
        return datasets.Dataset.from_list(rows)


def snap_ready(snapshot: Snapshot) -> bool:
    return snapshot.is_ready and bool(snapshot.files) and bool(snapshot.sha256)
