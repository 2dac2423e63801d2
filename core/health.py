"""Health of the dependencies (operations): what each says right now (``/healthz``)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection

from core.dispatch import task_app

DEPENDENCIES = ("database", "cache", "broker")


def _timed(check) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        detail = check()
        ok, error = True, None
    except Exception as exc:
        ok, detail, error = False, None, f"{type(exc).__name__}: {exc}"[:300]
    out: dict[str, Any] = {"ok": ok, "ms": round((time.perf_counter() - t0) * 1000, 1)}
    if detail:
        out["detail"] = detail
    if error:
        out["error"] = error
    return out


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor


def _cache_check(cache) -> str:
    # Straight to Redis: the fail-soft backend would answer "miss" and hide the outage.
    cache._cache.get_client(write=True).ping()
    return "redis"


def _broker() -> str:
    app = task_app()

    with app.connection_for_write() as conn:
        conn.ensure_connection(
            max_retries=0, interval_start=0, interval_step=0,
            timeout=float(settings.BROKER_CHECK_TIMEOUT),
        )  # fmt: skip
        return conn.transport_cls if isinstance(conn.transport_cls, str) else "broker"


def dependencies_check() -> dict[str, dict[str, Any]]:
    """``{name: {"ok", "ms", "needed", "detail" | "error"}}`` for the database, the cache
    and the broker. ``needed`` is false where the deployment has no such server (a
    per-process cache without Redis, tasks run inline)."""
    app = task_app()

    checks = {"database": {**_timed(_database), "needed": True}}
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        checks["cache"] = {**_timed(lambda: _cache_check(cache)), "needed": True}
    else:
        checks["cache"] = {"ok": True, "needed": False, "detail": "per-process (no Redis)"}
    if app.conf.task_always_eager:
        checks["broker"] = {"ok": True, "needed": False, "detail": "tasks run inline (eager)"}
    else:
        checks["broker"] = {**_timed(_broker), "needed": True}
    return checks
