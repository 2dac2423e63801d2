"""User accounts and API tokens, as admins manage them through the API and create_token."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from rest_framework.authtoken.models import Token

from annotate.services.users import user_roles, user_set_roles
from core.services import audit_event_record


@transaction.atomic
def user_update(
    *, user, roles: Iterable[str] | None = None, is_active: bool | None = None,
    email: str | None = None, actor=None,
):  # fmt: skip
    before = {"roles": user_roles(user=user), "is_active": user.is_active, "email": user.email}
    fields = []
    if is_active is not None:
        user.is_active = is_active
        fields.append("is_active")
    if email is not None:
        user.email = email
        fields.append("email")
    if fields:
        user.full_clean(validate_unique=False, exclude=["password"])
        user.save(update_fields=fields)
    if roles is not None:
        user_set_roles(user=user, roles=roles)
    after = {"roles": user_roles(user=user), "is_active": user.is_active, "email": user.email}
    changed = [k for k in before if before[k] != after[k]]
    if changed:
        audit_event_record(
            action="user.update", obj=user, actor=actor,
            before={k: before[k] for k in changed}, after={k: after[k] for k in changed},
        )  # fmt: skip
    return user


def user_audit_state(*, user) -> dict:
    """What the audit log records of an account: roles and the flags that grant access."""
    return {
        "roles": user_roles(user=user), "is_active": user.is_active, "is_staff": user.is_staff,
        "is_superuser": user.is_superuser, "email": user.email,
    }  # fmt: skip


@transaction.atomic
def user_admin_saved(*, user, before: dict | None, actor) -> None:
    """Record what the Django admin's user form changed (it saves the user and groups itself;
    ``before`` is ``user_audit_state`` read before, None for a new account)."""
    after = user_audit_state(user=user)
    if before is None:
        audit_event_record(action="user.create", obj=user, actor=actor, after=after)
        return
    changed = [k for k in after if before.get(k) != after[k]]
    if changed:
        audit_event_record(
            action="user.update", obj=user, actor=actor,
            before={k: before.get(k) for k in changed}, after={k: after[k] for k in changed},
        )  # fmt: skip


@transaction.atomic
def token_issue(*, user, rotate: bool = True, actor=None) -> Token:
    """The user's API token; ``rotate`` replaces an existing one (the old key stops working).

    The audit event records that a key was issued (and whether one was replaced), never the key.
    """
    replaced = bool(Token.objects.filter(user=user).delete()[0]) if rotate else False
    token, created = Token.objects.get_or_create(user=user)
    if created:
        audit_event_record(action="token.issue", obj=user, actor=actor,
                           after={"replaced_a_key": replaced})  # fmt: skip
    return token


@transaction.atomic
def token_revoke(*, user, actor=None) -> bool:
    deleted, _ = Token.objects.filter(user=user).delete()
    if deleted:
        audit_event_record(action="token.revoke", obj=user, actor=actor, before={"token": True},
                           after={"token": False})  # fmt: skip
    return bool(deleted)
