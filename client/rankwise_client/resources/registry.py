"""``client.reward_models``, ``client.policies``, ``client.generations``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rankwise_client.errors import JobFailed
from rankwise_client.resources.base import Resource, object_id, poll_until
from rankwise_client.types import GenerationJob, Policy, RewardModel


class RewardModels(Resource):
    def list(self) -> Iterator[RewardModel]:
        for item in self._http.paginate("reward-models/"):
            yield RewardModel.from_api(item, self._client)

    def get(self, reward_model) -> RewardModel:
        data = self._http.get(f"reward-models/{object_id(reward_model, 'reward_model')}/")
        return RewardModel.from_api(data, self._client)

    def score(self, reward_model, prompt: Any, completions: list[str]) -> list[float]:
        """Rewards of ``completions`` for ``prompt`` (text, or ``[{"role", "content"}]``).
        Scoring writes nothing, so it is retried like a GET."""
        return self.score_many(reward_model, [{"prompt": prompt, "completions": completions}])[0]

    def score_many(self, reward_model, items: list[dict]) -> list[list[float]]:
        """``items``: ``[{"prompt", "completions"}, ...]`` (at most 64, 512 completions in
        all); the rewards of each item's completions, in order."""
        data = self._http.call(
            "POST", f"reward-models/{object_id(reward_model, 'reward_model')}/score/",
            json={"items": list(items)}, idempotent=True,
        )  # fmt: skip
        return [list(item["scores"]) for item in data["items"]]


class Policies(Resource):
    def list(self) -> Iterator[Policy]:
        for item in self._http.paginate("policies/"):
            yield Policy.from_api(item, self._client)

    def get(self, policy) -> Policy:
        return Policy.from_api(
            self._http.get(f"policies/{object_id(policy, 'policy')}/"), self._client
        )


class Generations(Resource):
    def create(
        self,
        project,
        prompts: list,
        *,
        k: int = 4,
        policy=None,
        training_run=None,
        model_path: str | None = None,
        model_name: str = "",
        max_new_tokens: int = 256,
        temperature: float = 0.7,
        top_p: float = 1.0,
        seed: int = 0,
    ) -> GenerationJob:
        """Sample ``k`` completions per prompt with a policy (exactly one of ``policy``,
        ``training_run`` (a PPO run) or ``model_path``) and import them into ``project`` as
        new ranking tasks: the next round. ``prompts``: strings, or ``{"id"?, "prompt" |
        "messages"}``. Not retried (each call queues a job)."""
        body: dict[str, Any] = {
            "project": self._client.project_id(project),
            "prompts": list(prompts),
            "k": k,
            "model_name": model_name,
            "max_new_tokens": max_new_tokens,
            "temperature": temperature,
            "top_p": top_p,
            "seed": seed,
        }
        if policy is not None:
            body["policy"] = object_id(policy, "policy")
        if training_run is not None:
            body["training_run"] = object_id(training_run, "training_run")
        if model_path is not None:
            body["model_path"] = str(model_path)
        return GenerationJob.from_api(
            self._http.call("POST", "generations/", json=body), self._client
        )

    def get(self, job) -> GenerationJob:
        data = self._http.get(f"generations/{object_id(job, 'generation job')}/")
        return GenerationJob.from_api(data, self._client)

    def list(self) -> Iterator[GenerationJob]:
        for item in self._http.paginate("generations/"):
            yield GenerationJob.from_api(item, self._client)

    def wait(self, job, *, timeout: float | None = None, poll: float = 2.0) -> GenerationJob:
        """Poll until the job ends; a failed job raises JobFailed (nothing was imported)."""
        jid = object_id(job, "generation job")
        done = poll_until(
            lambda: self.get(jid), finished=lambda j: j.status in GenerationJob.FINISHED,
            timeout=timeout, poll=poll, describe=lambda j: f"generation job {j.id} is {j.status}",
        )  # fmt: skip
        if done.status != "succeeded":
            raise JobFailed(done, f"generation job {jid} {done.status}: {done.error}")
        return done
