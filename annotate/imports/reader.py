"""Read an import file as numbered JSON lines, defensively.

Files come from admins' uploads and other teams' exports, so the reader assumes nothing: gzip is
detected by its magic bytes, a truncated or corrupt gzip stream is a line error (not an
exception), a line longer than ``RANKWISE_IMPORT_MAX_LINE_BYTES`` is skipped in bounded chunks
(never held whole), reading stops at ``RANKWISE_IMPORT_MAX_BYTES`` of (decompressed) data, so a
small gzip bomb cannot hold a worker, and a UTF-8 byte order mark at the start of a line is
dropped. NUL characters, which neither PostgreSQL text nor jsonb can store, are reported with the
JSON path of the value that holds them.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson
from django.conf import settings

from annotate.imports.records import LineError

BOM = b"\xef\xbb\xbf"
GZIP_MAGIC = b"\x1f\x8b"
BLANK = b" \t\r\n"
SKIP_CHUNK = 1024 * 1024  # how much of an over-long line is read at a time while skipping it
GZIP_ERRORS = (EOFError, OSError, zlib.error)  # gzip.BadGzipFile is an OSError


@dataclass(frozen=True)
class ReadLimits:
    max_line_bytes: int
    max_bytes: int

    @classmethod
    def from_settings(cls) -> ReadLimits:
        return cls(
            max_line_bytes=settings.RANKWISE_IMPORT_MAX_LINE_BYTES,
            max_bytes=settings.RANKWISE_IMPORT_MAX_BYTES,
        )


def size_text(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} bytes"


def open_binary(handle: BinaryIO) -> BinaryIO:
    """An open file, rewound, transparently un-gzipped when it starts with gzip's magic."""
    if handle.seekable():
        handle.seek(0)
        head = handle.read(2)
        handle.seek(0)
    else:  # a pipe or a generated stream: look without consuming
        if not hasattr(handle, "peek"):
            handle = io.BufferedReader(handle)  # type: ignore[arg-type]
        head = handle.peek(2)[:2]  # type: ignore[attr-defined]
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=handle)  # type: ignore[return-value]
    return handle


def data_size_at_most(handle: BinaryIO, limit: int) -> bool:
    """Whether the file holds at most ``limit`` bytes once decompressed; reads no more than
    that (a bomb is not expanded) and rewinds. Damaged gzip counts as small: the import that
    follows reports the damage with its line number."""
    stream = open_binary(handle)
    try:
        if not isinstance(stream, gzip.GzipFile):
            stream.seek(0, io.SEEK_END)
            return stream.tell() <= limit
        left = limit + 1
        while left > 0:
            chunk = stream.read(min(left, SKIP_CHUNK))
            if not chunk:
                return True
            left -= len(chunk)
        return False
    except GZIP_ERRORS:
        return True
    finally:
        handle.seek(0)


