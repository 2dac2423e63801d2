from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import orjson

from annotate.imports.records import LineError


def open_binary(source: str | Path | BinaryIO) -> BinaryIO:
    """Open a path or an uploaded file, transparently un-gzipping by magic bytes."""
    handle = open(source, "rb") if isinstance(source, (str, Path)) else source  # noqa: SIM115
    if hasattr(handle, "seek"):
        handle.seek(0)
    head = handle.read(2)
    handle.seek(0)
    if head == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=handle)  # type: ignore[return-value]
    return handle


def iter_json_lines(source: str | Path | BinaryIO) -> Iterator[tuple[int, object]]:
    """Yield (line number, parsed object) for each non-blank line.

    A line that is not JSON yields a LineError in place of the object, so a validator can
    report it and carry on to the next line.
    """
    # Bytes lines and orjson: decoding and parsing dominate a 100k-line import otherwise.
    handle = open_binary(source)
    try:
        for line_no, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                if "utf-8" in str(exc).lower():
                    reason = "not UTF-8 text"
                else:
                    reason = f"invalid JSON ({exc.msg} at column {exc.colno})"
                obj = LineError("json", reason, line_no)
            yield line_no, obj
    finally:
        # Close what we opened; an uploaded file belongs to the caller (rewound for pass 2).
        if isinstance(source, (str, Path)):
            handle.close()
