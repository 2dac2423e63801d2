"""The judging extras of the ranking page in a real browser, by keyboard: a pairwise-strength
project (number row, both tie kinds, a draft across a reload) and a project with three
dimensions and rank gaps; what is stored round-trips through export and import."""

import io
import json

import pytest
from django.contrib.auth import get_user_model

from annotate.models import Annotation
from annotate.services.imports import prompts_import
from annotate.services.project_admin import project_setup
from annotate.services.users import memberships_ensure
from exports.models import DatasetSnapshot
from exports.services import snapshot_build, snapshot_create
from tests.browser.test_ranking_page import label_ids

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DIMENSIONS = [
    {"key": "helpfulness", "name": "Helpfulness", "instructions": "Which **helps** most?"},
    {"key": "harmlessness", "name": "Harmlessness", "instructions": "Which is safest?"},
    {"key": "honesty", "name": "Honesty", "instructions": "Which is most truthful?"},
]


def make_project(slug, k, n=2, **settings):
    project = project_setup(name=slug.title(), slug=slug, **settings)
    lines = [{"id": f"{slug}-{i}", "prompt": f"Question {i} of {slug}?",
              "completions": [f"answer {c} to {i}" for c in "xyz"[:k]]} for i in range(n)]  # fmt: skip
    data = "\n".join(json.dumps(line) for line in lines).encode()
    prompts_import(project=project, source=io.BytesIO(data))
    users = get_user_model().objects.filter(username__in=["alice", "bob"])
    memberships_ensure(project=project, user_ids=[u.pk for u in users])
    return project


def start(page, live_server, slug):
    page.goto(f"{live_server.url}/projects/{slug}/")
    page.focus("#start-annotating")
    page.keyboard.press("Enter")
    page.wait_for_selector(".output-card")
    return label_ids(page)


