import time

from django.core.management.base import BaseCommand, CommandError

from annotate.imports.formats import FORMATS
from annotate.models import Project
from annotate.services.imports import ImportFailed, prompts_import
from annotate.services.projects import project_get_or_create
from core.context import audit_context


class Command(BaseCommand):
    help = "Import prompts, completions and judgements from a .jsonl or .jsonl.gz file."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--create", action="store_true", help="create the project if missing")
        parser.add_argument("--name", help="project name when --create makes it")
        parser.add_argument("--format", default="rankwise", choices=sorted(FORMATS))
        parser.add_argument("--annotator", help="annotator for formats whose lines name none")

    def handle(self, *args, **opts):
        with audit_context(source="command"):
            self._import(opts)

    def _import(self, opts):
        if opts["create"]:
            project, _ = project_get_or_create(slug=opts["project"], name=opts["name"])
        else:
            project = Project.objects.filter(slug=opts["project"]).first()
            if project is None:
                raise CommandError(f"no project {opts['project']!r} (add --create to make it)")
        started = time.perf_counter()
        try:
            result = prompts_import(
                project=project,
                source=opts["file"],
                fmt=opts["format"],
                annotator=opts["annotator"],
                label=str(opts["file"]),
            )
        except FileNotFoundError as exc:
            raise CommandError(f"{opts['file']}: no such file") from exc
        except ImportFailed as exc:
            raise CommandError(f"{opts['file']}: nothing imported\n{exc}") from exc
        elapsed = time.perf_counter() - started
        summary = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in result.as_dict().items())
        self.stdout.write(self.style.SUCCESS(f"{project.slug}: {summary} ({elapsed:.1f} s)"))
