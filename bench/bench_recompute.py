"""End-to-end agreement recompute through the database.

A project of N prompts x A annotators x K completions (default 100,000 x 3 x 4, the target being
a full recompute in under 30 s on PostgreSQL) is written once with COPY and reused by later runs;
then it times:

* ``project_agreement_recompute``: read every judgement, consensus with annotator weights, the
  report with bootstrap intervals, write every PromptConsensus row, the weights and the report;
* ``prompt_agreement_recompute``: the per-submission path, on a sample of prompts;
* ``prompt_consensus_map`` streamed over the whole project (what the dataset export reads).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rw_agree nice -n 10 \\
        .venv/bin/python bench/bench_recompute.py --prompts 100000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/rw_agree"
SLUG = "bench-recompute"


def database_ensure(url: str) -> None:
    """Create the PostgreSQL database named in the URL if it is missing."""
    if not url.startswith("postgres"):
        return
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not found:
            conn.execute(f'CREATE DATABASE "{name}"')


def project_build(n_prompts: int, per_prompt: int, k: int, n_annotators: int, seed: int):
    """Write the project with COPY (core.db.insert_rows); ~1 minute for 100k prompts."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from annotate.models import Annotation, Completion, Project, Prompt
    from core.db import allocate_ids, insert_rows

    rng = random.Random(seed)
    user_model = get_user_model()
    users = []
    for i in range(n_annotators):
        user, _ = user_model.objects.get_or_create(
            username=f"bench-ann-{i:02d}", defaults={"is_active": False, "password": "!"}
        )
        users.append(user.pk)
    noise = [rng.uniform(0.3, 1.2) for _ in users]
    noise[-1] = 4.0  # one near-random annotator
    ids = [chr(ord("A") + c) for c in range(k)]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with transaction.atomic():
        project = Project.objects.create(name="bench recompute", slug=SLUG, overlap=per_prompt)
        prompt_ids = allocate_ids(Prompt, n_prompts)
        now = datetime.now(UTC)
        insert_rows(
            Prompt,
            ["id", "project", "external_id", "text", "metadata", "is_gold", "created_at",
             "submitted_count"],
            ((pid, project.pk, f"b{i}", f"prompt {i}", {}, False, now, per_prompt)
             for i, pid in enumerate(prompt_ids)),
        )  # fmt: skip
        insert_rows(
            Completion,
            ["prompt", "external_id", "position", "text", "model_name", "metadata"],
            ((pid, cid, c, "x" * rng.randint(50, 800), "", {})
             for pid in prompt_ids for c, cid in enumerate(ids)),
        )  # fmt: skip

        def rows():
            for pid in prompt_ids:
                quality = [rng.gauss(0, 1) for _ in ids]
                for a in rng.sample(range(len(users)), per_prompt):
                    shown = ids[:]
                    rng.shuffle(shown)
                    util = {
                        cid: q + noise[a] * rng.gauss(0, 1)
                        for cid, q in zip(ids, quality, strict=True)
                    }
                    order = sorted(ids, key=lambda c: -util[c])
                    ranking = [[order[0]]]
                    for prev, cid in pairwise(order):
                        if util[prev] - util[cid] < 0.15:
                            ranking[-1].append(cid)
                        else:
                            ranking.append([cid])
                    ratings = {cid: min(7, max(1, round(4 + 1.3 * util[cid]))) for cid in ids}
                    flags = {cid: ["fails_instruction"] for cid in ids if util[cid] < -1.5}
                    when = start + timedelta(seconds=rng.uniform(0, 30 * 86400))
                    yield (pid, users[a], ranking, ratings, flags, "", False, "",
                           rng.randint(5000, 90000), shown, "import", when, when)  # fmt: skip

        insert_rows(
            Annotation,
            ["prompt", "annotator", "ranking", "ratings", "flags", "comment", "skipped",
             "skip_reason", "time_ms", "shown_order", "source", "created_at", "updated_at"],
            rows(),
        )  # fmt: skip
    return project


