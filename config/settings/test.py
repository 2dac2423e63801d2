"""Tests: the same settings as local, with a fast password hasher and tasks run inline.

DATABASE_URL and REDIS_URL still come from the environment, so `.ci/run` exercises
PostgreSQL and Redis for real while a bare `pytest` uses SQLite.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "true")

from .base import *  # noqa: F403
from .base import DATA_DIR, REDIS_URL

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
ARTIFACTS_DIR = DATA_DIR / "test-artifacts"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

if REDIS_URL:
    # One Redis serves every test run on the machine: keep each run's keys (throttle counts,
    # the consensus flush marker) to itself.
    CACHES["default"]["KEY_PREFIX"] = f"rankwise-test-{os.getpid()}"  # noqa: F405
WEBHOOKS_ALLOW_PRIVATE_TARGETS = True  # the tests receive webhooks on loopback
