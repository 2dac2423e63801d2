"""The task outbox moves from the retired ``ops`` app into core, keeping its table.

A database that ran ``ops.0001_initial`` already has ``ops_outboxmessage`` with its rows and
its index: core adopts it as it is (state only). A fresh database has no such table (the ops
app and its migration are gone): it is created here, index included. The ``ops`` rows left in
``django_migrations`` and its content type are inert (``manage.py remove_stale_contenttypes``
clears the latter).
"""

from django.db import migrations, models

OUTBOX = migrations.CreateModel(
    name="OutboxMessage",
    fields=[
        (
            "id",
            models.BigAutoField(
                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
            ),
        ),
        ("task_name", models.CharField(max_length=200)),
        ("task_id", models.CharField(max_length=255, unique=True)),
        ("args", models.JSONField(blank=True, default=list)),
        ("kwargs", models.JSONField(blank=True, default=dict)),
        ("queue", models.CharField(help_text="Where the router sends the task.", max_length=100)),
        ("created_at", models.DateTimeField(auto_now_add=True)),
        ("not_before", models.DateTimeField(help_text="The message's countdown ends here.")),
        ("sent_at", models.DateTimeField(blank=True, help_text="Last (re)send.", null=True)),
        ("sends", models.PositiveIntegerField(default=0)),
        ("last_error", models.TextField(blank=True)),
    ],
    options={
        "db_table": "ops_outboxmessage",
        "ordering": ["id"],
        "indexes": [models.Index(fields=["not_before"], name="ops_outboxm_not_bef_2bf212_idx")],
    },
)


def table_create_unless_there(apps, schema_editor):
    model = apps.get_model("core", "OutboxMessage")
    if model._meta.db_table not in schema_editor.connection.introspection.table_names():
        schema_editor.create_model(model)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_auditevent_append_only_trigger"),
    ]

    operations = [
        # The state first, so that the function below sees the model.
        migrations.SeparateDatabaseAndState(state_operations=[OUTBOX], database_operations=[]),
        migrations.RunPython(table_create_unless_there, migrations.RunPython.noop),
    ]
