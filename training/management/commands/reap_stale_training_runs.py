from datetime import timedelta

from django.core.management.base import BaseCommand

from training.services import training_runs_reap_stale


class Command(BaseCommand):
    help = (
        "Re-queue (from their last checkpoint) or fail training runs whose worker stopped "
        "sending heartbeats (manage.py reap_stale_tasks reaps every kind of task). Celery beat "
        "runs it every minute (core.tasks_reap_stale)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--minutes",
            type=float,
            default=None,
            help="heartbeat age that counts as dead (default TASK_STALE_SECONDS)",
        )

    def handle(self, *args, minutes=None, **options):
        stale_after = timedelta(minutes=minutes) if minutes is not None else None
        outcome = training_runs_reap_stale(stale_after=stale_after)
        self.stdout.write(
            f"re-queued {len(outcome['requeued'])} run(s) {outcome['requeued']}, "
            f"failed {len(outcome['failed'])} run(s) {outcome['failed']}"
        )
