"""The reviewer's side and the mends of the second pass, in a real browser: the review page's
letters, markdown and bucket-widget adjudication with errors in place; friendly error pages in
DEBUG (the demo's setting); the training run page's ETA and cancel confirmation."""

import pytest
from django.contrib.auth import get_user_model

from agreement.models import Adjudication
from annotate.models import Project, Prompt
from annotate.services.annotations import ranking_submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_review_page_speaks_the_annotators_letters_and_adjudicates_with_buckets(
    page, demo, login, live_server, screenshot
):
    project = Project.objects.get(slug="parrots")
    prompt = Prompt.objects.get(project=project, external_id="parrots-lifespan")
    users = get_user_model().objects.in_bulk(["alice", "bob"], field_name="username")
    # alice saw the outputs as C, A, B: her "B" is output A.
    ranking_submit(
        project=project, prompt=prompt, user=users["alice"],
        data={"ranking": [["A"], ["C"], ["B"]], "shown_order": ["C", "A", "B"],
              "comment": "**B** is the *only* right one"},
    )  # fmt: skip
    ranking_submit(project=project, prompt=prompt, user=users["bob"],
                   data={"ranking": [["B"], ["A"], ["C"]]})  # fmt: skip
    login(page, "reviewer")
    page.goto(f"{live_server.url}/projects/parrots/")
    assert page.locator("#start-annotating").count() == 0, "no annotate button for reviewers"
    page.goto(f"{live_server.url}/projects/parrots/review/{prompt.pk}/")
    comment = page.locator('.agr-comment[data-annotator="alice"]')
    assert "B > A > C" in comment.inner_text()  # her ranking in her letters
    assert "A = C, B = A, C = B" in comment.inner_text()  # the mapping: her B is output A
    row_a = page.locator('#side-by-side tr[data-completion="A"]')
    assert row_a.locator(".agr-letter").first.inner_text() == "B"
    assert page.locator("#side-by-side td.agr-text p").count() == 3, "markdown rendered"

    # The widget: A and C tied first by keyboard, B dragged to the last rank.
    Project.objects.filter(pk=project.pk).update(ties_allowed=False)  # after the page loaded
    page.locator('.chip[data-id="A"]').focus()
    page.keyboard.press("1")
    page.locator('.chip[data-id="C"]').focus()
    page.keyboard.press("1")
    page.locator('.chip[data-id="B"]').drag_to(page.locator('#adj-board .bucket[data-rank="3"]'))
    assert page.locator("#adj-hint").inner_text() == "Ready: A = C > B"
    page.click("#adj-save")
    error = page.locator("#adj-error")
    error.wait_for()
    assert error.inner_text().startswith("ranking: ties are not allowed")
    assert "error-box" in error.get_attribute("class")
    assert not Adjudication.objects.exists()
    screenshot(page, "review-error-in-place")
    page.problems.clear()  # Chromium logs the expected 400
    page.locator('.chip[data-id="C"]').focus()
    page.keyboard.press("2")
    page.click("#adj-save")
    page.wait_for_url("**/review/")
    assert Adjudication.objects.get().ranking == [["A"], ["C"], ["B"]]


def test_friendly_error_pages_in_debug_and_the_training_run_page(
    page, demo, login, live_server, settings
):
    from exports.models import DatasetSnapshot
    from training.models import TrainingRun

    settings.DEBUG = True  # the demo's setting: no debug page, no URL list
    login(page, "alice")
    for path in ("/projects/not-a-project/", "/no/such/page/"):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 404
        assert page.locator("h1").inner_text() == "Not found"
        assert "URLconf" not in page.content()
    response = page.goto(f"{live_server.url}/training/runs/")
    assert response.status == 403
    assert "Your role does not allow this" in page.locator(".error-page").inner_text()
    page.problems.clear()  # Chromium logs the 404s and the 403

    project = Project.objects.get(slug="parrots")
    snapshot = DatasetSnapshot.objects.create(project=project, format="pairwise", settings={})
    run = TrainingRun.objects.create(
        kind="reward_model", name="rm", snapshot=snapshot, base_model="base",
        status="running", step=10, total_steps=100, eta_seconds=3838,
    )  # fmt: skip
    page.context.clear_cookies()
    login(page, "mlengineer")
    page.goto(f"{live_server.url}/training/runs/{run.pk}/")
    assert page.locator("nav a", has_text="Training").count() == 1
    page.wait_for_function("() => document.querySelector('#run-eta').innerText.includes('h')")
    assert page.locator("#run-eta").inner_text() == "about 1 h 04 min left"
    page.click("#run-cancel")  # asks first; the page fixture dismisses the dialog
    page.wait_for_timeout(200)
    asked = [p for p in page.problems if p.startswith("unexpected confirm: Cancel this run?")]
    assert asked, page.problems
    page.problems.remove(asked[0])
    run.refresh_from_db()
    assert not run.cancel_requested, "dismissed: not cancelled"
