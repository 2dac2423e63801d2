from django.core.management.base import BaseCommand, CommandError

from agreement.services import project_agreement_recompute
from agreement.simulation import annotations_simulate
from annotate.models import Project


class Command(BaseCommand):
    help = (
        "Add SIMULATED judgements (annotators sim-1..sim-N, comment 'simulated') to a project's "
        "prompts, so a demo has agreement to show; then recompute its agreement."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--annotators", type=int, default=5)
        parser.add_argument(
            "--per-prompt", type=int, default=None, help="judgements per prompt (default: overlap)"
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--limit", type=int, default=None, help="only the first N prompts")

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"no project with slug {opts['project']!r}")
        try:
            result = annotations_simulate(
                project=project,
                annotators=opts["annotators"],
                per_prompt=opts["per_prompt"],
                seed=opts["seed"],
                limit=opts["limit"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"simulated judgements for {project.slug}: {result.as_dict()}")
        stored = project_agreement_recompute(project=project)
        report = stored.report
        self.stdout.write(
            f"agreement recomputed in {stored.duration_ms} ms: pairwise agreement "
            f"{report.get('pairwise_agreement')}, with ties "
            f"{report.get('pairwise_agreement_with_ties')} "
            f"(manage.py agreement_report --project {project.slug} for the rest)"
        )
