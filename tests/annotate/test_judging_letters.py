"""A judgement's strength, tie kind, gaps and dimensions in the annotator's own letters: the
text the review page and "My annotations" show (annotate.letters)."""

from types import SimpleNamespace

from annotate.letters import choice_in_letters, judgement_in_letters, judging_shown

PAIRWISE = SimpleNamespace(
    is_pairwise=True, strength_levels=["slightly better", "better", "much better"],
    gap_levels=[], rationale="off",
    dimensions=[{"key": "helpfulness", "name": "Helpfulness"}, {"key": "honesty"}],
)  # fmt: skip
GAPS = SimpleNamespace(is_pairwise=False, strength_levels=[], dimensions=[], rationale="off",
                       gap_levels=["slightly", "clearly", "much"])  # fmt: skip
LETTERS = {"m1": "B", "m0": "A", "m2": "C"}


def test_pairwise_choices_name_the_level_or_the_tie_kind():
    won = {"ranking": [["m1"], ["m0"]], "strength": 3}
    assert choice_in_letters(won, LETTERS, PAIRWISE) == "B > A · much better"
    tie = {"ranking": [["m1", "m0"]], "strength": 0, "tie_kind": "both_bad"}
    assert choice_in_letters(tie, LETTERS, PAIRWISE) == "A = B · tie: both bad"
    unknown = {"ranking": [["m1", "m0"]], "strength": 0, "tie_kind": ""}  # HelpSteer3's 0
    assert choice_in_letters(unknown, LETTERS, PAIRWISE) == "A = B · tie"


def test_gaps_sit_between_the_groups_they_separate():
    choice = {"ranking": [["m2"], ["m0", "m1"], ["m9"]], "gaps": [3, None]}
    assert choice_in_letters(choice, LETTERS, GAPS) == "C >much> A = B > m9"
    assert choice_in_letters({"ranking": [["m0"], ["m1"]], "gaps": []}, LETTERS, GAPS) == "A > B"


def test_every_dimension_is_listed_in_the_projects_order():
    annotation = SimpleNamespace(
        ranking=[["m0"], ["m1"]], strength=1, tie_kind="", gaps=[], skipped=False,
        rationale="A cites a source.",
        dimensions={"honesty": {"ranking": [["m1"], ["m0"]], "strength": 2},
                    "helpfulness": {"ranking": [["m0"], ["m1"]], "strength": 1}},
    )  # fmt: skip
    shown = judgement_in_letters(annotation, LETTERS, PAIRWISE)
    assert shown["overall"] == "A > B · slightly better"
    assert [(d["name"], d["text"]) for d in shown["dimensions"]] == [
        ("Helpfulness", "A > B · slightly better"), ("honesty", "B > A · better")]  # fmt: skip
    assert shown["rationale"] == "A cites a source."
    skipped = SimpleNamespace(**{**vars(annotation), "skipped": True, "dimensions": {}})
    assert judgement_in_letters(skipped, LETTERS, PAIRWISE)["overall"] == ""
    assert [d["text"] for d in judgement_in_letters(skipped, LETTERS, PAIRWISE)["dimensions"]] == [
        "", ""]  # fmt: skip
    assert judging_shown(PAIRWISE) and judging_shown(GAPS)
    plain = SimpleNamespace(is_pairwise=False, gap_levels=[], dimensions=[], rationale="off")
    assert not judging_shown(plain)
