"""What the command line prints: tables and summaries for people, JSON for scripts; results on
stdout, progress and errors on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rankwise_client.errors import ApiError, RankwiseError

# Exit codes (docs/client.md): a shell script can tell these apart.
OK = 0
ERROR = 1  # unexpected: a bug in the client, or an answer it cannot read
USAGE = 2  # bad command line, no URL or token, a local file missing
API_REFUSED = 3  # the API refused the request: 400, 404, 409, 410, 429...
AUTH = 4  # 401 not authenticated / 403 not allowed
UNAVAILABLE = 5  # 5xx, or the server unreachable (after the retries)
JOB_FAILED = 6  # the run, snapshot or generation job ended failed or cancelled
TIMEOUT = 7  # --timeout passed while waiting; the job goes on on the server
INTERRUPTED = 130  # Ctrl+C


class Output:
    def __init__(self, *, as_json: bool, quiet: bool = False, stdout=None, stderr=None):
        self.as_json = as_json
        self.quiet = quiet
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr

    @property
    def progress(self) -> bool:
        """Progress lines (on stderr) unless --json or --quiet."""
        return not (self.as_json or self.quiet)

    def result(self, data: Any, human: str | None = None) -> None:
        """``data`` as JSON with --json, else the human text (when there is one)."""
        if self.as_json:
            self.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        elif human is not None:
            self.stdout.write(human.rstrip("\n") + "\n")
        self.stdout.flush()

    def note(self, text: str) -> None:
        if self.progress:
            self.stderr.write(text + "\n")
            self.stderr.flush()

    def error(self, exc: BaseException, code: int, hint: str = "") -> None:
        if self.as_json:
            body = exc.as_dict() if isinstance(exc, ApiError) else {"error": type(exc).__name__,
                                                                   "detail": str(exc)}  # fmt: skip
            body["exit_code"] = code
            self.stderr.write(json.dumps(body, default=str) + "\n")
        else:
            self.stderr.write(f"rankwise: {error_text(exc)}\n")
            if hint:
                self.stderr.write(f"  hint: {hint}\n")
        self.stderr.flush()


def error_text(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        lines = [f"{exc.detail} [{exc.code}, HTTP {exc.status}]"]
        for name, message in exc.fields.items():
            if message != exc.detail:
                lines.append(f"  {name}: {message}")
        return "\n".join(lines)
    if isinstance(exc, RankwiseError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """Left-aligned columns; numbers right-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [all(_is_number(row[i]) for row in rows) and rows for i in range(len(headers))]

    def line(values):
        return "  ".join(
            (v.rjust(w) if num else v.ljust(w))
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)) or value is None


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)
