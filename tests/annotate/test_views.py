"""The annotator's pages, and the /api/v1 calls they make with the session and its CSRF token
(the pages have no JSON endpoints of their own: one surface, one error shape)."""

import json

import pytest
from django.urls import reverse

from annotate.models import Annotation, AnnotationRevision, Claim, Membership
from annotate.services.annotations import ranking_submit
from tests.factories import ProjectFactory, PromptFactory, annotator

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    return ProjectFactory(
        slug="demo", overlap=2, instructions="Rank **best** first.\n\n<script>alert(1)</script>"
    )


@pytest.fixture
def alice(project):
    return annotator("alice", project)


def login(client, user):
    # UserFactory sets the password after saving and does not save again, so the session
    # hash of the in-memory user would not match the stored one: log in the stored user.
    user.refresh_from_db()
    client.force_login(user)
    return client


@pytest.fixture
def client_alice(client, alice):
    return login(client, alice)


def post_json(client, url, data=None):
    return client.post(url, json.dumps(data or {}), content_type="application/json")


def api(name, *args):
    return reverse(f"api:{name}", args=["demo", *args])


def next_task(client, slug="demo"):
    response = post_json(client, reverse("api:task-next", args=[slug]))
    assert response.status_code in (200, 204), response.content
    return response.json() if response.status_code == 200 else None


