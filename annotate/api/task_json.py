"""The annotator's hot answers (a task, a stored judgement) as plain dicts.

Every submit with ``?next=1`` renders one judgement and one task, and every prefetch one task.
Through DRF serializers that cost more CPU than the queue's SQL: each instance deep-copies
its declared fields and a ModelSerializer rebuilds its fields from the model
(bench/profile_requests.py). These functions build the same dicts directly; the serializers
(``TaskSerializer``, ``AnnotationSerializer``) stay the schema, and
tests/api/test_hot_paths.py checks that both give identical output.
"""

from __future__ import annotations

from rest_framework import serializers

from annotate.letters import letters_seen
from annotate.rendering import stored_messages_html, stored_text_html
from annotate.services.queue import prompt_completions

# DRF's own datetime rendering (ISO 8601 in the current time zone, "Z" for UTC), unbound.
_DATETIME = serializers.DateTimeField()


def _datetime(value) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


def _str(value) -> str | None:
    return None if value is None else str(value)


def task_json(claim, project) -> dict:
    """``TaskSerializer(claim, context={"project": project}).data``, without the serializer."""
    prompt = claim.prompt
    stored = {c.external_id: c for c in prompt_completions(prompt=prompt)}
    order = [cid for cid in claim.shown_order or [] if cid in stored] or list(stored)
    completions = [
        {"id": cid, "label": chr(ord("A") + i), "text": stored[cid].text,
         "html": stored_text_html(stored[cid].text, stored[cid].html)}
        for i, cid in enumerate(order)
    ]  # fmt: skip
    shown = claim.shown_order
    return {
        "prompt_id": prompt.pk,
        "external_id": _str(prompt.external_id),
        "text": _str(prompt.text),
        "messages": prompt.messages,
        "html": stored_text_html(prompt.text, prompt.html),
        "messages_html": stored_messages_html(prompt.messages, prompt.messages_html),
        "completions": completions,
        "shown_order": None if shown is None else [str(c) for c in shown],
        "claimed_at": _datetime(claim.claimed_at),
        "expires_at": _datetime(claim.expires_at),
        "timeout_minutes": project.claim_timeout_minutes if project is not None else None,
    }


def annotation_json(annotation) -> dict:
    """``AnnotationSerializer(annotation).data``, without the serializer."""
    return {
        "id": annotation.pk,
        "prompt": annotation.prompt_id,
        "prompt_external_id": _str(annotation.prompt.external_id),
        "annotator": _str(annotation.annotator.username),
        "ranking": annotation.ranking,
        "ratings": annotation.ratings,
        "flags": annotation.flags,
        "comment": _str(annotation.comment),
        "skipped": None if annotation.skipped is None else bool(annotation.skipped),
        "skip_reason": _str(annotation.skip_reason),
        "time_ms": None if annotation.time_ms is None else int(annotation.time_ms),
        "shown_order": annotation.shown_order,
        "strength": None if annotation.strength is None else int(annotation.strength),
        "tie_kind": _str(annotation.tie_kind),
        "gaps": annotation.gaps,
        "dimensions": annotation.dimensions,
        "rationale": _str(annotation.rationale),
        "letters": letters_seen(annotation.shown_order),
        "source": _str(annotation.source),
        "created_at": _datetime(annotation.created_at),
        "updated_at": _datetime(annotation.updated_at),
    }
