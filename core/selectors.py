"""Reading the audit log."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from core.filters import queryset_filter
from core.models import AuditEvent


def audit_event_list(
    *,
    project: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """Events, newest first, filtered.

    ``project`` is a slug as recorded on the event or a project id; ``actor`` a username
    (kept after the account is deleted); ``action`` an exact action (``token.issue``) or a
    family (``token`` matches every ``token.*``); ``since`` is inclusive, ``until`` exclusive.
    """
    events = AuditEvent.objects.select_related("actor")
    if project:
        match = Q(project_slug=project)
        if project.isdigit():
            match |= Q(project_id=int(project))
        events = events.filter(match)
    if action:
        events = (
            events.filter(action=action)
            if "." in action
            else events.filter(action__startswith=f"{action}.")
        )
    return queryset_filter(
        events, actor_username=actor, object_type=object_type, object_id=object_id,
        created_at__gte=since, created_at__lt=until,
    )  # fmt: skip
