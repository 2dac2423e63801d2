"""Read side of the agreement app: judgements for the maths, consensus for the export, the report
for pages and the API, the review queue.

The statistics themselves live in ``agreement.metrics`` and ``agreement.consensus``; this
package only moves rows in and out of them. Callers import from here; the modules split the
read side by what it serves.
"""

from agreement.selectors.consensus import (
    prompt_consensus_iter,
    prompt_consensus_map,
)
from agreement.selectors.judgements import (
    ProjectJudgements,
    annotator_weights_get,
    gc_paused,
    judgements_load,
)
from agreement.selectors.machine import machine_agreement_rows
from agreement.selectors.report import (
    REPORT_BOOTSTRAP,
    annotator_rows,
    headline_rows,
    judging_rows,
    judging_section_add,
    project_report_get,
    report_anonymise,
)
from agreement.selectors.review import (
    prompt_review_get,
    review_queue_count,
    review_queue_list,
    user_can_review,
)

__all__ = [
    "REPORT_BOOTSTRAP",
    "ProjectJudgements",
    "annotator_rows",
    "annotator_weights_get",
    "gc_paused",
    "headline_rows",
    "judgements_load",
    "judging_rows",
    "judging_section_add",
    "machine_agreement_rows",
    "project_report_get",
    "prompt_consensus_iter",
    "prompt_consensus_map",
    "prompt_review_get",
    "report_anonymise",
    "review_queue_count",
    "review_queue_list",
    "user_can_review",
]
