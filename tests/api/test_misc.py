"""Authentication, pagination, throttling, the snapshot lifecycle over HTTP, create_token."""

import hashlib
import io
import json

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotate.models import Prompt
from exports.models import DatasetSnapshot
from tests.api.conftest import PASSWORD, assert_error_shape

pytestmark = pytest.mark.django_db


def test_session_login_then_csrf_protected_writes(world):
    client = APIClient(enforce_csrf_checks=True)
    # Login is CSRF-checked too: another site must not sign a visitor into its own account.
    forged = client.post("/api/v1/auth/login/", {"username": "boss", "password": PASSWORD})
    assert assert_error_shape(forged, 403)["error"] == "permission_denied"
    assert "CSRF" in forged.json()["detail"]
    assert client.get("/api/v1/me/").status_code == 401
    token = client.get("/api/v1/auth/login/").json()["csrftoken"]
    response = client.post("/api/v1/auth/login/", {"username": "boss", "password": PASSWORD},
                           HTTP_X_CSRFTOKEN=token)  # fmt: skip
    assert response.status_code == 200 and response.json()["username"] == "boss"
    assert client.get("/api/v1/me/").json()["roles"] == ["admin"]
    # A session write without the CSRF token is refused; with it, it goes through.
    denied = client.patch(f"/api/v1/projects/{world.project.slug}/", {"instructions": "x"})
    assert assert_error_shape(denied, 403)["error"] == "permission_denied"
    token = response.cookies["csrftoken"].value
    ok = client.patch(f"/api/v1/projects/{world.project.slug}/", {"instructions": "x"},
                      HTTP_X_CSRFTOKEN=token)  # fmt: skip
    assert ok.status_code == 200 and ok.json()["instructions"] == "x"
    assert client.post("/api/v1/auth/logout/", HTTP_X_CSRFTOKEN=token).status_code == 204
    assert client.get("/api/v1/me/").status_code == 401


