"""Hostile input on both surfaces: the ranking page's JSON endpoints and the REST API.

Each case answered 500 (or stored what PostgreSQL rejects) before: now a 4xx that names the
field where there is one, never a 500, and nothing written. Limits are the same on every
surface (one definition in annotate/constants.py).
"""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client
from django.urls import get_resolver, resolve
from rest_framework.pagination import CursorPagination

from annotate.constants import MAX_COMMENT_LENGTH, MAX_SKIP_REASON_LENGTH, MAX_TIME_MS
from annotate.models import Annotation, AnnotationRevision, Claim
from tests.api.conftest import assert_error_shape
from tests.api.permission_matrix import ENDPOINTS

RANKING = [["B"], ["A"], ["C"]]


def _page_client(world, role="annotator"):
    client = Client()
    client.force_login(world.users[role])
    return client


def _targets(world) -> dict:
    """surface -> (client, method, url, body builder) for a submit, a skip and an edit; the
    pages call the same URLs as API clients, with the session instead of a token."""
    slug, prompt, own = world.project.slug, world.open_prompt.pk, world.own_annotation.pk
    page, api = _page_client(world), world.client("annotator")
    submit = f"/api/v1/projects/{slug}/tasks/{prompt}/submit/"
    update = f"/api/v1/projects/{slug}/my/annotations/{own}/"
    return {
        "page submit": (page, "post", submit, dict),
        "api submit": (api, "post", submit, dict),
        "page update": (page, "patch", update, dict),
        "api update": (api, "patch", update, dict),
    }


def _send(client, method, url, raw: str):
    return client.generic(method.upper(), url, raw.encode("utf-8", "surrogatepass"),
                          content_type="application/json")  # fmt: skip


def _fields(response) -> set[str]:
    """The field(s) an error names, in either surface's error shape."""
    body = response.json()
    return set(assert_error_shape(response)["fields"]) | {body["error"]}


def _counts():
    return (Annotation.objects.count(), AnnotationRevision.objects.count(), Claim.objects.count())


def _judgement(**extra) -> str:
    return json.dumps({"ranking": RANKING, **extra})


BAD_JUDGEMENTS = [
    # (id, raw JSON body, the field the error must name; None: any 400)
    ("time_ms 2^31", _judgement(time_ms=2**31), "time_ms"),
    ("time_ms 2^63", _judgement(time_ms=2**63), "time_ms"),
    ("time_ms 10^30", _judgement(time_ms=10**30), "time_ms"),
    ("NUL in comment", _judgement(comment="fine\u0000then"), "comment"),
    ("lone surrogate in comment", '{"ranking": [["B"], ["A"], ["C"]], "comment": "a\\ud800b"}',
     "comment"),
    ("comment over the limit", _judgement(comment="x" * (MAX_COMMENT_LENGTH + 1)), "comment"),
    ("nested 5000 levels", '{"ranking": ' + "[" * 5000 + "]" * 5000 + "}", None),
    ("nested 5000 levels in a comment object",
     '{"ranking": [["B"], ["A"], ["C"]], "comment": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}",
     None),
    ("NaN", '{"ranking": [["B"], ["A"], ["C"]], "time_ms": NaN}', None),
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("surface", ["page submit", "api submit", "page update", "api update"])
@pytest.mark.parametrize(("raw", "field"), [c[1:] for c in BAD_JUDGEMENTS],
                         ids=[c[0] for c in BAD_JUDGEMENTS])  # fmt: skip
def test_bad_judgement_is_a_400_on_every_surface_and_writes_nothing(world, surface, raw, field):
    client, method, url, _ = _targets(world)[surface]
    before = _counts()
    response = _send(client, method, url, raw)
    assert response.status_code == 400, (surface, response.status_code, response.content[:300])
    if field is not None:
        assert field in _fields(response), response.json()
    assert _counts() == before


@pytest.mark.django_db
def test_the_largest_allowed_values_are_stored(world):
    """The limits are inclusive: a comment of exactly the limit and time_ms = 2^31 - 1 pass."""
    client, method, url, _ = _targets(world)["page submit"]
    raw = _judgement(time_ms=MAX_TIME_MS, comment="y" * MAX_COMMENT_LENGTH)
    response = _send(client, method, url, raw)
    assert response.status_code == 201, response.content[:300]
    stored = Annotation.objects.get(pk=response.json()["id"])
    assert stored.time_ms == MAX_TIME_MS and len(stored.comment) == MAX_COMMENT_LENGTH


@pytest.mark.django_db
@pytest.mark.parametrize("surface", ["page", "api"])
@pytest.mark.parametrize(
    "reason",
    ["r" * (MAX_SKIP_REASON_LENGTH + 1), "null\u0000byte"],
    ids=["over the limit", "NUL"],
)
def test_skip_reason_has_one_cap_on_every_surface(world, surface, reason):
    slug, prompt = world.project.slug, world.open_prompt.pk
    client = _page_client(world) if surface == "page" else world.client("annotator")
    url = f"/api/v1/projects/{slug}/tasks/{prompt}/skip/"
    before = _counts()
    response = _send(client, "post", url, json.dumps({"reason": reason}))
    assert response.status_code == 400, response.content[:300]
    assert "reason" in _fields(response)
    assert _counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url", "raw"),
    [
        ("patch", "/api/v1/projects/{slug}/", '{"flags": [{"key": "ok", "label": "a\\u0000b"}]}'),
        ("patch", "/api/v1/projects/{slug}/", '{"rating_scale": {"min": 1, "max": 7, "label": "\\udfff"}}'),
        ("post", "/api/v1/training-runs/", '{"kind": "reward_model", "base_model": "x", "config": ' + "[" * 3000 + "]" * 3000 + "}"),
        ("post", "/api/v1/snapshots/", '{"project": "{slug}", "format": "pairwise", "seed": 1e999}'),
    ],
    ids=["NUL in a JSON field", "lone surrogate in a JSON field", "deep config", "infinite number"],
)  # fmt: skip
def test_json_bodies_pass_one_gate_before_any_view(world, method, url, raw):
    """NUL, lone surrogates, non-finite numbers and deep nesting are refused by the API's JSON
    parser, whatever the field, so no JSONField can store what PostgreSQL rejects."""
    url, raw = url.replace("{slug}", world.project.slug), raw.replace("{slug}", world.project.slug)
    response = _send(world.client("admin"), method, url, raw)
    body = assert_error_shape(response, 400)
    assert body["error"] == "parse_error", body


