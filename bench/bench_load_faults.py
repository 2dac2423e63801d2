"""Load and faults: N annotators over the REST API while a Celery worker is SIGKILLed mid-export
and Redis goes away for a while.

Everything runs on loopback and is started by this script: a PostgreSQL database of its own
(``rw_bench_faults``), redis-server on ``--redis-port`` (cache, sessions and broker; no
persistence, so a restart comes back empty), gunicorn (``config.settings.production``) on
``--port``, and a Celery worker with beat (default queue; heartbeat 2 s, stale after 10 s, so
the reaper acts within the run). Annotators authenticate with tokens and loop: POST
``tasks/next/``, think (``--think-s``, 0.5x to 1.5x), POST ``tasks/<id>/submit/``.

Timeline (seconds from the start of the load):

* ``--kill-at``: an admin queues a Hugging Face export; once it is running the worker's process
  group gets SIGKILL; ``--worker-down-s`` later the worker (and beat) start again, as a
  supervisor would restart them.
* ``--outage-at``: redis-server is stopped for ``--outage-s`` seconds, then started again on the
  same port; meanwhile an admin tries another export (expected: 503, no row) and /healthz is
  read.
* ``--duration``: the annotators stop; the script waits for the consensus of every submission
  and for the killed export to be rebuilt.

It prints, per phase (before, worker down, between, Redis down, after): requests, 5xx,
connection errors, next-task and submit p50/p99; then acknowledged vs stored submissions,
over-overlap, annotator-twice pairs, the consensus check and what became of the export.

    nice -n 5 .venv/bin/python bench/bench_load_faults.py --annotators 200
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import load_common
import requests

ROOT = Path(__file__).resolve().parent.parent
SLUG = "bench-faults"
PHASES = ("before", "worker down", "between", "redis down", "after")


# ---- setup ---------------------------------------------------------------------------------


def make_accounts(count: int, tag: str) -> dict:
    """Annotators (members of the project) and an admin, each with an API token."""
    from rest_framework.authtoken.models import Token

    from annotate.models import Project
    from annotate.services.users import memberships_ensure, user_create
    from core.roles import Roles

    project = Project.objects.get(slug=SLUG)
    annotators = []
    for i in range(count):
        user = user_create(username=f"bf-{tag}-{i}", password=None, roles=[Roles.ANNOTATOR])
        annotators.append(Token.objects.create(user=user).key)
    memberships_ensure(
        project=project,
        user_ids=list(Token.objects.filter(key__in=annotators).values_list("user_id", flat=True)),
    )
    admin = user_create(username=f"bf-{tag}-admin", password=None, roles=[Roles.ADMIN])
    return {"annotators": annotators, "admin": Token.objects.create(user=admin).key}


class Redis:
    """The bench's own redis-server (no persistence)."""

    def __init__(self, port: int, folder: Path):
        self.port, self.folder, self.proc = port, folder, None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        import redis

        for _ in range(100):
            try:
                if redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.1)
        raise SystemExit(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)


# ---- client --------------------------------------------------------------------------------


class Recorder:
    """Every request's (start time, kind, seconds, status); appends are atomic in CPython."""

    def __init__(self, t0: float):
        self.t0 = t0
        self.samples: list[tuple[float, str, float, int]] = []
        self.acknowledged: list[int] = []

    def add(self, kind: str, started: float, status: int) -> None:
        self.samples.append((started - self.t0, kind, time.monotonic() - started, status))


