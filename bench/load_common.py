"""Pieces shared by the HTTP load benches (bench_queue.py, bench_load_faults.py): a database of
their own, prompts loaded with COPY, gunicorn and a Celery worker as child processes, the
overlap and consensus checks, percentiles.

Imported as ``load_common`` (the benches run as scripts, with bench/ on sys.path); the Django
parts import lazily, after the caller has set DJANGO_SETTINGS_MODULE and called django.setup().
"""

from __future__ import annotations

import math
import os
import random
import secrets
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent

GUNICORN_CONF = """
preload_app = True
def when_ready(server):
    # Import every view module in the master before the fork, so no worker pays for it
    # (scipy & co. behind some views) during the measurement.
    from django.urls import get_resolver
    get_resolver().url_patterns
"""


# ---- data ----------------------------------------------------------------------------------


def production_env(*, database_url: str, redis_url: str, allowed_hosts: str = "127.0.0.1") -> dict:
    """The settings every bench gives the production configuration: its own database and
    Redis, a throwaway secret key, plain HTTP, quiet logs. Callers add their own on top."""
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_DEBUG": "false",
        "ALLOWED_HOSTS": allowed_hosts,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
    }


def ensure_database(admin_url: str, name: str, fresh: bool) -> bool:
    """Create the bench database; True if it was (re)created."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and not fresh:
            return False
        if exists:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
        return True


def _word_pool(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choices(letters, k=rng.randint(2, 9))) for _ in range(2000)]


def _text(rng: random.Random, words: list[str], chars: int) -> str:
    return " ".join(rng.choices(words, k=chars // 5 + 8))[:chars]


def load_prompts(n: int, overlap: int, *, slug: str, name: str) -> dict:
    """Create the project and N prompts x 4 outputs (a ~200-character prompt, ~500-character
    outputs: the Label Studio reference's task shape) with COPY (core.db.insert_rows)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from annotate.models import Completion, Project, Prompt
    from annotate.rendering import text_html
    from annotate.services.projects import project_create
    from core.db import allocate_ids, insert_rows

    rng = random.Random(42)
    words = _word_pool(rng)
    # Distinct texts are not needed by the queue; a pool keeps generation out of the timing.
    prompts_pool = [_text(rng, words, 200) for _ in range(997)]
    outputs_pool = [_text(rng, words, 500) for _ in range(4001)]
    # Stored rendered, as an import stores them (annotate.rendering).
    outputs_html = [text_html(t) for t in outputs_pool]
    t0 = time.perf_counter()
    with transaction.atomic():
        Project.objects.filter(slug=slug).delete()
        project = project_create(name=name, slug=slug, overlap=overlap)
        now = timezone.now()
        done = 0
        while done < n:
            batch = min(10_000, n - done)
            ids = allocate_ids(Prompt, batch)
            insert_rows(
                Prompt,
                ["id", "project", "external_id", "text", "html", "metadata", "is_gold",
                 "created_at", "submitted_count"],
                ((pid, project.pk, f"q-{done + i}", f"[{done + i}] {prompts_pool[(done + i) % 997]}",
                  f"<p>[{done + i}] {prompts_pool[(done + i) % 997]}</p>", {}, False, now, 0)
                 for i, pid in enumerate(ids)),
            )  # fmt: skip
            insert_rows(
                Completion,
                ["prompt", "external_id", "position", "text", "html", "model_name", "metadata"],
                ((pid, f"m{k}", k, outputs_pool[((done + i) * 4 + k) % 4001],
                  outputs_html[((done + i) * 4 + k) % 4001], f"model-{k}", {})
                 for i, pid in enumerate(ids) for k in range(4)),
            )  # fmt: skip
            done += batch
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotate_prompt; ANALYZE annotate_completion;")
    return {"project_id": project.pk, "prompts": n, "seconds": time.perf_counter() - t0}


# ---- processes -----------------------------------------------------------------------------


def start_server(
    env: dict, port: int, workers: int, *, health: str = "/healthz", root: Path | None = None
) -> subprocess.Popen:
    """gunicorn on 127.0.0.1:<port>, in its own process group; returns once ``health``
    answers 200. ``root``: serve another checkout's code (a baseline) with this virtualenv."""
    root = Path(root or ROOT)
    conf = Path(tempfile.mkdtemp(prefix="bench-gunicorn-")) / "gunicorn.conf.py"
    conf.write_text(GUNICORN_CONF)
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "config.wsgi", "-c", str(conf),
         "-b", f"127.0.0.1:{port}", "-w", str(workers), "--log-level", "warning",
         "--timeout", "60", "--chdir", str(root)],
        cwd=root, env={**env, "PYTHONPATH": str(root)}, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}")
        try:
            if requests.get(f"http://127.0.0.1:{port}{health}", timeout=2).ok:
                return proc
        except requests.RequestException:
            pass
        time.sleep(0.5)
    stop_process(proc)
    raise SystemExit(f"gunicorn did not answer {health} within 90 s")


