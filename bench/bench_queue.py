"""Work queue under load: annotators claiming and submitting over HTTP, on PostgreSQL.

Loads N prompts (a ~200-character prompt and four ~500-character outputs, overlap 3: the task
shape of the Label Studio reference, ../shared/reference/labelstudio/README.md) into its own
database with COPY, starts gunicorn with `config.settings.production` on loopback, and runs
1, 8 and 32 annotator threads (separate users, session cookie + CSRF header, as the ranking
page does) through /api/v1: a submit with ?next=1 answers with the next task, one round trip
per task. Prints the wait per task, next-task and submit latency, annotations per second, CPU
per annotation, the overlap check, and the ratio against Label Studio 1.23 measured on the same
kind of machine. ``--baseline DIR`` runs the code before (another checkout, its page's two-trip
flow) first in the same run, on the same database, and prints after / before.

    git worktree add /tmp/rankwise-base main   # the code before
    nice -n 10 .venv/bin/python bench/bench_queue.py --prompts 100000 --concurrency 1,8,32 \
        --baseline /tmp/rankwise-base

Loops are closed (no think time), like the reference's client: every annotator sends its next
request as soon as the last one returns, so latency there is mostly queueing behind the other
annotators (Little's law: latency = annotators / throughput). ``--think-ms`` adds a pause per
task to measure latency at a load the server is not saturated by.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import load_common
import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
SLUG = "bench-queue"
# Label Studio 1.23 on PostgreSQL 15, same machine kind (reference README). 1 annotator:
# next-task p50 at 100k tasks (its p99 was measured at 10k only), submit p50 / p99.
LABEL_STUDIO = {
    1: {"next_p50_ms": 464.0, "next_p99_ms": None, "submit_p50_ms": 188.0, "ann_per_s": None},
    8: {"next_p50_ms": 880.0, "next_p99_ms": 1480.0, "ann_per_s": 4.16},
    32: {"next_p50_ms": 4700.0, "next_p99_ms": 7200.0, "ann_per_s": 3.20},
}
TARGET_NEXT_P99_MS = 50.0
TARGET_RATIO = 31.0  # >= 100 annotations/s closed loop (issue 15)


# ---- data ----------------------------------------------------------------------------------


def load_prompts(n: int, overlap: int) -> dict:
    return load_common.load_prompts(n, overlap, slug=SLUG, name="Queue benchmark")


def make_annotators(count: int, tag: str, backend: str) -> list[dict]:
    """Annotator users with a logged-in session each (cookie values for the HTTP client).

    ``backend``: the authentication backend a login on that server's code records (the
    session names it; core/auth.py's before issue 15's speed pass, Django's before that)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from annotate.models import Project
    from annotate.services.users import memberships_ensure, user_create
    from core.roles import Roles

    project = Project.objects.get(slug=SLUG)
    out = []
    for i in range(count):
        user = user_create(username=f"bq-{tag}-{i}", password=None, roles=[Roles.ANNOTATOR])
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = backend
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        out.append({"user_id": user.pk, "session": session.session_key})
    memberships_ensure(project=project, user_ids=[a["user_id"] for a in out])
    return out


# ---- server --------------------------------------------------------------------------------


def _login_backend(root: Path) -> str:
    """The authentication backend a login on the checkout at ``root`` records."""
    settings = (root / "config/settings/base.py").read_text()
    fast = "core.auth.UserBackend"
    return fast if f'"{fast}"' in settings else "django.contrib.auth.backends.ModelBackend"


def start_worker(env: dict) -> subprocess.Popen:
    """The Celery worker that runs the consensus flushes (default queue, one process)."""
    return load_common.start_worker(env)


