"""Import speed and memory: N prompts x 4 completions through `prompts_import`.

Task shape as in the Label Studio reference (../shared/reference/labelstudio/README.md): a
~200-character prompt and four ~500-character outputs. Each database runs in a fresh child
process (its own peak RSS), and the table compares with Label Studio 1.23 measured on the
same kind of machine (100k tasks: 128.1 s on PostgreSQL, 79.4 s on SQLite).

    .venv/bin/python bench/bench_import.py --n 100000 --db postgres sqlite
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABEL_STUDIO_SECONDS = {  # 100k tasks, from the reference README
    "postgres": 128.1,
    "sqlite": 79.4,
}
WORDS = ["parrot", "feather", "beak", "wing", "flock", "song", "colour", "tropical", "seed"]


def sentence(rng: random.Random, chars: int) -> str:
    # Words average ~5.5 characters with their space: draw enough, then cut to length.
    return " ".join(rng.choices(WORDS, k=chars // 4))[:chars]


def make_file(path: Path, n: int) -> None:
    rng = random.Random(0)
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as fh:
        for i in range(n):
            line = {
                "id": f"bench-{i}",
                "prompt": sentence(rng, 200),
                "completions": [
                    {"id": c, "text": sentence(rng, 500), "model": "sft"} for c in "ABCD"
                ],
            }
            fh.write(json.dumps(line) + "\n")


def child(path: str) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    django.setup()
    from django.core.management import call_command

    from annotate.models import Completion, Project, Prompt
    from annotate.services.imports import prompts_import
    from annotate.services.projects import project_create

    call_command("migrate", verbosity=0)
    Project.objects.filter(slug="bench-import").delete()
    project = project_create(name="bench import", slug="bench-import")
    t0 = time.perf_counter()
    result = prompts_import(project=project, source=path)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = prompts_import(project=project, source=path)
    second = time.perf_counter() - t0
    assert again.prompts_created == 0
    counts = (
        Prompt.objects.filter(project=project).count(),
        Completion.objects.filter(prompt__project=project).count(),
    )
    Project.objects.filter(slug="bench-import").delete()
    print(json.dumps({
        "seconds": first, "reimport_seconds": second, "prompts": counts[0], "completions": counts[1],
        "created": result.prompts_created,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument(
        "--db", nargs="+", default=["postgres", "sqlite"], choices=["postgres", "sqlite"]
    )
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/rankwise_bench")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return

    workdir = Path(tempfile.mkdtemp(prefix="rankwise-bench-import-"))
    data = workdir / "prompts.jsonl.gz"
    t0 = time.perf_counter()
    make_file(data, args.n)
    print(f"generated {args.n} prompts x 4 completions in {time.perf_counter() - t0:.1f} s "
          f"({data.stat().st_size / 2**20:.0f} MiB gzipped)")  # fmt: skip

    rows = []
    for db in args.db:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["RANKWISE_DATA_DIR"] = str(workdir / "data")
        if db == "postgres":
            dbname = args.pg_url.rsplit("/", 1)[1]
            subprocess.run(
                ["createdb", "-h", "127.0.0.1", "-U", "postgres", dbname], capture_output=True
            )
            env["DATABASE_URL"] = args.pg_url
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(data)], env=env, cwd=ROOT,
            capture_output=True, text=True,
        )  # fmt: skip
        if out.returncode != 0:
            sys.exit(f"{db} run failed:\n{out.stderr[-3000:]}")
        res = json.loads(out.stdout.strip().splitlines()[-1])
        res["db"] = db
        rows.append(res)

    print()
    print(
        "| database | prompts | completions | import s | prompts/s | re-import s | peak RSS MB | Label Studio 100k s | speed-up |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ls = LABEL_STUDIO_SECONDS[r["db"]] * args.n / 100_000
        print(
            f"| {r['db']} | {r['prompts']:,} | {r['completions']:,} | {r['seconds']:.1f} | "
            f"{r['prompts'] / r['seconds']:,.0f} | {r['reimport_seconds']:.1f} | {r['peak_rss_mb']:.0f} | "
            f"{ls:.1f} | {ls / r['seconds']:.1f}x |"
        )


if __name__ == "__main__":
    main()
