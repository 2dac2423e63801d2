"""The letters an annotator saw: A is the first output in their shown order, B the second, ...

``Annotation.shown_order`` is stored with every judgement (the claim's order, or the one the
client sent), so the mapping is known forever after: the review pages, comments and "My
annotations" speak in the annotator's own letters, and "B is wrong" is never ambiguous.
"""

from __future__ import annotations

from collections.abc import Iterable


def letters_seen(shown_order: Iterable[str] | None, completion_ids: Iterable[str] = ()) -> dict:
    """Completion id -> letter. Outputs missing from the shown order (an import without one)
    follow in file order."""
    order = [cid for cid in shown_order or []]
    seen = set(order)
    order += [cid for cid in completion_ids if cid not in seen]
    return {cid: chr(ord("A") + i) for i, cid in enumerate(order)}


def ranking_in_letters(ranking: list[list[str]], letters: dict) -> str:
    """``A > C = D > B`` in the annotator's letters."""
    return " > ".join(" = ".join(letters.get(cid, cid) for cid in group) for group in ranking)


def mapping_text(letters: dict) -> str:
    """``A = m2, B = m0, ...``: the annotator's letters and the outputs they stood for."""
    by_letter = sorted(letters.items(), key=lambda item: item[1])
    return ", ".join(f"{letter} = {cid}" for cid, letter in by_letter)


TIE_KIND_TEXT = {"both_good": "tie: both good", "both_bad": "tie: both bad"}


def choice_in_letters(choice: dict, letters: dict, project) -> str:
    """One judgement (or one dimension's choice) in the annotator's letters, with its strength
    or gaps in the project's labels: ``B > A · much better``, ``A = B · tie: both bad``,
    ``A >clearly> C > B`` (the gap's label between the two groups it separates)."""
    ranking = choice.get("ranking") or []
    groups = [" = ".join(sorted(letters.get(cid, cid) for cid in group)) for group in ranking]
    gaps = choice.get("gaps") or []
    labels = project.gap_levels or []
    text = groups[0] if groups else ""
    for i, group in enumerate(groups[1:]):
        level = gaps[i] if i < len(gaps) else None
        gap = labels[level - 1] if level and level <= len(labels) else ""
        text += f" >{gap}> {group}" if gap else f" > {group}"
    strength = choice.get("strength")
    if len(ranking) == 1 and (strength == 0 or choice.get("tie_kind")):
        kind = TIE_KIND_TEXT.get(choice.get("tie_kind") or "", "tie")
        return f"{text} · {kind}"
    levels = project.strength_levels or []
    if strength and strength <= len(levels):
        return f"{text} · {levels[strength - 1]}"
    return text


def judgement_in_letters(annotation, letters: dict, project) -> dict:
    """What the review page and "My annotations" show of a judgement beyond its ranking:
    the overall choice with strength or gaps, each dimension's ("" where unjudged: a skip),
    and the rationale."""
    skipped = getattr(annotation, "skipped", False)  # an Adjudication is never skipped
    overall = {"ranking": annotation.ranking, "strength": annotation.strength,
               "tie_kind": annotation.tie_kind, "gaps": annotation.gaps}  # fmt: skip
    stored = annotation.dimensions or {}
    dimensions = [
        {"key": d["key"], "name": d.get("name") or d["key"],
         "text": choice_in_letters(stored[d["key"]], letters, project)
         if isinstance(stored.get(d["key"]), dict) else ""}
        for d in project.dimensions or []
    ]  # fmt: skip
    return {
        "overall": "" if skipped else choice_in_letters(overall, letters, project),
        "dimensions": dimensions,
        "rationale": getattr(annotation, "rationale", ""),
    }


def judging_shown(project) -> bool:
    """Whether a project judges more than a ranking (strength, gaps, dimensions, rationale)."""
    return bool(
        project.is_pairwise or project.gap_levels or project.dimensions
        or project.rationale != "off"
    )  # fmt: skip
