"""Write side of the agreement app: keep consensus, annotator weights and the report current,
raise the overlap of low-agreement prompts, record reviewers' adjudications.

* ``incremental``: after every submit / skip / edit, the prompt is marked pending in the same
  transaction and a flush on the worker recomputes the project's pending prompts together;
* ``project``: the full recompute of weights, every prompt's consensus and the report;
* ``review``: adjudications;
* ``common``: what both consensus paths share.
"""

from agreement.services.common import (
    consensus_fields,
    gold_missed,
    overlap_raise_target,
    project_lock,
    prompts_consensus_update,
)
from agreement.services.incremental import (
    pending_consensus_sweep,
    project_consensus_flush,
    project_consensus_flush_enqueue,
    prompt_agreement_recompute,
    prompt_agreement_schedule,
)
from agreement.services.project import (
    project_agreement_after_import,
    project_agreement_recompute,
    project_agreement_schedule,
)
from agreement.services.review import prompt_adjudicate

__all__ = [
    "consensus_fields",
    "gold_missed",
    "overlap_raise_target",
    "pending_consensus_sweep",
    "project_agreement_after_import",
    "project_agreement_recompute",
    "project_agreement_schedule",
    "project_consensus_flush",
    "project_consensus_flush_enqueue",
    "project_lock",
    "prompt_adjudicate",
    "prompt_agreement_recompute",
    "prompt_agreement_schedule",
    "prompts_consensus_update",
]
