"""Agreement statistics for ranked, rated and flagged model outputs. Pure numpy/scipy.

Build `JudgementArrays` once with `build_arrays` (or pass judgements straight to
`project_report`), then read any statistic from it. See docs/agreement.md.
"""

from agreement.metrics._common import Estimate
from agreement.metrics.alpha import (
    Coincidences,
    alpha_flags,
    alpha_from_units,
    alpha_ranking,
    alpha_ratings,
    coincidences,
    krippendorff_alpha,
)
from agreement.metrics.bootstrap import bootstrap_intervals
from agreement.metrics.bt import fit_bradley_terry, loo_agreement
from agreement.metrics.ranking import (
    kendall_w,
    kendall_w_mean,
    pair_table,
    pairwise_agreement,
    pairwise_agreement_with_ties,
    tie_rate,
)
from agreement.metrics.records import Judgement, JudgementArrays, Ranking, build_arrays
from agreement.metrics.report import combine_summaries, project_report, prompt_summary
from agreement.metrics.synthetic import demo, synthetic_judgements

__all__ = [
    "Coincidences",
    "Estimate",
    "Judgement",
    "JudgementArrays",
    "Ranking",
    "alpha_flags",
    "alpha_from_units",
    "alpha_ranking",
    "alpha_ratings",
    "bootstrap_intervals",
    "build_arrays",
    "coincidences",
    "combine_summaries",
    "demo",
    "fit_bradley_terry",
    "kendall_w",
    "kendall_w_mean",
    "krippendorff_alpha",
    "loo_agreement",
    "pair_table",
    "pairwise_agreement",
    "pairwise_agreement_with_ties",
    "project_report",
    "prompt_summary",
    "synthetic_judgements",
    "tie_rate",
]
