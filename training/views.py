"""Pages: the runs list and a run's live page (which polls the JSON API for progress)."""

import json

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse

from rewardmodel.selectors import reward_model_list
from training import selectors

# What each kind's charts plot: (title, metric keys drawn in it).
CHARTS = {
    "reward_model": [("Loss", ["loss"]), ("Pair accuracy", ["accuracy"])],
    "ppo": [
        ("Reward", ["score", "eval_score"]),
        ("KL to reference", ["kl", "eval_kl"]),
        ("Entropy", ["entropy"]),
    ],
}


def _require_trainer(request):
    if not selectors.user_can_train(request.user):
        raise PermissionDenied("Training pages are for ML engineers and admins.")


@login_required
def run_list(request):
    _require_trainer(request)
    return render(
        request,
        "training/run_list.html",
        {
            "runs": selectors.training_run_list()[:200],
            "reward_models": reward_model_list()[:50],
            "policies": selectors.policy_list()[:50],
        },
    )


@login_required
def run_detail(request, pk: int):
    _require_trainer(request)
    run = selectors.training_run_get(pk)
    if run is None:
        raise Http404("No such training run")
    samples_by_step = selectors.training_run_samples_by_step(run)
    return render(
        request,
        "training/run_detail.html",
        {
            "run": run,
            "api": {
                name: reverse(f"api:training-run-{name}", args=[run.pk])
                for name in ("detail", "metrics", "cancel", "resume")
            },
            "charts": CHARTS[run.kind],
            "config_json": json.dumps(run.resolved_config or run.config, indent=2),
            "card_json": json.dumps(run.card, indent=2) if run.card else "",
            "result_json": json.dumps(run.result, indent=2) if run.result else "",
            "samples_by_step": samples_by_step,
            "eval_change": selectors.training_run_eval_change(samples_by_step),
        },
    )
