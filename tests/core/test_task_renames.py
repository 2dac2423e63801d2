"""The task-name migration: every old name maps to a task a worker registers today, and stored
outbox rows under an old name are renamed."""

from importlib import import_module

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from config.celery import app

renames = import_module("core.migrations.0004_outbox_task_renames")


def test_every_new_name_is_a_registered_task_and_no_old_one_is():
    app.loader.import_default_modules()
    for old, new in renames.RENAMES.items():
        assert new in app.tasks, new
        assert old not in app.tasks, old


@pytest.mark.django_db(transaction=True)
def test_outbox_rows_under_old_names_are_renamed():
    executor = MigrationExecutor(connection)
    executor.migrate([("core", "0003_outboxmessage_from_ops")])
    old_apps = executor.loader.project_state([("core", "0003_outboxmessage_from_ops")]).apps
    outbox = old_apps.get_model("core", "OutboxMessage")
    outbox.objects.create(task_name="training.tasks.training_run_execute", task_id="t1",
                          args=[7], kwargs={}, queue="gpu",
                          not_before=timezone.now())  # fmt: skip
    outbox.objects.create(task_name="webhooks.delivery_send", task_id="t2",
                          args=[1], kwargs={}, queue="celery", not_before=timezone.now())  # fmt: skip
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    from core.models import OutboxMessage

    names = dict(OutboxMessage.objects.values_list("task_id", "task_name"))
    assert names == {"t1": "training.training_run_execute", "t2": "webhooks.delivery_send"}
