"""The base of the typed objects: built from the API's JSON, JSON kept in ``raw``.

Each is a dataclass built from the API's JSON by ``from_api``: known keys become fields
(timestamps become ``datetime``), the whole answer stays in ``raw`` (so a key a newer server
adds is not lost), and objects fetched through a client keep it for their methods
(``project.import_file(...)``, ``snapshot.wait()``, ``run.watch()``). Methods delegate to the
client's resources (``client.projects``, ``client.snapshots``...), where the HTTP calls live.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from rankwise_client.errors import RankwiseError


def parse_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(kw_only=True)
class ApiObject:
    raw: dict = field(default_factory=dict, repr=False, compare=False)
    _client: Any = field(default=None, repr=False, compare=False)
    _nested: ClassVar[dict[str, type]] = {}

    @classmethod
    def from_api(cls, data: dict, client: Any = None):
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name in ("raw", "_client") or f.name not in data:
                continue
            value = data[f.name]
            nested = cls._nested.get(f.name)
            if nested is not None and isinstance(value, list):
                value = [nested.from_api(v, client) if isinstance(v, dict) else v for v in value]
            elif nested is not None and isinstance(value, dict):
                value = nested.from_api(value, client)
            elif "datetime" in str(f.type):
                value = parse_datetime(value)
            values[f.name] = value
        return cls(**values, raw=data, _client=client)

    def to_dict(self) -> dict:
        """The API's JSON for this object, as received."""
        return dict(self.raw)

    def _refresh_from(self, fresh: ApiObject):
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(fresh, f.name))
        return self

    @property
    def client(self):
        if self._client is None:
            raise RankwiseError(f"this {type(self).__name__} was not fetched through a Client")
        return self._client
