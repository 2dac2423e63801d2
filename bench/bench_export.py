"""Export speed and memory: snapshots of 100k and 1M preference pairs.

Data: prompts with 4 completions (~300 characters each) and 3 annotators each, so every prompt
gives about 17.4 pairs (3 x 6, less tied pairs; 1M pairs = 57,472 prompts), written straight to
the database with
``core.db.insert_rows``. Each export runs in a fresh child process, so its peak RSS is its
own; memory that stays flat from 100k to 1M pairs is the constant-memory claim.

    .venv/bin/python bench/bench_export.py --pairs 100000 1000000 --formats pairwise hf
    .venv/bin/python bench/bench_export.py --db sqlite --pairs 100000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# 3 annotators x C(4, 2) = 18 pairs, less one per judgement with a tie (1 in 5; ties dropped).
PAIRS_PER_PROMPT = 18 - 3 * 0.2
WORDS = ["parrot", "feather", "beak", "wing", "flock", "song", "colour", "tropical", "seed"]


def sentence(rng: random.Random, chars: int) -> str:
    return " ".join(rng.choices(WORDS, k=chars // 4))[:chars]


def setup_django():
    sys.path.insert(0, str(ROOT))
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    django.setup()


def with_defaults(model, fields: list[str], rows):
    """Add every other NOT NULL column with its model default (insert_rows sets none)."""
    rest = [f for f in model._meta.concrete_fields
            if f.name not in fields and not f.primary_key and not f.null]  # fmt: skip
    names = fields + [f.name for f in rest]
    defaults = [f.get_default() for f in rest]
    return names, (list(row) + defaults for row in rows)


def build_data(slug: str, n_prompts: int) -> dict:
    """Insert the project's prompts, completions and judgements (idempotent per slug)."""
    setup_django()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from annotate.models import Annotation, Completion, Project, Prompt
    from annotate.services.projects import project_create
    from core.db import allocate_ids, insert_rows

    call_command("migrate", verbosity=0)
    if Project.objects.filter(slug=slug).exists():
        return {"prompts": Prompt.objects.filter(project__slug=slug).count(), "reused": True}
    User = get_user_model()
    users = [User.objects.get_or_create(username=f"bench-ann-{i}")[0].pk for i in range(10)]
    project = project_create(name=slug, slug=slug)
    rng = random.Random(0)
    now = timezone.now()
    prompt_fields = ["id", "project", "external_id", "text", "metadata", "created_at"]
    t0 = time.perf_counter()
    batch = 5000
    with transaction.atomic():
        for start in range(0, n_prompts, batch):
            size = min(batch, n_prompts - start)
            ids = allocate_ids(Prompt, size)
            rows = [(pid, project.pk, f"b-{start + i}", sentence(rng, 200), {}, now)
                    for i, pid in enumerate(ids)]  # fmt: skip
            insert_rows(Prompt, *with_defaults(Prompt, prompt_fields, rows))
            insert_rows(Completion, *with_defaults(
                Completion, ["prompt", "external_id", "position", "text", "model_name"],
                ((pid, c, pos, sentence(rng, 300), "sft") for pid in ids
                 for pos, c in enumerate("ABCD")),
            ))  # fmt: skip
            judgements = []
            for pid in ids:
                for annotator in rng.sample(users, 3):
                    order = rng.sample("ABCD", 4)
                    ranking = [[c] for c in order]
                    if rng.random() < 0.2:  # some ties
                        ranking = [[order[0]], [order[1], order[2]], [order[3]]]
                    judgements.append((pid, annotator, ranking, now, now))
            insert_rows(Annotation, *with_defaults(
                Annotation, ["prompt", "annotator", "ranking", "created_at", "updated_at"],
                judgements,
            ))  # fmt: skip
    return {"prompts": n_prompts, "seconds": time.perf_counter() - t0, "reused": False}


def run_export(slug: str, fmt: str, out_dir: str) -> dict:
    setup_django()
    from django.conf import settings

    from annotate.models import Project
    from exports.services import snapshot_build, snapshot_create

    settings.ARTIFACTS_DIR = Path(out_dir)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    project = Project.objects.get(slug=slug)
    t0 = time.perf_counter()
    snapshot = snapshot_create(project=project, fmt=fmt, enqueue=False)
    snapshot = snapshot_build(snapshot=snapshot)
    seconds = time.perf_counter() - t0
    if snapshot.status != "ready":
        raise SystemExit(snapshot.error)
    return {
        "format": fmt,
        "rows": snapshot.row_counts["rows"],
        "prompts": snapshot.row_counts["prompts"],
        "seconds": seconds,
        "size_mb": snapshot.size_bytes / 2**20,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "sha256": snapshot.sha256,
    }


def child(args) -> None:
    kind, slug, value = args.child
    if kind == "data":
        print(json.dumps(build_data(slug, int(value))))
    else:
        print(json.dumps(run_export(slug, kind, value)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--formats", nargs="+", default=["pairwise", "rankings", "hf"],
                        choices=["pairwise", "rankings", "hf"])  # fmt: skip
    parser.add_argument("--db", default="postgres", choices=["postgres", "sqlite"])
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/rw_api_bench")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    workdir = Path(tempfile.mkdtemp(prefix="rankwise-bench-export-"))
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["RANKWISE_DATA_DIR"] = str(workdir / "data")
    if args.db == "postgres":
        dbname = args.pg_url.rsplit("/", 1)[1]
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", dbname],
                       capture_output=True)  # fmt: skip
        env["DATABASE_URL"] = args.pg_url

    def run(*child_args) -> dict:
        out = subprocess.run(
            [sys.executable, __file__, "--child", *map(str, child_args)], env=env, cwd=ROOT,
            capture_output=True, text=True,
        )  # fmt: skip
        if out.returncode != 0:
            sys.exit(f"{child_args} failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    results = []
    for pairs in args.pairs:
        n_prompts = math.ceil(pairs / PAIRS_PER_PROMPT)
        slug = f"bench-export-{n_prompts}"
        data = run("data", slug, n_prompts)
        if not data["reused"]:
            print(f"{slug}: inserted {n_prompts:,} prompts in {data['seconds']:.1f} s", flush=True)
        for fmt in args.formats:
            res = run(fmt, slug, workdir / "artifacts")
            res["pairs"] = pairs
            results.append(res)
            print(json.dumps(res), flush=True)

    print()
    print(f"database: {args.db}")
    print("| pairs (data) | format | rows written | seconds | rows/s | output MB | "
          "RSS before MB | peak RSS MB |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['pairs']:,} | {r['format']} | {r['rows']:,} | {r['seconds']:.1f} | "
            f"{r['rows'] / r['seconds']:,.0f} | {r['size_mb']:.0f} | {r['baseline_rss_mb']:.0f} | "
            f"{r['peak_rss_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
