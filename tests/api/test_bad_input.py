"""Bad input on every write endpoint: a 4xx JSON error naming the field, and nothing written."""

import io
import json

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from annotate.models import Annotation, AnnotationRevision, Membership, Project, Prompt
from exports.models import DatasetSnapshot
from tests.api.conftest import assert_error_shape

P = "/api/v1/projects/{w.project.slug}/"
MODELS = [get_user_model(), Token, Project, Membership, Prompt, Annotation, AnnotationRevision,
          DatasetSnapshot]  # fmt: skip


def upload(*lines, fmt="rankwise"):
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    return {"multipart": {"file": io.BytesIO(text.encode()), "format": fmt}}


GOOD_LINE = {"id": "ok-1", "prompt": "fine", "completions": ["a", "b"]}

CASES = [
    # (role, method, path, body, status, field or None, error code or None)
    ("anonymous", "post", "/api/v1/auth/login/", {"username": "x"}, 400, "password", "invalid"),
    ("anonymous", "post", "/api/v1/auth/login/", {"username": "ann", "password": "no"}, 400,
     "password", "invalid_credentials"),
    ("admin", "post", "/api/v1/users/", {"username": "has space"}, 400, "username", None),
    ("admin", "post", "/api/v1/users/", {"username": "ok", "roles": ["wizard"]}, 400, "roles", None),
    ("admin", "post", "/api/v1/users/", {"username": "ann"}, 400, "username", None),
    ("admin", "post", "/api/v1/users/", {"username": "ok", "email": "nope"}, 400, "email", None),
    ("admin", "patch", "/api/v1/users/ann/", {"is_active": "maybe"}, 400, "is_active", None),
    ("admin", "patch", "/api/v1/users/ann/", {"roles": "admin"}, 400, "roles", None),
    ("admin", "post", "/api/v1/projects/", {"slug": "no-name"}, 400, "name", None),
    ("admin", "post", "/api/v1/projects/", {"name": "X", "overlap": 0}, 400, "overlap", None),
    ("admin", "post", "/api/v1/projects/", {"name": "X", "rating_scale": {"min": 7, "max": 1}},
     400, "rating_scale", None),
    ("admin", "post", "/api/v1/projects/", {"name": "X", "flags": [{"key": "Bad Key"}]}, 400,
     "flags", None),
    ("admin", "post", "/api/v1/projects/", {"name": "X", "slug": "elsewhere"}, 400, "slug", None),
    ("admin", "post", "/api/v1/projects/", {"name": "X", "slug": "not a slug"}, 400, "slug", None),
    ("admin", "patch", P, {"claim_timeout_minutes": -5}, 400, "claim_timeout_minutes", None),
    ("admin", "patch", P, {"flags": "harmful"}, 400, "flags", None),
    ("admin", "patch", P, {"ties_allowed": "often"}, 400, "ties_allowed", None),
    ("admin", "post", P + "members/", {"usernames": ["ghost"]}, 400, "usernames", None),
    ("admin", "post", P + "members/", {"usernames": []}, 400, "usernames", None),
    ("admin", "post", P + "prompts/import/", {"multipart": {"format": "rankwise"}}, 400, "file",
     None),
    ("admin", "post", P + "prompts/import/", upload(GOOD_LINE, fmt="csv"), 400, "format", None),
    ("admin", "post", P + "prompts/import/",
     upload(GOOD_LINE, {"id": "bad", "prompt": "p", "completions": ["only one"]}), 400,
     "line 2", "invalid_import"),
    ("admin", "post", P + "prompts/import/", upload(GOOD_LINE, "{not json"), 400, "line 2",
     "invalid_import"),
    ("admin", "post", "/api/v1/snapshots/", {"project": "nope", "format": "pairwise"}, 400,
     "project", None),
    ("admin", "post", "/api/v1/snapshots/", {"project": "{w.project.slug}", "format": "csv"}, 400,
     "format", None),
    ("admin", "post", "/api/v1/snapshots/",
     {"project": "{w.project.slug}", "format": "hf", "min_agreement": 2}, 400, "min_agreement",
     None),
    ("admin", "post", "/api/v1/snapshots/",
     {"project": "{w.project.slug}", "format": "hf", "exclude_flags": ["nope"]}, 400,
     "exclude_flags", "invalid_export"),
    ("admin", "post", "/api/v1/snapshots/",
     {"project": "{w.project.slug}", "format": "hf", "split": {"train": 0.5}}, 400, "split",
     "invalid_export"),
    ("admin", "post", "/api/v1/snapshots/",
     {"project": "{w.project.slug}", "format": "hf", "holdout_annotators": ["ghost"]}, 400,
     "holdout_annotators", "invalid_export"),
    ("admin", "post", "/api/v1/snapshots/",
     {"project": "{w.project.slug}", "format": "pairwise", "dimension_lines": True}, 400,
     "dimension_lines", "invalid_export"),
    ("admin", "post", "/api/v1/snapshots/",
     {"project": "{w.project.slug}", "format": "hf", "annotated_from": "2025-02-01",
      "annotated_to": "2025-01-01"}, 400, "annotated_to", "invalid_export"),
    ("annotator", "post", P + "tasks/{w.open_prompt.pk}/submit/", {"ranking": [["A"], ["Z"]]},
     400, "ranking", "invalid_judgement"),
    ("annotator", "post", P + "tasks/{w.open_prompt.pk}/submit/",
     {"ranking": [["A"], ["B"], ["C"]], "ratings": {"A": 99}}, 400, "ratings",
     "invalid_judgement"),
    ("annotator", "post", P + "tasks/{w.open_prompt.pk}/submit/",
     {"ranking": [["A"], ["B"], ["C"]], "flags": {"A": ["nope"]}}, 400, "flags",
     "invalid_judgement"),
    ("annotator", "post", P + "tasks/{w.open_prompt.pk}/submit/", {"ratings": {}}, 400,
     "ranking", None),
    ("annotator", "post", P + "tasks/{w.open_prompt.pk}/submit/",
     {"ranking": [["A"], ["B"], ["C"]], "time_ms": -1}, 400, "time_ms", None),
    ("annotator", "post", P + "tasks/{w.prompt.pk}/submit/", {"ranking": [["A"], ["B"], ["C"]]},
     409, None, "already_annotated"),
    ("annotator", "post", P + "tasks/{w.open_prompt.pk}/skip/", {}, 400, "reason", None),
    ("annotator", "post", P + "tasks/{w.open_prompt.pk}/skip/", {"reason": "   "}, 400,
     "reason", "invalid"),
    ("annotator", "patch", P + "my/annotations/{w.own_annotation.pk}/", {"ranking": "A>B"}, 400,
     "ranking", "invalid_judgement"),
    ("reviewer", "patch", P + "annotations/{w.annotation.pk}/", {"ranking": [["A"], ["A"]]}, 400,
     "ranking", "invalid_judgement"),
]  # fmt: skip


