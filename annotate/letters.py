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
