from django.core.management.base import BaseCommand

from core.maintenance import outbox_sweep, tasks_reap_stale


class Command(BaseCommand):
    help = (
        "Send task messages the outbox still holds (never sent, or lost by the broker) and "
        "re-queue or fail snapshots, training runs and generation jobs whose worker stopped "
        "heartbeating. Celery beat runs the same every minute (core.tasks_reap_stale); use this "
        "from cron where no beat runs."
    )

    def handle(self, *args, **options):
        sent = outbox_sweep()
        self.stdout.write(
            f"outbox: sent {sent['sent']}, re-sent {sent['resent']}, waiting {sent['waiting']}, "
            f"not sent {sent['failed']}"
        )
        for name, outcome in tasks_reap_stale().items():
            self.stdout.write(
                f"{name}: re-queued {len(outcome['requeued'])} {outcome['requeued']}, "
                f"failed {len(outcome['failed'])} {outcome['failed']}"
            )
