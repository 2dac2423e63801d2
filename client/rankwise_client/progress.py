"""A progress line without a dependency: redrawn in place on a terminal, one plain line at a
time (at most every few seconds) in a log or a notebook cell that is not a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def bar(fraction: float, width: int = 24) -> str:
    fraction = min(max(fraction, 0.0), 1.0)
    done = round(fraction * width)
    return "[" + "#" * done + "." * (width - done) + "]"


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover - the loop returns


def human_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class ProgressLine:
    """``update(text)`` as often as you like; ``close()`` leaves the last text on its own line."""

    def __init__(self, stream: TextIO | None = None, *, every: float = 5.0, enabled: bool = True):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.every = every
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._shown = ""
        self._pending = ""
        self._width = 0
        self._last = -float("inf")

    def update(self, text: str, *, force: bool = False) -> None:
        if not self.enabled:
            return
        self._pending = text
        if self.tty:
            pad = " " * max(0, self._width - len(text))
            self.stream.write("\r" + text + pad)
            self.stream.flush()
            self._width, self._shown = len(text), text
            return
        now = time.monotonic()
        if text != self._shown and (force or now - self._last >= self.every):
            self.stream.write(text + "\n")
            self.stream.flush()
            self._shown, self._last = text, now

    def close(self, text: str | None = None) -> None:
        if not self.enabled:
            return
        if text is not None:
            self.update(text, force=True)
        elif self._pending != self._shown:
            self.update(self._pending, force=True)
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
        self._width = 0
