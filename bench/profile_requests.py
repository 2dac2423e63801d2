"""Server CPU per request of the ranking page's hot endpoints, in-process, on PostgreSQL.

The queue bench (bench_queue.py) measures the whole system over HTTP; on a shared machine its
wall-clock figures move with everyone else's load. This one drives the same requests through
Django's test client in one process (no HTTP server, no other client), with the production
settings and middleware, session cookie + CSRF header as the page sends them, and counts:

* CPU per request of this process (Django: middleware, auth, DRF, the services, JSON) and of
  its PostgreSQL backend (read from /proc: same machine), split by endpoint;
* SQL queries per request;
* with ``--profile FILE``, a cProfile of the timed requests (top functions printed).

Each annotator loops as the page does: GET tasks/peek/ (the prefetch), then POST
tasks/<id>/submit/?next=1&prefer=<peeked id>. ``--flow two-trips`` instead: POST tasks/next/,
then POST tasks/<id>/submit/ (no next).

    .venv/bin/python bench/profile_requests.py --prompts 10000 --requests 300 \
        --db-name rankwise_speed_prof --redis redis://127.0.0.1:6379/6 --profile /tmp/sub.prof

``--repo DIR`` runs another checkout's code (a baseline) with this virtualenv, same database.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import secrets
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SLUG = "bench-queue"


def backend_cpu_s(pid: int) -> float:
    """utime + stime of a local process, in seconds (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def annotators(count: int, tag: str) -> list[tuple[int, str]]:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from annotate.models import Project
    from annotate.services.users import memberships_ensure, user_create
    from core.roles import Roles

    project = Project.objects.get(slug=SLUG)
    backend = settings.AUTHENTICATION_BACKENDS[0]  # what a login records (this code's own)
    out = []
    for i in range(count):
        user = user_create(username=f"prof-{tag}-{i}", password=None, roles=[Roles.ANNOTATOR])
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = backend
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        out.append((user.pk, session.session_key))
    memberships_ensure(project=project, user_ids=[pk for pk, _ in out])
    return out


class Page:
    """One annotator's browser: session cookie, CSRF cookie and header."""

    def __init__(self, session_key: str, seed: int):
        from django.test import Client

        self.rng = random.Random(seed)
        csrf = secrets.token_hex(16)
        self.http = Client(enforce_csrf_checks=True, HTTP_X_CSRFTOKEN=csrf)
        self.http.cookies["sessionid"] = session_key
        self.http.cookies["csrftoken"] = csrf
        self.api = f"/api/v1/projects/{SLUG}/tasks"
        self.task: dict | None = None
        self.peeked: int | None = None

    def judgement(self) -> dict:
        order = list(self.task["shown_order"])
        self.rng.shuffle(order)
        ranking = [[order[0]], order[1:3], [order[3]]] if self.rng.random() < 0.2 else order
        return {"ranking": ranking, "ratings": {c: self.rng.randint(1, 7) for c in order},
                "flags": {}, "comment": "", "time_ms": self.rng.randint(5_000, 60_000),
                "shown_order": self.task["shown_order"]}  # fmt: skip

    def post(self, url: str, body: dict | None = None):
        return self.http.post(url, data=json.dumps(body or {}), content_type="application/json")

    def steps(self, flow: str):
        """(name, callable) for one task, in the page's order."""
        if flow == "two-trips":
            return [("next", self._next), ("submit", self._submit_plain)]
        return [("peek", self._peek), ("submit_next", self._submit_next)]

    def _next(self):
        r = self.post(f"{self.api}/next/")
        assert r.status_code in (200, 204), (r.status_code, r.content[:200])
        self.task = r.json() if r.status_code == 200 else None

    def _submit_plain(self):
        if self.task is None:
            return
        r = self.post(f"{self.api}/{self.task['prompt_id']}/submit/", self.judgement())
        assert r.status_code == 201, (r.status_code, r.content[:200])
        self.task = None

    def _peek(self):
        if self.task is None:
            self._next()
        r = self.http.get(f"{self.api}/peek/")
        assert r.status_code in (200, 204), (r.status_code, r.content[:200])
        self.peeked = r.json()["prompt_id"] if r.status_code == 200 else None

    def _submit_next(self):
        if self.task is None:
            return
        url = f"{self.api}/{self.task['prompt_id']}/submit/?next=1"
        if self.peeked is not None:
            url += f"&prefer={self.peeked}"
        r = self.post(url, self.judgement())
        assert r.status_code == 201, (r.status_code, r.content[:200])
        self.task = r.json()["next"]


def measure(pages: list[Page], flow: str, tasks: int, backend_pid: int, profile) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cpu = defaultdict(float)
    pg = defaultdict(float)
    wall = defaultdict(list)
    queries = defaultdict(list)
    for i in range(tasks):
        page = pages[i % len(pages)]
        for name, step in page.steps(flow):
            counted = i % 10 == 0  # query capture costs CPU: on one task in ten only
            p0, c0, w0 = backend_cpu_s(backend_pid), time.process_time(), time.perf_counter()
            if counted:
                with CaptureQueriesContext(connection) as ctx:
                    step()
                queries[name].append(len(ctx.captured_queries))
            elif profile is not None:
                profile.enable()
                step()
                profile.disable()
            else:
                step()
            w1, c1, p1 = time.perf_counter(), time.process_time(), backend_cpu_s(backend_pid)
            if not counted:
                cpu[name] += c1 - c0
                pg[name] += p1 - p0
                wall[name].append(w1 - w0)
    out = {}
    for name in wall:
        n = len(wall[name])
        out[name] = {
            "requests": n,
            "django_cpu_ms": round(1000 * cpu[name] / n, 2),
            "postgres_cpu_ms": round(1000 * pg[name] / n, 2),
            "wall_p50_ms": round(1000 * statistics.median(wall[name]), 2),
            "queries": max(queries[name]) if queries[name] else None,
        }
    return out


def show_queries(page: Page, flow: str) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for name, step in page.steps(flow):
        with CaptureQueriesContext(connection) as ctx:
            step()
        print(f"--- {name}: {len(ctx.captured_queries)} queries")
        for q in ctx.captured_queries:
            print("   ", q["sql"][:150])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=300, help="tasks timed (after warm-up)")
    ap.add_argument("--annotators", type=int, default=8)
    ap.add_argument("--flow", choices=["one-trip", "two-trips"], default="one-trip")
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    ap.add_argument("--db-name", default="rw_profile_requests")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    ap.add_argument("--profile", metavar="FILE", help="cProfile the timed requests into FILE")
    ap.add_argument("--top", type=int, default=35)
    ap.add_argument("--repo", metavar="DIR", help="run this checkout's code instead")
    ap.add_argument("--json", metavar="FILE", help="write the figures here")
    ap.add_argument("--show-queries", action="store_true", help="print one task's SQL")
    args = ap.parse_args()
    if args.repo and not os.environ.get("_PROFILE_REQUESTS_CHILD"):
        # A baseline: the same script, the other checkout first on sys.path.
        env = {**os.environ, "_PROFILE_REQUESTS_CHILD": "1", "PYTHONPATH": args.repo}
        argv = [sys.executable, __file__, *sys.argv[1:]]
        raise SystemExit(subprocess.call(argv, env=env, cwd=args.repo))
    root = Path(args.repo or HERE.parent).resolve()
    sys.path[:0] = [str(root), str(HERE)]
    import load_common

    load_common.ensure_database(f"{args.pg}/postgres", args.db_name, fresh=False)
    os.environ.update(
        load_common.production_env(
            database_url=f"{args.pg}/{args.db_name}",
            redis_url=args.redis,
            allowed_hosts="testserver",
        )
    )
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from annotate.models import Prompt

    # No worker here: the consensus flush a submit enqueues must not need a broker.
    settings.CELERY_TASK_ALWAYS_EAGER = False
    call_command("migrate", verbosity=0)
    if Prompt.objects.filter(project__slug=SLUG).count() != args.prompts:
        print(f"loading {args.prompts:,} prompts ...", flush=True)
        load_common.load_prompts(args.prompts, 3, slug=SLUG, name="Queue benchmark")
    tag = secrets.token_hex(3)
    pages = [Page(key, seed) for seed, (_, key) in enumerate(annotators(args.annotators, tag))]
    with connection.cursor() as c:
        c.execute("SELECT pg_backend_pid()")
        (backend,) = c.fetchone()
    measure(pages, args.flow, 4 * len(pages), backend, None)  # warm-up: imports, caches
    # CPU time, not wall: on a shared machine the wall clock is mostly waiting for a core.
    if args.show_queries:
        show_queries(pages[0], args.flow)
    profile = cProfile.Profile(time.process_time) if args.profile else None
    figures = measure(pages, args.flow, args.requests, backend, profile)
    print(f"code: {root}  flow: {args.flow}  tasks timed: {args.requests}")
    print(f"{'endpoint':<12} {'Django CPU ms':>13} {'PostgreSQL CPU ms':>18} {'wall p50 ms':>12} "
          f"{'queries':>8}")  # fmt: skip
    for name, f in figures.items():
        print(f"{name:<12} {f['django_cpu_ms']:>13} {f['postgres_cpu_ms']:>18} "
              f"{f['wall_p50_ms']:>12} {f['queries']!s:>8}")  # fmt: skip
    per_task = sum(f["django_cpu_ms"] + f["postgres_cpu_ms"] for f in figures.values())
    print(f"server CPU per annotation (Django + PostgreSQL): {per_task:.2f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps({"code": str(root), "flow": args.flow,
                                               "endpoints": figures}, indent=1))  # fmt: skip
    if profile is not None:
        profile.dump_stats(args.profile)
        stats = pstats.Stats(profile).strip_dirs().sort_stats("cumulative")
        stats.print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
