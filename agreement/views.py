"""The agreement dashboard and the review pages: reviewers (and admins) of the project, as
core.policy rules; ``policy_page`` hands each view the project."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from agreement.selectors import (
    annotator_rows,
    headline_rows,
    judging_rows,
    machine_agreement_rows,
    project_report_get,
    prompt_review_get,
    review_queue_count,
    review_queue_list,
)
from agreement.services import project_agreement_schedule
from annotate.models import Prompt
from annotate.selectors import simulated_annotator_names
from core.policy import policy_page


@policy_page()
def dashboard(request, slug, project):
    report = project_report_get(project=project)
    return render(
        request,
        "agreement/dashboard.html",
        {
            "project": project,
            "report": report,
            "headline": headline_rows(report=report),
            "annotators": annotator_rows(report=report),
            "judging": judging_rows(report=report),
            "queue_count": review_queue_count(project=project),
            "simulated": simulated_annotator_names(project=project),
            "machines": machine_agreement_rows(project=project),
        },
    )


@policy_page()
def recompute(request, slug, project):
    project_agreement_schedule(project_id=project.pk, require_broker=True)
    messages.success(request, "Recompute queued; reload in a moment for the new figures.")
    return redirect("agreement:dashboard", slug=project.slug)


@policy_page()
def review_queue(request, slug, project):
    return render(
        request,
        "agreement/review_queue.html",
        {"project": project, "entries": review_queue_list(project=project)},
    )


@policy_page()
def review_prompt(request, slug, prompt_id, project):
    prompt = get_object_or_404(Prompt, pk=prompt_id, project=project)
    data = prompt_review_get(prompt=prompt)
    widget = {
        "outputs": [{"id": cid, "label": cid} for cid in data["completion_ids"]],
        "initial": data["consensus_rank"],
        "ties_allowed": project.ties_allowed,
        "url": reverse("api:prompt-adjudicate", args=[project.slug, prompt.pk]),
        "done_url": reverse("agreement:review-queue", args=[project.slug]),
        "judging": _judging_widget(project, data["adjudications"]),
    }
    return render(
        request,
        "agreement/review_prompt.html",
        {"project": project, "widget": widget, **data},
    )


def _judging_widget(project, adjudications) -> dict:
    """What static/agreement/buckets.js needs for strength, tie kinds and dimension boards; they
    start from the newest adjudication, if any (the overall board starts from the consensus)."""
    latest = adjudications[0] if adjudications else None
    stored = latest.dimensions if latest else {}
    return {
        "mode": project.judging_mode,
        "strength_levels": project.strength_levels or [],
        "dimensions": [
            {"key": d["key"], "name": d.get("name") or d["key"]} for d in project.dimensions or []
        ],
        "initial": {"strength": latest.strength, "tie_kind": latest.tie_kind} if latest else {},
        "initial_dimensions": {
            key: {
                **choice,
                "rank": {c: g + 1 for g, grp in enumerate(choice["ranking"]) for c in grp},
            }
            for key, choice in stored.items()
        },
    }
