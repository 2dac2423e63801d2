"""Outbox rows written before the Celery tasks were named ``<app>.<action>`` carry the old
names, which no worker registers any more: rename them so the sweeper's next send reaches a
task. A message already in the broker under an old name is rejected by the worker and its
outbox row (deleted only when a worker starts the task) is re-sent under the new name."""

from django.db import migrations

RENAMES = {
    "agreement.tasks.project_consensus_flush_task": "agreement.project_consensus_flush",
    "agreement.tasks.pending_consensus_sweep_task": "agreement.pending_consensus_sweep",
    "agreement.tasks.project_agreement_task": "agreement.project_agreement_recompute",
    "training.tasks.training_run_execute": "training.training_run_execute",
    "training.tasks.generation_job_execute": "training.generation_job_execute",
    "training.maintenance.training_runs_reap_stale": "training.training_runs_reap_stale",
    "ops.maintenance.outbox_sweep": "core.outbox_sweep",
    "ops.maintenance.tasks_reap_stale": "core.tasks_reap_stale",
    "webhooks.maintenance.deliveries_sweep": "webhooks.deliveries_sweep",
}


def forwards(apps, schema_editor):
    outbox = apps.get_model("core", "OutboxMessage")
    for old, new in RENAMES.items():
        outbox.objects.filter(task_name=old).update(task_name=new)


def backwards(apps, schema_editor):
    outbox = apps.get_model("core", "OutboxMessage")
    for old, new in RENAMES.items():
        outbox.objects.filter(task_name=new).update(task_name=old)


class Migration(migrations.Migration):
    dependencies = [("core", "0003_outboxmessage_from_ops")]
    operations = [migrations.RunPython(forwards, backwards)]
