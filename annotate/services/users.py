from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from annotate.models import Membership, Project
from core.roles import Roles
from core.services import audit_event_record

User = get_user_model()


def roles_ensure() -> dict[str, Group]:
    return {name: Group.objects.get_or_create(name=name)[0] for name in Roles.ALL}


@transaction.atomic
def user_create(
    *, username: str, password: str | None, roles: Iterable[str] = (), is_active: bool = True,
    email: str = "", is_staff: bool = False, is_superuser: bool = False, actor=None,
):  # fmt: skip
    user = User(username=username, email=email, is_active=is_active, is_staff=is_staff,
                is_superuser=is_superuser)  # fmt: skip
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    user_set_roles(user=user, roles=roles)
    audit_event_record(
        action="user.create", obj=user, actor=actor,
        after={"roles": sorted(roles), "is_active": is_active, "email": email,
               "is_staff": is_staff, "is_superuser": is_superuser},
    )  # fmt: skip
    return user


def user_roles(*, user) -> list[str]:
    """The user's role groups by name, sorted (superuser status is not a group)."""
    return sorted(user.groups.filter(name__in=Roles.ALL).values_list("name", flat=True))


def user_set_roles(*, user, roles: Iterable[str]) -> None:
    groups = roles_ensure()
    unknown = set(roles) - set(groups)
    if unknown:
        raise ValueError(f"unknown role {sorted(unknown)[0]!r}; roles are {', '.join(Roles.ALL)}")
    user.groups.set([groups[r] for r in roles])


def annotators_get_or_create(*, usernames: Iterable[str], project: Project) -> dict[str, int]:
    """Map usernames to user ids, creating unknown ones as inactive annotator accounts.

    Imported judgements keep their authorship even when the person has no login here; an
    admin can activate the account later.
    """
    names = set(usernames)
    found = dict(User.objects.filter(username__in=names).values_list("username", "id"))
    missing = sorted(names - set(found))
    if missing:
        group = roles_ensure()[Roles.ANNOTATOR]
        created = User.objects.bulk_create(
            [User(username=name, is_active=False, password="!") for name in missing]
        )
        if any(u.pk is None for u in created):  # backends without RETURNING
            created = list(User.objects.filter(username__in=missing))
        group.user_set.add(*created)
        found.update({u.username: u.pk for u in created})
    memberships_ensure(project=project, user_ids=found.values())
    return found


def memberships_ensure(*, project: Project, user_ids: Iterable[int]) -> None:
    Membership.objects.bulk_create(
        [Membership(project=project, user_id=uid) for uid in user_ids], ignore_conflicts=True
    )
