#!/usr/bin/env bash
# One command from a fresh clone to the whole suite: setup, lint, architecture contracts,
# Django checks, migrations up to date, then pytest (unit, API, training, browser).
# Uses DATABASE_URL / REDIS_URL when set (CI points them at PostgreSQL and Redis), SQLite
# and the in-process broker otherwise. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing Debian's chromium for the browser tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
      || echo "warning: could not install chromium; browser tests will be skipped" >&2
  else
    echo "warning: /usr/bin/chromium missing (apt-get install chromium); browser tests will be skipped" >&2
  fi
fi

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check --quiet .
echo "==> import contracts"
.venv/bin/lint-imports --no-cache
echo "==> module and function sizes"
.venv/bin/python scripts/check_sizes.py >/dev/null || .venv/bin/python scripts/check_sizes.py
echo "==> django checks"
DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python manage.py check --fail-level WARNING
DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python manage.py makemigrations --check --dry-run >/dev/null \
  || { echo "models changed without a migration: run manage.py makemigrations" >&2; exit 1; }
DJANGO_SETTINGS_MODULE=config.settings.production DJANGO_SECRET_KEY="check-deploy-$(date +%s)-a-long-random-enough-value-for-the-check" \
  ALLOWED_HOSTS=rankwise.example.org .venv/bin/python manage.py check --deploy --fail-level WARNING
echo "==> OpenAPI schema (valid, no warnings)"
DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python manage.py spectacular --validate --fail-on-warn >/dev/null
echo "==> pytest (database: ${DATABASE_URL:-sqlite default}; broker: ${REDIS_URL:-embedded})"
exec .venv/bin/pytest "$@"