class RssSampler(threading.Thread):
    """Peak resident memory of the gunicorn master and its workers together."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stopped = pid, 0, threading.Event()

    def run(self):
        import psutil

        master = psutil.Process(self.pid)
        while not self.stopped.is_set():
            try:
                procs = [master, *master.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs))
            except psutil.Error:
                pass
            time.sleep(0.25)


# ---- client --------------------------------------------------------------------------------


def _judgement(rng: random.Random, task: dict) -> dict:
    order = list(task["shown_order"])
    rng.shuffle(order)
    ranking = [[order[0]], order[1:3], [order[3]]] if rng.random() < 0.2 else order
    return {
        "ranking": ranking,
        "ratings": {cid: rng.randint(1, 7) for cid in order},
        "flags": {},
        "comment": "",
        "time_ms": rng.randint(5_000, 60_000),
        "shown_order": task["shown_order"],
    }


def _post(http, url, rec, what, headers, body=None, ok=(200,)):
    t = time.perf_counter()
    try:
        r = http.post(url, data=json.dumps(body or {}), headers=headers, timeout=60)
    except requests.RequestException as exc:
        rec["errors"].append(f"{what}: {exc!r}")
        return None, 0.0
    if r.status_code not in ok:
        rec["errors"].append(f"{what} {r.status_code}: {r.text[:120]}")
        return None, 0.0
    return r, time.perf_counter() - t


def annotate_loop(
    base: str, who: dict, loops: int, think_s: float, rec: dict, seed: int, flow: str = "one-trip"
) -> None:
    """One annotator's closed loop, as the ranking page drives the server.

    ``one-trip`` (the page now): POST /api/v1/.../tasks/next/ once, then every submit carries
    ``?next=1`` and answers with the next task. ``two-trips`` (the page before, against a
    baseline checkout): its own JSON endpoints, POST next-task, then POST submit. ``wait`` is
    what the annotator waits for per task: next + submit, or the one submit-with-next.
    """
    rng = random.Random(seed)
    csrf = "".join(
        rng.choices("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=32)
    )
    http = requests.Session()
    http.cookies.set("sessionid", who["session"])
    http.cookies.set("csrftoken", csrf)
    headers = {"X-CSRFToken": csrf, "Content-Type": "application/json"}
    api = f"{base}/api/v1/projects/{SLUG}/tasks"
    task = None
    if flow == "one-trip":
        r, took = _post(http, f"{api}/next/", rec, "next", headers, ok=(200, 204))
        if r is None or r.status_code == 204:
            return
        rec["next"].append(took)
        task = r.json()
    for _ in range(loops):
        if flow == "two-trips":
            r, took_next = _post(http, f"{base}/projects/{SLUG}/annotate/next", rec, "next",
                                 headers)  # fmt: skip
            if r is None:
                continue
            rec["next"].append(took_next)
            task = r.json()["task"]
        if task is None:
            rec["empty"].append(who["user_id"])
            return
        rec["offered"].append((who["user_id"], task["prompt_id"]))
        body = _judgement(rng, task)
        if think_s:
            time.sleep(think_s * rng.uniform(0.5, 1.5))
        if flow == "two-trips":
            url = f"{base}/projects/{SLUG}/prompts/{task['prompt_id']}/submit"
            r, took = _post(http, url, rec, "submit", headers, body, ok=(201,))
            if r is None:
                continue
            rec["submit"].append(took)
            rec["wait"].append(took_next + took)
            rec["saved"].append(r.json()["annotation_id"])
        else:
            url = f"{api}/{task['prompt_id']}/submit/?next=1"
            r, took = _post(http, url, rec, "submit", headers, body, ok=(201,))
            if r is None:
                task = None
                r, took = _post(http, f"{api}/next/", rec, "next", headers, ok=(200, 204))
                task = r.json() if r is not None and r.status_code == 200 else None
                continue
            rec["submit"].append(took)
            rec["wait"].append(took)
            data = r.json()
            rec["saved"].append(data["id"])
            task = data["next"]


class CpuMeter:
    """CPU seconds used by the server, the Celery worker, PostgreSQL backends and this client.

    The machine is shared, so wall-clock latency mixes our work with everyone else's; CPU time
    per annotation is what this system itself costs, whatever the load around it.
    """

    def __init__(self, server_pid: int, worker_pid: int, pg_url: str):
        # With two servers (--baseline) each level counts only its own server's CPU; the
        # database backends of the idle one cost nothing meanwhile.
        import psutil

        self.psutil = psutil
        self.server = psutil.Process(server_pid)
        self.worker = psutil.Process(worker_pid)
        self.pg_url = pg_url

    def _tree(self, root):
        try:
            return [root, *root.children(recursive=True)]
        except self.psutil.Error:
            return [root]

    def _backends(self):
        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            ).fetchall()
        out = []
        for (pid,) in rows:
            with contextlib.suppress(self.psutil.Error):
                out.append(self.psutil.Process(pid))
        return out

    @staticmethod
    def _cpu(procs) -> dict[int, float]:
        out = {}
        for p in procs:
            with contextlib.suppress(Exception):  # a process that ended meanwhile
                t = p.cpu_times()
                out[p.pid] = t.user + t.system
        return out

    def sample(self) -> dict:
        return {
            "server": self._cpu(self._tree(self.server)),
            "worker": self._cpu(self._tree(self.worker)),
            "postgres": self._cpu(self._backends()),
            "client": time.process_time(),
        }

    @staticmethod
    def delta(a: dict, b: dict) -> dict:
        def part(key):
            return sum(v - a[key].get(pid, 0.0) for pid, v in b[key].items())

        return {
            "server_s": part("server"),
            "worker_s": part("worker"),
            "postgres_s": part("postgres"),
            "client_s": b["client"] - a["client"],
        }


def run_level(
    base: str, annotators: list[dict], loops: int, think_s: float, meter=None,
    flow: str = "one-trip",
) -> dict:  # fmt: skip
    rec = {k: [] for k in ("next", "submit", "wait", "saved", "errors", "empty", "offered")}
    threads = [
        threading.Thread(target=annotate_loop, args=(base, a, loops, think_s, rec, i, flow))
        for i, a in enumerate(annotators)
    ]
    before = meter.sample() if meter else None
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    cpu = CpuMeter.delta(before, meter.sample()) if meter else None
    ms = lambda xs, p: round(load_common.pct(xs, p) * 1000, 1)  # noqa: E731
    repeats = sum(1 for n in Counter(rec["offered"]).values() if n > 1)
    return {
        "flow": flow,
        "annotators": len(annotators),
        "loops_each": loops,
        "think_ms": think_s * 1000,
        "annotations": len(rec["saved"]),
        "wall_s": round(wall, 2),
        "ann_per_s": round(len(rec["saved"]) / wall, 1),
        "next_p50_ms": ms(rec["next"], 50),
        "next_p99_ms": ms(rec["next"], 99),
        "next_mean_ms": round(statistics.mean(rec["next"]) * 1000, 1) if rec["next"] else None,
        "submit_p50_ms": ms(rec["submit"], 50),
        "submit_p99_ms": ms(rec["submit"], 99),
        "wait_p50_ms": ms(rec["wait"], 50),
        "wait_p99_ms": ms(rec["wait"], 99),
        "errors": len(rec["errors"]),
        "error_samples": rec["errors"][:3],
        "queue_empty": len(rec["empty"]),
        "same_task_offered_twice_to_one_annotator": repeats,
        "cpu": {k: round(v, 2) for k, v in cpu.items()} if cpu else None,
        "cpu_ms_per_annotation": (
            round(sum(cpu.values()) * 1000 / len(rec["saved"]), 1) if cpu and rec["saved"] else None
        ),
        "saved_ids": rec["saved"],
    }


# ---- checks and report ---------------------------------------------------------------------


def overlap_check(saved_ids: list[int], tag: str) -> dict:
    check = load_common.overlap_check(slug=SLUG, usernames_like=f"bq-{tag}%")
    check["submissions_acknowledged"] = len(saved_ids)
    return check


def fmt(v, unit="") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, str):
        return v
    return f"{v:,.1f}{unit}" if isinstance(v, float) else f"{v:,}{unit}"


def report(levels: list[dict], load: dict, check: dict, args, peak_rss: int) -> None:
    print()
    print(
        f"Work queue, {load['prompts']:,} prompts x 4 outputs, overlap {args.overlap}, "
        f"PostgreSQL, gunicorn -w {args.workers} (config.settings.production), "
        f"think time {args.think_ms} ms; consensus flushed by one Celery worker on Redis"
    )
    print(f"load (COPY): {load['seconds']:.1f} s;  peak server RSS {peak_rss / 2**20:,.0f} MB")
    head = ("code", "annotators", "annotations", "ann/s", "wait/task p50", "wait/task p99",
            "next p99", "submit p50", "submit p99", "errors", "LS ann/s", "x LS",
            "LS next p99")  # fmt: skip
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for lv in levels:
        ls = LABEL_STUDIO.get(lv["annotators"], {})
        ratio = lv["ann_per_s"] / ls["ann_per_s"] if ls.get("ann_per_s") else None
        lat = ls["next_p99_ms"] / lv["next_p99_ms"] if ls.get("next_p99_ms") else None
        del lat
        row = (
            lv["code"], lv["annotators"], lv["annotations"], lv["ann_per_s"], lv["wait_p50_ms"],
            lv["wait_p99_ms"], lv["next_p99_ms"], lv["submit_p50_ms"], lv["submit_p99_ms"],
            lv["errors"], ls.get("ann_per_s"), ratio, ls.get("next_p99_ms"),
        )  # fmt: skip
        units = ("", "", "", "", " ms", " ms", " ms", " ms", " ms", "", "", "x", " ms")
        print("| " + " | ".join(fmt(v, u) for v, u in zip(row, units, strict=True)) + " |")
    print()
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    print(f"CPU per annotation (server + worker + PostgreSQL backends + this client; load "
          f"average {load:.1f} on {cores} cores during the report):")  # fmt: skip
    for lv in levels:
        if lv["cpu_ms_per_annotation"]:
            c = lv["cpu"]
            per = lv["cpu_ms_per_annotation"]
            print(
                f"  {lv['code']:>8} {lv['annotators']:>2} annotators: {per:.1f} ms (server {c['server_s']:.1f} s, "
                f"worker {c['worker_s']:.1f} s, postgres {c['postgres_s']:.1f} s, "
                f"client {c['client_s']:.1f} s); "
                f"{cores} idle cores would sustain ~{cores * 1000 / per:,.0f} annotations/s"
            )
    print()
    print(
        f"overlap check: {check['prompts_over_overlap']} prompts over the overlap "
        f"(max {check['max_annotations_on_a_prompt']} on one prompt), "
        f"{check['same_annotator_twice']} annotator-twice pairs, counter drift "
        f"{check['counter_drift']}, {check['submissions_acknowledged']:,} submissions "
        f"acknowledged = {check['annotations_stored']:,} stored"
    )
    print(
        f"consensus: pending prompts flushed {check['drain_s']} s after the load stopped "
        f"({check['pending_left']} left); prompts without consensus {check['consensus_missing']}, "
        f"with an out-of-date one {check['consensus_out_of_date']}"
    )
    before = {lv["annotators"]: lv for lv in levels if lv["code"] == "before"}
    for lv in levels:
        base = before.get(lv["annotators"])
        if lv["code"] == "after" and base and base["ann_per_s"]:
            print(
                f"after / before at {lv['annotators']} annotators: "
                f"{lv['ann_per_s'] / base['ann_per_s']:.2f}x annotations/s, wait per task p99 "
                f"{base['wait_p99_ms']} -> {lv['wait_p99_ms']} ms, CPU per annotation "
                f"{base['cpu_ms_per_annotation']} -> {lv['cpu_ms_per_annotation']} ms"
            )
    for top in (lv for lv in levels if lv["annotators"] == 32 and lv["code"] == "after"):
        ratio = top["ann_per_s"] / LABEL_STUDIO[32]["ann_per_s"]
        print(
            f"targets at 32 annotators: {top['ann_per_s']} annotations/s = {ratio:.0f}x Label "
            f"Studio (target >= {TARGET_RATIO:.0f}x: {'met' if ratio >= TARGET_RATIO else 'NOT met'});"
            f" wait per task p99 {top['wait_p99_ms']} ms (target < {TARGET_NEXT_P99_MS:.0f} ms "
            f"with think time: {'met' if top['wait_p99_ms'] < TARGET_NEXT_P99_MS else 'NOT met'})"
        )


# ---- main ----------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=int, default=100_000)
    ap.add_argument("--overlap", type=int, default=3)
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--ops-per-level", type=int, default=1280,
                    help="next+submit loops per level, split over its annotators")  # fmt: skip
    ap.add_argument("--think-ms", type=int, default=0)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--port", type=int, default=8931)
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432",
                    help="PostgreSQL server URL (without database)")  # fmt: skip
    ap.add_argument("--db-name", default="rw_bench_queue")
    ap.add_argument("--reuse", action="store_true",
                    help="keep the database and its prompts from the last run")  # fmt: skip
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/13",
                    help="broker and cache for the server and the worker (flushed first)")  # fmt: skip
    ap.add_argument("--out", help="write the results as JSON here")
    ap.add_argument("--baseline", metavar="DIR",
                    help="a checkout of the code before (e.g. `git worktree add /tmp/base "
                    "main`): each level runs first on its server with the page's old two-trip "
                    "flow, then on this checkout's with the one-trip flow, same database")  # fmt: skip
    ap.add_argument("--baseline-flow", choices=["two-trips", "one-trip"], default="two-trips",
                    help="how the baseline is driven: two-trips (the page's own next and "
                    "submit endpoints, code before issue 15) or one-trip (submit ?next=1)")  # fmt: skip
    args = ap.parse_args()
    levels = [int(c) for c in args.concurrency.split(",") if c]

    fresh = load_common.ensure_database(f"{args.pg}/postgres", args.db_name, fresh=not args.reuse)
    env = {
        **os.environ,
        **load_common.production_env(
            database_url=f"{args.pg}/{args.db_name}", redis_url=args.redis
        ),
    }
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DJANGO_SECRET_KEY",
                       "DJANGO_SECURE_SSL_REDIRECT", "DJANGO_DEBUG", "ALLOWED_HOSTS",
                       "DATABASE_URL", "LOG_LEVEL", "REDIS_URL", "CELERY_BROKER_URL")})  # fmt: skip
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from annotate.models import Prompt

    call_command("migrate", verbosity=0)
    have = Prompt.objects.filter(project__slug=SLUG).count()
    if fresh or have != args.prompts:
        print(f"loading {args.prompts:,} prompts ...", flush=True)
        load = load_prompts(args.prompts, args.overlap)
    else:
        load = {"prompts": have, "seconds": float("nan")}
    tag = secrets.token_hex(3)
    codes = [("before", Path(args.baseline), args.baseline_flow)] if args.baseline else []
    codes.append(("after", ROOT, "one-trip"))
    accounts = {
        code: make_annotators(sum(levels) + 1, f"{tag}{code[0]}", _login_backend(root))
        for code, root, _ in codes
    }
    from django.db import connection

    connection.close()  # the server gets the database's connections while it runs

    import redis

    redis.Redis.from_url(args.redis).flushdb()  # no flush markers or messages from earlier runs
    worker = start_worker(env)
    # Both servers run side by side (before on --port, after on --port + 1) and the levels
    # alternate, so a shared machine's changing load falls on both alike.
    servers = {}
    results, warm_ids = [], []
    try:
        for i, (code, root, flow) in enumerate(codes):
            port = args.port + i
            server = load_common.start_server(env, port, args.workers, root=root)
            sampler = RssSampler(server.pid)
            sampler.start()
            meter = CpuMeter(server.pid, worker.pid, f"{args.pg}/{args.db_name}")
            servers[code] = (server, sampler, meter, f"http://127.0.0.1:{port}", flow)
        for code, (_, _, _, base, flow) in servers.items():
            warm = run_level(base, accounts[code][:1], 20, 0, flow=flow)  # not reported
            warm_ids += warm["saved_ids"]
            accounts[code] = accounts[code][1:]
        for c in levels:
            loops = max(1, args.ops_per_level // c) if c > 1 else min(args.ops_per_level, 400)
            for code, (_, _, meter, base, flow) in servers.items():
                group, accounts[code] = accounts[code][:c], accounts[code][c:]
                print(f"{code}: {c} annotator(s) x {loops} tasks ...", flush=True)
                level = run_level(base, group, loops, args.think_ms / 1000, meter, flow=flow)
                level["code"] = code
                results.append(level)
    finally:
        peak = 0
        for server, sampler, *_ in servers.values():
            sampler.stopped.set()
            peak = max(peak, sampler.peak)
            load_common.stop_process(server)
        try:
            drain = load_common.consensus_drain()
        finally:
            load_common.stop_process(worker)
    check = overlap_check([*warm_ids, *(i for lv in results for i in lv["saved_ids"])], tag)
    check.update(drain)
    for lv in results:
        lv.pop("saved_ids")
    if args.out:  # before the report, so a report bug loses no measurement
        Path(args.out).write_text(json.dumps(
            {"args": vars(args), "load": load, "levels": results, "check": check,
             "peak_server_rss_mb": round(peak / 2**20)}, indent=1))  # fmt: skip
    report(results, load, check, args, peak)


if __name__ == "__main__":
    main()
