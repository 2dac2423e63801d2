"""The agreement report: the stored one (or a fresh one), and its presentation as the
dashboard's headline and annotator rows."""

from __future__ import annotations

from typing import Any

from agreement.metrics import project_report
from agreement.metrics.judging import judging_report
from agreement.models import ProjectAgreement
from agreement.selectors.judgements import judgements_load
from annotate.models import Project

REPORT_BOOTSTRAP = 1000


def project_report_compute(
    *, project: Project, bootstrap: int = REPORT_BOOTSTRAP, seed: int = 0
) -> dict[str, Any]:
    """A fresh report from the annotations, without storing anything."""
    data = judgements_load(project=project)
    report = project_report(data.judgements, data.gold, bootstrap=bootstrap, seed=seed)
    return judging_section_add(report=report, project=project, judgements=data.judgements)


def judging_section_add(*, report: dict[str, Any], project: Project, judgements) -> dict[str, Any]:
    """Strength and per-dimension figures (agreement.metrics.judging), for projects that
    judge them; ``report["judging"]``."""
    levels = len(project.strength_levels or []) if project.is_pairwise else 0
    dimensions = {d["key"]: d.get("name") or d["key"] for d in project.dimensions or []}
    if levels or dimensions:
        report["judging"] = judging_report(
            judgements, strength_levels=levels, dimensions=dimensions
        )
    return report


def project_report_get(*, project: Project) -> dict[str, Any]:
    """The stored report of the last full recompute, or a fresh one if there is none yet.

    ``meta`` says which: ``stored`` (false for a fresh, unsaved report), ``computed_at`` and
    ``stale`` (judgements changed since; per-prompt consensus is current, these figures are not).
    """
    stored = ProjectAgreement.objects.filter(project=project).first()
    if stored is None:
        report = project_report_compute(project=project)
        meta = {"stored": False, "computed_at": None, "stale": False}
    else:
        report = stored.report
        meta = {
            "stored": True,
            "computed_at": stored.computed_at.isoformat(),
            "stale": stored.stale,
            "duration_ms": stored.duration_ms,
        }
    return {**report, "project": project.slug, "meta": meta}


HEADLINE = (
    ("pairwise_agreement", "Pairwise agreement", "pairwise_agreement"),
    ("pairwise_agreement_with_ties", "Agreement, ties as answers", "pairwise_agreement_with_ties"),
    ("tie_rate", "Tie rate", "tie_rate"),
    ("kendall_w_mean", "Kendall's W (mean)", "kendall_w_mean"),
    ("krippendorff_alpha.ranking", "Krippendorff's alpha, ranking", "krippendorff_alpha_ranking"),
    ("krippendorff_alpha.ratings.ordinal", "Krippendorff's alpha, ratings (ordinal)", None),
    ("krippendorff_alpha.ratings.interval", "Krippendorff's alpha, ratings (interval)", None),
)
# Outlier rules of the annotator table; the page's legend states them.
OUTLIER_Z = -2.0
OUTLIER_P = 0.05  # family-wise, Bonferroni-divided by the number of annotators tested
GOLD_ACCURACY_MIN = 0.7


def _dotted(record: dict, key: str):
    value: Any = record
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def headline_rows(*, report: dict[str, Any]) -> list[dict[str, Any]]:
    reasons = report.get("reasons") or {}
    intervals = report.get("confidence_intervals") or {}
    rows = []
    for key, label, ci_key in HEADLINE:
        ci = intervals.get(ci_key) if ci_key else None
        rows.append({
            "key": key,
            "label": label,
            "value": _dotted(report, key),
            "reason": reasons.get(key),
            "ci": ci if isinstance(ci, list | tuple) else None,
            "ci_reason": reasons.get(f"confidence_intervals.{ci_key}") if ci_key else None,
        })  # fmt: skip
    return rows


