"""Pages: the runs list and a run's live page (which polls the JSON API for progress).

ML engineers and admins (annotate.api.policy); each lists or finds only what belongs to the
user's projects, as the API does."""

import json

from django.http import Http404
from django.shortcuts import render
from django.urls import reverse

from annotate.api.policy import policy_page
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


@policy_page()
def run_list(request):
    user = request.user
    return render(
        request,
        "training/run_list.html",
        {
            "runs": selectors.training_run_list(user=user)[:200],
            "reward_models": reward_model_list(user=user)[:50],
            "policies": selectors.policy_list(user=user)[:50],
        },
    )


@policy_page()
def run_detail(request, pk: int):
    run = selectors.training_run_get(user=request.user, pk=pk)
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
