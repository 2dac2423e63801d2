#!/usr/bin/env bash
# One command from a fresh clone to a running demo: SQLite, an embedded broker (a folder),
# the demo projects and users, the web server and a Celery worker.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

export DJANGO_SETTINGS_MODULE=config.settings.local
PORT=${PORT:-8000}
.venv/bin/python manage.py migrate --no-input -v 0
.venv/bin/python manage.py load_demo

mkdir -p data/logs
# Two workers, as in docker-compose: a training run on the gpu queue takes hours and must not
# hold up the default queue's consensus flushes and recomputes. Beat runs with the first.
.venv/bin/celery -A config worker -B -Q default --concurrency 1 -n default@%h --loglevel INFO \
  >data/logs/worker.log 2>&1 &
worker=$!
.venv/bin/celery -A config worker -Q gpu --concurrency 1 -n gpu@%h --loglevel INFO \
  >data/logs/gpu-worker.log 2>&1 &
gpu_worker=$!
# Webhook deliveries wait on other people's servers: their own queue, so a slow receiver
# holds up nothing else.
.venv/bin/celery -A config worker -Q webhooks --concurrency 2 -n webhooks@%h --loglevel INFO \
  >data/logs/webhooks-worker.log 2>&1 &
webhooks_worker=$!
trap 'kill $worker $gpu_worker $webhooks_worker 2>/dev/null || true' EXIT INT TERM

cat <<MSG

Rankwise is running at http://127.0.0.1:${PORT}/  (admin: http://127.0.0.1:${PORT}/admin/)
Log in as alice / rankwise-demo to rank, reviewer / rankwise-demo to review,
admin / rankwise-demo for everything. Worker logs: data/logs/{worker,gpu-worker,webhooks-worker}.log. Ctrl+C stops them all.

MSG
.venv/bin/python manage.py runserver "127.0.0.1:${PORT}"
