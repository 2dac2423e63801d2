"""Writers of exported lines: JSONL, or Parquet + a Hugging Face DatasetDict.

Every sink hashes the canonical JSONL bytes of the lines it is given, in order, so a snapshot's
``sha256`` means the same thing in every format: for JSONL it is the file's own hash; for ``hf``
it is the hash the pairwise JSONL of the same rows would have. Nothing is held in memory beyond
one batch of rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from exports.options import SPLITS

PARQUET_BATCH_ROWS = 5000
COPY_CHUNK = 1 << 20


def canonical_line(row: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, keys in insertion order: the bytes the content hash is taken over."""
    return orjson.dumps(row) + b"\n"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(COPY_CHUNK):
            digest.update(block)
    return digest.hexdigest()


class JsonlSink:
    """One JSONL file; its SHA-256 is the content hash."""

    def __init__(self, path: Path):
        self.path = path
        self._fh: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._hash = hashlib.sha256()
        self.rows = 0

    def write(self, row: dict[str, Any]) -> None:
        line = canonical_line(row)
        self._fh.write(line)
        self._hash.update(line)
        self.rows += 1

    def close(self) -> str:
        self._fh.close()
        return self._hash.hexdigest()

    def abort(self) -> None:
        self._fh.close()


MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))


def pairwise_schema(*, conversational: bool, per_annotator: bool, ties: bool) -> pa.Schema:
    """Column order equals the order pairwise rows are built in (see exports.lines)."""
    text = MESSAGES if conversational else pa.string()
    fields = [
        ("prompt", text), ("chosen", text), ("rejected", text), ("prompt_id", pa.string()),
        ("margin", pa.float64()), ("weight", pa.float64()), ("agreement", pa.float64()),
    ]  # fmt: skip
    if per_annotator:
        fields.append(("annotator", pa.string()))
    if ties:
        fields.append(("tie", pa.bool_()))
    fields.append(("split", pa.string()))
    return pa.schema(fields)


class HfSink:
    """Parquet per split, streamed in batches; then a DatasetDict saved with save_to_disk.

    Layout under ``folder``: ``parquet/{train,validation,test}.parquet`` and ``hf/`` (load it
    with ``datasets.load_from_disk``). Empty splits are written too, so the three keys always
    exist.
    """

    def __init__(self, folder: Path, schema: pa.Schema):
        self.folder = folder
        self.schema = schema
        self._hash = hashlib.sha256()
        self.rows = 0
        (folder / "parquet").mkdir(parents=True, exist_ok=True)
        (folder / ".arrow").mkdir(exist_ok=True)
        self._parquet = {s: pq.ParquetWriter(self.parquet_path(s), schema) for s in SPLITS}
        # Arrow stream files let datasets memory-map each split without a cache copy.
        self._arrow_files = {s: open(self._arrow_path(s), "wb") for s in SPLITS}  # noqa: SIM115
        self._arrow = {s: pa.ipc.new_stream(self._arrow_files[s], schema) for s in SPLITS}
        self._batches: dict[str, list[dict]] = {s: [] for s in SPLITS}

    def parquet_path(self, split: str) -> Path:
        return self.folder / "parquet" / f"{split}.parquet"

    def _arrow_path(self, split: str) -> Path:
        return self.folder / ".arrow" / f"{split}.arrow"

    def write(self, row: dict[str, Any]) -> None:
        self._hash.update(canonical_line(row))
        batch = self._batches[row["split"]]
        batch.append(row)
        self.rows += 1
        if len(batch) >= PARQUET_BATCH_ROWS:
            self._flush(row["split"])

    def _flush(self, split: str) -> None:
        batch = self._batches[split]
        if not batch:
            return
        table = pa.Table.from_pylist(batch, schema=self.schema)
        self._parquet[split].write_table(table)
        self._arrow[split].write_table(table)
        batch.clear()

    def close(self) -> str:
        for split in SPLITS:
            self._flush(split)
            self._parquet[split].close()
            self._arrow[split].close()
            self._arrow_files[split].close()
        self._save_dataset_dict()
        shutil.rmtree(self.folder / ".arrow")
        return self._hash.hexdigest()

    def _save_dataset_dict(self) -> None:
        import datasets  # heavy; only an hf export needs it

        datasets.disable_progress_bars()
        splits = datasets.DatasetDict(
            {s: datasets.Dataset.from_file(str(self._arrow_path(s))) for s in SPLITS}
        )
        # An empty split would get no shard file at all, and load_from_disk then fails on it.
        shards = {s: 1 if splits[s].num_rows == 0 else None for s in SPLITS}
        splits.save_to_disk(str(self.folder / "hf"), num_shards=shards)
        del splits  # release the memory maps before the arrow files are removed

    def abort(self) -> None:
        for split in SPLITS:
            for closer in (self._parquet[split].close, self._arrow[split].close,
                           self._arrow_files[split].close):  # fmt: skip
                with contextlib.suppress(Exception):  # already failing; keep the first error
                    closer()
