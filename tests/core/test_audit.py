"""The audit log: each audited action leaves one event from the service that performs it, in
its transaction; events are append-only, outlive their objects, and admins read them in the
API and the Django admin."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from agreement.services import prompt_adjudicate
from annotate.models import Membership, Project
from core.context import audit_context
from core.models import AppendOnlyError, AuditEvent
from core.roles import Roles
from core.services import audit_event_record
from tests.factories import ProjectFactory, PromptFactory, UserFactory, annotator

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def boss(db):
    return UserFactory(username="boss", roles=[Roles.ADMIN], is_staff=True, is_superuser=True)


@pytest.fixture
def api(boss):
    client = APIClient()
    client.force_authenticate(boss)
    return client


def only_event(**filters) -> AuditEvent:
    events = list(AuditEvent.objects.filter(**filters))
    assert len(events) == 1, [(e.action, e.object_repr) for e in AuditEvent.objects.all()]
    return events[0]


# --- what is recorded, by whom, from where ------------------------------------------------------


def test_role_change_through_the_api(api):
    user = annotator("ann")
    response = api.patch("/api/v1/users/ann/", {"roles": ["annotator", "reviewer"]},
                         format="json", HTTP_X_REQUEST_ID="req-42")  # fmt: skip
    assert response.status_code == 200
    event = only_event(action="user.update")
    assert (event.actor, event.actor_username, event.source) == (
        User.objects.get(username="boss"), "boss", "api")  # fmt: skip
    assert event.request_id == "req-42" and response["X-Request-ID"] == "req-42"
    assert (event.object_type, event.object_id, event.object_repr) == (
        "auth.user", str(user.pk), "ann")  # fmt: skip
    assert event.before == {"roles": ["annotator"]}
    assert event.after == {"roles": ["annotator", "reviewer"]}


def test_an_update_that_changes_nothing_records_nothing(api):
    annotator("ann")
    api.patch("/api/v1/users/ann/", {"roles": ["annotator"]}, format="json")
    assert not AuditEvent.objects.filter(action="user.update").exists()


def test_user_create_and_membership_add_and_remove(api):
    project = ProjectFactory(slug="birds")
    assert api.post("/api/v1/users/", {"username": "newbie", "roles": ["annotator"]},
                    format="json").status_code == 201  # fmt: skip
    created = only_event(action="user.create")
    assert created.after["roles"] == ["annotator"] and created.object_repr == "newbie"

    api.post("/api/v1/projects/birds/members/", {"usernames": ["newbie"]}, format="json")
    api.post("/api/v1/projects/birds/members/", {"usernames": ["newbie"]}, format="json")
    added = only_event(action="membership.add")  # the second add changed nothing
    assert (added.project_id, added.project_slug) == (project.pk, "birds")
    assert added.after == {"project": "birds", "user": "newbie"} and added.before is None

    assert api.delete("/api/v1/projects/birds/members/newbie/").status_code == 204
    removed = only_event(action="membership.remove")
    assert removed.before == {"project": "birds", "user": "newbie"} and removed.after is None


def test_token_issue_and_revoke_never_record_the_key(api):
    annotator("ann")
    key = api.post("/api/v1/users/ann/token/").json()["key"]
    rotated = api.post("/api/v1/users/ann/token/").json()["key"]
    assert api.delete("/api/v1/users/ann/token/").status_code == 204
    issued = list(AuditEvent.objects.filter(action="token.issue").order_by("id"))
    assert [e.after for e in issued] == [{"replaced_a_key": False}, {"replaced_a_key": True}]
    assert only_event(action="token.revoke").object_repr == "ann"
    dump = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert key not in dump and rotated not in dump


def test_create_token_command_is_recorded_as_a_command():
    annotator("ann", is_active=True)
    call_command("create_token", "ann", stdout=io.StringIO())
    event = only_event(action="token.issue")
    assert event.source == "command" and event.actor is None and event.actor_username == ""


def test_project_create_update_delete(api):
    api.post("/api/v1/projects/", {"name": "Birds", "slug": "birds"}, format="json")
    created = only_event(action="project.create")
    assert created.after["overlap"] == 3 and created.project_slug == "birds"
    api.patch("/api/v1/projects/birds/", {"overlap": 5, "instructions": "Be kind."},
              format="json")  # fmt: skip
    updated = only_event(action="project.update")
    assert updated.before == {"overlap": 3, "instructions": ""}
    assert updated.after == {"overlap": 5, "instructions": "Be kind."}
    project_id = Project.objects.get(slug="birds").pk
    assert api.delete("/api/v1/projects/birds/").status_code == 204
    deleted = only_event(action="project.delete")
    assert deleted.before["overlap"] == 5 and deleted.before["prompts"] == 0
    # The project is gone; its events stay, found by its id or slug.
    assert not Project.objects.filter(pk=project_id).exists()
    assert AuditEvent.objects.filter(project_id=project_id).count() == 3


def test_import_through_the_api_and_the_command(api, tmp_path):
    project = ProjectFactory(slug="birds")
    line = json.dumps({"id": "p1", "prompt": "Q?", "completions": ["a", "b"]}).encode() + b"\n"
    from django.core.files.uploadedfile import SimpleUploadedFile

    api.post("/api/v1/projects/birds/prompts/import/",
             {"file": SimpleUploadedFile("first.jsonl", line), "format": "rankwise"},
             format="multipart")  # fmt: skip
    event = only_event(action="project.import")
    assert (event.source, event.actor_username, event.project_id) == ("api", "boss", project.pk)
    assert event.after["file"] == "first.jsonl" and event.after["prompts_created"] == 1
    path = tmp_path / "second.jsonl"
    path.write_bytes(line.replace(b"p1", b"p2"))
    call_command("import_data", str(path), "--project", "birds", stdout=io.StringIO())
    second = AuditEvent.objects.filter(action="project.import").first()
    assert second.source == "command" and second.after["file"] == str(path)


def test_a_failed_import_leaves_no_event(api):
    ProjectFactory(slug="birds")
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = json.dumps({"id": "p1", "prompt": "Q?", "completions": ["a"]}).encode()
    response = api.post("/api/v1/projects/birds/prompts/import/",
                        {"file": SimpleUploadedFile("bad.jsonl", bad)}, format="multipart")  # fmt: skip
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action="project.import").exists()


def test_snapshot_create_through_the_api(api):
    project = ProjectFactory(slug="birds")
    response = api.post("/api/v1/snapshots/", {"project": "birds", "format": "pairwise"},
                        format="json")  # fmt: skip
    assert response.status_code == 202
    event = only_event(action="snapshot.create")
    assert event.object_type == "exports.datasetsnapshot"
    assert event.object_id == str(response.json()["id"])
    assert event.after["format"] == "pairwise" and event.project_id == project.pk


def test_adjudication_is_recorded_with_the_consensus_it_overrides():
    prompt = PromptFactory(k=2)
    reviewer = UserFactory(roles=[Roles.REVIEWER])
    Membership.objects.create(project=prompt.project, user=reviewer)
    adjudication = prompt_adjudicate(prompt=prompt, reviewer=reviewer, ranking=[["B"], ["A"]],
                                     comment=" B is right ")  # fmt: skip
    event = only_event(action="adjudication.create")
    assert event.object_id == str(adjudication.pk) and event.actor == reviewer
    assert event.before == {"consensus_ranking": None, "consensus_agreement": None}
    assert event.after == {"prompt": prompt.external_id, "ranking": [["B"], ["A"]],
                           "comment": "B is right"}  # fmt: skip


def test_a_refused_change_leaves_no_event():
    prompt = PromptFactory(k=2)
    outsider = UserFactory(roles=[Roles.ANNOTATOR])
    with pytest.raises(Exception, match="only reviewers"):
        prompt_adjudicate(prompt=prompt, reviewer=outsider, ranking=[["A"], ["B"]])
    assert not AuditEvent.objects.exists()


def test_admin_project_form_and_membership_inline(boss, client):
    client.force_login(boss)
    project = ProjectFactory(name="Birds", slug="birds")
    carol = annotator("carol")
    form = {
        "name": "Birds", "slug": "birds", "instructions": "", "ties_allowed": "on",
        "require_all_placed": "on", "rating_scale": '{"min": 1, "max": 7, "label": "q"}',
        "flags": "[]", "overlap": 4, "max_overlap": "", "agreement_threshold": 0.6,
        "gold_rate": 0.0, "claim_timeout_minutes": 30, "judging_mode": "ranking",
        "strength_levels": "[]", "gap_levels": "[]", "dimensions": "[]", "rationale": "off",
        "memberships-TOTAL_FORMS": 1, "memberships-INITIAL_FORMS": 0,
        "memberships-0-user": carol.pk, "memberships-0-id": "", "memberships-0-project": "",
    }  # fmt: skip
    response = client.post(f"/admin/annotate/project/{project.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[-3000:]
    update = only_event(action="project.update")
    assert update.source == "admin" and update.actor == boss
    assert update.before["overlap"] == 3 and update.after["overlap"] == 4
    assert "name" not in update.after  # unchanged fields are not listed
    assert only_event(action="membership.add").after == {"project": "birds", "user": "carol"}
    membership = Membership.objects.get(project=project, user=carol)
    form.update({"memberships-INITIAL_FORMS": 1, "memberships-0-id": membership.pk,
                 "memberships-0-project": project.pk, "memberships-0-DELETE": "on"})  # fmt: skip
    assert client.post(f"/admin/annotate/project/{project.pk}/change/", form).status_code == 302
    assert only_event(action="membership.remove").before["user"] == "carol"
    assert not Membership.objects.filter(project=project, user=carol).exists()


def test_admin_project_form_checks_the_judging_settings(boss, client):
    client.force_login(boss)
    project = ProjectFactory(name="Pairs", slug="pairs")
    form = {
        "name": "Pairs", "slug": "pairs", "instructions": "", "rating_scale": "{}",
        "flags": "[]", "overlap": 3, "max_overlap": "", "agreement_threshold": 0.6,
        "gold_rate": 0.0, "claim_timeout_minutes": 30, "judging_mode": "pairwise_strength",
        "strength_levels": "[]", "gap_levels": "[]", "dimensions": "[]", "rationale": "optional",
        "memberships-TOTAL_FORMS": 0, "memberships-INITIAL_FORMS": 0,
    }  # fmt: skip
    url = f"/admin/annotate/project/{project.pk}/change/"
    refused = client.post(url, form)
    assert refused.status_code == 200 and "needs a scale" in refused.content.decode()
    assert client.post(url, {**form, "strength_levels": '"llama2"'}).status_code == 302
    project.refresh_from_db()
    assert project.is_pairwise and len(project.strength_levels) == 4
    assert only_event(action="project.update").after["judging_mode"] == "pairwise_strength"


def test_admin_user_form_records_role_and_access_changes(boss, client):
    client.force_login(boss)
    user = annotator("ann")
    reviewer_group = user.groups.model.objects.get(name=Roles.REVIEWER)
    form = {
        "username": "ann", "first_name": "", "last_name": "", "email": "",
        "is_active": "on", "is_staff": "on", "groups": [reviewer_group.pk],
        "last_login_0": "", "last_login_1": "", "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00", "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
    }  # fmt: skip
    response = client.post(f"/admin/auth/user/{user.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[-3000:]
    event = only_event(action="user.update")
    assert event.source == "admin"
    assert event.before == {"roles": ["annotator"], "is_staff": False}
    assert event.after == {"roles": ["reviewer"], "is_staff": True}


def test_admin_token_add_and_delete(boss, client):
    client.force_login(boss)
    user = annotator("ann")
    response = client.post("/admin/authtoken/tokenproxy/add/", {"user": user.pk})
    assert response.status_code == 302
    assert only_event(action="token.issue").source == "admin"
    # DRF's token admin addresses a token by its user, so keys stay out of URLs.
    client.post(f"/admin/authtoken/tokenproxy/{user.pk}/delete/", {"post": "yes"})
    assert only_event(action="token.revoke").actor == boss


def test_audit_event_record_needs_the_change_transaction(db):
    with pytest.raises(ValueError, match="object type"), transaction.atomic():
        audit_event_record(action="x.y")


@pytest.mark.django_db(transaction=True)
def test_recording_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit_event_record(action="thing.happen", object_type="x.y")


def test_context_source_must_be_known():
    with pytest.raises(ValueError, match="unknown source"), audit_context(source="bogus"):
        pass


# --- append-only, and outliving its objects ---------------------------------------------------


def make_event(actor=None) -> AuditEvent:
    with transaction.atomic():
        return audit_event_record(action="thing.happen", object_type="x.y", object_id=1,
                                  actor=actor, after={"n": 1})  # fmt: skip


def test_the_orm_refuses_to_change_or_delete_an_event():
    event = make_event()
    event.action = "thing.forged"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="thing.forged")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_update([event], ["action"])
    assert AuditEvent.objects.get(pk=event.pk).action == "thing.happen"


def test_deleting_the_actor_keeps_the_event_and_the_username():
    gone = UserFactory(username="leaver")
    event = make_event(actor=gone)
    gone.delete()
    event = AuditEvent.objects.get(pk=event.pk)
    assert event.actor is None and event.actor_username == "leaver"


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    ["UPDATE core_auditevent SET action = 'thing.forged'",
     "UPDATE core_auditevent SET actor_id = NULL, action = 'thing.forged'",
     "DELETE FROM core_auditevent"],
)  # fmt: skip
def test_postgresql_refuses_raw_updates_and_deletes(sql):
    make_event(actor=UserFactory())
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert AuditEvent.objects.get().action == "thing.happen"


# --- reading: the API and the admin ------------------------------------------------------------


def test_api_filters_and_pages(api, boss):
    birds, fish = ProjectFactory(slug="birds"), ProjectFactory(slug="fish")
    other = UserFactory(username="other")
    with transaction.atomic():
        for project, actor, action in [
            (birds, boss, "token.issue"),
            (birds, other, "token.revoke"),
            (fish, boss, "project.update"),
            (None, boss, "user.create"),
        ]:
            audit_event_record(action=action, object_type="x.y", project=project, actor=actor)

    def actions(query):
        response = api.get(f"/api/v1/audit-events/?{query}")
        assert response.status_code == 200, response.content
        return [e["action"] for e in response.json()["results"]]

    assert actions("") == ["user.create", "project.update", "token.revoke", "token.issue"]
    assert actions("project=birds") == ["token.revoke", "token.issue"]
    assert actions(f"project={fish.pk}") == ["project.update"]
    assert actions("actor=other") == ["token.revoke"]
    assert actions("action=token") == ["token.revoke", "token.issue"]
    assert actions("action=token.issue") == ["token.issue"]
    assert actions("object_type=x.y&page_size=2") == ["user.create", "project.update"]
    first = AuditEvent.objects.order_by("id").first()
    assert actions(f"since={first.created_at.isoformat().replace('+00:00', 'Z')}")[-1] == (
        "token.issue")  # fmt: skip
    assert actions("until=2000-01-01T00:00:00Z") == []
    page = api.get("/api/v1/audit-events/?page_size=2").json()
    rest = api.get(page["next"]).json()
    assert [e["action"] for e in rest["results"]] == ["token.revoke", "token.issue"]
    bad = api.get("/api/v1/audit-events/?since=yesterday")
    assert bad.status_code == 400 and "since" in bad.json()["fields"]
    inverted = api.get(
        "/api/v1/audit-events/?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z"
    )
    assert inverted.status_code == 400 and "until" in inverted.json()["fields"]


def test_admin_reads_but_cannot_add_change_or_delete(boss, client):
    client.force_login(boss)
    event = make_event(actor=boss)
    listing = client.get(reverse("admin:core_auditevent_changelist"))
    assert listing.status_code == 200 and "thing.happen" in listing.content.decode()
    page = client.get(reverse("admin:core_auditevent_change", args=[event.pk]))
    assert page.status_code == 200 and "&quot;n&quot;: 1" in page.content.decode()
    assert client.get(reverse("admin:core_auditevent_add")).status_code == 403
    assert client.post(reverse("admin:core_auditevent_delete", args=[event.pk]),
                       {"post": "yes"}).status_code == 403  # fmt: skip
    client.post(reverse("admin:core_auditevent_change", args=[event.pk]), {"action": "forged"})
    assert AuditEvent.objects.get(pk=event.pk).action == "thing.happen"


def test_every_response_carries_a_request_id(api):
    annotator("ann")
    given = api.get("/api/v1/me/", HTTP_X_REQUEST_ID="client-7.a:b")
    assert given["X-Request-ID"] == "client-7.a:b"
    made = api.get("/api/v1/me/")
    assert len(made["X-Request-ID"]) == 32
    unsafe = api.post("/api/v1/users/ann/token/", HTTP_X_REQUEST_ID="x" * 65 + "\n<script>")
    assert unsafe["X-Request-ID"] != "x" * 65 and len(unsafe["X-Request-ID"]) == 32
    assert only_event(action="token.issue").request_id == unsafe["X-Request-ID"]
    assert APIClient().get("/healthz")["X-Request-ID"]
