"""The annotator's pages. What they do (claim, submit, skip, extend, edit, progress) they do
through /api/v1 with the session and its CSRF token: one surface, one set of role checks,
limits and error shapes for the pages and every other client.

Who may open each is core.policy's (the same table as the API's): ``policy_page``
checks it first (membership, then role) and hands a project URL's view its ``project``.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.urls import reverse

from annotate.api.views.tasks import TaskSerializer
from annotate.letters import (
    judgement_in_letters,
    judging_shown,
    letters_seen,
    mapping_text,
    ranking_in_letters,
)
from annotate.models import Claim, Project
from annotate.selectors import (
    annotation_get_for_annotator,
    annotation_list_for_annotator,
    project_list_for_user,
    project_member_is,
    project_stats,
    queue_progress,
)
from annotate.templatetags.rankwise_markdown import render_markdown
from core.policy import ANNOTATE, has_any_role, policy_page


@policy_page()
def home(request):
    return render(
        request, "annotate/home.html", {"projects": project_list_for_user(user=request.user)}
    )


@policy_page()
def project_detail(request, slug, project):
    return render(
        request,
        "annotate/project_detail.html",
        {
            "project": project,
            "stats": project_stats(project=project),
            "progress": queue_progress(project=project, user=request.user),
            "is_member": project_member_is(project=project, user=request.user),
            # Only those the queue lets judge get the buttons (not reviewers, ML engineers).
            "can_judge": has_any_role(request.user, ANNOTATE),
        },
    )


def _rules(project: Project) -> dict:
    scale = project.rating_scale or {}
    return {
        "ties_allowed": project.ties_allowed,
        "require_all_placed": project.require_all_placed,
        "rating": (
            {"min": scale["min"], "max": scale["max"], "label": scale.get("label", "Rating")}
            if scale.get("min") is not None and scale.get("max") is not None
            else None
        ),
        "flags": [
            {"key": f["key"], "label": f.get("label", f["key"])} for f in project.flags or []
        ],
        # static/annotate/judging.js: pairwise strength, rank gaps, dimensions, the rationale box
        "judging": {
            "mode": project.judging_mode,
            "strength_levels": project.strength_levels or [],
            "gap_levels": project.gap_levels or [],
            "dimensions": [
                {**d, "instructions_html": render_markdown(d["instructions"], allow_html=True)}
                for d in project.dimensions or []
            ],
            "rationale": project.rationale,
        },
    }


def _urls(slug: str) -> dict:
    """The /api/v1 endpoints the ranking page calls (session + CSRF); 0 stands for the id."""
    return {
        "next": reverse("api:task-next", args=[slug]),
        "peek": reverse("api:task-peek", args=[slug]),
        "progress": reverse("api:my-progress", args=[slug]),
        "submit": reverse("api:task-submit", args=[slug, 0]),
        "skip": reverse("api:task-skip", args=[slug, 0]),
        "extend": reverse("api:task-extend", args=[slug, 0]),
        "update": reverse("api:my-annotation", args=[slug, 0]),
        "mine": reverse("annotate:my-annotations", args=[slug]),
    }


@policy_page()
def annotate_page(request, slug, project):
    return render(
        request,
        "annotate/annotate.html",
        {
            "project": project,
            "mode": "queue",
            "config": {"mode": "queue", "project": slug, "rules": _rules(project),
                       "urls": _urls(slug)},
        },
    )  # fmt: skip


@policy_page()
def my_annotations(request, slug, project):
    annotations = list(annotation_list_for_annotator(user=request.user, project=project)[:500])
    shown = judging_shown(project)
    rows = []
    for a in annotations:
        letters = letters_seen(a.shown_order)
        labels = "" if a.skipped else ranking_in_letters(a.ranking, letters)
        judging = judgement_in_letters(a, letters, project) if shown else None
        rows.append((a, labels, mapping_text(letters), judging))
    return render(request, "annotate/my_annotations.html", {"project": project, "rows": rows})


@policy_page()
def annotation_edit(request, pk):
    annotation = annotation_get_for_annotator(user=request.user, pk=pk)
    if annotation is None:
        raise Http404("No such annotation of yours")
    prompt = annotation.prompt
    project = prompt.project
    # The task in the API's shape (the page reads one shape), in the order the annotator saw.
    shown = Claim(prompt=prompt, shown_order=annotation.shown_order, claimed_at=None,
                  expires_at=None)  # fmt: skip
    task = dict(TaskSerializer(shown).data)
    task["annotation_id"] = annotation.pk
    task["existing"] = {
        "ranking": annotation.ranking,
        "ratings": annotation.ratings,
        "flags": annotation.flags,
        "comment": annotation.comment,
        "skipped": annotation.skipped,
        "skip_reason": annotation.skip_reason,
        "time_ms": annotation.time_ms,
        "strength": annotation.strength,
        "tie_kind": annotation.tie_kind,
        "gaps": annotation.gaps,
        "dimensions": annotation.dimensions,
        "rationale": annotation.rationale,
    }
    return render(
        request,
        "annotate/annotate.html",
        {
            "project": project,
            "mode": "edit",
            "annotation": annotation,
            "config": {"mode": "edit", "project": project.slug, "rules": _rules(project),
                       "task": task, "urls": _urls(project.slug)},
        },
    )  # fmt: skip
