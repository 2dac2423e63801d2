from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

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
    handle = open_binary(source)
    text = io.TextIOWrapper(handle, encoding="utf-8", errors="strict")
    try:
        line_no = 0
        while True:
            try:
                raw = text.readline()
            except UnicodeDecodeError as exc:
                raise LineError("file", f"not UTF-8 text ({exc.reason})", line_no + 1) from exc
            if not raw:
                break
            line_no += 1
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                obj = LineError("json", f"invalid JSON ({exc.msg} at column {exc.colno})", line_no)
            yield line_no, obj
    finally:
        text.detach()