def _strength_cells(strength: dict | None) -> dict[str, Any]:
    if not strength:
        return {}
    kappas = [
        k["kappa"] for k in strength.get("weighted_kappa") or [] if k.get("kappa") is not None
    ]
    alpha = strength.get("krippendorff_alpha") or {}
    return {
        "direction": strength.get("direction_agreement"),
        "alpha_interval": alpha.get("interval"),
        "alpha_ordinal": alpha.get("ordinal"),
        # One pair of annotators: their kappa; more: the mean over pairs (the JSON has each).
        "kappa": sum(kappas) / len(kappas) if kappas else None,
        "kappa_pairs": len(kappas),
        "ties": ", ".join(f"{k}: {v}" for k, v in (strength.get("tie_confusion") or {}).items()),
    }


def judging_rows(*, report: dict[str, Any]) -> list[dict[str, Any]]:
    """The dashboard's strength and dimension table: overall first, then each dimension."""
    judging = report.get("judging")
    if not judging:
        return []
    rows = []
    if judging.get("strength"):
        rows.append({"key": "overall", "name": "Overall", **_strength_cells(judging["strength"])})
    for key, record in (judging.get("dimensions") or {}).items():
        alpha = record.get("krippendorff_alpha") or {}
        rows.append({
            "key": key, "name": record.get("name") or key,
            "pairwise_agreement": record.get("pairwise_agreement"),
            "alpha_ranking": alpha.get("ranking") if isinstance(alpha, dict) else None,
            "vs_overall": (record.get("vs_overall") or {}).get("disagrees_with_overall"),
            **_strength_cells(record.get("strength")),
        })  # fmt: skip
    return rows


def _z_scores(values: dict[str, float]) -> dict[str, float]:
    # A display rule for the table, not a reported statistic: how far each annotator's agreement
    # sits from the others', in standard deviations.
    if len(values) < 3:
        return {}
    n = len(values)
    mean = sum(values.values()) / n
    sd = (sum((v - mean) ** 2 for v in values.values()) / (n - 1)) ** 0.5
    if sd == 0:
        return {}
    return {name: (v - mean) / sd for name, v in values.items()}


def annotator_rows(*, report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's per-annotator figures, each with ``z`` and the ``outliers`` rules it trips."""
    annotators = report.get("annotators") or []
    agreement = {
        a["annotator"]: a["pairwise_agreement"]
        for a in annotators
        if a.get("pairwise_agreement") is not None
    }
    z = _z_scores(agreement)
    tested = [a for a in annotators if isinstance(a.get("position_bias"), dict)]
    p_cut = OUTLIER_P / max(len(tested), 1)
    rows = []
    for a in annotators:
        outliers = []
        if z.get(a["annotator"], 0.0) < OUTLIER_Z:
            outliers.append("agreement far below the others")
        bias = a.get("position_bias")
        if (
            isinstance(bias, dict)
            and bias.get("p_value", 1.0) < p_cut
            and bias["rate"] > bias["chance_rate"]
        ):
            outliers.append("favours the output shown first")
        gold = a.get("gold_accuracy")
        if gold is not None and gold < GOLD_ACCURACY_MIN:
            outliers.append("low gold accuracy")
        rows.append({**a, "z": z.get(a["annotator"]), "outliers": outliers})
    return rows


def report_anonymise(*, report: dict[str, Any]) -> dict[str, Any]:
    """The report with annotator names replaced by stable pseudonyms (annotator-1, ...)."""
    names = sorted(a["annotator"] for a in report.get("annotators") or [])
    alias = {name: f"annotator-{i}" for i, name in enumerate(names, 1)}
    out = dict(report)
    out["annotators"] = [
        {**a, "annotator": alias[a["annotator"]]} for a in report.get("annotators") or []
    ]
    out["annotator_pairs"] = [
        {**p, "annotators": [alias.get(n, n) for n in p["annotators"]]}
        for p in report.get("annotator_pairs") or []
    ]
    return out
