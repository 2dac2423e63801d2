"""Writers of exported lines: JSONL, or Parquet + a Hugging Face DatasetDict.

Every sink hashes the canonical JSONL bytes of the lines it is given, in order, so a snapshot's
``sha256`` means the same thing in every format: for JSONL it is the file's own hash; for ``hf``
it is the hash the pairwise JSONL of the same rows would have. Nothing is held in memory beyond
one batch of rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
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


def pairwise_schema(
    *, conversational: bool, per_annotator: bool, ties: bool, dimensions: bool = False
) -> pa.Schema:
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
    if dimensions:  # null on the overall rows
        fields.append(("dimension", pa.string()))
    fields.append(("source", pa.string()))
    fields.append(("split", pa.string()))
    return pa.schema(fields)


ARROW_SHARD = "data-00000-of-00001.arrow"  # the name save_to_disk gives a one-shard split


class HfSink:
    """Parquet per split, plus a DatasetDict that ``datasets.load_from_disk`` opens offline.

    Layout under ``folder``: ``parquet/{train,validation,test}.parquet`` and ``hf/``. Rows are
    streamed in batches into both the Parquet files and, per split, the Arrow stream file that
    ``save_to_disk`` would write (``hf/<split>/data-00000-of-00001.arrow``); the small metadata
    files come from saving an empty DatasetDict of the same schema. A second pass through
    ``save_to_disk`` would read every row back through a memory map, and the process's RSS
    would grow with the export. Empty splits are written too, so the three keys always exist.
    """

    def __init__(self, folder: Path, schema: pa.Schema):
        self.folder = folder
        self.schema = schema
        self._hash = hashlib.sha256()
        self.rows = 0
        (folder / "parquet").mkdir(parents=True, exist_ok=True)
        for split in SPLITS:
            (folder / "hf" / split).mkdir(parents=True, exist_ok=True)
        self._parquet = {s: pq.ParquetWriter(self.parquet_path(s), schema) for s in SPLITS}
        self._arrow_files = {s: open(self.arrow_path(s), "wb") for s in SPLITS}  # noqa: SIM115
        self._arrow = {s: pa.ipc.new_stream(self._arrow_files[s], schema) for s in SPLITS}
        self._batches: dict[str, list[dict]] = {s: [] for s in SPLITS}

    def parquet_path(self, split: str) -> Path:
        return self.folder / "parquet" / f"{split}.parquet"

    def arrow_path(self, split: str) -> Path:
        return self.folder / "hf" / split / ARROW_SHARD

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
        self._write_dataset_metadata()
        return self._hash.hexdigest()

    def _write_dataset_metadata(self) -> None:
        import datasets  # heavy; only an hf export needs it

        datasets.disable_progress_bars()
        meta = self.folder / ".hf-meta"
        empty = datasets.DatasetDict(
            {s: datasets.Dataset(self.schema.empty_table(), split=s) for s in SPLITS}
        )
        empty.save_to_disk(str(meta), num_shards=dict.fromkeys(SPLITS, 1))
        shutil.move(meta / "dataset_dict.json", self.folder / "hf" / "dataset_dict.json")
        for split in SPLITS:
            state = json.loads((meta / split / "state.json").read_text())
            if state.get("_data_files") != [{"filename": ARROW_SHARD}]:
                raise RuntimeError(f"unexpected datasets layout: {state.get('_data_files')}")
            for name in ("state.json", "dataset_info.json"):
                shutil.move(meta / split / name, self.folder / "hf" / split / name)
        shutil.rmtree(meta)

    def abort(self) -> None:
        for split in SPLITS:
            for closer in (self._parquet[split].close, self._arrow[split].close,
                           self._arrow_files[split].close):  # fmt: skip
                with contextlib.suppress(Exception):  # already failing; keep the first error
                    closer()
