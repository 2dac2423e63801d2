"""Project administration behind the API: settings checks, update, delete, membership.

The model's own constraints catch numbers out of range; the JSON settings (rating scale, flags)
have a shape the judgement validator relies on, so it is checked here before anything is saved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from annotate.models import Membership, Project
from annotate.services.projects import project_create
from annotate.services.users import memberships_ensure

EDITABLE = (
    "name", "slug", "instructions", "ties_allowed", "require_all_placed", "rating_scale",
    "flags", "overlap", "claim_timeout_minutes",
)  # fmt: skip
FLAG_KEY = re.compile(r"^[a-z0-9_]{1,50}$")


def _int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def rating_scale_check(scale) -> dict:
    if scale in (None, {}):
        return {}
    if not isinstance(scale, dict):
        raise ValidationError({"rating_scale": 'must be an object {"min", "max", "label"} or {}'})
    unknown = set(scale) - {"min", "max", "label"}
    if unknown:
        raise ValidationError({"rating_scale": f"unknown key {sorted(unknown)[0]!r}"})
    low, high = scale.get("min"), scale.get("max")
    if not (_int(low) and _int(high)) or not -100 <= low < high <= 100:
        raise ValidationError({"rating_scale": "min and max must be integers, min < max, in ±100"})
    label = scale.get("label", "")
    if not isinstance(label, str) or len(label) > 200:
        raise ValidationError({"rating_scale": "label must be a string of at most 200 characters"})
    return {"min": low, "max": high, "label": label}


def flags_check(flags) -> list[dict]:
    if flags in (None, []):
        return []
    if not isinstance(flags, list):
        raise ValidationError({"flags": 'must be a list of {"key", "label"}'})
    cleaned, seen = [], set()
    for i, flag in enumerate(flags):
        if not isinstance(flag, dict) or set(flag) - {"key", "label"}:
            raise ValidationError({"flags": f'item {i} must be an object {{"key", "label"}}'})
        key, label = flag.get("key"), flag.get("label", "")
        if not isinstance(key, str) or not FLAG_KEY.match(key):
            raise ValidationError({"flags": f"item {i}: key must be 1-50 of a-z, 0-9, _"})
        if key in seen:
            raise ValidationError({"flags": f"item {i}: key {key!r} is used twice"})
        if not isinstance(label, str) or len(label) > 200:
            raise ValidationError({"flags": f"item {i}: label must be a string (max 200)"})
        seen.add(key)
        cleaned.append({"key": key, "label": label or key})
    return cleaned


def _checked(changes: dict) -> dict:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "not an editable project setting"})
    if "rating_scale" in changes:
        changes["rating_scale"] = rating_scale_check(changes["rating_scale"])
    if "flags" in changes:
        changes["flags"] = flags_check(changes["flags"])
    return changes


def project_setup(*, name: str, slug: str | None = None, **settings) -> Project:
    """Create a project after checking its JSON settings (``project_create`` runs full_clean)."""
    return project_create(name=name, slug=slug, **_checked(settings))


@transaction.atomic
def project_update(*, project: Project, **changes) -> Project:
    changes = _checked(changes)
    for name, value in changes.items():
        setattr(project, name, value)
    project.full_clean()
    project.save(update_fields=[*changes, "updated_at"])
    return project


def project_delete(*, project: Project) -> None:
    """Deletes prompts and judgements too; snapshots and training runs protect a project."""
    project.delete()


def project_members_add(*, project: Project, usernames: Iterable[str]) -> list[str]:
    names = list(dict.fromkeys(usernames))
    found = dict(get_user_model().objects.filter(username__in=names).values_list("username", "id"))
    missing = [n for n in names if n not in found]
    if missing:
        raise ValidationError({"usernames": f"unknown user {missing[0]!r}"})
    memberships_ensure(project=project, user_ids=found.values())
    return names


def project_member_remove(*, project: Project, user) -> bool:
    deleted, _ = Membership.objects.filter(project=project, user=user).delete()
    return bool(deleted)
