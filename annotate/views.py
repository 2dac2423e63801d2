"""Pages and the ranking page's JSON endpoints (session auth + CSRF).

Who may call each is core.policy's (the same table as the API's): ``policy_page``
checks it first (membership, then role) and hands a project URL's view its ``project``.
Views parse, call one service or selector, and render. JSON errors have one shape:
``{"error": {"field": ..., "message": ...}}`` (400, bad input, nothing saved) or
``{"error": {"code": ..., "message": ...}}`` (401/403/404/409: refused by the rules).
"""

from __future__ import annotations

from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.urls import reverse

from annotate.judgements import JudgementError
from annotate.models import Annotation, Claim, Project, Prompt
from annotate.selectors import (
    annotation_get_for_annotator,
    annotation_list_for_annotator,
    project_list_for_user,
    project_member_is,
    project_stats,
    prompt_in_project,
    queue_progress,
)
from annotate.services.annotations import annotation_skip, annotation_update, ranking_submit
from annotate.services.queue import (
    SubmissionRefused,
    prompt_completions,
    prompt_next_for_annotator,
)
from annotate.templatetags.rankwise_markdown import render_markdown
from core.json_input import JsonInputError, json_loads_checked
from core.policy import policy_page

# As the API: the queue's refusals are 409 (past the policy, only an admin of another project
# reaches not_member), a prompt or annotation that is not there 404.
REFUSAL_STATUS = {"not_yours": 403, "wrong_project": 404, "no_prompt": 404, "no_annotation": 404}


@policy_page()
def home(request):
    return render(request, "annotate/home.html", {"projects": project_list_for_user(request.user)})


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
    }


def _task(prompt: Prompt, shown_order: list[str], *, expires_at=None) -> dict:
    """What the ranking page shows; labels A, B, ... follow the annotator's shown order."""
    completions = {c.external_id: c for c in prompt_completions(prompt)}
    order = [cid for cid in shown_order if cid in completions] or list(completions)
    if prompt.is_conversation:
        shown = {
            "kind": "chat",
            "turns": [
                {"role": str(m.get("role", "")), "html": render_markdown(str(m.get("content", "")))}
                for m in prompt.messages
            ],
        }
    else:
        shown = {"kind": "text", "html": render_markdown(prompt.text)}
    return {
        "prompt_id": prompt.pk,
        "prompt": shown,
        "outputs": [
            {"id": cid, "label": chr(ord("A") + i), "html": render_markdown(completions[cid].text)}
            for i, cid in enumerate(order)
        ],
        "shown_order": order,
        "expires_at": expires_at.isoformat() if expires_at else None,
    }


def _claim_task(claim: Claim) -> dict:
    return _task(claim.prompt, claim.shown_order, expires_at=claim.expires_at)


def _json_body(request) -> dict:
    try:
        data = json_loads_checked(request.body or b"{}")
    except JsonInputError as exc:
        raise JudgementError(exc.path, exc.message) from exc
    if not isinstance(data, dict):
        raise JudgementError("body", "must be a JSON object")
    return data


def _error(exc: Exception) -> JsonResponse:
    if isinstance(exc, JudgementError):
        return JsonResponse({"error": {"field": exc.field, "message": exc.message}}, status=400)
    assert isinstance(exc, SubmissionRefused)
    return JsonResponse(
        {"error": {"code": exc.code, "message": exc.message}},
        status=REFUSAL_STATUS.get(exc.code, 409),
    )


@policy_page()
def annotate_page(request, slug, project):
    return render(
        request,
        "annotate/annotate.html",
        {
            "project": project,
            "mode": "queue",
            "config": {
                "mode": "queue",
                "rules": _rules(project),
                "urls": {
                    "next": reverse("annotate:task-next", args=[slug]),
                    "progress": reverse("annotate:progress", args=[slug]),
                    "submit": reverse("annotate:task-submit", args=[slug, 0]),
                    "skip": reverse("annotate:task-skip", args=[slug, 0]),
                    "mine": reverse("annotate:my-annotations", args=[slug]),
                },
            },
        },
    )


