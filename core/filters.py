"""One way to filter a list by optional parameters (API query strings, command options)."""

from __future__ import annotations

from django.db.models import QuerySet


def queryset_filter(queryset: QuerySet, **lookups) -> QuerySet:
    """``queryset.filter(**lookups)`` for the lookups that were given: None and "" mean that
    parameter was left out (a False or 0 is a value)."""
    given = {k: v for k, v in lookups.items() if v is not None and v != ""}
    return queryset.filter(**given) if given else queryset
