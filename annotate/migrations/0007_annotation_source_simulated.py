"""Simulated judgements get their own source; those written before are found by what
agreement.simulation has always written: an inactive sim-N account and the comment
"simulated" (or the skip reason "simulated skip")."""

from django.db import migrations, models
from django.db.models import Q


def mark_simulated(apps, schema_editor):
    Annotation = apps.get_model("annotate", "Annotation")
    Annotation.objects.filter(
        annotator__username__regex=r"^sim-[0-9]+$", annotator__is_active=False
    ).filter(Q(comment="simulated") | Q(skip_reason="simulated skip")).update(source="simulated")


class Migration(migrations.Migration):
    dependencies = [
        ("annotate", "0006_rendered_html"),
    ]

    operations = [
        migrations.AlterField(
            model_name="annotation",
            name="source",
            field=models.CharField(
                choices=[
                    ("ui", "Annotation UI"),
                    ("api", "API"),
                    ("import", "Import"),
                    ("review", "Review"),
                    ("simulated", "Simulated annotator"),
                ],
                default="ui",
                max_length=10,
            ),
        ),
        migrations.RunPython(mark_simulated, migrations.RunPython.noop),
    ]
