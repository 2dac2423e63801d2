"""The ranking page's second pass in a real browser: drafts that survive a closed tab, the
reservation countdown and its extension, reading and comparing outputs, the prefetched next
task, the layout at 1440x900 and 390 px, and the empty-queue screen."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from annotate.models import Annotation, Claim, Prompt

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def open_queue(page, live_server, slug="parrots"):
    page.goto(f"{live_server.url}/projects/{slug}/annotate/")
    page.wait_for_selector(".output-card")
    return dict(
        page.eval_on_selector_all(
            ".output-card", "cards => cards.map(c => [c.dataset.label, c.dataset.id])"
        )
    )


def test_a_draft_survives_a_closed_tab_and_leaving_asks_first(page, demo, login, live_server):
    login(page, "alice")
    ids = open_queue(page, live_server)
    kb = page.keyboard
    for key in ("a", "1", "c", "2", "b", "2"):
        kb.press(key)
    page.click('label[for="rating-A-6"]')
    page.click('.output-card[data-label="D"] details.flags summary')
    page.check("#flag-D-hallucination")
    page.fill("#comment", "C and B are close")
    # The tab is closed with unsaved work: the browser asks first.
    page.close(run_before_unload=True)
    # A new tab (same browser profile): the same task, with the work restored.
    again = page.context.new_page()
    open_queue(again, live_server)  # also lets Playwright deliver the first tab's dialog event
    again.wait_for_timeout(300)
    asked = [p for p in page.problems if p.startswith("unexpected beforeunload")]
    assert asked, page.problems
    page.problems.remove(asked[0])
    assert again.locator("#status").inner_text().startswith("Restored your unsaved work")
    assert again.locator("#hint").inner_text().startswith("Put every output in a rank")
    assert again.locator(f'.output-card[data-id="{ids["A"]}"]').get_attribute("data-rank") == "1"
    assert again.locator(f'.output-card[data-id="{ids["B"]}"]').get_attribute("data-rank") == "2"
    assert again.locator("#rating-A-6").is_checked()
    assert again.locator("#flag-D-hallucination").is_checked()
    assert again.locator("#comment").input_value() == "C and B are close"
    for key in ("d", "3", "e", "4", "Enter"):
        again.keyboard.press(key)
    again.wait_for_selector("#status:has-text('Saved.')")
    stored = Annotation.objects.get(annotator__username="alice")
    assert stored.ranking == [[ids["A"]], [ids["C"], ids["B"]], [ids["D"]], [ids["E"]]]
    assert stored.comment == "C and B are close"
    # Once stored the draft is gone: nothing of it comes back on the next task.
    keys = again.evaluate("() => Object.keys(localStorage).filter(k => k.includes(':draft:'))")
    assert f"rankwise:draft:parrots:{stored.prompt_id}" not in keys


def test_the_reservation_counts_down_warns_extends_and_says_what_expiry_means(
    page, demo, login, live_server
):
    login(page, "bob")
    open_queue(page, live_server)
    countdown = page.locator("#countdown")
    assert "left" in countdown.inner_text() and not page.locator("#extend-btn").is_visible()
    # Close to the end: the countdown warns and offers the extension.
    Claim.objects.filter(user__username="bob").update(
        expires_at=timezone.now() + timedelta(seconds=75)
    )
    page.reload()
    page.wait_for_selector("#countdown.warn")
    assert page.locator("#status").inner_text().startswith("Your reservation of this task runs out")
    first = countdown.inner_text()
    page.wait_for_function(  # a live countdown
        "first => document.querySelector('#countdown').innerText !== first", arg=first,
        timeout=5000,
    )  # fmt: skip
    page.click("#extend-btn")
    page.wait_for_selector("#status:has-text('Reservation extended')")
    claim = Claim.objects.get(user__username="bob")
    assert claim.expires_at - timezone.now() > timedelta(minutes=29)
    assert "warn" not in (countdown.get_attribute("class") or "")
    # Run out: plain words on what it means, and the work stays.
    Claim.objects.filter(pk=claim.pk).update(expires_at=timezone.now() + timedelta(seconds=4))
    page.reload()
    page.wait_for_selector(".output-card")
    page.keyboard.press("a")
    page.keyboard.press("1")
    page.wait_for_selector("#countdown.expired", timeout=10_000)
    error = page.locator("#error").inner_text()
    assert "ran out" in error and "Your work here is kept" in error
    assert page.locator(".output-card[data-rank='1']").count() == 1
    page.click("#extend-btn")  # taken back: the prompt still has room
    page.wait_for_selector("#status:has-text('Reservation extended')")


def test_reading_and_comparing_outputs(page, demo, login, live_server, screenshot):
    login(page, "carol")
    open_queue(page, live_server)
    instructions = page.locator("#instructions")
    assert instructions.get_attribute("open") is not None, "open on the first visit"
    page.click("#instructions > summary")  # read and closed
    page.reload()
    page.wait_for_selector(".output-card")
    assert instructions.get_attribute("open") is None, "remembered for the project"
    page.keyboard.press("n")
    assert instructions.get_attribute("open") is not None, "N reopens"
    page.keyboard.press("n")

    # Expand in place, and back.
    card = page.locator('.output-card[data-label="B"]')
    body = card.locator(".output-body")
    clipped = body.evaluate("b => b.scrollHeight > b.clientHeight + 2")
    card.locator(".expand-btn").click()
    assert "expanded" in card.get_attribute("class")
    assert body.evaluate("b => b.scrollHeight <= b.clientHeight + 2"), "shown in full"
    if clipped:
        assert card.locator(".expand-btn").inner_text() == "Collapse"
    page.keyboard.press("x")  # the focused card collapses again
    assert "expanded" not in card.get_attribute("class")

    # Any pair side by side: focus C, V, then pick E on the right.
    page.keyboard.press("c")
    page.keyboard.press("v")
    dialog = page.locator("#compare-dialog")
    assert dialog.is_visible()
    assert page.locator("#compare-left").input_value() == "C"
    page.select_option("#compare-right", "E")
    e_text = page.locator('.output-card[data-label="E"] .output-body').inner_text()
    assert page.locator("#compare-right-body").inner_text() == e_text
    assert page.locator("#compare-left-rank").inner_text() == "not ranked"
    screenshot(page, "compare-two-up")
    page.keyboard.press("Escape")
    assert not dialog.is_visible()


def test_a_long_conversation_shows_its_last_turns(page, demo, login, live_server):
    prompt = Prompt.objects.filter(project__slug="oasst").first()
    turns = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"turn number {i}"}
        for i in range(7)
    ]
    Prompt.objects.filter(pk=prompt.pk).update(messages=turns, messages_html=None)
    Prompt.objects.filter(project__slug="oasst").exclude(pk=prompt.pk).update(is_gold=True)
    login(page, "alice")
    open_queue(page, live_server, slug="oasst")
    visible = page.locator(".prompt-body > .turn")
    assert visible.count() == 2
    assert visible.last.inner_text().endswith("turn number 6")
    earlier = page.locator("#earlier-turns")
    assert earlier.get_attribute("open") is None
    assert "Earlier conversation (5 turns)" in earlier.locator("summary").inner_text()
    earlier.locator("summary").click()
    assert page.locator("#earlier-turns .turn").first.inner_text().endswith("turn number 0")


# PostgreSQL only: on the SQLite test database the live server's request threads share one
# connection, and the page's prefetch running beside its submit can interleave savepoints on it
# ("no such savepoint", seen once in CI): a test-server artefact, not the product's behaviour.
@pytest.mark.postgres
def test_layout_next_task_prefetched_and_the_empty_queue(
    page, demo, login, live_server, screenshot
):
    """At 1440x900 the start of at least four of the five outputs is in view with the rank bar;
    at 390 px the page works; the next task is on screen in well under a server round trip
    (prefetched); and the empty queue shows no live-looking buttons."""
    # Instructions read before, as on any day after the first.
    login(page, "alice")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/")
    page.evaluate("() => localStorage.setItem('rankwise:instructions-read:parrots', '1')")
    open_queue(page, live_server)
    bar_top = page.locator("#board-bar").bounding_box()["y"]
    in_view = page.eval_on_selector_all(
        ".output-card .output-body",
        f"bodies => bodies.filter(b => {{ const r = b.getBoundingClientRect(); "
        f"return r.top >= 0 && r.top + 24 <= {bar_top}; }}).length",
    )
    assert in_view >= 4, in_view
    screenshot(page, "ranking-1440x900")

    # Submit: the prefetched task is on screen before the server answers.
    page.wait_for_function("() => performance.getEntriesByType('resource')"
                           ".some(e => e.name.includes('/tasks/peek/'))")  # fmt: skip
    first = page.locator(".prompt-body").inner_text()
    for key in ("a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "Enter"):
        page.keyboard.press(key)
    page.wait_for_selector("#status:has-text('Saved. Here is the next task')")
    assert page.locator(".prompt-body").inner_text() != first
    timings = page.evaluate("() => window.rankwiseTimings")
    (ARTIFACTS).mkdir(exist_ok=True)
    (ARTIFACTS / "perceived-next-task.json").write_text(json.dumps({"ms": timings}))
    print(f"perceived next-task time (click to next task on screen): {timings} ms")
    assert len(timings) == 1
    done = Annotation.objects.get(annotator__username="alice")
    claim = Claim.objects.get(user__username="alice")
    assert claim.prompt_id != done.prompt_id, "the prefetched task was claimed by the submit"

    # 390 px: one column, the bar fits, nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, width
    assert page.locator("#submit-btn").is_visible() and page.locator("#skip-btn").is_visible()
    screenshot(page, "ranking-390")

    # Through the last task: the empty-queue screen has no rank bar and no buttons.
    page.set_viewport_size({"width": 1440, "height": 900})
    for _ in range(5):
        if page.locator("#done").is_visible():
            break
        before = page.locator(".prompt-body").inner_text()
        labels = page.eval_on_selector_all(".output-card", "cs => cs.map(c => c.dataset.label)")
        for rank, label in enumerate(labels, start=1):
            page.keyboard.press(label.lower())
            page.keyboard.press(str(rank))
        page.keyboard.press("Enter")
        page.wait_for_function(
            "before => !document.querySelector('#done').hidden || "
            "document.querySelector('.prompt-body').innerText !== before",
            arg=before,
        )
    page.wait_for_selector("#done", state="visible")
    assert not page.locator("#board-bar").is_visible()
    assert not page.locator("#submit-btn").is_visible()
    assert not page.locator("#skip-btn").is_visible()
    screenshot(page, "queue-empty")
