from django.core.management.base import BaseCommand

from annotate.services.demo import demo_load


class Command(BaseCommand):
    help = "Create the demo users and projects (parrots, Open-Assistant sample, parrot pairs). Idempotent."

    def handle(self, *args, **opts):
        summary = demo_load()
        for slug, counts in summary["projects"].items():
            self.stdout.write(f"project {slug}: {counts}")
        self.stdout.write(f"Demo logins (password for all: {summary['password']}):")
        for username, roles in summary["users"]:
            self.stdout.write(f"  {username:<11} {', '.join(roles)}")
