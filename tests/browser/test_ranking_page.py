"""The ranking page in a real browser: mouse, keyboard, skip, untrusted output, editing."""

import time

import pytest

from annotate.models import Annotation, Project, Prompt
from annotate.services.annotations import annotation_skip, ranking_submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_queue(page, live_server, slug="parrots"):
    page.goto(f"{live_server.url}/projects/{slug}/")
    page.click("#start-annotating")
    page.wait_for_selector(".output-card")
    return label_ids(page)


def label_ids(page) -> dict[str, str]:
    """Display label -> completion external id, as the page shows them."""
    pairs = page.eval_on_selector_all(
        ".output-card", "cards => cards.map(c => [c.dataset.label, c.dataset.id])"
    )
    return dict(pairs)


def bucket(page, rank):
    return page.locator(f'.bucket[data-rank="{rank}"]')


def chip(page, label_to_id, label):
    return page.locator(f'.chip[data-id="{label_to_id[label]}"]')


def handle(page, label):
    return page.locator(f'.output-card[data-label="{label}"] .handle')


def test_rank_by_drag_and_drop_with_ratings_and_flags(page, demo, login, live_server, screenshot):
    login(page, "alice")
    started = time.monotonic()
    ids = open_queue(page, live_server)
    assert page.locator(".prompt-body").inner_text().startswith("Explain to a curious ten-year-old")
    assert list(ids) == ["A", "B", "C", "D", "E"]
    assert page.locator("#instructions").inner_text().startswith("Instructions")
    page.wait_for_selector("#progress:has-text('Done today: 0')")  # fetched beside the task
    screenshot(page, "ranking-page", whole=True)

    submit = page.locator("#submit-btn")
    assert submit.is_disabled()
    # The InstructGPT illustration's ranking A > C > D = E > B, by chips and card handles.
    chip(page, ids, "A").drag_to(bucket(page, 1))
    handle(page, "C").drag_to(bucket(page, 2))
    chip(page, ids, "D").drag_to(bucket(page, 3))
    handle(page, "E").drag_to(bucket(page, 3))
    assert submit.is_disabled(), "B is not placed yet"
    assert "not yet: B" in page.locator("#hint").inner_text()
    chip(page, ids, "B").drag_to(bucket(page, 5))
    assert submit.is_enabled()
    assert page.locator("#hint").inner_text() == "Ready: A > C > D = E > B"
    # a chip dragged back out and in again
    chip(page, ids, "B").drag_to(bucket(page, 0))
    assert submit.is_disabled()
    chip(page, ids, "B").drag_to(bucket(page, 5))

    page.click('label[for="rating-A-7"]')
    page.click('label[for="rating-B-2"]')
    page.click('.output-card[data-label="B"] details.flags summary')
    page.check("#flag-B-hallucination")
    page.fill("#comment", "B is vague")
    screenshot(page, "ranking-page-ranked", whole=True)
    submit.click()
    page.wait_for_selector("#status:has-text('Saved')")
    page.wait_for_function(
        "() => document.querySelector('.prompt-body').innerText.includes('pet parrots live')"
    )
    elapsed_ms = (time.monotonic() - started) * 1000

    annotation = Annotation.objects.get(annotator__username="alice")
    assert annotation.prompt.external_id == "parrots-special"
    assert annotation.ranking == [[ids["A"]], [ids["C"]], [ids["D"], ids["E"]], [ids["B"]]]
    assert annotation.ratings == {ids["A"]: 7, ids["B"]: 2}
    assert annotation.flags == {ids["B"]: ["hallucination"]}
    assert annotation.comment == "B is vague"
    assert annotation.shown_order == [ids[label] for label in "ABCDE"]
    assert 0 < annotation.time_ms < elapsed_ms
    page.wait_for_selector("#progress:has-text('in this project: 1')")


