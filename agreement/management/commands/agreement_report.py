import json

from django.core.management.base import BaseCommand, CommandError

from agreement.selectors import REPORT_BOOTSTRAP, judging_rows, project_report_get
from agreement.services import project_agreement_recompute
from annotate.models import Project

HEADLINE = (
    "pairwise_agreement",
    "pairwise_agreement_with_ties",
    "tie_rate",
    "kendall_w_mean",
)
ANNOTATOR_COLUMNS = (
    ("annotator", "annotator"),
    ("judgements", "judged"),
    ("skip_rate", "skips"),
    ("pairwise_agreement", "agree"),
    ("consensus_agreement", "w/ cons."),
    ("gold_accuracy", "gold"),
    ("weight", "weight"),
    ("median_time_ms", "median ms"),
)


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _ci(intervals: dict, key: str) -> str:
    ci = intervals.get(key)
    return f"  [{ci[0]:.3f}, {ci[1]:.3f}]" if isinstance(ci, list | tuple) else ""


def _reason(record: dict, key: str) -> str:
    reason = (record.get("reasons") or {}).get(key)
    return f"  ({reason})" if reason else ""


class Command(BaseCommand):
    help = (
        "Inter-annotator agreement of a project: the stored report of the last full recompute "
        "(or a fresh one if none is stored), as a table or JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument(
            "--recompute",
            action="store_true",
            help="recompute consensus, annotator weights and the report first, and store them",
        )
        parser.add_argument(
            "--bootstrap",
            type=int,
            default=REPORT_BOOTSTRAP,
            help="bootstrap replicates for the confidence intervals (with --recompute)",
        )

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"no project with slug {opts['project']!r}")
        if opts["recompute"]:
            timings: dict[str, float] = {}
            project_agreement_recompute(
                project=project, bootstrap=opts["bootstrap"], timings=timings
            )
            if not opts["json"]:
                parts = ", ".join(f"{k} {v:.2f}s" for k, v in timings.items() if "_cpu" not in k)
                self.stderr.write(f"recomputed {project.slug}: {parts}")
        report = project_report_get(project=project)
        if opts["json"]:
            self.stdout.write(json.dumps(report, indent=2, ensure_ascii=False))
            return
        self._table(project, report)

    def _table(self, project, report):
        out = self.stdout.write
        meta = report.get("meta", {})
        counts = report.get("counts", {})
        when = meta.get("computed_at") or "now (not stored; run with --recompute to store)"
        stale = " - STALE: judgements changed since" if meta.get("stale") else ""
        out(f"Agreement of {project.slug} ({project.name}), computed {when}{stale}")
        out(
            f"{counts.get('prompts', 0)} prompts, {counts.get('judgements', 0)} judgements, "
            f"{counts.get('annotators', 0)} annotators, "
            f"{counts.get('prompts_ranked_by_two', 0)} prompts ranked by two or more"
        )
        out("")
        intervals = report.get("confidence_intervals", {})
        for key in HEADLINE:
            value = _fmt(report.get(key))
            out(f"  {key:<30} {value:>7}{_ci(intervals, key)}{_reason(report, key)}")
        alpha = report.get("krippendorff_alpha", {})
        out("  Krippendorff's alpha")
        out(
            f"    {'ranking (ordinal)':<28} {_fmt(alpha.get('ranking')):>7}"
            f"{_ci(intervals, 'krippendorff_alpha_ranking')}"
            f"{_reason(report, 'krippendorff_alpha.ranking')}"
        )
        for level in ("ordinal", "interval"):
            value = (alpha.get("ratings") or {}).get(level)
            key = f"krippendorff_alpha.ratings.{level}"
            out(f"    {'ratings (' + level + ')':<28} {_fmt(value):>7}{_reason(report, key)}")
        for flag, value in (alpha.get("flags") or {}).items():
            key = f"krippendorff_alpha.flags.{flag}"
            out(f"    {'flag ' + flag:<28} {_fmt(value):>7}{_reason(report, key)}")
        self._judging(report)
        annotators = report.get("annotators") or []
        if not annotators:
            return
        out("")
        widths = [max(len(h), 8) for _, h in ANNOTATOR_COLUMNS]
        widths[0] = max(widths[0], *(len(a["annotator"]) for a in annotators))
        out(
            "  "
            + "  ".join(h.ljust(w) for (_, h), w in zip(ANNOTATOR_COLUMNS, widths, strict=True))
        )
        for a in annotators:
            cells = [_fmt(a.get(key)) for key, _ in ANNOTATOR_COLUMNS]
            if a.get("median_time_ms") is not None:
                cells[-1] = str(round(a["median_time_ms"]))
            out("  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))

    def _judging(self, report):
        rows = judging_rows(report=report)
        if not rows:
            return
        out = self.stdout.write
        out("")
        out("  Strength and dimensions (direction, alpha interval/ordinal, kappa, vs overall)")
        for row in rows:
            cells = [row.get(k) for k in ("direction", "alpha_interval", "alpha_ordinal", "kappa",
                                          "pairwise_agreement", "vs_overall")]  # fmt: skip
            ties = f"  ties {row['ties']}" if row.get("ties") else ""
            out(f"    {row['name']:<20} " + " ".join(f"{_fmt(c):>7}" for c in cells) + ties)