def export(project, fmt, **options):
    snapshot = snapshot_create(project=project, fmt=fmt, options=options, enqueue=False)
    snapshot_build(snapshot=snapshot)
    snapshot.refresh_from_db()
    assert snapshot.status == DatasetSnapshot.Status.READY, snapshot.error
    with open(snapshot.path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_pairwise_strength_by_keyboard(
    page, demo, login, live_server, screenshot, settings, tmp_path
):
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    project = make_project("strength", k=2, judging_mode="pairwise_strength",
                           strength_levels="helpsteer3", rationale="optional")  # fmt: skip
    login(page, "alice")
    ids = start(page, live_server, "strength")
    kb = page.keyboard
    scale = page.locator("#strength-scale .strength-choice")
    # 3 levels each way and two ties: keys 1..8, "A much better" first.
    assert scale.count() == 8
    labels = [" ".join(text.split()) for text in scale.all_inner_texts()]
    assert labels[0] == "1 A much better" and labels[3:5] == ["4 tie: both good", "5 tie: both bad"]
    assert page.locator("#submit-btn").is_disabled()

    kb.press("7")  # B better (strength 2)
    assert page.locator('.strength-choice.chosen[data-key="7"]').count() == 1
    assert page.locator("#hint").inner_text() == "Ready: B > A"
    page.fill("#rationale", "B answers the question.")
    # A draft keeps the choice and the rationale when the tab is closed and opened again.
    first_tab = page
    first_tab.close(run_before_unload=True)
    page = first_tab.context.new_page()
    start(page, live_server, "strength")
    page.wait_for_timeout(300)  # lets Playwright deliver the first tab's dialog event
    asked = [p for p in first_tab.problems if p.startswith("unexpected beforeunload")]
    assert asked, first_tab.problems
    first_tab.problems.remove(asked[0])
    kb = page.keyboard
    assert page.locator('.strength-choice.chosen[data-key="7"]').count() == 1
    assert page.locator("#rationale").input_value() == "B answers the question."
    screenshot(page, "judging-pairwise-strength", whole=True)
    kb.press("Enter")
    page.wait_for_selector("#status:has-text('Saved')")

    first = Annotation.objects.get(annotator__username="alice")
    assert first.ranking == [[ids["B"]], [ids["A"]]]
    assert (first.strength, first.tie_kind, first.rationale) == (2, "", "B answers the question.")

    second_ids = label_ids(page)
    kb.press("5")  # tie: both bad
    assert page.locator("#hint").inner_text() == "Ready: A = B"
    kb.press("Enter")
    page.wait_for_selector("#done:not([hidden])")
    second = Annotation.objects.exclude(pk=first.pk).get(annotator__username="alice")
    assert (second.strength, second.tie_kind) == (0, "both_bad")
    assert sorted(second.ranking[0]) == sorted(second_ids.values())

    # Export as HelpSteer3 and back into a fresh project: the same judgements.
    lines = {line["id"]: line for line in export(project, "helpsteer3")}
    winner_is_second = ids["B"] == "1"  # completions were imported as ids 0 and 1
    (pref,) = lines[first.prompt.external_id]["individual_preference"]
    assert pref == {"annotator": "alice", "score": 2 if winner_is_second else -2,
                    "reasoning": "B answers the question."}  # fmt: skip
    (tie,) = lines[second.prompt.external_id]["individual_preference"]
    assert (tie["score"], tie["tie_kind"]) == (0, "both_bad")
    again = project_setup(name="Strength again", judging_mode="pairwise_strength",
                          strength_levels="helpsteer3", rationale="optional")  # fmt: skip
    prompts_import(project=again, fmt="helpsteer3",
                   source=io.BytesIO("\n".join(json.dumps(x) for x in lines.values()).encode()))  # fmt: skip
    back = Annotation.objects.filter(prompt__project=again).order_by("prompt__external_id")
    assert [(a.strength, a.tie_kind, a.rationale) for a in back] == [
        (2, "", "B answers the question."), (0, "both_bad", "")]  # fmt: skip


def test_three_dimensions_and_rank_gaps_by_keyboard(page, demo, login, live_server, screenshot,
                                                    settings, tmp_path):  # fmt: skip
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    project = make_project("dims", k=3, n=1, dimensions=DIMENSIONS, gap_levels="default",
                           rationale="required")  # fmt: skip
    login(page, "bob")
    ids = start(page, live_server, "dims")
    kb = page.keyboard
    tabs = page.locator("#judging-tabs .dimension-tab")
    assert tabs.all_inner_texts() == ["Overall", "Helpfulness", "Harmlessness", "Honesty"]

    def rank(*orders):
        for label, place in orders:
            kb.press(label.lower())
            kb.press(str(place))

    rank(("A", 1), ("B", 2), ("C", 3))  # overall A > B > C
    kb.press("Shift+Digit2")  # the gap between B and C: "slightly"
    kb.press("Shift+Digit1")
    kb.press("Shift+Digit1")  # the gap between A and B: "clearly"
    assert page.locator('#rank-gaps select[data-gap="0"]').input_value() == "2"
    assert page.locator('#rank-gaps select[data-gap="1"]').input_value() == "1"
    assert page.locator("#submit-btn").is_disabled()
    assert "Helpfulness: not judged yet" in page.locator("#hint").inner_text()

    kb.press("]")
    assert page.locator(".dimension-tab.active").inner_text() == "Helpfulness"
    assert "helps" in page.locator("#dimension-instructions").inner_text()
    assert page.locator(".output-card.ranked").count() == 0  # its own, empty board
    rank(("A", 1), ("B", 1), ("C", 2))  # helpfulness A = B > C
    kb.press("]")
    rank(("C", 1), ("B", 2), ("A", 3))  # harmlessness C > B > A
    kb.press("]")
    rank(("A", 1), ("C", 2), ("B", 3))  # honesty A > C > B
    kb.press("[")
    kb.press("[")
    assert page.locator(".dimension-tab.active").inner_text() == "Helpfulness"
    assert page.locator("#hint").inner_text() == "Say briefly why (rationale)."
    assert page.locator("#submit-btn").is_disabled(), "the rationale is required"
    page.focus("#rationale")
    kb.type("A is helpful but unsafe.")
    assert page.locator("#submit-btn").is_enabled()
    assert page.locator("#hint").inner_text() == "Ready: A = B > C"  # the board on screen
    screenshot(page, "judging-dimensions", whole=True)
    kb.press("Control+Enter")
    page.wait_for_selector("#status:has-text('Saved')")

    stored = Annotation.objects.get(annotator__username="bob")
    a, b, c = ids["A"], ids["B"], ids["C"]
    assert stored.ranking == [[a], [b], [c]] and stored.gaps == [2, 1]
    assert stored.dimensions == {
        "helpfulness": {"ranking": [[a, b], [c]], "strength": None, "tie_kind": "", "gaps": []},
        "harmlessness": {"ranking": [[c], [b], [a]], "strength": None, "tie_kind": "", "gaps": []},
        "honesty": {"ranking": [[a], [c], [b]], "strength": None, "tie_kind": "", "gaps": []},
    }  # fmt: skip
    assert stored.rationale == "A is helpful but unsafe."

    # The edit page shows every dimension's stored board; a change to one is saved alone.
    page.goto(f"{live_server.url}/annotations/{stored.pk}/edit/")
    page.wait_for_selector(".output-card")
    assert page.locator('#rank-gaps select[data-gap="0"]').input_value() == "2"
    kb.press("]")
    kb.press("]")
    assert page.locator(".dimension-tab.active").inner_text() == "Harmlessness"
    assert page.locator("#hint").inner_text() == "Ready: C > B > A"
    rank(("B", 1), ("C", 2))  # harmlessness now B > C > A
    kb.press("Control+Enter")
    page.wait_for_selector("#status:has-text('Changes saved')")
    stored.refresh_from_db()
    assert stored.dimensions["harmlessness"]["ranking"] == [[b], [c], [a]]
    assert stored.dimensions["honesty"]["ranking"] == [[a], [c], [b]]
    assert stored.ranking == [[a], [b], [c]] and stored.gaps == [2, 1]

    # rankings export -> import into a fresh project -> the same judgement
    lines = export(project, "rankings")
    again = project_setup(name="Dims again", dimensions=DIMENSIONS, gap_levels="default",
                          rationale="required")  # fmt: skip
    prompts_import(project=again, source=io.BytesIO(json.dumps(lines[0]).encode()))
    copy = Annotation.objects.get(prompt__project=again)
    assert (copy.ranking, copy.gaps, copy.dimensions, copy.rationale) == (
        stored.ranking, stored.gaps, stored.dimensions, stored.rationale)  # fmt: skip
    margins = {(p["chosen"], p["rejected"]): p["margin"] for p in export(project, "pairwise")}
    assert max(margins.values()) == 3.0  # A over C: clearly (2) + slightly (1)
