import shutil
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotate.models import Project
from core.context import audit_context
from exports.models import DatasetSnapshot
from exports.options import MARGINS, MODES, TIE_POLICIES, ExportOptionsError
from exports.services import snapshot_build, snapshot_create


def _copy(source: Path, target: Path) -> None:
    """Hard-link when on the same volume (no second copy of a big file), else copy."""

    def link_or_copy(src, dst):
        try:
            Path(dst).hardlink_to(src)
        except OSError:
            shutil.copy2(src, dst)

    if source.is_dir():
        shutil.copytree(source, target, copy_function=link_or_copy)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        link_or_copy(source, target)


class Command(BaseCommand):
    help = (
        "Export a project as a new immutable snapshot (under ARTIFACTS_DIR/snapshots), built "
        "here rather than by a worker, and optionally put a copy at --out."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--format", required=True, choices=DatasetSnapshot.Format.values)
        parser.add_argument("--mode", choices=MODES, default="all")
        parser.add_argument("--min-agreement", type=float)
        parser.add_argument("--exclude-flag", action="append", default=[], dest="exclude_flags")
        parser.add_argument("--only-reviewed", action="store_true")
        parser.add_argument("--annotated-from", help="ISO date or date-time, inclusive")
        parser.add_argument("--annotated-to", help="ISO date or date-time, exclusive")
        parser.add_argument("--ties", choices=TIE_POLICIES, default="drop")
        parser.add_argument("--margin", choices=MARGINS, help="default: judged where judged")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--split", default="0.9,0.05,0.05", help="train,validation,test fractions"
        )
        parser.add_argument("--holdout-annotator", action="append", default=[],
                            dest="holdout_annotators")  # fmt: skip
        parser.add_argument("--out", help="also place the data here (a file, or a folder for hf)")

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"no project {opts['project']!r}")
        out = Path(opts["out"]) if opts["out"] else None
        if out is not None and out.exists():
            raise CommandError(f"{out} exists; choose a new path (snapshots are never overwritten)")
        try:
            fractions = [float(x) for x in opts["split"].split(",")]
            split = dict(zip(("train", "validation", "test"), fractions, strict=True))
        except ValueError as exc:
            raise CommandError("--split takes three numbers, e.g. 0.8,0.1,0.1") from exc
        options = {
            key: opts[key]
            for key in ("mode", "min_agreement", "exclude_flags", "only_reviewed",
                        "annotated_from", "annotated_to", "ties", "seed", "holdout_annotators",
                        "margin")
            if opts.get(key) is not None
        }  # fmt: skip
        options["split"] = split
        started = time.perf_counter()
        try:
            with audit_context(source="command"):
                snapshot = snapshot_create(
                    project=project, fmt=opts["format"], options=options, enqueue=False
                )
        except ExportOptionsError as exc:
            raise CommandError(f"--{exc.field.replace('_', '-')}: {exc.message}") from exc
        snapshot = snapshot_build(snapshot=snapshot)
        if snapshot.status != DatasetSnapshot.Status.READY:
            raise CommandError(f"snapshot {snapshot.pk} failed: {snapshot.error}")
        if out is not None:
            _copy(snapshot.path, out)
        counts = snapshot.row_counts
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"snapshot {snapshot.pk}: {counts['rows']} rows from {counts['prompts']} prompts "
            f"(splits {counts['splits']}) in {elapsed:.1f} s\n"
            f"sha256 {snapshot.sha256}\n"
            f"data   {snapshot.path}" + (f"\ncopy   {out}" if out else "")
        )
