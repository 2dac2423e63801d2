"""Projects, members, imports, prompts, judgements and agreement through the client, against
the live server."""

from __future__ import annotations

import gzip

import pytest

from annotate.models import Annotation, Prompt
from core.roles import Roles
from tests.client.conftest import ranking_lines, token_for, write_jsonl

pytestmark = pytest.mark.django_db(transaction=True)


def test_me_and_projects_are_typed_objects(rw, project):
    from rankwise_client import Project, User

    me = rw.me()
    assert isinstance(me, User) and me.username == "root" and me.roles == ["admin"]
    projects = rw.projects.list()
    assert [type(p) for p in projects] == [Project]
    assert projects[0].slug == "parrots" and projects[0].prompt_count == 0
    assert projects[0].created_at is not None and projects[0].created_at.tzinfo is not None


def test_create_update_members_and_delete(rw, transactional_db):
    from rankwise_client import Member

    token_for(Roles.ANNOTATOR, username="ann")
    created = rw.projects.create("Helpfulness", slug="helpful", overlap=3,
                                 instructions="Rank the replies.")  # fmt: skip
    assert (created.id, created.slug, created.overlap) == (created.id, "helpful", 3)
    created.update(overlap=2)
    assert created.overlap == 2 and rw.projects.get("helpful").overlap == 2

    members = created.add_members(["ann"])
    assert any(isinstance(m, Member) and m.username == "ann" for m in members)
    # Adding again changes nothing (which is why the client may retry it).
    assert [m.username for m in created.add_members(["ann"])] == [m.username for m in members]
    created.remove_member("ann")
    assert "ann" not in [m.username for m in created.members()]
    created.delete()
    from rankwise_client import AuditEvent, NotFound

    events = list(rw.audit_events(project="helpful", page_size=2))
    assert events and all(isinstance(e, AuditEvent) and e.actor == "root" for e in events)
    assert {"project.create", "project.delete"} <= {e.action for e in events}

    with pytest.raises(NotFound):
        rw.projects.get("helpful")


def test_import_with_progress_then_prompts_and_judgements_over_pages(
    rw, project, rankings_file, capsys
):
    from rankwise_client import ImportResult, Judgement
    from rankwise_client import Prompt as ClientPrompt

    result = project_import = rw.projects.get("parrots").import_file(rankings_file, progress=True)
    assert isinstance(project_import, ImportResult)
    assert (result.lines, result.prompts_created, result.annotations_created) == (12, 12, 24)
    assert "imported rankings.jsonl: 12 lines" in capsys.readouterr().err

    # page_size 5 over 12 prompts: three cursor pages, followed without the caller noticing.
    prompts = list(rw.projects.prompts("parrots", page_size=5))
    assert [p.external_id for p in prompts] == [f"p{i}" for i in range(12)]
    assert all(isinstance(p, ClientPrompt) and len(p.completions) == 3 for p in prompts)
    assert prompts[0].completions[0].id == "A" and prompts[0].annotation_count == 2

    judgements = list(rw.projects.judgements("parrots", page_size=7))
    assert len(judgements) == 24 and len({j.id for j in judgements}) == 24
    assert all(isinstance(j, Judgement) for j in judgements)
    assert {j.annotator for j in judgements} == {"a1", "a2"}
    only_a1 = list(rw.projects.judgements("parrots", annotator="a1", page_size=5))
    assert len(only_a1) == 12 and {j.annotator for j in only_a1} == {"a1"}
    assert list(rw.projects.prompts("parrots", annotated=False)) == []

    # The same file again stores nothing new: the property that makes the upload retryable.
    again = rw.projects.import_file("parrots", rankings_file, progress=False)
    assert (again.prompts_created, again.prompts_unchanged, again.annotations_created) == (0, 12, 0)


