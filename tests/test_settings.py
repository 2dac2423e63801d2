"""Settings come from the environment; production refuses to start without a secret."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.env import ImproperlyConfiguredEnv, env_bool, env_int, env_list

ROOT = Path(__file__).resolve().parent.parent


def test_env_readers(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "42")
    monkeypatch.setenv("X_LIST", "a.example, b.example,,")
    assert env_bool("X_BOOL") is True
    assert env_int("X_INT", 1) == 42
    assert env_list("X_LIST", []) == ["a.example", "b.example"]
    assert env_bool("X_MISSING", True) is True
    monkeypatch.setenv("X_BOOL", "maybe")
    with pytest.raises(ImproperlyConfiguredEnv, match="X_BOOL"):
        env_bool("X_BOOL")
    monkeypatch.setenv("X_INT", "many")
    with pytest.raises(ImproperlyConfiguredEnv, match="X_INT"):
        env_int("X_INT", 1)


def _settings(module: str, **env) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_"))
    }
    code = (
        "import django, json; from django.conf import settings; django.setup(); "
        "print(json.dumps({'debug': settings.DEBUG, 'engine': settings.DATABASES['default']['ENGINE'], "
        "'name': str(settings.DATABASES['default']['NAME']), 'broker': settings.CELERY_BROKER_URL, "
        "'hosts': settings.ALLOWED_HOSTS}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": module,
            "RANKWISE_DATA_DIR": "/tmp/rankwise-settings-test",
            **env,
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_defaults_need_no_server():
    import json

    out = _settings("config.settings.local")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["debug"] is True
    assert data["engine"] == "django.db.backends.sqlite3"
    assert data["name"].startswith("/tmp/rankwise-settings-test/")
    assert data["broker"] == "filesystem://"


def test_database_and_broker_from_environment():
    import json

    out = _settings(
        "config.settings.local",
        DATABASE_URL="postgres://u:p@db.internal:5433/rw",
        REDIS_URL="redis://cache.internal:6379/2",
        ALLOWED_HOSTS="rankwise.example.org",
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["engine"] == "django.db.backends.postgresql"
    assert data["name"] == "rw"
    assert data["broker"] == "redis://cache.internal:6379/2"
    assert data["hosts"] == ["rankwise.example.org"]


def test_production_requires_a_secret_key():
    out = _settings("config.settings.production")
    assert out.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in out.stderr
    ok = _settings(
        "config.settings.production", DJANGO_SECRET_KEY="x" * 60, ALLOWED_HOSTS="a.example"
    )
    assert ok.returncode == 0, ok.stderr