def _cursor(query: str) -> str:
    return base64.b64encode(query.encode("utf-8", "surrogatepass")).decode()


CRAFTED_CURSORS = [
    "not base64 at all", _cursor("p=abc"), _cursor("p=\x00"), _cursor("p=1e5"),
    _cursor("p=99999999999999999999999999"), _cursor("r=1&p=-99999999999999999999999999"),
    _cursor("o=99999999999999999999999999"), _cursor("o=-1&p=1"), _cursor("p=%FF%FE"),
    _cursor("p=" + "9" * 5000),
]  # fmt: skip


def _cursor_lists(world) -> dict[str, tuple[str, str]]:
    """Every cursor-paginated API list, found in the URLconf, with a URL and a role that may
    read it (from the permission matrix's rows)."""
    paginated = set()

    def walk(patterns, prefix=""):
        for p in patterns:
            if hasattr(p, "url_patterns"):
                walk(p.url_patterns, prefix + str(p.pattern))
            else:
                cls = getattr(p.callback, "cls", None)
                pagination = getattr(cls, "pagination_class", None)
                if pagination and issubclass(pagination, CursorPagination):
                    paginated.add(prefix + str(p.pattern))

    walk(get_resolver().url_patterns)
    found = {}
    for e in ENDPOINTS:
        if e.method != "get":
            continue
        path = e.path(world)
        route = resolve(path.split("?")[0]).route
        if route in paginated:
            role = "annotator" if "annotator" in e.allowed else "admin"
            found[route] = (path, role)
    assert paginated and set(found) == paginated, paginated - set(found)
    return found


@pytest.mark.django_db
def test_a_crafted_cursor_is_a_4xx_on_every_cursor_paginated_list(world):
    failures = []
    for route, (path, role) in _cursor_lists(world).items():
        client = world.client(role)
        assert client.get(path).status_code == 200, route
        for cursor in CRAFTED_CURSORS:
            sep = "&" if "?" in path else "?"
            response = client.get(f"{path}{sep}cursor={cursor}")
            if response.status_code not in (400, 404):
                failures.append((route, cursor, response.status_code))
            else:
                assert_error_shape(response)
    assert failures == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    ["/api/v1/training-runs/%C3%A9t%C3%A9/", "/api/v1/snapshots/\u00e9/", "/api/v1/nope/",
     "/api/v1/projects/\u00e9t\u00e9/", "/api/v2/", "/api/v1/reward-models/1/\u2603"],
)  # fmt: skip
def test_unknown_api_urls_answer_the_json_404(world, path):
    response = world.client("admin").get(path)
    body = assert_error_shape(response, 404)
    assert body["error"] == "not_found"
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.django_db
def test_a_wrong_method_under_the_api_answers_the_json_405(world):
    response = world.client("admin").delete("/api/v1/me/")
    assert assert_error_shape(response, 405)["error"] == "method_not_allowed"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    ["/api/v1/users/a%00b/", "/api/v1/projects/{slug}/members/x%00/",
     "/api/v1/projects/{slug}/prompts/?external_id=a%00b", "/api/v1/training-runs/?kind=%00",
     "/api/v1/training-runs/?status=nope", "/api/v1/snapshots/?project=%00"],
)  # fmt: skip
def test_nul_and_junk_in_the_url_are_a_4xx(world, path):
    response = world.client("admin").get(path.replace("{slug}", world.project.slug))
    assert 400 <= response.status_code < 500, (path, response.status_code)
    assert_error_shape(response)


@pytest.mark.django_db
def test_ids_past_any_integer_column_are_a_404_on_every_url(world):
    """``<int:...>`` takes any digits; an id past bigint must be a 404, not an overflow."""
    import re

    from tests.api.test_permissions import call

    failures = []
    for endpoint in ENDPOINTS:
        path = endpoint.path(world)
        huge = re.sub(r"/\d+(?=/|$)", "/" + "9" * 25, path.split("?")[0])
        if huge == path.split("?")[0]:
            continue
        fake = type(endpoint)(**{**endpoint.__dict__, "path": lambda w, p=huge: p})
        response = call(world, fake, "admin")
        if response.status_code != 404:
            failures.append((endpoint.name, huge, response.status_code))
    assert failures == []