def test_a_bad_import_raises_with_each_line_named_and_stores_nothing(rw, project, tmp_path):
    from rankwise_client import BadRequest

    lines = ranking_lines(3)
    lines[1]["completions"] = lines[1]["completions"][:1]
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(gzip.compress(write_jsonl(tmp_path / "x.jsonl", lines).read_bytes()))
    with pytest.raises(BadRequest) as caught:
        rw.projects.import_file("parrots", path, progress=False)
    error = caught.value
    assert error.status == 400 and error.code == "invalid_import"
    assert "line 2" in error.fields and "completions" in error.fields["line 2"]
    assert error.body["errors"][0]["line"] == 2
    assert Prompt.objects.count() == 0 and Annotation.objects.count() == 0


def test_a_large_import_becomes_a_job_that_the_client_follows(
    rw, project, rankings_file, tmp_path, settings, capsys
):
    from rankwise_client import BadRequest, ImportJob, ImportResult

    settings.RANKWISE_IMPORT_SYNC_MAX_BYTES = 500  # the 12-line file is 3.5 KiB: a job (202)
    result = rw.projects.import_file("parrots", rankings_file, progress=True)
    assert isinstance(result, ImportResult)
    assert (result.lines, result.prompts_created, result.annotations_created) == (12, 12, 24)
    assert "imported rankings.jsonl: 12 lines" in capsys.readouterr().err
    jobs = list(rw.projects.get("parrots").import_jobs())
    assert [type(j) for j in jobs] == [ImportJob] and jobs[0].status == "succeeded"
    assert jobs[0].result.prompts_created == 12 and jobs[0].file_name == "rankings.jsonl"

    # A bad large file: the job fails and the client raises what a small file gets at once.
    lines = ranking_lines(12, seed=1)
    for i, line in enumerate(lines):
        line["id"] = f"big{i}"
    lines[4]["completions"] = lines[4]["completions"][:1]
    with pytest.raises(BadRequest) as caught:
        rw.projects.import_file("parrots", write_jsonl(tmp_path / "bad.jsonl", lines),
                                progress=False)  # fmt: skip
    error = caught.value
    assert error.code == "invalid_import" and "completions" in error.fields["line 5"]
    assert list(error.fields) == ["line 5"] and error.body["status"] == "failed"
    assert Prompt.objects.count() == 12
    assert rw.projects.import_job("parrots", error.body["id"]).status == "failed"


def test_agreement_report(rw, project, rankings_file):
    from rankwise_client import AgreementReport, AnnotatorAgreement

    rw.projects.import_file("parrots", rankings_file, progress=False)
    report = rw.projects.get("parrots").agreement()
    assert isinstance(report, AgreementReport) and report.project == "parrots"
    assert report.counts["judgements"] == 24 and report.counts["annotators"] == 2
    assert 0.5 < report.pairwise_agreement < 1.0
    assert set(report.headline()) >= {"pairwise_agreement", "krippendorff_alpha_ranking"}
    assert sorted(a.annotator for a in report.annotators) == ["a1", "a2"]
    assert all(isinstance(a, AnnotatorAgreement) for a in report.annotators)
    assert isinstance(report.meta["stored"], bool) and report.raw["project"] == "parrots"


def test_errors_carry_status_code_detail_and_fields(live_server, rw, project):
    from rankwise_client import (
        AuthenticationFailed,
        BadRequest,
        Client,
        NotFound,
        PermissionDenied,
    )

    with pytest.raises(AuthenticationFailed) as caught:
        Client(live_server.url, "not-a-token").me()
    assert caught.value.status == 401 and caught.value.code == "authentication_failed"

    annotator = Client(live_server.url, token_for(Roles.ANNOTATOR, project=project))
    with pytest.raises(PermissionDenied) as caught:
        annotator.projects.create("Nope")
    assert caught.value.code == "permission_denied"

    with pytest.raises(NotFound) as caught:
        rw.projects.get("no-such-project")
    assert caught.value.status == 404 and caught.value.code == "not_found"

    with pytest.raises(BadRequest) as caught:
        rw.projects.create("Bad", overlap=0)
    assert caught.value.code == "invalid" and "overlap" in caught.value.fields
    assert "overlap" in str(caught.value)