def annotate_loop(base: str, token: str, stop_at: float, think_s: float, rec: Recorder, seed: int):
    rng = random.Random(seed)
    http = requests.Session()
    http.headers["Authorization"] = f"Token {token}"
    api = f"{base}/api/v1/projects/{SLUG}"
    time.sleep(rng.uniform(0, min(5.0, think_s * 2)))  # a ramp, not a thundering herd
    while time.monotonic() < stop_at:
        started = time.monotonic()
        try:
            r = http.post(f"{api}/tasks/next/", timeout=30)
        except requests.RequestException:
            rec.add("next", started, 0)
            time.sleep(1)
            continue
        rec.add("next", started, r.status_code)
        if r.status_code == 204:
            return  # nothing left
        if r.status_code != 200:
            time.sleep(1)
            continue
        task = r.json()
        order = list(task["shown_order"])
        rng.shuffle(order)
        ranking = (
            [[order[0]], order[1:3], [order[3]]] if rng.random() < 0.2 else [[c] for c in order]
        )
        time.sleep(think_s * rng.uniform(0.5, 1.5))
        started = time.monotonic()
        try:
            r = http.post(
                f"{api}/tasks/{task['prompt_id']}/submit/",
                json={"ranking": ranking, "time_ms": rng.randint(5_000, 60_000),
                      "shown_order": task["shown_order"]},
                timeout=30,
            )  # fmt: skip
        except requests.RequestException:
            rec.add("submit", started, 0)
            continue
        rec.add("submit", started, r.status_code)
        if r.status_code == 201:
            rec.acknowledged.append(r.json()["id"])


# ---- the faults ----------------------------------------------------------------------------


def snapshot_status(snapshot_id: int) -> dict:
    from exports.models import DatasetSnapshot

    row = (
        DatasetSnapshot.objects.filter(pk=snapshot_id)
        .values("status", "attempts", "error", "prompts_done", "prompts_total")
        .first()
    )
    return row or {}


def kill_worker_mid_export(base: str, admin: str, worker, log: dict, t0: float) -> None:
    """Queue an export and SIGKILL the worker's process group once the build is running."""
    r = requests.post(f"{base}/api/v1/snapshots/", json={"project": SLUG, "format": "hf"},
                      headers={"Authorization": f"Token {admin}"}, timeout=30)  # fmt: skip
    log["export_queued"] = r.status_code
    if r.status_code != 202:
        log["kill"] = f"export not queued ({r.status_code}); worker killed anyway"
    else:
        log["export_id"] = r.json()["id"]
        deadline = time.monotonic() + 20
        while (
            time.monotonic() < deadline
            and snapshot_status(log["export_id"]).get("status") != "running"
        ):
            time.sleep(0.05)
        log["export_at_kill"] = snapshot_status(log["export_id"])
    load_common.kill_process(worker)
    log["killed_at"] = round(time.monotonic() - t0, 1)


def during_outage(base: str, admin: str, log: dict) -> None:
    from exports.models import DatasetSnapshot

    before = DatasetSnapshot.objects.count()
    r = requests.post(f"{base}/api/v1/snapshots/", json={"project": SLUG, "format": "rankings"},
                      headers={"Authorization": f"Token {admin}"}, timeout=30)  # fmt: skip
    log["export_during_outage"] = {"status": r.status_code,
                                   "rows_created": DatasetSnapshot.objects.count() - before}  # fmt: skip
    h = requests.get(f"{base}/healthz", timeout=30)
    log["healthz_during_outage"] = {"status": h.status_code,
                                    "down": [k for k, c in h.json()["checks"].items() if not c["ok"]]}  # fmt: skip


def run_load(args, env, accounts, redis: Redis, folder: Path) -> tuple[Recorder, dict, object]:
    base = f"http://127.0.0.1:{args.port}"
    worker_log = open(folder / "worker.log", "a")  # noqa: SIM115 - closed by the caller's exit
    worker = load_common.start_worker(env, "-B", "-c", "2", log=worker_log)
    t0 = time.monotonic()
    rec = Recorder(t0)
    stop_at = t0 + args.duration
    threads = [
        threading.Thread(target=annotate_loop, args=(base, tok, stop_at, args.think_s, rec, i),
                         daemon=True)
        for i, tok in enumerate(accounts["annotators"])
    ]  # fmt: skip
    for t in threads:
        t.start()
    log: dict = {"loadavg": []}

    def at(seconds: float) -> None:
        while time.monotonic() - t0 < seconds:
            log["loadavg"].append(os.getloadavg()[0])
            time.sleep(min(1.0, max(0.0, seconds - (time.monotonic() - t0))))

    at(args.kill_at)
    kill_worker_mid_export(base, accounts["admin"], worker, log, t0)
    at(log["killed_at"] + args.worker_down_s)
    worker = load_common.start_worker(env, "-B", "-c", "2", log=worker_log)
    log["worker_back_at"] = round(time.monotonic() - t0, 1)
    at(args.outage_at)
    redis.stop()
    log["redis_stopped_at"] = round(time.monotonic() - t0, 1)
    at(args.outage_at + args.outage_s / 2)
    during_outage(base, accounts["admin"], log)
    at(args.outage_at + args.outage_s)
    redis.start()
    log["redis_back_at"] = round(time.monotonic() - t0, 1)
    at(args.duration)
    for t in threads:
        t.join(timeout=40)
    log["load_stopped_at"] = round(time.monotonic() - t0, 1)
    return rec, log, worker