def project_drop() -> None:
    """Raw deletes: the ORM's cascade collector would load every row first."""
    from django.db import connection

    from annotate.models import Project

    project = Project.objects.filter(slug=SLUG).first()
    if project is None:
        return
    with connection.cursor() as cur:
        sub = "SELECT id FROM annotate_prompt WHERE project_id = %s"
        cur.execute("DELETE FROM agreement_promptconsensus WHERE project_id = %s", [project.pk])
        cur.execute(f"DELETE FROM agreement_adjudication WHERE prompt_id IN ({sub})", [project.pk])
        cur.execute(
            f"DELETE FROM annotate_annotationrevision WHERE annotation_id IN "
            f"(SELECT id FROM annotate_annotation WHERE prompt_id IN ({sub}))",
            [project.pk],
        )
        cur.execute(f"DELETE FROM annotate_annotation WHERE prompt_id IN ({sub})", [project.pk])
        cur.execute(f"DELETE FROM annotate_completion WHERE prompt_id IN ({sub})", [project.pk])
        cur.execute(f"DELETE FROM annotate_claim WHERE prompt_id IN ({sub})", [project.pk])
        cur.execute("DELETE FROM annotate_prompt WHERE project_id = %s", [project.pk])
    project.delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=100_000)
    parser.add_argument("--annotators-per-prompt", type=int, default=3)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--annotators", type=int, default=30, help="annotator pool size")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2, help="full recomputes to time")
    parser.add_argument("--sample", type=int, default=200, help="prompts for the per-prompt path")
    parser.add_argument("--fresh", action="store_true", help="rebuild the bench project")
    parser.add_argument("--drop", action="store_true", help="delete the bench project and exit")
    args = parser.parse_args()

    os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("DJANGO_DEBUG", "true")
    # The per-prompt path queues a full recompute when the report goes stale: into memory here,
    # so a demo worker does not pick up the bench project.
    os.environ["CELERY_BROKER_URL"] = "memory://"
    database_ensure(os.environ["DATABASE_URL"])
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from agreement.selectors import prompt_consensus_iter
    from agreement.services import project_agreement_recompute, prompt_agreement_recompute
    from annotate.models import Annotation, Project, Prompt

    call_command("migrate", verbosity=0)
    if args.drop:
        project_drop()
        return
    project = Project.objects.filter(slug=SLUG).first()
    expected = args.prompts * args.annotators_per_prompt
    if project is not None and (
        args.fresh or Annotation.objects.filter(prompt__project=project).count() != expected
    ):
        project_drop()
        project = None
    if project is None:
        t0 = time.perf_counter()
        project = project_build(
            args.prompts, args.annotators_per_prompt, args.k, args.annotators, seed=0
        )
        print(f"built {args.prompts} prompts in {time.perf_counter() - t0:.1f} s", flush=True)
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("ANALYZE")

    results = {"cores": os.cpu_count(), "database": connection.vendor, "prompts": args.prompts,
               "annotators_per_prompt": args.annotators_per_prompt, "k": args.k,
               "bootstrap": args.bootstrap, "full": []}  # fmt: skip
    for _ in range(args.repeat):
        Prompt.objects.filter(project=project).update(target_overlap=None)
        timings: dict[str, float] = {}
        cpu = time.process_time()
        stored = project_agreement_recompute(
            project=project, bootstrap=args.bootstrap, timings=timings
        )
        # CPU time of this process (the database server's is not in it): on a shared machine
        # wall time includes waiting for a core, CPU time does not.
        timings["cpu_python"] = time.process_time() - cpu
        timings["load_average"] = os.getloadavg()[0]
        results["full"].append({k: round(v, 2) for k, v in timings.items()})
        print("full recompute:", json.dumps(results["full"][-1]), flush=True)
    report = stored.report
    results["pairwise_agreement"] = report["pairwise_agreement"]

    ids = list(Prompt.objects.filter(project=project).values_list("id", flat=True))
    sample = random.Random(1).sample(ids, min(args.sample, len(ids)))
    per, per_cpu = [], []
    for pid in sample:
        t0, c0 = time.perf_counter(), time.process_time()
        prompt_agreement_recompute(prompt_id=pid)
        per.append((time.perf_counter() - t0) * 1000)
        per_cpu.append((time.process_time() - c0) * 1000)
    per.sort()
    results["per_prompt_ms"] = {
        "median": round(statistics.median(per), 2),
        "p95": round(per[int(0.95 * (len(per) - 1))], 2),
        "max": round(per[-1], 2),
        "cpu_median": round(statistics.median(per_cpu), 2),
    }
    print("per-prompt recompute:", json.dumps(results["per_prompt_ms"]), flush=True)

    t0 = time.perf_counter()
    n = sum(1 for _ in prompt_consensus_iter(project=project))
    results["consensus_map"] = {"prompts": n, "seconds": round(time.perf_counter() - t0, 2)}
    print("consensus map:", json.dumps(results["consensus_map"]), flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
