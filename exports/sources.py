"""Who made a label: people, a machine annotator (``Annotation.Source.MACHINE``), or both.

Machine judgements stay out of an export unless its options include them (by default where the
project counts them in consensus); every pairwise row says whose label it is.
"""

from __future__ import annotations

MACHINE = "machine"  # Annotation.Source.MACHINE
EXCLUDED_ONLY_MACHINE = "only_machine_judgements"


def machine_filter(judgements: list, include_machine: bool) -> tuple[list, str | None]:
    """(the judgements to export, why the prompt is left out, if it is)."""
    if include_machine:
        return judgements, None
    human = [a for a in judgements if a.source != MACHINE]
    return human, (EXCLUDED_ONLY_MACHINE if judgements and not human else None)


def label_source(judgements: list) -> str:
    """ "human", "machine", or "mixed" (a consensus of both)."""
    kinds = {a.source == MACHINE for a in judgements if not a.skipped}
    return "mixed" if len(kinds) > 1 else ("machine" if kinds == {True} else "human")


def provenance(judgement) -> dict:
    """The rankings export's record of where a judgement came from (the importer ignores it)."""
    return {"source": judgement.source, "lineage": judgement.lineage}