def counts():
    return [m.objects.count() for m in MODELS]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "method", "path", "body", "status", "field", "code"),
    CASES,
    ids=[f"{c[1]} {c[2]} {c[5] or c[6]}" for c in CASES],
)
def test_bad_input_is_a_4xx_naming_the_field_and_writes_nothing(
    world, role, method, path, body, status, field, code
):
    client = world.client(role)
    path = path.format(w=world)
    before = counts()
    if "multipart" in body:
        response = getattr(client, method)(path, body["multipart"], format="multipart")
    else:
        body = json.loads(json.dumps(body).replace("{w.project.slug}", world.project.slug))
        response = getattr(client, method)(path, body, format="json")
    error = assert_error_shape(response, status)
    if field is not None:
        assert any(k == field or k.startswith(f"{field}.") or k.startswith(f"{field}[")
                   for k in error["fields"]), error  # fmt: skip
    if code is not None:
        assert error["error"] == code, error
    assert counts() == before


@pytest.mark.django_db
def test_import_errors_list_every_bad_line(world):
    body = upload(GOOD_LINE, {"id": "x", "prompt": "p", "completions": ["one"]},
                  {"id": "y", "completions": ["a", "b"]})  # fmt: skip
    response = world.client("admin").post(
        f"/api/v1/projects/{world.project.slug}/prompts/import/", body["multipart"],
        format="multipart",
    )  # fmt: skip
    error = assert_error_shape(response, 400)
    assert error["fields"] == {
        "line 2": "completions: 1 item, need 2 to 9",
        "line 3": "prompt: give exactly one of prompt (text) or messages (conversation)",
    }
    assert [e["line"] for e in error["errors"]] == [2, 3]
    assert error["truncated"] is False


@pytest.mark.django_db
@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2", b"\xff\xfe"])
def test_malformed_json_body_is_a_parse_error(world, raw):
    response = world.client("admin").generic(
        "POST", "/api/v1/projects/", raw, content_type="application/json"
    )
    assert assert_error_shape(response, 400)["error"] == "parse_error"


@pytest.mark.django_db
def test_protected_project_delete_is_a_conflict(world):
    world.snapshot  # noqa: B018 - built on access; it protects the project
    response = world.client("admin").delete(f"/api/v1/projects/{world.project.slug}/")
    assert assert_error_shape(response, 409)["error"] == "protected"
    assert Project.objects.filter(pk=world.project.pk).exists()