def start_worker(env: dict, *extra: str, log=None) -> subprocess.Popen:
    """A Celery worker (default queue unless ``extra`` says otherwise), in its own process
    group so that a SIGKILL of the group takes its pool processes with it."""
    args = [str(ROOT / ".venv/bin/celery"), "-A", "config", "worker", "--loglevel", "warning",
            "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
    if "-Q" not in extra:
        args += ["-Q", "default"]
    if "-c" not in extra:
        args += ["-c", "1"]
    return subprocess.Popen(
        [*args, *extra], cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=log
    )


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group a bench started, SIGKILL after 20 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def kill_process(proc: subprocess.Popen) -> None:
    """SIGKILL to the process group a bench started: no cleanup, no acknowledgement."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# ---- checks --------------------------------------------------------------------------------


def consensus_drain(timeout_s: float = 300.0) -> dict:
    """Wait for the worker to flush every pending prompt; then check the consensus rows."""
    from django.db import connection

    t0 = time.perf_counter()
    with connection.cursor() as c:
        while True:
            c.execute("SELECT count(*) FROM agreement_pendingconsensus")
            (pending,) = c.fetchone()
            if pending == 0 or time.perf_counter() - t0 > timeout_s:
                break
            time.sleep(0.2)
        drained = time.perf_counter() - t0
        # Every prompt with judgements has a consensus counting all of them.
        c.execute(
            """
            SELECT count(*) FILTER (WHERE pc.prompt_id IS NULL),
                   count(*) FILTER (WHERE pc.n_judgements <> a.n)
            FROM (SELECT prompt_id, count(*) AS n FROM annotate_annotation WHERE NOT skipped
                  GROUP BY prompt_id) a
            LEFT JOIN agreement_promptconsensus pc ON pc.prompt_id = a.prompt_id
            """
        )
        missing, wrong = c.fetchone()
    connection.close()
    return {"pending_left": pending, "drain_s": round(drained, 2), "consensus_missing": missing,
            "consensus_out_of_date": wrong}  # fmt: skip


def overlap_check(*, slug: str, usernames_like: str) -> dict:
    """Prompts over their overlap, annotator-twice pairs, counter drift, and how many
    annotations this run's annotators (``usernames_like``, a LIKE pattern) have stored."""
    from django.db import connection

    with connection.cursor() as c:
        c.execute(
            """
            SELECT count(*) FILTER (WHERE n > pr.overlap), coalesce(max(n), 0),
                   count(*) FILTER (WHERE n <> p.submitted_count)
            FROM (SELECT prompt_id, count(*) AS n FROM annotate_annotation
                  WHERE NOT skipped GROUP BY prompt_id) a
            JOIN annotate_prompt p ON p.id = a.prompt_id
            JOIN annotate_project pr ON pr.id = p.project_id
            WHERE pr.slug = %s
            """,
            [slug],
        )
        over, most, drift = c.fetchone()
        c.execute(
            "SELECT count(*) FROM (SELECT 1 FROM annotate_annotation GROUP BY prompt_id, "
            "annotator_id HAVING count(*) > 1) d"
        )
        (dupes,) = c.fetchone()
        c.execute(
            "SELECT count(*) FROM annotate_annotation a JOIN auth_user u ON u.id = a.annotator_id "
            "WHERE u.username LIKE %s",
            [usernames_like],
        )
        (stored,) = c.fetchone()
    return {
        "prompts_over_overlap": over,
        "max_annotations_on_a_prompt": most,
        "counter_drift": drift,
        "same_annotator_twice": dupes,
        "annotations_stored": stored,
    }


def pct(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)
