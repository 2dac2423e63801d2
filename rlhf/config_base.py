"""What both trainers' run files share: typed loading from JSON, and errors that name a field.

A run file is a JSON object whose keys are the fields of a dataclass derived from
:class:`RunConfig`. Loading rejects an unknown key by name (a typo such as ``"kl_coeff"`` must
not silently train with a default), checks each value against the field's annotation (an int
is accepted for a float and becomes one; list items are checked too), builds the dataclass and
runs its ``validate()``. Every problem is a :class:`ConfigError` whose ``field`` says which
key it is about, so the web form and the API can put the message next to that key.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from typing import Any, Self


class ConfigError(ValueError):
    """A run file that cannot be trained from; ``field`` is the key at fault, if one is."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class RunConfig:
    """Mixin for a trainer's config dataclass; subclasses define ``validate()``."""

    #: Prefix of every error message ("PPO config: ..."), so a CLI error says whose key it is.
    error_prefix: typing.ClassVar[str] = ""

    @classmethod
    def fail(cls, field: str | None, message: str) -> ConfigError:
        return ConfigError(f"{cls.error_prefix}{message}", field)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        if not isinstance(data, dict):
            raise cls.fail(None, f"the config must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise cls.fail(unknown[0], f"unknown config key(s): {', '.join(map(repr, unknown))}")
        hints = typing.get_type_hints(cls)
        values = {key: _typed(cls, key, value, hints[key]) for key, value in data.items()}
        config = cls(**values)
        config.validate()
        return config

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> Self:
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise cls.fail(None, f"{path}: not valid JSON (line {exc.lineno}): {exc.msg}") from exc
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def to_json(self, path: str | os.PathLike) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.to_dict(), fh, indent=2)

    def validate(self) -> None:
        """Raise :class:`ConfigError` on settings that cannot work, naming the field."""

    # Small checks that keep each subclass's validate() one line per rule.
    def require(self, *names: str) -> None:
        for name in names:
            if not getattr(self, name):
                raise self.fail(name, f"{name!r} is required")

    def check(self, ok: bool, field: str, message: str) -> None:
        if not ok:
            raise self.fail(field, message)

    def check_choice(self, field: str, allowed: tuple[str, ...]) -> None:
        value = getattr(self, field)
        if value not in allowed:
            raise self.fail(field, f"{field!r} must be one of {allowed}, got {value!r}")


def _typed(cls: type[RunConfig], key: str, value: Any, hint: Any) -> Any:
    if not _matches(value, hint):
        raise cls.fail(
            key, f"{key!r} must be {_describe(hint)}, got {type(value).__name__} {value!r}"
        )
    takes_float = hint is float or (_is_union(hint) and float in typing.get_args(hint))
    if takes_float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # JSON writes 1.0 as 1
    return value


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _matches(value: Any, hint: Any) -> bool:
    if _is_union(hint):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    origin = typing.get_origin(hint)
    if hint is type(None):
        return value is None
    if hint is Any:
        return True
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_matches(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    if _is_union(hint):
        return " or ".join(_describe(a) for a in typing.get_args(hint))
    if hint is type(None):
        return "null"
    if typing.get_origin(hint) is list:
        return f"a list of {_describe(typing.get_args(hint)[0])}"
    return getattr(hint, "__name__", str(hint))
