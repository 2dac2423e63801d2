"""Generate for ranking: a policy writes K completions for new prompts, which are imported into
a project as ranking tasks (the next round of annotation).

Prompts come as a list in the request, not from existing prompts: a prompt row without
completions cannot be completed in place (the import refuses to change an existing prompt's
completions), and a list lets the caller bring fresh prompts for each round.
"""

from __future__ import annotations

import io
import json
import os
import string
import uuid
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotate.constants import MAX_COMPLETIONS, MIN_COMPLETIONS
from annotate.models import Prompt
from annotate.selectors import project_list_for_user
from core import db
from core.dispatch import task_enqueue
from core.heartbeat import Heartbeat, max_attempts, stale_after
from training.configs import base_model_check
from training.models import GenerationJob
from training.selectors import policy_list

MAX_PROMPTS = 1000
ROLES = ("system", "user", "assistant")


def _clean_prompts(raw: Any) -> list[dict]:
    """``[str | {id?, prompt | messages}]`` -> ``[{id?, prompt | messages}]``."""
    if not isinstance(raw, list) or not raw:
        raise ValidationError({"prompts": ["must be a non-empty list"]})
    if len(raw) > MAX_PROMPTS:
        raise ValidationError({"prompts": [f"{len(raw)} prompts; at most {MAX_PROMPTS} a job"]})
    out: list[dict] = []
    for i, item in enumerate(raw):
        where = f"prompts[{i}]"
        if isinstance(item, str):
            item = {"prompt": item}
        if not isinstance(item, dict) or ("prompt" in item) == ("messages" in item):
            raise ValidationError(
                {where: ["a string, or an object with exactly one of prompt or messages"]}
            )
        unknown = set(item) - {"id", "prompt", "messages"}
        if unknown:
            raise ValidationError({f"{where}.{sorted(unknown)[0]}": ["unknown key"]})
        row: dict[str, Any] = {}
        if "id" in item:
            if not isinstance(item["id"], str) or not item["id"].strip() or len(item["id"]) > 200:
                raise ValidationError({f"{where}.id": ["must be a string of 1-200 characters"]})
            row["id"] = item["id"].strip()
        if "prompt" in item:
            if not isinstance(item["prompt"], str) or not item["prompt"].strip():
                raise ValidationError({f"{where}.prompt": ["must be a non-empty string"]})
            row["prompt"] = item["prompt"]
        else:
            messages = item["messages"]
            if not isinstance(messages, list) or not messages:
                raise ValidationError({f"{where}.messages": ["must be a non-empty list"]})
            for j, m in enumerate(messages):
                if not (isinstance(m, dict) and m.get("role") in ROLES
                        and isinstance(m.get("content"), str)):  # fmt: skip
                    raise ValidationError(
                        {f"{where}.messages[{j}]": [f"needs role ({', '.join(ROLES)}) and content"]}
                    )
            if messages[-1]["role"] == "assistant":
                raise ValidationError(
                    {f"{where}.messages": ["must end with a turn the policy answers, not the "
                                           "assistant's"]}
                )  # fmt: skip
            row["messages"] = [{"role": m["role"], "content": m["content"]} for m in messages]
        out.append(row)
    ids = [r["id"] for r in out if "id" in r]
    if len(set(ids)) != len(ids):
        raise ValidationError({"prompts": ["prompt ids must be unique"]})
    return out


def _model_source(user, policy_id, training_run_id, model_path, model_name) -> tuple:
    given = [v is not None for v in (policy_id, training_run_id, model_path)]
    if sum(given) != 1:
        raise ValidationError(
            {"policy": ["give exactly one of policy, training_run or model_path"]}
        )
    if policy_id is not None:
        policy = policy_list(user=user).filter(pk=policy_id).first()
        if policy is None:
            raise ValidationError({"policy": [f"no policy {policy_id} in your projects"]})
        return policy, policy.path, model_name or policy.name
    if training_run_id is not None:
        policy = policy_list(user=user).filter(training_run_id=training_run_id).first()
        if policy is None:
            raise ValidationError(
                {"training_run": [f"no policy registered by run {training_run_id} in your "
                                  "projects (a PPO run registers one when it succeeds)"]}
            )  # fmt: skip
        return policy, policy.path, model_name or policy.name
    base_model_check(model_path, "model_path")
    return None, model_path, model_name or Path(model_path).resolve().name


@transaction.atomic
def generation_job_start(
    *,
    user,
    project_id: int,
    prompts: Any,
    k: int = 4,
    policy_id: int | None = None,
    training_run_id: int | None = None,
    model_path: str | None = None,
    model_name: str = "",
    max_new_tokens: int = 256,
    temperature: float = 0.7,
    top_p: float = 1.0,
    seed: int = 0,
) -> GenerationJob:
    project = project_list_for_user(user=user).filter(pk=project_id).first()
    if project is None:
        raise ValidationError({"project": [f"no project {project_id} among yours"]})
    if not MIN_COMPLETIONS <= k <= MAX_COMPLETIONS:
        raise ValidationError({"k": [f"must be {MIN_COMPLETIONS} to {MAX_COMPLETIONS}"]})
    if max_new_tokens < 1:
        raise ValidationError({"max_new_tokens": ["must be >= 1"]})
    if temperature <= 0:
        raise ValidationError({"temperature": ["must be > 0: K greedy samples would be equal"]})
    if not 0 < top_p <= 1:
        raise ValidationError({"top_p": ["must be in (0, 1]"]})
    rows = _clean_prompts(prompts)
    policy, path, name = _model_source(user, policy_id, training_run_id, model_path, model_name)
    taken = set(
        Prompt.objects.filter(
            project=project, external_id__in=[r["id"] for r in rows if "id" in r]
        ).values_list("external_id", flat=True)
    )
    if taken:
        raise ValidationError(
            {"prompts": [f"ids already in the project: {', '.join(sorted(taken)[:5])}"]}
        )
    job = GenerationJob.objects.create(
        project=project, policy=policy, model_path=path, model_name=name[:200], prompts=rows,
        k=k, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed,
        created_by=user, celery_task_id=str(uuid.uuid4()),
    )  # fmt: skip
    _enqueue(job, require_broker=True)
    return job