# ---- report --------------------------------------------------------------------------------


def phase_of(t: float, log: dict) -> str:
    if t < log["killed_at"]:
        return "before"
    if t < log["worker_back_at"]:
        return "worker down"
    if t < log["redis_stopped_at"]:
        return "between"
    if t < log["redis_back_at"]:
        return "redis down"
    return "after"


def phase_table(rec: Recorder, log: dict) -> list[dict]:
    by = defaultdict(lambda: defaultdict(list))
    for t, kind, seconds, status in rec.samples:
        by[phase_of(t, log)][kind].append((seconds, status))
    rows = []
    for phase in PHASES:
        row = {"phase": phase}
        for kind in ("next", "submit"):
            samples = by[phase][kind]
            ok = [s for s, status in samples if 0 < status < 500]
            row[f"{kind}_n"] = len(samples)
            row[f"{kind}_p50_ms"] = round(load_common.pct(ok, 50) * 1000, 1)
            row[f"{kind}_p99_ms"] = round(load_common.pct(ok, 99) * 1000, 1)
        statuses = Counter(status for k in by[phase].values() for _, status in k)
        row["5xx"] = sum(n for s, n in statuses.items() if s >= 500)
        row["conn_errors"] = statuses.get(0, 0)
        row["submits_acknowledged"] = sum(1 for s, st in by[phase]["submit"] if st == 201)
        rows.append(row)
    return rows


def report(args, rows: list[dict], check: dict, log: dict, export: dict, load: dict) -> None:
    la = log["loadavg"]
    print()
    print(f"Load and faults: {args.annotators} annotators (token auth, REST API), think "
          f"{args.think_s:g} s (0.5-1.5x), {args.duration:g} s; {load['prompts']:,} prompts x 4, "
          f"overlap {args.overlap}; gunicorn -w {args.workers}, PostgreSQL, Redis, one Celery "
          f"worker (-c 2, beat)")  # fmt: skip
    print(f"worker SIGKILL at {log['killed_at']} s (back at {log['worker_back_at']} s); Redis "
          f"stopped at {log['redis_stopped_at']} s, back at {log['redis_back_at']} s; load "
          f"average mean {sum(la) / len(la):.1f}, max {max(la):.1f} on {os.cpu_count()} cores")  # fmt: skip
    head = ("phase", "next", "next p50", "next p99", "submit", "submit p50", "submit p99",
            "acknowledged", "5xx", "conn errors")  # fmt: skip
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cells = (r["phase"], r["next_n"], f"{r['next_p50_ms']} ms", f"{r['next_p99_ms']} ms",
                 r["submit_n"], f"{r['submit_p50_ms']} ms", f"{r['submit_p99_ms']} ms",
                 r["submits_acknowledged"], r["5xx"], r["conn_errors"])  # fmt: skip
        print("| " + " | ".join(str(c) for c in cells) + " |")
    print()
    print(f"submissions acknowledged {check['submissions_acknowledged']:,}, stored "
          f"{check['annotations_stored']:,} (stored without an acknowledgement: "
          f"{check['annotations_stored'] - check['submissions_acknowledged']}); acknowledged ids "
          f"missing from the database: {check['acknowledged_missing']}")  # fmt: skip
    print(f"prompts over the overlap: {check['prompts_over_overlap']} (max "
          f"{check['max_annotations_on_a_prompt']} on one prompt); annotator-twice pairs "
          f"{check['same_annotator_twice']}; counter drift {check['counter_drift']}")  # fmt: skip
    print(f"consensus: drained {check['drain_s']} s after the load stopped ({check['pending_left']} "
          f"pending left); prompts without consensus {check['consensus_missing']}, out of date "
          f"{check['consensus_out_of_date']}")  # fmt: skip
    print(f"export killed mid-build: {export}; temporary folders left: {check['tmp_folders_left']}")
    print(f"during the outage: export request {log.get('export_during_outage')}, /healthz "
          f"{log.get('healthz_during_outage')}")  # fmt: skip


