"""User accounts and API tokens, as admins manage them through the API and create_token."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from rest_framework.authtoken.models import Token

from annotate.services.users import user_set_roles


@transaction.atomic
def user_update(
    *, user, roles: Iterable[str] | None = None, is_active: bool | None = None,
    email: str | None = None,
):  # fmt: skip
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
    return user


@transaction.atomic
def token_issue(*, user, rotate: bool = True) -> Token:
    """The user's API token; ``rotate`` replaces an existing one (the old key stops working)."""
    if rotate:
        Token.objects.filter(user=user).delete()
    token, _ = Token.objects.get_or_create(user=user)
    return token


def token_revoke(*, user) -> bool:
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)
