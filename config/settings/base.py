"""Settings shared by every environment; everything that differs between machines comes from
environment variables (see .env.example for the full list)."""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from config.env import ImproperlyConfiguredEnv, env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = Path(env_str("RANKWISE_DATA_DIR", str(BASE_DIR / "data")))

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfiguredEnv(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off "
            "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DJANGO_DEBUG-on"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "annotate",
    "agreement",
    "rewardmodel",
    "training",
    "exports",
    "webhooks",
    "loop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.RejectNulMiddleware",
    "core.middleware.RequestContextMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.FriendlyErrorsMiddleware",
    "core.middleware.BrokerUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "annotate.context_processors.roles",
            ],
        },
    },
]

# SQLite by default so a fresh clone runs with no server; production points DATABASE_URL at
# PostgreSQL. The SQLite file lives in the data dir, which .gitignore keeps out of git.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'rankwise.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # One writer at a time is SQLite's model: wait for the lock instead of failing at once,
    # and take it at BEGIN so a read-then-write transaction cannot deadlock on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# The session's user in one plain query (core/auth.py); Django's own stays for sessions that
# name it.
AUTHENTICATION_BACKENDS = [
    "core.auth.UserBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
MEDIA_URL = "media/"
# Dataset snapshots and trained models: large files that belong on a volume, not in MEDIA.
ARTIFACTS_DIR = Path(env_str("RANKWISE_ARTIFACTS_DIR", str(DATA_DIR / "artifacts")))

# Uploads of import files can be large; Django streams them to disk above this size.
DATA_UPLOAD_MAX_MEMORY_SIZE = 50 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Celery -------------------------------------------------------------------------------
# Without CELERY_BROKER_URL or REDIS_URL the demo uses kombu's filesystem transport, so a
# worker and the web process talk through a folder and no broker server is needed.
REDIS_URL = env_str("REDIS_URL")
# A cache shared by every web process when Redis is there: sessions are then read from it
# instead of a query per request, and the consensus flush marker is global (see
# agreement/services/incremental.py). Without Redis each process keeps its own cache and
# sessions stay in the database only, so a logout is never served stale by another process.
# The backend degrades to "no cache" while Redis is unreachable (core/cache.py): sessions come
# from the database, pages and the API keep answering.
REDIS_SOCKET_TIMEOUT = env_float("REDIS_SOCKET_TIMEOUT", 2.0)
CACHE_RETRY_SECONDS = env_float("CACHE_RETRY_SECONDS", 5.0)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "core.cache.FailSoftRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "rankwise",
            "OPTIONS": {
                "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
                "socket_timeout": REDIS_SOCKET_TIMEOUT,
            },
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
CELERY_BROKER_DIR = DATA_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _folder in ("queue", "processed", "control"):
        (CELERY_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        # Broadcast (remote control) exchanges; kombu's default is ./control in the cwd.
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Training tasks are acks_late and can run for days: Redis must not redeliver a message
    # that is still being worked on (the default visibility timeout is one hour).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 7 * 24 * 3600),
        "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
    }
# Results live in the database rows the tasks update (progress, status), not in Celery.
# The Celery app, by name: core.dispatch sends through it without importing config (the layers).
TASK_APP = "config.celery.app"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    # Task names are explicit (``<app>.<action>``, never the module path), so routes name them.
    "training.training_run_execute": {"queue": "gpu"},
    "training.generation_job_execute": {"queue": "gpu"},
    # A slow or failing webhook receiver occupies only the webhooks queue's workers.
    "webhooks.delivery_send": {"queue": "webhooks"},
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Faults (docs/operations.md). Every long task (snapshot, training run, generation job) writes
# a heartbeat on its row; a reaper re-queues or fails it once the heartbeat is this old.
TASK_HEARTBEAT_SECONDS = env_float("TASK_HEARTBEAT_SECONDS", 30.0)
TASK_STALE_SECONDS = env_float("TASK_STALE_SECONDS", 300.0)
TASK_MAX_ATTEMPTS = env_int("TASK_MAX_ATTEMPTS", 3)
# Outbox messages not started this long after their countdown are sent (again) by the sweep.
TASK_OUTBOX_GRACE_SECONDS = env_float("TASK_OUTBOX_GRACE_SECONDS", 30.0)
# Work that needs the broker answers 503 when it does not connect within this; after a
# failure the broker counts as down for BROKER_RETRY_SECONDS without another try.
BROKER_CHECK_TIMEOUT = env_float("BROKER_CHECK_TIMEOUT", 3.0)
BROKER_RETRY_SECONDS = env_float("BROKER_RETRY_SECONDS", 2.0)
# Periodic upkeep (run `celery -A config beat`, or a worker with -B in the demo): messages
# lost with a broker are sent again; tasks whose worker died stop looking "running" and are
# re-queued (training runs from their checkpoint) or failed.
CELERY_BEAT_SCHEDULE = {
    "sweep-task-outbox": {"task": "core.outbox_sweep", "schedule": 30.0},
    "reap-stale-tasks": {"task": "core.tasks_reap_stale", "schedule": 60.0},
    # Safety net for consensus flushes whose broker message was lost: pending rows stay.
    "sweep-webhook-deliveries": {
        "task": "webhooks.deliveries_sweep",
        "schedule": 60.0,
    },
    "sweep-pending-consensus": {
        "task": "agreement.pending_consensus_sweep",
        "schedule": 60.0,
    },
    # Retrain a project's reward model every N new judgements (LoopSettings.retrain_every).
    "loop-retrain-check": {"task": "loop.retrain_check", "schedule": 300.0},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header is what makes DRF answer 401 (not 403) to
    # anonymous requests.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # One table decides for every URL (core/policy.py); no view lists roles itself.
    "DEFAULT_PERMISSION_CLASSES": ["core.api.permissions.PolicyPermission"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.CheckedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_RATES": {"login": "10/min", "token": "30/min"},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Rankwise API",
    "DESCRIPTION": "Human preference data: projects, ranking tasks, agreement, dataset "
    "snapshots, reward-model and PPO training runs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its viewers are for signed-in users (the policy's SIGNED_IN rule).
    "SERVE_PERMISSIONS": ["core.api.permissions.PolicyPermission"],
    # Every operation documents the errors the permission table and its inputs imply.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.errors.document_errors",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Separate request/response components, so read-only fields are not asked for on input
    # and multipart uploads get their own schema.
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "ENUM_NAME_OVERRIDES": {
        "SnapshotFormatEnum": "exports.models.DatasetSnapshot.Format",
        "SnapshotStatusEnum": "exports.models.DatasetSnapshot.Status",
        "ImportFormatEnum": "annotate.imports.formats.FORMATS",
        # Several models have a `status` field with different choices; name each enum.
        "TrainingRunStatusEnum": "training.models.TrainingRun.Status",
        "GenerationJobStatusEnum": "training.models.GenerationJob.Status",
        "AuditSourceEnum": "core.context.SOURCES",
        "AnnotationSourceEnum": "annotate.models.Annotation.Source",
        "MachineAnnotatorKindEnum": "loop.models.MachineAnnotator.Kind",
        "KindEnum": "training.models.TrainingRun.Kind",  # its name before machine annotators
    },
}

# --- Rankwise -------------------------------------------------------------------------------
RANKWISE_IMPORT_BATCH_SIZE = env_int("RANKWISE_IMPORT_BATCH_SIZE", 2000)
# Import files are read defensively (annotate/imports/reader.py): reading stops past
# MAX_BYTES of (decompressed) data, so a small gzip bomb cannot occupy a worker, and a line
# longer than MAX_LINE_BYTES is an error, skipped without being held in memory.
RANKWISE_IMPORT_MAX_BYTES = env_int("RANKWISE_IMPORT_MAX_BYTES", 2 * 2**30)
RANKWISE_IMPORT_MAX_LINE_BYTES = env_int("RANKWISE_IMPORT_MAX_LINE_BYTES", 16 * 2**20)
# Uploads (API and admin) whose data is larger than this once decompressed are imported by a
# Celery task (an ImportJob with progress) instead of inside the web request.
RANKWISE_IMPORT_SYNC_MAX_BYTES = env_int("RANKWISE_IMPORT_SYNC_MAX_BYTES", 2**20)

# Directories whose model folders (a config.json inside) the "New run" form offers as base
# models, comma-separated; the form lists them and takes no other path.
RANKWISE_MODEL_ROOTS = env_list("RANKWISE_MODEL_ROOTS", [str(DATA_DIR / "models")])

# Webhooks (docs/api.md, "Webhooks"): each attempt waits at most TIMEOUT for the receiver; a
# failed one is retried after BACKOFF, doubled per attempt up to BACKOFF_MAX, MAX_ATTEMPTS in
# all. Loopback, private and reserved targets are refused unless ALLOW_PRIVATE_TARGETS (a
# receiver on the same host or network; the tests).
WEBHOOKS_TIMEOUT_SECONDS = env_float("WEBHOOKS_TIMEOUT_SECONDS", 5.0)
WEBHOOKS_MAX_ATTEMPTS = env_int("WEBHOOKS_MAX_ATTEMPTS", 8)
WEBHOOKS_BACKOFF_SECONDS = env_float("WEBHOOKS_BACKOFF_SECONDS", 10.0)
WEBHOOKS_BACKOFF_MAX_SECONDS = env_float("WEBHOOKS_BACKOFF_MAX_SECONDS", 3600.0)
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