def test_bad_token_is_401_with_challenge(world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    response = client.get("/api/v1/me/")
    assert assert_error_shape(response, 401)["error"] == "authentication_failed"
    assert response["WWW-Authenticate"] == "Token"


def test_login_is_throttled(world, settings):
    client = APIClient()
    statuses = [
        client.post("/api/v1/auth/login/", {"username": "ann", "password": "wrong"}).status_code
        for _ in range(12)
    ]
    assert statuses[:10] == [400] * 10  # DEFAULT_THROTTLE_RATES["login"] = 10/min
    assert statuses[10] == 429
    response = client.post("/api/v1/auth/login/", {"username": "ann", "password": PASSWORD})
    assert assert_error_shape(response, 429)["error"] == "throttled"
    assert int(response["Retry-After"]) > 0


def test_token_rotation(world):
    admin = world.client("admin")
    first = admin.post("/api/v1/users/ann2/token/").json()["key"]
    second = admin.post("/api/v1/users/ann2/token/").json()["key"]
    assert first != second and Token.objects.get(user__username="ann2").key == second
    old = APIClient()
    old.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    assert old.get("/api/v1/me/").status_code == 401


def test_create_token_command(world, capsys):
    call_command("create_token", "ann2")
    key = capsys.readouterr().out.strip()
    assert Token.objects.get(user__username="ann2").key == key
    call_command("create_token", "ann2")
    assert capsys.readouterr().out.strip() == key  # printed again, not replaced
    call_command("create_token", "ann2", "--rotate")
    assert capsys.readouterr().out.strip() != key
    with pytest.raises(CommandError, match="no user"):
        call_command("create_token", "ghost")


def test_prompt_list_cursor_pages_and_filters(world):
    Prompt.objects.bulk_create(
        Prompt(project=world.project, external_id=f"bulk-{i}", text=f"t{i}") for i in range(7)
    )
    client = world.client("reviewer")
    url = f"/api/v1/projects/{world.project.slug}/prompts/"
    seen, page = [], client.get(url, {"page_size": 4}).json()
    while True:
        seen += [p["external_id"] for p in page["results"]]
        if not page["next"]:
            break
        page = client.get(page["next"]).json()
    assert len(seen) == len(set(seen)) == 9
    annotated = client.get(url, {"annotated": "true"}).json()["results"]
    assert [(p["external_id"], p["annotation_count"]) for p in annotated] == [("p-1", 2)]
    assert client.get(url, {"external_id": "bulk-3"}).json()["results"][0]["text"] == "t3"
    bad = client.get(url, {"created_after": "soon"})
    assert "created_after" in assert_error_shape(bad, 400)["fields"]


def test_annotation_filters(world):
    client = world.client("reviewer")
    url = f"/api/v1/projects/{world.project.slug}/annotations/"
    assert {a["annotator"] for a in client.get(url).json()["results"]} == {"ann", "ann2"}
    assert [a["annotator"] for a in client.get(url, {"annotator": "ann"}).json()["results"]] == [
        "ann"
    ]
    world.annotation.flags = {"B": ["harmful", "opinion"]}
    world.annotation.save(update_fields=["flags"])
    flagged = client.get(url, {"flag": "opinion"}).json()["results"]
    assert [a["id"] for a in flagged] == [world.annotation.pk]
    assert client.get(url, {"flag": "sexual"}).json()["results"] == []


def test_import_over_http(world):
    lines = [{"id": "new-1", "prompt": "p", "completions": ["a", "b"],
              "annotations": [{"annotator": "ann", "ranking": [["1"], ["0"]]}]}]  # fmt: skip
    upload = io.BytesIO("\n".join(json.dumps(x) for x in lines).encode())
    response = world.client("admin").post(
        f"/api/v1/projects/{world.project.slug}/prompts/import/",
        {"file": upload, "format": "rankwise"}, format="multipart",
    )  # fmt: skip
    assert response.status_code == 201
    assert response.json()["prompts_created"] == 1 and response.json()["annotations_created"] == 1


def test_snapshot_lifecycle_over_http(world, django_capture_on_commit_callbacks):
    admin = world.client("admin")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post("/api/v1/snapshots/", {
            "project": world.project.slug, "format": "pairwise", "mode": "consensus",
            "split": {"train": 0.5, "validation": 0.5, "test": 0.0},
        })  # fmt: skip
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending" and response["Location"].endswith(f"/{body['id']}/")

    mle = world.client("ml_engineer")
    detail = mle.get(f"/api/v1/snapshots/{body['id']}/").json()
    assert detail["status"] == "ready" and detail["progress"] == 1.0
    assert detail["settings"]["mode"] == "consensus" and detail["row_counts"]["rows"] == 2
    download = mle.get(detail["download_url"])
    content = b"".join(download.streaming_content)
    assert hashlib.sha256(content).hexdigest() == detail["sha256"] == download["X-Content-SHA256"]
    # consensus of ann (B > A > C) and ann2 (A > B > C): A = B > C, the tie dropped
    assert {json.loads(line)["split"] for line in content.splitlines()} <= {"train", "validation"}

    listed = mle.get("/api/v1/snapshots/", {"project": world.project.slug, "status": "ready"})
    assert [s["id"] for s in listed.json()["results"]] == [body["id"]]
    bad_file = mle.get(detail["download_url"], {"file": "../../etc/passwd"})
    assert "file" in assert_error_shape(bad_file, 400)["fields"]


def test_snapshot_not_ready_and_hf_file_choice(world, django_capture_on_commit_callbacks):
    snapshot = DatasetSnapshot.objects.create(project=world.project, format="hf", settings={})
    mle = world.client("ml_engineer")
    pending = mle.get(f"/api/v1/snapshots/{snapshot.pk}/download/")
    assert assert_error_shape(pending, 409)["error"] == "not_ready"

    with django_capture_on_commit_callbacks(execute=True):
        created = world.client("admin").post(
            "/api/v1/snapshots/", {"project": world.project.slug, "format": "hf"}
        )  # fmt: skip
    url = f"/api/v1/snapshots/{created.json()['id']}/download/"
    assert "file" in assert_error_shape(mle.get(url), 400)["fields"]
    parquet = mle.get(url, {"file": "parquet/train.parquet"})
    assert parquet.status_code == 200
    assert b"".join(parquet.streaming_content)[:4] == b"PAR1"
