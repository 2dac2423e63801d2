"""Recording audit events. Services call ``audit_event_record`` inside the transaction of the
change they describe, so an event exists exactly when its change committed."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from core.context import audit_context_current
from core.models import AuditEvent


def _actor(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def audit_event_record(
    *,
    action: str,
    obj: Any = None,
    object_type: str = "",
    object_id: Any = "",
    object_repr: str = "",
    actor=None,
    project: Any = None,
    before: dict | None = None,
    after: dict | None = None,
    source: str | None = None,
) -> AuditEvent:
    """Append one event. ``obj`` (a model instance) fills the object's type, id and label;
    ``project`` (anything with ``pk`` and ``slug``) scopes it. ``source`` and the request id
    default to the current audit context (see core.context).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record an audit event inside the transaction of its change")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id if object_id != "" else obj.pk
        object_repr = object_repr or str(obj)
    if not object_type:
        raise ValueError("an audit event needs an object type (pass obj or object_type)")
    context = audit_context_current()
    actor = _actor(actor)
    return AuditEvent.objects.create(
        actor=actor,
        actor_username=actor.get_username() if actor is not None else "",
        action=action,
        object_type=object_type,
        object_id="" if object_id is None else str(object_id)[:64],
        object_repr=object_repr[:200],
        project_id=getattr(project, "pk", None),
        project_slug=getattr(project, "slug", "") or "",
        before=before,
        after=after,
        source=source or context.source,
        request_id=context.request_id,
    )
