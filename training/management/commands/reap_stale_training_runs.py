from datetime import timedelta

from django.core.management.base import BaseCommand

from training.services import training_runs_reap_stale


class Command(BaseCommand):
    help = (
        "Re-queue (from their last checkpoint) or fail training runs whose worker stopped "
        "sending heartbeats. Run it from cron or Celery beat (task "
        "training.tasks.training_runs_reap_stale)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--minutes",
            type=float,
            default=None,
            help="heartbeat age that counts as dead (default TRAINING_HEARTBEAT_STALE_MINUTES)",
        )

    def handle(self, *args, minutes=None, **options):
        stale_after = timedelta(minutes=minutes) if minutes is not None else None
        outcome = training_runs_reap_stale(stale_after=stale_after)
        self.stdout.write(
            f"re-queued {len(outcome['requeued'])} run(s) {outcome['requeued']}, "
            f"failed {len(outcome['failed'])} run(s) {outcome['failed']}"
        )