def _enqueue(job: GenerationJob, *, require_broker: bool) -> None:
    from training import tasks

    task_enqueue(
        task=tasks.generation_job_execute, args=[job.pk], task_id=job.celery_task_id,
        require_broker=require_broker,
    )  # fmt: skip


def _claim(job_id: int) -> GenerationJob | None:
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != GenerationJob.Status.QUEUED:
            return None  # a redelivered message for a job that already ran or is running
        job.status = GenerationJob.Status.RUNNING
        job.started_at = job.heartbeat_at = timezone.now()
        job.attempts += 1
        job.save(update_fields=["status", "started_at", "heartbeat_at", "attempts"])
        return job


def generation_import_lines(*, job: GenerationJob, completions: list[list[str]]) -> bytes:
    """The generated data as a rankwise import file."""
    out = io.StringIO()
    for n, (row, texts) in enumerate(zip(job.prompts, completions, strict=True)):
        line: dict[str, Any] = {"id": row.get("id") or f"gen{job.pk}-{n}"}
        line.update({k: row[k] for k in ("prompt", "messages") if k in row})
        line["completions"] = [
            {"id": string.ascii_uppercase[j], "text": text, "model": job.model_name}
            for j, text in enumerate(texts)
        ]
        line["metadata"] = {
            "generation_job": job.pk,
            "generator": job.model_name,
            "temperature": job.temperature,
            "top_p": job.top_p,
            "seed": job.seed,
        }
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    return out.getvalue().encode("utf-8")


class GenerationSuperseded(Exception):
    """The reaper wrote this attempt off and queued another; its import must not land."""


def _generate(job: GenerationJob) -> bytes:
    from core.artifacts import artifact_path_resolve
    from rlhf.generate import generate_completions

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    prompts = [row.get("messages") or row["prompt"] for row in job.prompts]
    completions = generate_completions(
        str(artifact_path_resolve(job.model_path)),
        prompts,
        k=job.k,
        max_new_tokens=job.max_new_tokens,
        temperature=job.temperature,
        top_p=job.top_p,
        seed=job.seed,
    )
    return generation_import_lines(job=job, completions=completions)


def generation_job_execute(*, job_id: int) -> str:
    """Generate, then import and mark the job succeeded in one transaction: a worker killed
    at any point leaves either no prompt or the job succeeded, so a re-queued job never
    imports twice. A heartbeat thread keeps ``heartbeat_at`` fresh meanwhile."""
    from annotate.services.imports import prompts_import

    job = _claim(job_id)
    if job is None:
        return "skipped"
    mine = GenerationJob.objects.filter(
        pk=job.pk, attempts=job.attempts, status=GenerationJob.Status.RUNNING
    )
    try:
        with Heartbeat(mine):
            data = _generate(job)
        with transaction.atomic():
            # Lock this attempt's row first: a reaper that wrote it off changed it already.
            if not mine.select_for_update().exists():
                raise GenerationSuperseded(f"generation job {job.pk}: another attempt took over")
            result = prompts_import(
                project=job.project, source=io.BytesIO(data), fmt="rankwise",
                actor=job.created_by,
            )  # fmt: skip
            mine.update(
                status=GenerationJob.Status.SUCCEEDED,
                result=result.as_dict(),
                finished_at=timezone.now(),
            )
    except GenerationSuperseded:
        return "skipped"
    except Exception as exc:
        mine.update(
            status=GenerationJob.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:4000],
            finished_at=timezone.now(),
        )
        return GenerationJob.Status.FAILED
    return GenerationJob.Status.SUCCEEDED


def generation_jobs_reap_stale(*, now=None) -> dict[str, list[int]]:
    """Jobs whose worker stopped heartbeating for ``TASK_STALE_SECONDS`` go back to the
    queue (a new task id), or fail with the reason after ``TASK_MAX_ATTEMPTS`` attempts."""
    now = now or timezone.now()
    cutoff = now - stale_after()
    stale = GenerationJob.objects.filter(status=GenerationJob.Status.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    outcome: dict[str, list[int]] = {"requeued": [], "failed": []}
    for job in db.each_unlocked_row(stale):
        since = job.heartbeat_at or job.started_at
        note = f"no heartbeat since {since:%Y-%m-%d %H:%M:%S} UTC: worker presumed lost"
        if job.attempts < max_attempts():
            job.status = GenerationJob.Status.QUEUED
            job.error = f"{note}; re-queued (attempt {job.attempts} lost)"
            job.celery_task_id = str(uuid.uuid4())
            job.save(update_fields=["status", "error", "celery_task_id"])
            _enqueue(job, require_broker=False)
            outcome["requeued"].append(job.pk)
        else:
            job.status = GenerationJob.Status.FAILED
            job.error = f"{note} after {job.attempts} attempts"
            job.finished_at = now
            job.save(update_fields=["status", "error", "finished_at"])
            outcome["failed"].append(job.pk)
    return outcome