def test_rank_by_keyboard_only_with_a_tie(page, demo, login, live_server, screenshot):
    login(page, "bob")
    page.goto(f"{live_server.url}/projects/parrots/")
    page.focus("#start-annotating")
    page.keyboard.press("Enter")
    page.wait_for_selector(".output-card")
    ids = label_ids(page)
    started = time.monotonic()
    kb = page.keyboard

    kb.press("?")
    assert page.locator("#help-dialog").is_visible()
    screenshot(page, "shortcuts-help")
    kb.press("Escape")
    assert not page.locator("#help-dialog").is_visible()

    # A first; B and C tied second (C reached with the arrow key); D third; E fourth.
    for keys in (["a", "1"], ["b", "2"], ["ArrowRight", "2"], ["d", "3"], ["e", "4"]):
        for key in keys:
            kb.press(key)
    assert page.locator("#hint").inner_text() == "Ready: A > B = C > D > E"
    # change of mind by keyboard: E out (0) and back in, into the tie with D
    kb.press("0")
    assert page.locator("#submit-btn").is_disabled()
    kb.press("3")

    # Rating of A: Tab into its scale, Space picks 1, arrows move to 5.
    kb.press("a")
    kb.press("Tab")
    kb.press("Space")
    for _ in range(4):
        kb.press("ArrowRight")
    # Flag on C: Tab past its scale to the flags, open them, tick the first.
    kb.press("c")
    kb.press("Tab")
    kb.press("Tab")
    kb.press("Enter")
    kb.press("Tab")
    kb.press("Space")

    # The clock stops while the tab is hidden.
    hide = "state => { Object.defineProperty(document, 'visibilityState', {value: state, configurable: true}); document.dispatchEvent(new Event('visibilitychange')); }"
    page.evaluate(hide, "hidden")
    time.sleep(2)
    page.evaluate(hide, "visible")
    screenshot(page, "ranking-keyboard-tie", whole=True)

    kb.press("a")
    kb.press("Enter")
    page.wait_for_selector("#status:has-text('Saved')")
    wall_ms = (time.monotonic() - started) * 1000

    annotation = Annotation.objects.get(annotator__username="bob")
    first_flag = Project.objects.get(slug="parrots").flags[0]["key"]
    assert annotation.ranking == [[ids["A"]], [ids["B"], ids["C"]], [ids["D"], ids["E"]]]
    assert annotation.ratings == {ids["A"]: 5}
    assert annotation.flags == {ids["C"]: [first_flag]}
    assert annotation.shown_order == [ids[label] for label in sorted(ids)]
    # The page's clock started a moment before `started` (render, then Playwright's reply):
    # allow that much, far less than the 2 s hidden.
    assert 0 < annotation.time_ms < wall_ms - 1200, "hidden time must not count"


def test_skip_asks_for_a_reason(page, demo, login, live_server, screenshot):
    login(page, "carol")
    open_queue(page, live_server)
    first_prompt = page.locator(".prompt-body").inner_text()
    page.keyboard.press("s")
    assert page.locator("#skip-dialog").is_visible()
    page.click("#skip-confirm")
    assert page.locator("#skip-error").is_visible(), "an empty reason is refused"
    page.fill("#skip-reason", "I do not know enough about parrots")
    screenshot(page, "skip-dialog")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#status:has-text('Skipped')")
    assert page.locator(".prompt-body").inner_text() != first_prompt

    skip = Annotation.objects.get(annotator__username="carol")
    assert skip.skipped and skip.skip_reason == "I do not know enough about parrots"
    assert skip.prompt.external_id == "parrots-special" and skip.time_ms > 0
    assert len(skip.shown_order) == 5


def test_untrusted_completion_is_shown_as_text_and_runs_nothing(
    page, demo, login, live_server, screenshot
):
    project = Project.objects.get(slug="parrots")
    from django.contrib.auth import get_user_model

    carol = get_user_model().objects.get(username="carol")
    for external_id in ("parrots-special", "parrots-lifespan"):
        prompt = Prompt.objects.get(project=project, external_id=external_id)
        annotation_skip(project=project, prompt=prompt, user=carol, reason="setup")
    login(page, "carol")
    ids = open_queue(page, live_server)
    assert "What should I feed a pet parrot?" in page.locator(".prompt-body").inner_text()
    xss_label = next(label for label, cid in ids.items() if cid == "D")
    body = page.locator(f'.output-card[data-label="{xss_label}"] .output-body')
    text = body.inner_text()
    assert "<script>alert('xss')</script>" in text and "<img src=x onerror=alert(1)>" in text
    assert page.locator(".output-body script, .output-body img, .prompt-body img").count() == 0
    assert page.evaluate("() => document.querySelectorAll('[onerror], [onclick]').length") == 0
    body.scroll_into_view_if_needed()
    screenshot(page, "xss-completion-inert", whole=True)
    # the page fixture fails the test if any alert() ran or the console shows an error


