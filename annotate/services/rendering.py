"""Backfill of the stored renderings (annotate.rendering) for rows stored before them."""

from __future__ import annotations

from django.db import transaction

from annotate.models import Completion, Prompt
from annotate.rendering import messages_html, text_html


def texts_render(*, batch_size: int = 500, project=None) -> dict[str, int]:
    """Render and store the HTML of every prompt and completion that has none yet.

    Idempotent and resumable: each batch commits on its own, and a row with its HTML stored is
    not selected again. Returns how many prompts and completions were rendered.
    """
    done = {"prompts": 0, "completions": 0}
    prompts = Prompt.objects.filter(html="", messages_html__isnull=True).exclude(
        text="", messages__isnull=True
    )
    completions = Completion.objects.filter(html="").exclude(text="")
    if project is not None:
        prompts = prompts.filter(project=project)
        completions = completions.filter(prompt__project=project)
    last = 0
    while True:
        rows = list(prompts.filter(pk__gt=last).order_by("pk")[:batch_size])
        if not rows:
            break
        for prompt in rows:
            prompt.html = text_html(prompt.text) if prompt.text else ""
            prompt.messages_html = messages_html(prompt.messages)
        with transaction.atomic():
            Prompt.objects.bulk_update(rows, ["html", "messages_html"])
        done["prompts"] += len(rows)
        last = rows[-1].pk
    last = 0
    while True:
        rows = list(completions.filter(pk__gt=last).order_by("pk")[:batch_size])
        if not rows:
            break
        for completion in rows:
            completion.html = text_html(completion.text)
        with transaction.atomic():
            Completion.objects.bulk_update(rows, ["html"])
        done["completions"] += len(rows)
        last = rows[-1].pk
    return done
