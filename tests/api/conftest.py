"""A small world for API and page tests: one project with a member of every role (admin
included), a user of every role in another project only, a prompt with judgements, and (built
on first use) a snapshot.

Everything secret about the project carries MARKER, so a test can check that a response to
someone who may not see it does not contain it.
"""

from __future__ import annotations

import functools

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotate.models import Annotation, Completion, Membership, Project, Prompt
from annotate.services.users import roles_ensure
from core.roles import Roles
from exports.models import DatasetSnapshot
from exports.options import clean_options
from exports.services import snapshot_build

User = get_user_model()

MARKER = "zq7secret"
PASSWORD = "pw-matrix"
MEMBER_ROLES = ("annotator", "reviewer", "ml_engineer", "admin")
ELSEWHERE = "@elsewhere"  # suffix: the same role, a member of another project only
# Who the permission matrix tries every URL as: anonymous, each role as a member of the
# world's project and each role as a member of another project only.
PRINCIPALS = (
    "anonymous", *MEMBER_ROLES, *(f"{role}{ELSEWHERE}" for role in MEMBER_ROLES),
)  # fmt: skip


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    # Throttle counters live in the cache, and snapshots in ARTIFACTS_DIR: both per test.
    cache.clear()
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    yield
    cache.clear()


class World:
    """Built with plain ORM calls (not factories): it is made for each of ~200 matrix cases."""

    def __init__(self):
        groups = roles_ensure()

        def user(username, *roles):
            u = User(username=username)
            u.set_password(PASSWORD)
            u.save()
            u.groups.add(*[groups[r] for r in roles])
            return u

        self.project = Project.objects.create(name=f"Matrix {MARKER}", slug=f"matrix-{MARKER}")
        self.other_project = Project.objects.create(name="Elsewhere", slug="elsewhere")
        names = {"annotator": "ann", "reviewer": "rev", "ml_engineer": "mle", "admin": "boss"}
        self.users = {role: user(name, role) for role, name in names.items()}
        # Each role in another project only: must get nothing of this one ("out" logs in).
        self.users.update(
            {f"{role}{ELSEWHERE}": user("out" if role == "annotator" else f"{name}-out", role)
             for role, name in names.items()}
        )  # fmt: skip
        self.second_annotator = user("ann2", Roles.ANNOTATOR)
        Membership.objects.bulk_create(
            [Membership(project=self.project, user=self.users[r]) for r in MEMBER_ROLES]
            + [Membership(project=self.project, user=self.second_annotator)]
            + [Membership(project=self.other_project, user=self.users[f"{r}{ELSEWHERE}"])
               for r in MEMBER_ROLES]
        )  # fmt: skip
        self.prompt = self._prompt("p-1", f"Prompt {MARKER}")
        self.open_prompt = self._prompt("p-2", f"Open {MARKER}")
        self.annotation = Annotation.objects.create(
            prompt=self.prompt, annotator=self.second_annotator, ranking=[["A"], ["B"], ["C"]]
        )
        self.own_annotation = Annotation.objects.create(  # the annotator role's own judgement
            prompt=self.prompt, annotator=self.users["annotator"], ranking=[["B"], ["A"], ["C"]]
        )
        tokens = [Token(user=u, key=Token.generate_key()) for u in self.users.values()]
        Token.objects.bulk_create(tokens)
        self.tokens = {role: t.key for role, t in zip(self.users, tokens, strict=True)}

    def _prompt(self, external_id: str, text: str, k: int = 3) -> Prompt:
        prompt = Prompt.objects.create(project=self.project, external_id=external_id, text=text)
        Completion.objects.bulk_create(
            Completion(prompt=prompt, external_id=chr(65 + i), position=i, text=f"out {i}")
            for i in range(k)
        )
        return prompt

    @functools.cached_property
    def snapshot(self) -> DatasetSnapshot:
        snapshot = DatasetSnapshot.objects.create(
            project=self.project, format="pairwise",
            settings=clean_options(self.project, {}).as_json(),
        )  # fmt: skip
        snapshot_build(snapshot=snapshot)
        snapshot.refresh_from_db()
        assert snapshot.is_ready, snapshot.error
        return snapshot

    def client(self, role: str, *, session: bool = False) -> APIClient:
        """A client for ``role`` (a principal): with its API token, or signed in to a session
        as the pages are (the test client does not check CSRF unless asked)."""
        client = APIClient()
        if role == "anonymous":
            return client
        if session:
            client.force_login(self.users[role])
        else:
            client.credentials(HTTP_AUTHORIZATION=f"Token {self.tokens[role]}")
        return client


@pytest.fixture
def world(db) -> World:
    return World()


def assert_error_shape(response, status: int | None = None) -> dict:
    if status is not None:
        assert response.status_code == status, response.content
    body = response.json()
    assert set(body) >= {"error", "detail", "fields"}, body
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["fields"], dict)
    return body
