"""Model text rendered and sanitised once when stored (annotate.rendering).

The backfill renders existing rows here when there are few of them; a large database is left
to ``manage.py render_texts`` (resumable, batch by batch), the readers rendering unrendered
rows on the fly meanwhile, so the migration itself stays quick.
"""

from django.db import migrations, models

BACKFILL_IN_MIGRATION = 20_000  # completions; beyond that, the command


def backfill(apps, schema_editor):
    from annotate.rendering import messages_html, text_html

    Prompt = apps.get_model("annotate", "Prompt")
    Completion = apps.get_model("annotate", "Completion")
    if Completion.objects.count() > BACKFILL_IN_MIGRATION:
        print("\n  annotate: run `manage.py render_texts` to store the rendered model text.")
        return
    for prompt in Prompt.objects.all().iterator(chunk_size=500):
        prompt.html = text_html(prompt.text) if prompt.text else ""
        prompt.messages_html = messages_html(prompt.messages)
        prompt.save(update_fields=["html", "messages_html"])
    for completion in Completion.objects.exclude(text="").iterator(chunk_size=500):
        completion.html = text_html(completion.text)
        completion.save(update_fields=["html"])


class Migration(migrations.Migration):
    dependencies = [("annotate", "0005_importjob_heartbeat")]

    operations = [
        migrations.AddField(
            model_name="prompt",
            name="html",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.AddField(
            model_name="prompt",
            name="messages_html",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="completion",
            name="html",
            field=models.TextField(blank=True, default="", help_text="text rendered and sanitised"),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