def _gzip_problem(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "the gzip data is truncated (the file ends inside the compressed stream)"
    return f"the gzip data is corrupt ({exc})"


class _Lines:
    """Numbered raw lines of at most ``max_line_bytes``, counting every byte read."""

    def __init__(self, handle: BinaryIO, limits: ReadLimits):
        self.handle = handle
        self.limits = limits
        self.gzipped = isinstance(handle, gzip.GzipFile)
        self.total = 0

    def _over_total(self) -> bool:
        return self.total > self.limits.max_bytes

    def _total_error(self) -> LineError:
        where = " once decompressed" if self.gzipped else ""
        return LineError(
            "", f"more than {size_text(self.limits.max_bytes)}{where}: the file is over the "
            "import size limit (RANKWISE_IMPORT_MAX_BYTES); nothing was imported",
        )  # fmt: skip

    def _read(self, size: int) -> bytes:
        data = self.handle.readline(size)
        self.total += len(data)
        return data

    def _skip_rest(self, raw: bytes) -> LineError | None:
        """Read past the end of an over-long line without keeping it; an error ends the file."""
        while raw and not raw.endswith(b"\n"):
            raw = self._read(SKIP_CHUNK)
            if self._over_total():
                return self._total_error()
        return None

    def _skip_blank_run(self) -> int:
        """Skip whole blank lines in bulk, returning how many: one readline per line would let
        a gzip of newlines (a cheap bomb) hold a worker for minutes before the size limit."""
        peek = getattr(self.handle, "peek", None)
        skipped = 0
        while peek is not None and not self._over_total():
            buffered = peek(SKIP_CHUNK)
            rest = buffered.lstrip(BLANK)
            end = len(buffered) - len(rest)
            if rest:  # keep the next line's leading blanks with it: stop after a newline
                end = buffered.rfind(b"\n", 0, end) + 1
            if end <= 0:
                break
            skipped += buffered.count(b"\n", 0, end)
            self.total += len(self.handle.read(end))
            if rest:
                break
        return skipped

    def __iter__(self) -> Iterator[tuple[int, bytes | LineError]]:
        """Yield (number, bytes) per line; a LineError is the last thing yielded, if any."""
        max_line = self.limits.max_line_bytes
        line_no = 0
        while True:
            line_no += 1
            try:
                raw = self._read(max_line + 1)
                too_long = len(raw) > max_line and not raw.endswith(b"\n")
                fatal = self._skip_rest(raw) if too_long else None
                if raw and not too_long and not raw.strip():
                    line_no += self._skip_blank_run()
            except GZIP_ERRORS as exc:
                if not self.gzipped:
                    raise  # a real I/O error on a plain file is not the file's fault
                yield line_no, LineError("", _gzip_problem(exc))
                return
            if fatal is None and self._over_total():
                fatal = self._total_error()
            if fatal is not None:
                yield line_no, fatal
                return
            if not raw:
                return
            if too_long:
                yield line_no, LineError("", f"longer than {max_line} bytes")
                continue
            yield line_no, raw


def _nul_path(obj: object) -> str | None:
    """The JSON path of the first string (value or key) holding U+0000, else None."""
    stack: list[tuple[str, object]] = [("", obj)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return path
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                if "\x00" in key:
                    return path
                stack.append((f"{path}.{key}" if path else key, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return None


def _parse(raw: bytes, line_no: int) -> object:
    """One line's JSON, or the LineError that says what is wrong with it."""
    if b"\x00" in raw:
        return LineError("", "contains a NUL byte: binary data, or text that is not UTF-8?")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "utf-8" in str(exc).lower():
            reason = "not UTF-8 text"
        else:
            reason = f"invalid JSON ({exc.msg} at column {exc.colno})"
        return LineError("json", reason, line_no)
    # Only a line with the escape can hold the character; walking every line would cost more
    # than parsing it. An escaped backslash before "u0000" matches too, and the walk clears it.
    if b"\\u0000" in raw:
        path = _nul_path(obj)
        if path is not None:
            return LineError(path, "contains a NUL character (\\u0000), which cannot be stored")
    return obj


def iter_json_lines(
    source: str | Path | BinaryIO, *, limits: ReadLimits | None = None
) -> Iterator[tuple[int, object]]:
    """Yield (line number, parsed object) for each non-blank line.

    A line that is not usable JSON yields a LineError in place of the object, so a validator
    can report it and carry on to the next line. A problem with the file itself (gzip damage,
    the size limit) is yielded as a LineError and ends the iteration.
    """
    limits = limits or ReadLimits.from_settings()
    if isinstance(source, (str, Path)):
        with open(source, "rb") as handle:
            yield from _json_lines(handle, limits)
    else:  # an uploaded file belongs to the caller, who closes it
        yield from _json_lines(source, limits)


def _json_lines(handle: BinaryIO, limits: ReadLimits) -> Iterator[tuple[int, object]]:
    # Bytes lines and orjson: decoding and parsing dominate a 100k-line import otherwise.
    for line_no, raw in _Lines(open_binary(handle), limits):
        if isinstance(raw, LineError):
            raw.line = line_no
            yield line_no, raw
            continue
        if raw.startswith(BOM):  # Windows editors write one; `cat a b` keeps one per file
            raw = raw[len(BOM) :]
        if not raw.strip():
            continue
        obj = _parse(raw, line_no)
        if isinstance(obj, LineError):
            obj.line = line_no
        yield line_no, obj