@policy_page(json=True)
def task_next(request, slug, project):
    try:
        claim = prompt_next_for_annotator(project=project, user=request.user)
    except SubmissionRefused as exc:
        return _error(exc)
    return JsonResponse({"task": _claim_task(claim) if claim else None})


def _prompt(project: Project, prompt_id: int) -> Prompt:
    prompt = prompt_in_project(project=project, prompt_id=prompt_id)
    if prompt is None:
        raise SubmissionRefused("no_prompt", "No such prompt in this project.")
    return prompt


@policy_page(json=True)
def task_submit(request, slug, prompt_id, project):
    try:
        prompt = _prompt(project, prompt_id)
        annotation = ranking_submit(
            project=project, prompt=prompt, user=request.user, data=_json_body(request)
        )
    except (JudgementError, SubmissionRefused) as exc:
        return _error(exc)
    return JsonResponse({"annotation_id": annotation.pk, "ranking": annotation.ranking}, status=201)


@policy_page(json=True)
def task_skip(request, slug, prompt_id, project):
    try:
        prompt = _prompt(project, prompt_id)
        data = _json_body(request)
        annotation = annotation_skip(
            project=project, prompt=prompt, user=request.user,
            reason=data.get("reason") or "", time_ms=data.get("time_ms"),
        )  # fmt: skip
    except (JudgementError, SubmissionRefused) as exc:
        return _error(exc)
    return JsonResponse({"annotation_id": annotation.pk, "skipped": True}, status=201)


@policy_page(json=True)
def progress(request, slug, project):
    return JsonResponse(queue_progress(project=project, user=request.user))


def _ranking_labels(annotation: Annotation) -> str:
    """The ranking as the annotator saw it: A > C = D > B, labels from their shown order."""
    if annotation.skipped:
        return ""
    labels = {cid: chr(ord("A") + i) for i, cid in enumerate(annotation.shown_order)}
    return " > ".join(
        " = ".join(labels.get(cid, cid) for cid in group) for group in annotation.ranking
    )


@policy_page()
def my_annotations(request, slug, project):
    annotations = list(annotation_list_for_annotator(user=request.user, project=project)[:500])
    rows = [(a, _ranking_labels(a)) for a in annotations]
    return render(request, "annotate/my_annotations.html", {"project": project, "rows": rows})


@policy_page()
def annotation_edit(request, pk):
    annotation = annotation_get_for_annotator(user=request.user, pk=pk)
    if annotation is None:
        raise Http404("No such annotation of yours")
    prompt = annotation.prompt
    project = prompt.project
    task = _task(prompt, annotation.shown_order)
    task["existing"] = {
        "ranking": annotation.ranking,
        "ratings": annotation.ratings,
        "flags": annotation.flags,
        "comment": annotation.comment,
        "skipped": annotation.skipped,
        "skip_reason": annotation.skip_reason,
        "time_ms": annotation.time_ms,
    }
    return render(
        request,
        "annotate/annotate.html",
        {
            "project": project,
            "mode": "edit",
            "annotation": annotation,
            "config": {
                "mode": "edit",
                "rules": _rules(project),
                "task": task,
                "urls": {
                    "update": reverse("annotate:annotation-update", args=[annotation.pk]),
                    "mine": reverse("annotate:my-annotations", args=[project.slug]),
                },
            },
        },
    )


@policy_page(json=True)
def annotation_update_view(request, pk):
    annotation = annotation_get_for_annotator(user=request.user, pk=pk)
    if annotation is None:
        return _error(SubmissionRefused("no_annotation", "No such annotation of yours."))
    try:
        data = _json_body(request)
        updated = annotation_update(annotation=annotation, user=request.user, data=data)
    except (JudgementError, SubmissionRefused) as exc:
        return _error(exc)
    return JsonResponse(
        {"annotation_id": updated.pk, "revisions": updated.revisions.count()}, status=200
    )