def test_pages_need_login(client, project):
    for url in (
        reverse("annotate:annotate", args=["demo"]),
        reverse("annotate:my-annotations", args=["demo"]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    # The API the pages call answers in its one error shape, which the page's script shows.
    response = post_json(client, api("task-next"))
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_project_page_links_to_annotating_and_shows_progress(client_alice, project):
    PromptFactory(project=project, k=2)
    page = client_alice.get(reverse("annotate:project-detail", args=["demo"])).content.decode()
    assert reverse("annotate:annotate", args=["demo"]) in page
    assert reverse("annotate:my-annotations", args=["demo"]) in page
    assert "remaining in the queue: <strong>1</strong>" in page
    assert "<strong>best</strong>" in page and "<script>alert(1)</script>" not in page


def test_ranking_page_embeds_rules_and_sanitised_instructions(client_alice, project):
    page = client_alice.get(reverse("annotate:annotate", args=["demo"])).content.decode()
    config = json.loads(
        page.split('id="rankwise-config" type="application/json">')[1].split("</script>")[0]
    )
    assert config["rules"]["ties_allowed"] is True
    assert config["rules"]["rating"] == {"min": 1, "max": 7, "label": "Overall quality"}
    assert len(config["rules"]["flags"]) == 9
    assert "<script>alert(1)</script>" not in page
    assert "static/annotate/ranking.js" in page
    # The page calls /api/v1, nothing of its own.
    assert set(config["urls"]) >= {"next", "submit", "skip", "extend", "update", "progress"}
    assert all(u.startswith("/api/v1/") for k, u in config["urls"].items() if k != "mine")


def test_next_returns_the_claimed_task_with_labels_in_shown_order(client_alice, project):
    prompt = PromptFactory(project=project, k=4, text="Say <b>hi</b>")
    task = next_task(client_alice)
    claim = Claim.objects.get()
    assert task["prompt_id"] == prompt.pk
    assert task["shown_order"] == claim.shown_order
    assert [o["id"] for o in task["completions"]] == claim.shown_order
    assert [o["label"] for o in task["completions"]] == ["A", "B", "C", "D"]
    assert task["html"] == "<p>Say &lt;b&gt;hi&lt;/b&gt;</p>"
    assert (
        task["messages_html"] is None and task["timeout_minutes"] == project.claim_timeout_minutes
    )
    assert next_task(client_alice)["prompt_id"] == prompt.pk  # the held task again


def test_chat_prompts_come_as_turns(client_alice, project):
    PromptFactory(
        project=project, k=2, text="",
        messages=[{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"}],
    )  # fmt: skip
    task = next_task(client_alice)
    assert [t["role"] for t in task["messages"]] == ["user", "assistant"]
    assert task["messages_html"] == ["<p>hello</p>", "<p>hi</p>"]


def test_completion_html_is_escaped_not_executed(client_alice, project):
    prompt = PromptFactory(project=project, k=2)
    prompt.completions.filter(external_id="A").update(
        text="<script>alert('x')</script> <img src=x onerror=alert(1)> **bold** `<i>`"
    )
    task = next_task(client_alice)
    html = next(o["html"] for o in task["completions"] if o["id"] == "A")
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<strong>bold</strong>" in html and "<code>&lt;i&gt;</code>" in html


def test_queue_empty_gives_no_task(client_alice, project):
    assert next_task(client_alice) is None


def test_non_member_gets_the_404_of_an_unknown_project(client, project):
    """A non-member learns nothing: the same 404, with the same body, as for no project."""
    login(client, annotator("outsider"))
    response = post_json(client, api("task-next"))
    unknown = post_json(client, reverse("api:task-next", args=["no-such-project"]))
    assert response.status_code == unknown.status_code == 404
    assert response.json() == unknown.json()
    assert response.json()["error"] == "not_found"
    assert not Claim.objects.exists()
    assert client.get(reverse("annotate:annotate", args=["demo"])).status_code == 404


def test_submit_round_trip(client_alice, alice, project):
    prompt = PromptFactory(project=project, k=3)
    task = next_task(client_alice)
    data = {
        "ranking": [["C"], ["A", "B"]], "ratings": {"C": 7}, "flags": {"A": ["opinion"]},
        "comment": "ok", "time_ms": 1234, "shown_order": task["shown_order"],
    }  # fmt: skip
    url = api("task-submit", prompt.pk)
    response = post_json(client_alice, url, data)
    assert response.status_code == 201, response.content
    assert "next" not in response.json()  # API clients get what they always got unless they ask
    annotation = Annotation.objects.get(pk=response.json()["id"])
    assert annotation.annotator == alice and annotation.ranking == [["C"], ["A", "B"]]
    assert annotation.flags == {"A": ["opinion"]} and annotation.time_ms == 1234
    again = post_json(client_alice, url, data)
    assert again.status_code == 409 and again.json()["error"] == "already_annotated"


def test_submit_answers_with_the_next_task_when_asked(client_alice, alice, project):
    first, second = PromptFactory(project=project, k=2), PromptFactory(project=project, k=2)
    task = next_task(client_alice)
    response = post_json(
        client_alice, api("task-submit", task["prompt_id"]) + "?next=1", {"ranking": ["A", "B"]}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["ranking"] == [["A"], ["B"]]
    nxt = body["next"]
    assert {task["prompt_id"], nxt["prompt_id"]} == {first.pk, second.pk}
    assert Claim.objects.get(user=alice).prompt_id == nxt["prompt_id"]  # claimed, as next/ does
    assert [c["label"] for c in nxt["completions"]] == ["A", "B"]
    last = post_json(
        client_alice, api("task-skip", nxt["prompt_id"]) + "?next=1", {"reason": "unclear"}
    )
    assert last.status_code == 201 and last.json()["next"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "non_field_errors"),
        (json.dumps({"ranking": [["A"]]}).encode(), "ranking"),
        (json.dumps({"ranking": [["A"], ["B"]], "ratings": {"A": 8}}).encode(), "ratings"),
    ],
)
def test_submit_errors_name_the_field(client_alice, project, body, field):
    prompt = PromptFactory(project=project, k=2)
    url = api("task-submit", prompt.pk)
    response = client_alice.post(url, body, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()["fields"], response.json()
    assert not Annotation.objects.exists()


def test_submit_to_a_prompt_of_another_project_is_404(client_alice, project):
    other = PromptFactory(k=2)
    url = api("task-submit", other.pk)
    assert post_json(client_alice, url, {"ranking": [["A"], ["B"]]}).status_code == 404


def test_csrf_is_enforced_on_the_api_with_a_session(project, alice):
    from django.test import Client

    PromptFactory(project=project, k=2)
    client = login(Client(enforce_csrf_checks=True), alice)
    response = post_json(client, api("task-next"))
    assert response.status_code == 403 and b"CSRF" in response.content
    assert not Claim.objects.exists()
    # With the page's token (the meta tag's value, sent as X-CSRFToken) the same call works.
    page = client.get(reverse("annotate:annotate", args=["demo"])).content.decode()
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    response = client.post(api("task-next"), "{}", content_type="application/json",
                           HTTP_X_CSRFTOKEN=token)  # fmt: skip
    assert response.status_code == 200 and Claim.objects.count() == 1


def test_skip_endpoint(client_alice, project):
    prompt = PromptFactory(project=project, k=2)
    url = api("task-skip", prompt.pk)
    missing = post_json(client_alice, url, {"reason": ""})
    assert missing.status_code == 400 and "reason" in missing.json()["fields"]
    response = post_json(client_alice, url, {"reason": "not English", "time_ms": 50})
    assert response.status_code == 201
    skip = Annotation.objects.get()
    assert skip.skipped and skip.skip_reason == "not English" and skip.time_ms == 50


def test_progress_counts(client_alice, alice, project):
    prompts = [PromptFactory(project=project, k=2) for _ in range(3)]
    ranking_submit(project=project, prompt=prompts[0], user=alice, data={"ranking": ["A", "B"]})
    data = client_alice.get(api("my-progress")).json()
    assert data["done_today"] == 1 and data["done_in_project"] == 1
    assert data["remaining_in_queue"] == 2


def test_my_annotations_lists_only_mine_with_my_labels(client_alice, alice, project):
    prompt = PromptFactory(project=project, k=3)
    mine = ranking_submit(
        project=project, prompt=prompt, user=alice,
        data={"ranking": [["C"], ["A", "B"]], "shown_order": ["C", "B", "A"]},
    )  # fmt: skip
    bob = annotator("bob", project)
    theirs = ranking_submit(
        project=project, prompt=prompt, user=bob, data={"ranking": ["A", "B", "C"]}
    )
    page = client_alice.get(reverse("annotate:my-annotations", args=["demo"])).content.decode()
    assert f'data-annotation="{mine.pk}"' in page and f'data-annotation="{theirs.pk}"' not in page
    # shown order C, B, A -> labels A, B, C: ranking C > A = B reads A > C = B
    assert "A &gt; C = B" in page


def test_edit_page_is_blind_to_other_annotators(client_alice, alice, project):
    prompt = PromptFactory(project=project, k=2)
    bob = annotator("bob", project)
    theirs = ranking_submit(
        project=project, prompt=prompt, user=bob, data={"ranking": ["B", "A"], "comment": "secret"}
    )
    assert (
        client_alice.get(reverse("annotate:annotation-edit", args=[theirs.pk])).status_code == 404
    )
    update = api("my-annotation", theirs.pk)
    assert (
        client_alice.patch(update, {"comment": "mine"}, content_type="application/json").status_code
        == 404
    )
    mine = ranking_submit(project=project, prompt=prompt, user=alice, data={"ranking": ["A", "B"]})
    page = client_alice.get(reverse("annotate:annotation-edit", args=[mine.pk])).content.decode()
    assert "secret" not in page
    config = json.loads(
        page.split('id="rankwise-config" type="application/json">')[1].split("</script>")[0]
    )
    assert config["task"]["existing"]["ranking"] == [["A"], ["B"]]


def test_update_endpoint_keeps_history(client_alice, alice, project):
    prompt = PromptFactory(project=project, k=2)
    mine = ranking_submit(project=project, prompt=prompt, user=alice, data={"ranking": ["A", "B"]})
    url = api("my-annotation", mine.pk)
    bad = client_alice.patch(url, {"ranking": [["A", "Q"]]}, content_type="application/json")
    assert bad.status_code == 400 and "ranking" in bad.json()["fields"]
    response = client_alice.patch(url, {"ranking": [["B"], ["A"]], "time_ms": 10},
                                  content_type="application/json")  # fmt: skip
    assert response.status_code == 200 and response.json()["ranking"] == [["B"], ["A"]]
    assert AnnotationRevision.objects.filter(annotation=mine, action="updated").count() == 1
    mine.refresh_from_db()
    assert mine.ranking == [["B"], ["A"]]


@pytest.mark.parametrize("role", ["reviewer", "ml_engineer"])
def test_members_who_are_not_annotators_cannot_judge_through_the_page(client, project, role):
    """The page makes the API's role check: a reviewer's or an ML engineer's judgement would
    enter consensus and exports."""
    from tests.factories import UserFactory

    user = UserFactory(username=f"{role}-member", roles=[role])
    Membership.objects.create(project=project, user=user)
    login(client, user)
    prompt = PromptFactory(project=project, k=2)
    calls = [
        (api("task-next"), {}),
        (api("task-submit", prompt.pk), {"ranking": [["A"], ["B"]]}),
        (api("task-skip", prompt.pk), {"reason": "no"}),
        (api("task-extend", prompt.pk), {}),
    ]
    for url, body in calls:
        response = post_json(client, url, body)
        assert response.status_code == 403, (url, response.content)
        assert response.json()["error"] == "permission_denied"
    assert client.get(reverse("annotate:annotate", args=["demo"])).status_code == 403
    assert client.get(api("my-progress")).status_code == 403
    assert not Annotation.objects.exists() and not Claim.objects.exists()


def test_a_non_member_learns_no_completion_ids_from_a_bad_submission(client, project):
    """Membership is checked before the body: the answer is the unknown project's 404."""
    prompt = PromptFactory(project=project, k=3)
    login(client, annotator("outsider"))
    url = api("task-submit", prompt.pk)
    response = post_json(client, url, {"ranking": [["Z"]]})
    unknown = post_json(client, reverse("api:task-submit", args=["nope", prompt.pk]),
                        {"ranking": [["Z"]]})  # fmt: skip
    assert response.status_code == unknown.status_code == 404
    assert response.content == unknown.content
    assert b"missing" not in response.content and b"'A'" not in response.content


def test_an_annotator_removed_from_the_project_can_no_longer_edit(client_alice, alice, project):
    prompt = PromptFactory(project=project, k=2)
    mine = ranking_submit(project=project, prompt=prompt, user=alice, data={"ranking": ["A", "B"]})
    Membership.objects.filter(user=alice).delete()
    assert client_alice.get(reverse("annotate:annotation-edit", args=[mine.pk])).status_code == 404
    update = client_alice.patch(api("my-annotation", mine.pk), {"comment": "late"},
                                content_type="application/json")  # fmt: skip
    assert update.status_code == 404 and update.json()["error"] == "not_found"
    mine.refresh_from_db()
    assert mine.comment == ""


def test_extend_gives_the_reservation_another_timeout(client_alice, alice, project):
    from datetime import timedelta

    from django.utils import timezone

    prompt = PromptFactory(project=project, k=2)
    task = next_task(client_alice)
    Claim.objects.filter(user=alice).update(expires_at=timezone.now() + timedelta(seconds=30))
    response = post_json(client_alice, api("task-extend", prompt.pk))
    assert response.status_code == 200, response.content
    claim = Claim.objects.get(user=alice)
    left = claim.expires_at - timezone.now()
    assert timedelta(minutes=project.claim_timeout_minutes - 1) < left
    assert response.json()["prompt_id"] == task["prompt_id"]
    # A reservation that ran out is taken back while the prompt still has room ...
    Claim.objects.filter(user=alice).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert post_json(client_alice, api("task-extend", prompt.pk)).status_code == 200
    # ... and refused in plain words once others filled it meanwhile.
    Claim.objects.filter(user=alice).update(expires_at=timezone.now() - timedelta(minutes=1))
    for name in ("bob", "carol"):
        ranking_submit(project=project, prompt=prompt, user=annotator(name, project),
                       data={"ranking": ["A", "B"]})  # fmt: skip
    lost = post_json(client_alice, api("task-extend", prompt.pk))
    assert lost.status_code == 409 and lost.json()["error"] == "claim_lost"
    assert "Nothing of yours was saved" in lost.json()["detail"]
    other = PromptFactory(project=project, k=2)
    assert post_json(client_alice, api("task-extend", other.pk)).json()["error"] == "no_claim"


def test_import_stores_the_rendered_html_and_the_backfill_fills_old_rows(project, tmp_path):
    from django.core.management import call_command

    from annotate.models import Completion, Prompt
    from annotate.services.imports import prompts_import

    path = tmp_path / "p.jsonl"
    line = {"id": "p1", "prompt": "Say *hi* <b>", "completions": [{"id": "A", "text": "**x**"},
            {"id": "B", "text": "<script>y</script>"}]}  # fmt: skip
    path.write_text(json.dumps(line) + "\n")
    prompts_import(project=project, source=path)
    prompt = Prompt.objects.get(project=project)
    assert prompt.html == "<p>Say <em>hi</em> &lt;b&gt;</p>"
    assert prompt.completions.get(external_id="A").html == "<p><strong>x</strong></p>"
    assert "<script" not in prompt.completions.get(external_id="B").html
    # Rows stored before the column existed: rendered by the backfill, once.
    Prompt.objects.update(html="")
    Completion.objects.update(html="")
    call_command("render_texts")
    assert Prompt.objects.get().html == "<p>Say <em>hi</em> &lt;b&gt;</p>"
    assert not Completion.objects.filter(html="").exists()


def test_my_annotations_name_conversations_by_the_last_user_turn_and_show_the_letters(
    client_alice, alice, project
):
    chat = PromptFactory(
        project=project, k=2, text="",
        messages=[{"role": "user", "content": "first question"},
                  {"role": "assistant", "content": "an answer"},
                  {"role": "user", "content": "the follow-up"}],
    )  # fmt: skip
    ranking_submit(project=project, prompt=chat, user=alice,
                   data={"ranking": [["B"], ["A"]], "shown_order": ["B", "A"]})  # fmt: skip
    page = client_alice.get(reverse("annotate:my-annotations", args=["demo"])).content.decode()
    assert "the follow-up" in page and "first question" not in page
    assert "A = B, B = A" in page  # her letters and the outputs they stood for
    mine = client_alice.get(api("my-annotations")).json()["results"][0]
    assert mine["letters"] == {"B": "A", "A": "B"}


def test_training_eta_in_human_units():
    from training.templatetags.training_format import duration_words

    assert [duration_words(s) for s in (45, 600, 3838, 200_000)] == [
        "45 s", "10 min", "1 h 04 min", "2 d 7 h",
    ]  # fmt: skip


def test_project_page_offers_judging_only_to_those_who_may(client, project):
    from tests.factories import UserFactory

    reviewer = UserFactory(username="rev", roles=["reviewer"])
    Membership.objects.create(project=project, user=reviewer)
    page = login(client, reviewer).get(reverse("annotate:project-detail", args=["demo"]))
    assert b"start-annotating" not in page.content


def test_a_bug_gets_the_friendly_500_page_with_debug_on_too(
    client_alice, project, settings, monkeypatch, caplog
):
    """The demo runs with DEBUG on: no traceback page for a bug, the traceback in the log."""

    def boom(**kwargs):
        raise RuntimeError("a bug in project_stats")

    settings.DEBUG = True
    monkeypatch.setattr("annotate.views.project_stats", boom)
    client_alice.raise_request_exception = False
    response = client_alice.get(reverse("annotate:project-detail", args=["demo"]))
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content
    assert b"Traceback" not in response.content and b"project_stats" not in response.content
    assert "a bug in project_stats" in caplog.text
