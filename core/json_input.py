"""One gate for every JSON request body, on the pages' JSON endpoints and the REST API.

A body that parses is not yet safe to hand to a view: Python's parser recurses once per nesting
level (RecursionError, a 500, at ~1,000), accepts ``NaN`` and turns ``1e999`` into infinity
(neither is JSON, and PostgreSQL's jsonb refuses both), and decodes ``\\u0000`` and unpaired
surrogates that no PostgreSQL text or jsonb column stores. ``json_loads_checked`` refuses all
of these with an error naming where in the body it found them, before any view runs.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 64  # far beyond any body the API documents (a ranking is 2 deep)
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


class JsonInputError(ValueError):
    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path or "body"
        self.message = message


def _constant(name: str):
    raise JsonInputError("", f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonInputError("", f"{text[:40]} is too large for a number")
    return value


def _text_problem(text: str) -> str | None:
    bad = _UNSTORABLE.search(text)
    if bad is None:
        return None
    what = "a NUL character" if bad.group() == "\x00" else "an unpaired surrogate"
    return f"contains {what} (position {bad.start()})"


def _join(path: str, key) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def json_check(data: Any) -> None:
    """Depth and storable text, walked without recursion."""
    stack = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                raise JsonInputError(path, problem)
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            raise JsonInputError(path, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                problem = _text_problem(key)
                if problem:
                    raise JsonInputError(path, f"a key {problem}")
                stack.append((item, _join(path, key), depth + 1))
        else:
            stack.extend((item, _join(path, i), depth + 1) for i, item in enumerate(value))


def json_loads_checked(raw: bytes | str) -> Any:
    """``json.loads`` for request bodies: JsonInputError instead of anything unsafe."""
    try:
        data = json.loads(raw, parse_constant=_constant, parse_float=_finite)
    except JsonInputError:
        raise
    except RecursionError:
        raise JsonInputError("", f"nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonInputError("", f"is not valid JSON ({exc})") from exc
    json_check(data)
    return data
