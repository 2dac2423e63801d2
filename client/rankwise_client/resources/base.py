"""What every resource shares: the HTTP layer, id/slug coercion, and polling to an end."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from rankwise_client.errors import WaitTimeout

if TYPE_CHECKING:
    from rankwise_client.client import Client

T = TypeVar("T")


def object_id(value: Any, what: str) -> int:
    """An object's id from the object itself or from the id."""
    found = getattr(value, "id", value)
    if isinstance(found, bool) or not isinstance(found, int | str):
        raise TypeError(f"{what}: expected an id or an object with .id, got {value!r}")
    try:
        return int(found)
    except ValueError:
        raise TypeError(f"{what}: expected an id, got {value!r}") from None


def project_slug(value: Any) -> str:
    slug = getattr(value, "slug", value)
    if not isinstance(slug, str) or not slug:
        raise TypeError(f"project: expected a slug or a Project, got {value!r}")
    return slug


def poll_until(
    fetch: Callable[[], T],
    *,
    finished: Callable[[T], bool],
    timeout: float | None,
    poll: float,
    describe: Callable[[T], str],
    on_update: Callable[[T], None] | None = None,
) -> T:
    """Fetch until ``finished``; WaitTimeout after ``timeout`` seconds (None: no limit)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        obj = fetch()
        if on_update is not None:
            on_update(obj)
        if finished(obj):
            return obj
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            raise WaitTimeout(obj, f"gave up waiting after {timeout:g}s: {describe(obj)}")
        time.sleep(poll if deadline is None else max(0.0, min(poll, deadline - now)))


class Resource:
    def __init__(self, client: Client):
        self._client = client

    @property
    def _http(self):
        return self._client.http
