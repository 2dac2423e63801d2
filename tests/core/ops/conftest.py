import pytest

from tests.core.ops.helpers import CLOSED_PORT, celery_broker, deployment_settings, port_is_closed


@pytest.fixture
def closed_redis_url():
    if not port_is_closed(CLOSED_PORT):
        pytest.skip(f"something listens on 127.0.0.1:{CLOSED_PORT}")
    return f"redis://127.0.0.1:{CLOSED_PORT}/0"


@pytest.fixture
def redis_down(settings, monkeypatch, closed_redis_url, tmp_path):
    """The deployment's own settings with REDIS_URL at a closed port: Redis is the cache,
    the session cache and the broker, and it is gone."""
    conf = deployment_settings(monkeypatch, REDIS_URL=closed_redis_url, CELERY_BROKER_URL=None)
    settings.CACHES = conf["CACHES"]
    settings.SESSION_ENGINE = conf["SESSION_ENGINE"]
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    with celery_broker(conf["CELERY_BROKER_URL"], conf["CELERY_BROKER_TRANSPORT_OPTIONS"]):
        yield conf
