"""Pages: the runs list, a run's live page (which polls the JSON API for progress) and the
"New run" form of a project (which starts a run through the API's service).

ML engineers and admins (core.policy); each lists or finds only what belongs to the
user's projects, as the API does."""

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from annotate.selectors import project_list_for_user
from core.policy import ADMIN, has_any_role, policy_page
from rewardmodel.selectors import reward_model_list
from training import run_form, selectors, services
from training.configs import PPO, REWARD_MODEL
from training.reproduce import run_cli_command, run_python_snippet

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
            "projects": project_list_for_user(user=user),
        },
    )


@policy_page()
def run_detail(request, pk: int):
    run = selectors.training_run_get(user=request.user, pk=pk)
    if run is None:
        raise Http404("No such training run")
    samples_by_step = selectors.training_run_samples_by_step(run=run)
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
            "eval_change": selectors.training_run_eval_change(samples_by_step=samples_by_step),
            "reproduce_python": run_python_snippet(run),
            "reproduce_cli": run_cli_command(run),
        },
    )


def _int_or_none(value: str | None) -> int | str | None:
    value = (value or "").strip()
    if not value:
        return None
    return int(value) if value.isdigit() else value


IN_PLACE = ("base_model", "snapshot", "reward_model")  # fields showing their own errors


def _shown(option, kind: str, data):
    """What a submitted option's field shows again: the text as typed (a checkbox: ticked)."""
    key = f"{kind}.{option.name}"
    return key in data if option.type == "bool" else data.get(key, "")


def _errors_by_field(exc: ValidationError) -> dict[str, list[str]]:
    """The service's errors keyed as the API keys them (``config.<key>``, ``snapshot``...)."""
    if hasattr(exc, "error_dict"):
        return {key: [str(m) for e in errors for m in e.messages]
                for key, errors in exc.error_dict.items()}  # fmt: skip
    return {"form": exc.messages}


def _form_values(data) -> dict:
    return {
        "name": data.get("name", ""),
        "base_model": data.get("base_model", ""),
        "snapshot": _int_or_none(data.get("snapshot")),
        "reward_model": _int_or_none(data.get("reward_model")),
        "prompt_source": data.get("prompt_source", "project"),
    }


def _start(request, project, kind: str, values: dict, config: dict):
    """``services.training_run_start`` with what the form holds: (the run, {}) or (None, the
    errors keyed by field)."""
    ppo_from_project = kind == PPO and values["prompt_source"] == "project"
    try:
        base_model = run_form.base_model_pick(values["base_model"])
        for key in ("snapshot", "reward_model"):
            if isinstance(values[key], str):
                raise ValidationError({key: ["must be an id"]})
        run = services.training_run_start(
            user=request.user, kind=kind, name=values["name"], base_model=base_model,
            config=config,
            snapshot_id=None if ppo_from_project else values["snapshot"],
            reward_model_id=values["reward_model"] if kind == PPO else None,
            prompt_project_id=project.pk if ppo_from_project else None,
        )  # fmt: skip
    except ValidationError as exc:
        return None, _errors_by_field(exc)
    return run, {}


def _options(kind: str, data, posted: bool, config_errors: dict) -> dict:
    """Each kind's option fields with the value to show and their errors; the errors shown are
    taken out of config_errors, so what is left there is shown apart."""
    return {
        k: [
            {"o": o, "value": _shown(o, k, data) if k == kind and posted else o.default,
             "errors": config_errors.pop(o.name, []) if k == kind else []}
            for o in run_form.run_form_options(k)
        ]
        for k in (REWARD_MODEL, PPO)
    }  # fmt: skip


def _request_json(kind: str, values: dict, config: dict, project) -> str:
    """The API request the form stands for, shown for copy-paste."""
    return run_form.run_form_request(
        kind=kind,
        name=values["name"],
        base_model=values["base_model"],
        config=config,
        snapshot=values["snapshot"]
        if isinstance(values["snapshot"], int)
        and (kind == REWARD_MODEL or values["prompt_source"] == "snapshot")
        else None,
        reward_model=values["reward_model"]
        if kind == PPO and isinstance(values["reward_model"], int)
        else None,
        prompt_project=project.pk if kind == PPO and values["prompt_source"] == "project" else None,
    )


@policy_page()
def run_new(request, slug: str, project):
    """GET: the form. POST: ``services.training_run_start`` (the API's service) with what the
    form holds; its errors are shown next to the fields they name."""
    posted = request.method == "POST"
    data = request.POST if posted else request.GET
    kind = data.get("kind") if data.get("kind") in (REWARD_MODEL, PPO) else REWARD_MODEL
    errors: dict[str, list[str]] = {}
    values = _form_values(data)
    # Before the first submit the form shows, and the JSON holds, every option's default.
    config = (run_form.run_form_config(kind, data) if posted
              else {o.name: o.default for o in run_form.run_form_options(kind)})  # fmt: skip
    if posted:
        run, errors = _start(request, project, kind, values, config)
        if run is not None:
            messages.success(request, f"Run {run.pk} queued.")
            return redirect("training:run-detail", pk=run.pk)
    context = selectors.run_form_context(user=request.user, project=project)
    config_errors = {k.split(".", 1)[1]: v for k, v in errors.items() if k.startswith("config.")}
    options = _options(kind, data, posted, config_errors)
    return render(
        request,
        "training/run_new.html",
        {
            **context,
            "project": project,
            "kind": kind,
            "values": values,
            "config": config,
            "options": options,
            "base_models": run_form.base_model_choices(),
            "model_roots": run_form.model_roots(),
            "errors": errors,
            "config_errors": config_errors,  # those of options the form does not show
            # Errors no field of the form shows next to itself, named as the API names them.
            "general_errors": [
                (key, "; ".join(msgs))
                for key, msgs in errors.items()
                if key not in IN_PLACE and not key.startswith("config.")
            ],
            "can_snapshot": has_any_role(request.user, ADMIN),
            "request_json": _request_json(kind, values, config, project),
        },
        status=400 if errors else 200,
    )


@policy_page()
def run_new_snapshot(request, slug: str, project):
    """Admins: queue a rankings snapshot of the project for the form (the API's service)."""
    from exports.services import snapshot_create

    snapshot = snapshot_create(project=project, fmt="rankings", options={"seed": 0},
                               user=request.user)  # fmt: skip
    messages.success(request, f"Snapshot {snapshot.pk} is being built; it appears in the "
                     "list when it is ready (reload the page).")  # fmt: skip
    return redirect(reverse("training:run-new", args=[project.slug]))
