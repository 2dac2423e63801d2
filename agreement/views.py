"""The agreement dashboard and the review pages: reviewers (and admins) of the project, as
core.policy rules; ``policy_page`` hands each view the project."""

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render

from agreement.selectors import (
    annotator_rows,
    headline_rows,
    project_report_get,
    prompt_review_get,
    review_queue_count,
    review_queue_list,
)
from agreement.services import project_agreement_schedule, prompt_adjudicate
from annotate.judgements import JudgementError
from annotate.models import Prompt
from core.policy import policy_page


@policy_page()
def dashboard(request, slug, project):
    report = project_report_get(project)
    return render(
        request,
        "agreement/dashboard.html",
        {
            "project": project,
            "report": report,
            "headline": headline_rows(report),
            "annotators": annotator_rows(report),
            "queue_count": review_queue_count(project),
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
        {"project": project, "entries": review_queue_list(project)},
    )


class AdjudicationForm(forms.Form):
    """One rank field per completion: 1 is best, equal numbers are ties."""

    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, completion_ids, initial_ranks=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.completion_ids = completion_ids
        for cid in completion_ids:
            self.fields[f"rank_{cid}"] = forms.IntegerField(
                min_value=1,
                max_value=len(completion_ids),
                label=cid,
                initial=(initial_ranks or {}).get(cid),
            )

    def ranking(self) -> list[list[str]]:
        ranks = {cid: self.cleaned_data[f"rank_{cid}"] for cid in self.completion_ids}
        return [
            [cid for cid in self.completion_ids if ranks[cid] == r]
            for r in sorted(set(ranks.values()))
        ]


@policy_page()
def review_prompt(request, slug, prompt_id, project):
    prompt = get_object_or_404(Prompt, pk=prompt_id, project=project)
    data = prompt_review_get(prompt)
    form = AdjudicationForm(
        request.POST or None,
        completion_ids=data["completion_ids"],
        initial_ranks=data["consensus_rank"],
    )
    if request.method == "POST" and form.is_valid():
        try:
            prompt_adjudicate(
                prompt=prompt,
                reviewer=request.user,
                ranking=form.ranking(),
                comment=form.cleaned_data["comment"],
            )
        except JudgementError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Adjudicated {prompt.external_id}.")
            return redirect("agreement:review-queue", slug=project.slug)
    return render(
        request,
        "agreement/review_prompt.html",
        {"project": project, "form": form, **data},
    )