def test_server_rejection_is_shown_on_the_page(page, demo, login, live_server):
    login(page, "alice")
    ids = open_queue(page, live_server)
    # The page was built when ties were allowed; the admin forbids them before submitting.
    Project.objects.filter(slug="parrots").update(ties_allowed=False)
    chip(page, ids, "A").drag_to(bucket(page, 1))
    for label in "BCDE":
        chip(page, ids, label).drag_to(bucket(page, 2))
    page.click("#submit-btn")
    error = page.locator("#error")
    error.wait_for()
    assert error.inner_text() == "ranking: ties are not allowed in this project"
    assert not Annotation.objects.filter(annotator__username="alice").exists()
    assert page.locator("#submit-btn").is_enabled(), "the annotator can fix it and retry"
    # Chromium logs every 4xx response; this one is the expected refusal, nothing else is.
    expected = "console: Failed to load resource: the server responded with a status of 400"
    assert [p for p in page.problems if p.startswith(expected)] == [page.problems[0]]
    page.problems.clear()


def test_my_annotations_reopen_and_edit_keeps_history(page, demo, login, live_server, screenshot):
    project = Project.objects.get(slug="parrots")
    prompt = Prompt.objects.get(project=project, external_id="parrots-lifespan")
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.in_bulk(["alice", "bob"], field_name="username")
    mine = ranking_submit(
        project=project, prompt=prompt, user=users["alice"],
        data={"ranking": [["A"], ["C"], ["B"]], "shown_order": ["C", "A", "B"], "comment": "first"},
    )  # fmt: skip
    ranking_submit(
        project=project, prompt=prompt, user=users["bob"],
        data={"ranking": [["B"], ["A"], ["C"]], "comment": "bob's secret note"},
    )  # fmt: skip
    login(page, "alice")
    page.goto(f"{live_server.url}/projects/parrots/my-annotations/")
    rows = page.locator("#annotations tbody tr")
    assert rows.count() == 1
    # shown C, A, B -> labels A, B, C; stored A > C > B reads B > A > C
    assert rows.first.locator(".ranking-labels").inner_text() == "B > A > C"
    screenshot(page, "my-annotations")
    rows.first.locator("a", has_text="Edit").click()
    page.wait_for_selector(".output-card")
    assert page.locator("#comment").input_value() == "first"
    assert "bob's secret note" not in page.content()
    assert page.locator("#hint").inner_text() == "Ready: B > A > C"
    screenshot(page, "edit-annotation", whole=True)
    kb = page.keyboard
    for key in ("c", "1", "b", "1", "a", "2", "Enter"):  # labels C = B first, A second
        kb.press(key)
    page.wait_for_selector("#status:has-text('Changes saved')")
    mine.refresh_from_db()
    # labels follow the shown order C, A, B: label C is completion B, B is A, A is C
    assert mine.ranking == [["B", "A"], ["C"]]
    assert [r.action for r in mine.revisions.order_by("id")] == ["created", "updated"]


def test_conversation_prompt_renders_as_chat_turns(page, demo, login, live_server, screenshot):
    # Keep single-turn prompts out of the queue (gold, at gold rate 0) so a conversation comes.
    Prompt.objects.filter(project__slug="oasst", messages__isnull=True).update(is_gold=True)
    login(page, "alice")
    open_queue(page, live_server, slug="oasst")
    turns = page.locator(".prompt-body .turn")
    assert turns.count() >= 2
    roles = [r.lower() for r in page.locator(".prompt-body .turn-role").all_inner_texts()]
    assert roles[0] in {"user", "prompter"} and "assistant" in roles
    screenshot(page, "oasst-chat", whole=True)
