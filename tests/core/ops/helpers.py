"""Pointing this process at a broken (or a test's own) Redis, as a deployment would be."""

from __future__ import annotations

import runpy
import socket
import sys
from contextlib import contextmanager
from pathlib import Path

BASE_SETTINGS = Path(__file__).resolve().parents[3] / "config" / "settings" / "base.py"
# In this session's port range and never listened on: connections are refused at once.
CLOSED_PORT = 16389


def port_is_closed(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) != 0


def deployment_settings(monkeypatch, **env: str | None) -> dict:
    """``config/settings/base.py`` as a process started with these environment variables
    would read it (None removes a variable)."""
    monkeypatch.setenv("DJANGO_DEBUG", "true")
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return runpy.run_path(str(BASE_SETTINGS))


def _reset_connections(app) -> None:
    from kombu import pools

    pools.reset()  # closes and forgets every pooled broker connection of this process
    app._pool = None
    app.amqp._producer_pool = None
    dispatch = sys.modules.get("core.dispatch")
    if dispatch is not None:
        dispatch._broker_down_until = 0.0  # a failure seen by an earlier test


@contextmanager
def celery_broker(url: str, transport_options: dict | None = None):
    """Send this process's tasks through ``url`` for real (no eager shortcut)."""
    from config.celery import app

    keys = ("broker_url", "broker_transport_options", "task_always_eager")
    saved = {key: app.conf[key] for key in keys}
    _reset_connections(app)
    app.conf.update(
        broker_url=url, broker_transport_options=transport_options or {}, task_always_eager=False
    )
    try:
        yield app
    finally:
        _reset_connections(app)
        app.conf.update(saved)
