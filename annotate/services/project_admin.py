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
from annotate.services.judging_settings import (
    JUDGING_SETTINGS,
    judging_changes_check,
    judging_fit_check,
)
from annotate.services.projects import project_create, project_settings
from annotate.services.users import memberships_ensure
from core.services import audit_event_record

EDITABLE = (
    "name", "slug", "instructions", "ties_allowed", "require_all_placed", "rating_scale",
    "flags", "overlap", "claim_timeout_minutes", *JUDGING_SETTINGS,
)  # fmt: skip
FLAG_KEY = re.compile(r"^[a-z0-9_]{1,50}$")


def _int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def rating_scale_check(*, scale) -> dict:
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


def flags_check(*, flags) -> list[dict]:
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
        changes["rating_scale"] = rating_scale_check(scale=changes["rating_scale"])
    if "flags" in changes:
        changes["flags"] = flags_check(flags=changes["flags"])
    return judging_changes_check(changes=changes)


def _fit(project: Project) -> None:
    judging_fit_check(
        judging_mode=project.judging_mode,
        strength_levels=project.strength_levels,
        gap_levels=project.gap_levels,
    )


def project_setup(*, name: str, slug: str | None = None, actor=None, **settings) -> Project:
    """Create a project after checking its JSON settings (``project_create`` runs full_clean)."""
    settings = _checked(settings)
    _fit(Project(**{k: v for k, v in settings.items() if k in JUDGING_SETTINGS}))
    return project_create(name=name, slug=slug, actor=actor, **settings)


@transaction.atomic
def project_update(*, project: Project, actor=None, **changes) -> Project:
    changes = _checked(changes)
    return project_settings_save(project=project, changes=changes, actor=actor)


@transaction.atomic
def project_settings_save(*, project: Project, changes: dict, actor=None) -> Project:
    """Apply checked setting changes, validate, save, and record what changed.

    The API (through ``project_update``) and the admin's project form both save here.
    """
    stored = Project.objects.filter(pk=project.pk).first()
    before = project_settings(project=stored) if stored is not None else {}
    for name, value in changes.items():
        setattr(project, name, value)
    _fit(project)
    project.full_clean()
    project.save(update_fields=[*changes, "updated_at"])
    after = project_settings(project=project)
    changed = [k for k in after if k in changes and before.get(k) != after[k]]
    if changed:
        audit_event_record(
            action="project.update", obj=project, project=project, actor=actor,
            before={k: before.get(k) for k in changed}, after={k: after[k] for k in changed},
        )  # fmt: skip
    return project


@transaction.atomic
def project_delete(*, project: Project, actor=None) -> None:
    """Deletes prompts and judgements too; snapshots and training runs protect a project."""
    before = {**project_settings(project=project), "prompts": project.prompts.count()}
    audit_event_record(action="project.delete", obj=project, project=project, actor=actor,
                       before=before)  # fmt: skip
    project.delete()


@transaction.atomic
def project_members_add(*, project: Project, usernames: Iterable[str], actor=None) -> list[str]:
    names = list(dict.fromkeys(usernames))
    users = {u.username: u for u in get_user_model().objects.filter(username__in=names)}
    missing = [n for n in names if n not in users]
    if missing:
        raise ValidationError({"usernames": f"unknown user {missing[0]!r}"})
    already = set(
        Membership.objects.filter(project=project, user__in=users.values()).values_list(
            "user__username", flat=True
        )
    )
    memberships_ensure(project=project, user_ids=[u.pk for u in users.values()])
    for name in names:
        if name not in already:
            _audit_membership("membership.add", project=project, user=users[name], actor=actor)
    return names


@transaction.atomic
def project_member_remove(*, project: Project, user, actor=None) -> bool:
    deleted, _ = Membership.objects.filter(project=project, user=user).delete()
    if deleted:
        _audit_membership("membership.remove", project=project, user=user, actor=actor)
    return bool(deleted)


@transaction.atomic
def project_admin_save(*, project: Project, changes: dict, actor, created: bool) -> Project:
    """The Django admin's project form (already validated by it): saved and audited like the
    API's create and update."""
    if not created:
        return project_settings_save(project=project, changes=changes, actor=actor)
    project.save()
    audit_event_record(action="project.create", obj=project, project=project, actor=actor,
                       after=project_settings(project=project))  # fmt: skip
    return project


@transaction.atomic
def project_member_change(*, project: Project, old_user, new_user, actor=None) -> None:
    """An admin pointed a membership at another user: one leaves, the other joins."""
    project_member_remove(project=project, user=old_user, actor=actor)
    project_members_add(project=project, usernames=[new_user.username], actor=actor)


def _audit_membership(action: str, *, project: Project, user, actor) -> None:
    member = {"project": project.slug, "user": user.username}
    audit_event_record(
        action=action, obj=user, project=project, actor=actor,
        before=None if action.endswith("add") else member,
        after=member if action.endswith("add") else None,
    )  # fmt: skip
