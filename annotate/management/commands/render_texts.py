"""Store the rendered HTML of prompts and completions imported before it was stored."""

from django.core.management.base import BaseCommand

from annotate.models import Project
from annotate.services.rendering import texts_render


class Command(BaseCommand):
    help = "Render and store the sanitised HTML of every prompt and completion lacking it."

    def add_arguments(self, parser):
        parser.add_argument("--project", help="only this project (slug)")
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, project=None, batch_size=500, **options):
        scope = Project.objects.get(slug=project) if project else None
        done = texts_render(batch_size=batch_size, project=scope)
        self.stdout.write(
            f"rendered {done['prompts']} prompts and {done['completions']} completions"
        )