def wait_for_export(export_id, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while export_id and time.monotonic() < deadline:
        row = snapshot_status(export_id)
        if row.get("status") in ("ready", "failed"):
            break
        time.sleep(1)
    return snapshot_status(export_id) if export_id else {}


# ---- main ----------------------------------------------------------------------------------


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--annotators", type=int, default=200)
    ap.add_argument("--think-s", type=float, default=5.0)
    ap.add_argument("--duration", type=float, default=180.0)
    ap.add_argument("--kill-at", type=float, default=40.0)
    ap.add_argument("--worker-down-s", type=float, default=10.0)
    ap.add_argument("--outage-at", type=float, default=90.0)
    ap.add_argument("--outage-s", type=float, default=10.0)
    ap.add_argument("--prompts", type=int, default=30_000)
    ap.add_argument("--overlap", type=int, default=3)
    ap.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    ap.add_argument("--port", type=int, default=18200)
    ap.add_argument("--redis-port", type=int, default=18201)
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432",
                    help="PostgreSQL server URL (without database)")  # fmt: skip
    ap.add_argument("--db-name", default="rw_bench_faults")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args()
    if not args.kill_at + args.worker_down_s < args.outage_at < args.duration - args.outage_s:
        ap.error("the timeline must read kill < worker back < outage < outage end < duration")
    return args


def main() -> None:
    args = parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    (folder / "data").mkdir()
    load_common.ensure_database(f"{args.pg}/postgres", args.db_name, fresh=True)
    redis_url = f"redis://127.0.0.1:{args.redis_port}/0"
    env = {
        **os.environ,
        **load_common.production_env(database_url=f"{args.pg}/{args.db_name}", redis_url=redis_url),
        "RANKWISE_DATA_DIR": str(folder / "data"),
        "TASK_HEARTBEAT_SECONDS": "2",
        "TASK_STALE_SECONDS": "10",
        "TASK_OUTBOX_GRACE_SECONDS": "10",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    print(f"loading {args.prompts:,} prompts ...", flush=True)
    load = load_common.load_prompts(args.prompts, args.overlap, slug=SLUG, name="Faults bench")
    tag = secrets.token_hex(3)
    accounts = make_accounts(args.annotators, tag)
    connection.close()

    redis = Redis(args.redis_port, folder)
    redis.start()
    server = load_common.start_server(env, args.port, args.workers)
    worker = None
    try:
        print(f"{args.annotators} annotators for {args.duration:g} s ...", flush=True)
        rec, log, worker = run_load(args, env, accounts, redis, folder)
        export = wait_for_export(log.get("export_id"), 300)
        drain = load_common.consensus_drain(timeout_s=300)
    finally:
        load_common.stop_process(server)
        if worker is not None:
            load_common.stop_process(worker)
        redis.stop()
    check = load_common.overlap_check(slug=SLUG, usernames_like=f"bf-{tag}-%")
    check.update(drain)
    check["submissions_acknowledged"] = len(rec.acknowledged)
    from annotate.models import Annotation

    stored = set(Annotation.objects.filter(pk__in=rec.acknowledged).values_list("pk", flat=True))
    check["acknowledged_missing"] = len(set(rec.acknowledged) - stored)
    check["tmp_folders_left"] = len(list((folder / "data").rglob(".*.tmp")))
    rows = phase_table(rec, log)
    report(args, rows, check, log, export, load)
    if args.out:
        Path(args.out).write_text(json.dumps(
            {"args": vars(args), "phases": rows, "check": check, "log": log, "export": export},
            indent=1, default=str))  # fmt: skip


if __name__ == "__main__":
    main()
