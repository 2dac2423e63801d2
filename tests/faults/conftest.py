import os
import shutil

import pytest
from django.db import connection

from tests.faults.procs import RedisServer

# .ci/run sets this: there the services exist, and a skip would hide that nothing ran.
REQUIRED = os.environ.get("RANKWISE_REQUIRE_FAULT_TESTS") == "1"


def services_or_skip(*, postgres: bool) -> None:
    reason = None
    if shutil.which("redis-server") is None:
        reason = "needs redis-server on PATH (the test starts its own Redis)"
    elif postgres and connection.vendor != "postgresql":
        reason = (
            "needs DATABASE_URL pointing at PostgreSQL: the test's Celery worker processes "
            "share its database"
        )
    if reason:
        if REQUIRED:
            pytest.fail(f"{reason}; RANKWISE_REQUIRE_FAULT_TESTS=1 says they must run here")
        pytest.skip(reason)


@pytest.fixture
def start_redis(tmp_path):
    started: list[RedisServer] = []

    def start(port: int) -> RedisServer:
        server = RedisServer(port, tmp_path / f"redis-{port}").start()
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc and server.proc.poll() is None:
            server.resume()  # a paused server ignores nothing but SIGKILL; be explicit
        server.kill()


@pytest.fixture
def workers():
    """Workers a test started; whatever is still running at the end is killed."""
    started = []
    yield started
    for worker in started:
        worker.kill()


def worker_env(redis_url: str, artifacts, **extra: str) -> dict[str, str]:
    """The environment of a worker process on the test database and the test's Redis, with
    heartbeats and stale limits short enough for a test."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "PYTEST_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "true",
        "DATABASE_URL": url,
        "DATABASE_CONN_MAX_AGE": "0",
        "REDIS_URL": redis_url,
        "RANKWISE_DATA_DIR": str(artifacts.parent / "data"),
        "RANKWISE_ARTIFACTS_DIR": str(artifacts),
        "TASK_HEARTBEAT_SECONDS": "0.3",
        "TASK_STALE_SECONDS": "2",
        "TASK_OUTBOX_GRACE_SECONDS": "1",
        "LOG_LEVEL": "INFO",
        "HF_HUB_OFFLINE": "1",
        **extra,
    })  # fmt: skip
    return env
