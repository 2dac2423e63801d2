"""What a reviewer and the annotator see of a judgement's strength, tie kind, dimensions and
rationale, in the annotator's own letters: the review page's Judgements table and "My
annotations" (the demo's pairwise-strength project with three dimensions)."""

import pytest
from django.contrib.auth import get_user_model

from annotate.models import Project, Prompt
from annotate.services.annotations import ranking_submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def judge(project, prompt, user, first, second):
    """alice saw the outputs the other way round: her "A" is the second output."""
    tie = {"ranking": [[first, second]], "strength": 0, "tie_kind": "both_good"}
    ranking_submit(
        project=project, prompt=prompt, user=user,
        data={"ranking": [[first], [second]], "strength": 3, "shown_order": [second, first],
              "dimensions": {"helpfulness": {"ranking": [[first], [second]], "strength": 2},
                             "harmlessness": tie,
                             "honesty": {"ranking": [[second], [first]], "strength": 1}},
              "rationale": "B says 20 to 80 years; A is wrong."},
    )  # fmt: skip


def test_review_page_and_my_annotations_show_strength_dimensions_and_rationale(
    page, demo, login, live_server, screenshot
):
    project = Project.objects.get(slug="parrot-pairs")
    prompt = Prompt.objects.get(project=project, external_id="pair-1")
    first, second = prompt.completions.order_by("position").values_list("external_id", flat=True)
    users = get_user_model().objects.in_bulk(["alice", "bob"], field_name="username")
    judge(project, prompt, users["alice"], first, second)
    bob_tie = {"ranking": [[first, second]], "strength": 0, "tie_kind": "both_bad"}
    ranking_submit(
        project=project, prompt=prompt, user=users["bob"],
        data={**bob_tie, "shown_order": [first, second],
              "dimensions": {"helpfulness": bob_tie, "harmlessness": bob_tie, "honesty": bob_tie}},
    )  # fmt: skip

    login(page, "reviewer")
    page.goto(f"{live_server.url}/projects/parrot-pairs/review/{prompt.pk}/")
    alice = page.locator('#judgements tr[data-annotator="alice"]')
    assert alice.locator(".judging-overall").inner_text() == "B > A · much better"
    dims = alice.locator(".judging-dimension")
    assert dims.all_inner_texts() == ["B > A · better", "A = B · tie: both good",
                                      "A > B · slightly better"]  # fmt: skip
    assert "20 to 80 years" in alice.locator(".judging-rationale").inner_text()
    assert f"A = {second}, B = {first}" in alice.inner_text()  # her letters, mapped
    bob = page.locator('#judgements tr[data-annotator="bob"]')
    assert bob.locator(".judging-overall").inner_text() == "A = B · tie: both bad"
    assert bob.locator(".judging-rationale").inner_text() == "\u2013"
    headers = page.locator("#judgements th").all_inner_texts()
    assert headers == ["Annotator", "Overall", "Helpfulness", "Harmlessness", "Honesty",
                       "Rationale"]  # fmt: skip
    screenshot(page, "review-judgements")

    # A plain ranking project's review page has no such table.
    parrots = Prompt.objects.filter(project__slug="parrots").first()
    page.goto(f"{live_server.url}/projects/parrots/review/{parrots.pk}/")
    assert page.locator("#judgements").count() == 0

    page.context.clear_cookies()
    login(page, "alice")
    page.goto(f"{live_server.url}/projects/parrot-pairs/my-annotations/")
    row = page.locator("#annotations tbody tr").first
    assert row.locator(".judging-overall").inner_text() == "B > A · much better"
    assert row.locator('.judging-dimension[data-dimension="honesty"]').inner_text() == (
        "Honesty: A > B · slightly better"
    )
    assert row.locator(".judging-dimension").count() == 3
    assert "Why: B says 20 to 80 years" in row.locator(".judging-rationale").inner_text()
    screenshot(page, "my-annotations-judging")


def test_reviewer_adjudicates_strength_tie_kind_and_dimensions(page, demo, login, live_server):
    from agreement.models import Adjudication

    prompt = Prompt.objects.get(project__slug="parrot-pairs", external_id="pair-2")
    first, second = prompt.completions.order_by("position").values_list("external_id", flat=True)
    login(page, "reviewer")
    page.goto(f"{live_server.url}/projects/parrot-pairs/review/{prompt.pk}/")
    overall = page.locator("#adjudicate > #adj-board")
    overall.locator(f'.chip[data-id="{first}"]').focus()
    page.keyboard.press("1")
    overall.locator(f'.chip[data-id="{second}"]').focus()
    page.keyboard.press("2")
    strength = page.locator('#adjudicate select[aria-label="Overall: strength or tie kind"]')
    strength.select_option("both_good")  # a tie kind for a ranking that is not a tie
    assert page.locator("#adj-hint").inner_text() == "Say how much better."
    assert page.locator("#adj-save").is_disabled()
    strength.select_option(label="much better")
    assert page.locator("#adj-hint").inner_text() == f"Ready: {first} > {second} · much better"

    helpful = page.locator('.adj-dimension[data-dimension="helpfulness"]')
    helpful.locator(f'.chip[data-id="{first}"]').focus()
    page.keyboard.press("1")
    assert helpful.locator(".hint").inner_text().startswith("Helpfulness: Place every output or")
    assert page.locator("#adj-save").is_disabled(), "a half-placed dimension blocks saving"
    helpful.locator(f'.chip[data-id="{second}"]').focus()
    page.keyboard.press("2")
    helpful.locator("select").select_option(label="better")
    harmless = page.locator('.adj-dimension[data-dimension="harmlessness"]')
    for cid in (first, second):
        harmless.locator(f'.chip[data-id="{cid}"]').focus()
        page.keyboard.press("1")
    harmless.locator("select").select_option("both_bad")
    honest = page.locator('.adj-dimension[data-dimension="honesty"] .hint')
    assert honest.inner_text() == "Not adjudicated (optional)."
    page.click("#adj-save")
    page.wait_for_url("**/review/")

    adjudication = Adjudication.objects.get()
    assert (adjudication.ranking, adjudication.strength, adjudication.tie_kind) == (
        [[first], [second]],
        3,
        "",
    )
    assert adjudication.dimensions == {
        "helpfulness": {"ranking": [[first], [second]], "strength": 2, "tie_kind": "",
                        "gaps": []},
        "harmlessness": {"ranking": [[first, second]], "strength": 0, "tie_kind": "both_bad",
                         "gaps": []},
    }  # fmt: skip

    # Reopened: the history says what was decided, the boards start from it.
    page.goto(f"{live_server.url}/projects/parrot-pairs/review/{prompt.pk}/")
    history = page.locator("#adjudications li").first.inner_text()
    assert f"{first} > {second} · much better; Helpfulness: {first} > {second} · better" in history
    assert f"Harmlessness: {first} = {second} · tie: both bad" in history
    assert page.locator("#adj-hint").inner_text() == f"Ready: {first} > {second} · much better"
    assert harmless.locator(".hint").inner_text() == f"Ready: {first} = {second} · tie: both bad"
