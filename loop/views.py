"""The model-in-the-loop panel of a project: queue order, retraining, machine annotators and
hybrid routing at a glance (reviewers and ML engineers, as core.policy rules)."""

from django.shortcuts import render

from agreement.selectors import machine_agreement_rows
from core.policy import policy_page
from loop.selectors import loop_overview, queue_head


@policy_page()
def panel(request, slug, project):
    loop = loop_overview(project=project)
    compared = {row["annotator"]: row for row in machine_agreement_rows(project=project)}
    for machine in loop["machine_annotators"]:
        machine["people"] = compared.get(machine["username"])
    return render(
        request,
        "loop/panel.html",
        {"project": project, "loop": loop, "head": queue_head(project=project)},
    )
