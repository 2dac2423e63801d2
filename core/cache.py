"""A Redis cache that degrades to "no cache" instead of failing the request.

Everything Rankwise keeps in the cache has its truth elsewhere: sessions are ``cached_db``
(the database row is authoritative), the consensus flush marker only saves redundant flushes
(the pending rows are the outbox and a periodic sweep flushes them), throttle counts are
best effort. So while Redis is unreachable a read is a miss, a write does nothing, and pages
and the API keep answering from the database.

* Short socket timeouts (``REDIS_SOCKET_TIMEOUT``) so a Redis that hangs does not hang the
  request; after a failure the cache is skipped for ``CACHE_RETRY_SECONDS`` without trying.
* When Redis answers again after a failure this process saw, the process first deletes every
  key under the cache's prefix (``SCAN`` + ``DEL``): a session logged out during the outage
  was deleted in the database but not in Redis, and must not come back from there. Another
  process that saw no failure could still read such a key in the moment before; a Redis that
  restarted empty (the usual outage) has nothing stale to serve.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)


class FailSoftRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        import redis

        self._errors = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
        self._down_until = 0.0
        self._saw_failure = False

    # -- the guard ---------------------------------------------------------------------------
    def _guarded(self, default, op, *args, **kwargs):
        if time.monotonic() < self._down_until:
            return default
        try:
            if self._saw_failure:
                self._forget_what_the_outage_left()
            return op(*args, **kwargs)
        except self._errors as exc:
            if not self._saw_failure:
                logger.warning("cache unreachable, serving without it: %s", exc)
            self._saw_failure = True
            self._down_until = time.monotonic() + float(settings.CACHE_RETRY_SECONDS)
            return default

    def _forget_what_the_outage_left(self) -> None:
        client = self._cache.get_client(write=True)
        pattern = f"{self.key_prefix}:*"
        deleted = 0
        batch: list = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += client.delete(*batch)
                batch.clear()
        if batch:
            deleted += client.delete(*batch)
        self._saw_failure = False
        logger.warning(
            "cache reachable again; dropped %d key(s) written before the outage", deleted
        )

    @property
    def reachable(self) -> bool:
        """Whether this process is using Redis now (false while it skips it after a failure)."""
        return time.monotonic() >= self._down_until

    # -- BaseCache ---------------------------------------------------------------------------
    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded(False, super().add, key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._guarded(default, super().get, key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded(None, super().set, key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded(False, super().touch, key, timeout, version)

    def delete(self, key, version=None):
        return self._guarded(False, super().delete, key, version)

    def get_many(self, keys, version=None):
        return self._guarded({}, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._guarded(False, super().has_key, key, version)

    def incr(self, key, delta=1, version=None):
        missing = object()
        value = self._guarded(missing, super().incr, key, delta, version)
        if value is missing:
            raise ValueError(f"Key '{key}' not found (cache unreachable)")
        return value

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded(list(data), super().set_many, data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._guarded(None, super().delete_many, keys, version)

    def clear(self):
        return self._guarded(False, super().clear)
