"""``client.tasks``: the annotator's flow (``/api/v1/projects/{slug}/tasks/...``).

Claim a task, rank it in the letters shown, submit and get the next one in the same round trip
(``next=True``), prefetch the one after (``peek``, then ``prefer=``), extend a reservation.
Each call acts for the token's user, who must be an annotator of the project.
"""

from __future__ import annotations

from typing import Any

from rankwise_client.resources.base import Resource, project_slug
from rankwise_client.types.tasks import Ranking, Submitted, Task, ranking_from_letters


def _task(data: dict | None, client, slug: str) -> Task | None:
    if data is None:
        return None
    task = Task.from_api(data, client)
    task.project = slug
    return task


def _where(task: Task | int, project) -> tuple[str, int]:
    """(project slug, prompt id) of a Task, or of a prompt id and ``project``."""
    if isinstance(task, Task):
        slug = task.project or (project_slug(project) if project is not None else "")
        if not slug:
            raise TypeError("this Task does not know its project: pass project=")
        return slug, int(task.prompt_id)
    if project is None:
        raise TypeError("a prompt id needs project=")
    return project_slug(project), int(task)


def _query(next: bool, prefer) -> dict[str, Any]:
    if not next:
        if prefer is not None:
            raise ValueError("prefer= only goes with next=True")
        return {}
    query: dict[str, Any] = {"next": "1"}
    if prefer is not None:
        query["prefer"] = int(getattr(prefer, "prompt_id", prefer))
    return query


class Tasks(Resource):
    def next(self, project) -> Task | None:
        """Claim your next task (or get back the one you hold); None when nothing is left.
        Retried like a GET: asking again returns the task already claimed."""
        slug = project_slug(project)
        data = self._http.call("POST", f"projects/{slug}/tasks/next/", idempotent=True)
        return _task(data, self._client, slug)

    def peek(self, project) -> Task | None:
        """A preview of the task you would most likely get after the one you hold, not claimed
        (no reservation); pass it as ``prefer=`` when submitting to claim it with the same
        letters. None when nothing else is open to you."""
        slug = project_slug(project)
        return _task(self._http.get(f"projects/{slug}/tasks/peek/"), self._client, slug)

    def extend(self, task: Task | int, *, project=None) -> Task:
        """Reserve the task for another claim timeout from now (409 ``claim_lost`` if it ran
        out and others filled the prompt meanwhile)."""
        slug, prompt_id = _where(task, project)
        data = self._http.call(
            "POST", f"projects/{slug}/tasks/{prompt_id}/extend/", idempotent=True
        )
        return _task(data, self._client, slug)

    def submit(
        self,
        task: Task | int,
        ranking: str | list,
        *,
        project=None,
        ratings: dict[str, int] | None = None,
        flags: dict[str, list[str]] | None = None,
        comment: str | None = None,
        time_ms: int | None = None,
        next: bool = False,
        prefer: Task | int | None = None,
    ) -> Submitted:
        """Store your ranking of the task. ``ranking``: tie groups of completion ids, or, for a
        Task, a string in the letters shown (``"A > C = D > B"``); ``ratings`` and ``flags``
        are then keyed by letter too, else by completion id. With ``next=True`` the answer's ``next`` is your
        next task, claimed (``prefer=``: the task ``peek`` previewed). Sent once, never retried:
        after a lost answer, ``client.projects.judgements(...)`` tells whether it was stored."""
        slug, prompt_id = _where(task, project)
        body: dict[str, Any] = {"ranking": self._ids(task, ranking)}
        if isinstance(task, Task):
            body["shown_order"] = list(task.shown_order)
        # In letters throughout, or in completion ids throughout: ids may themselves be "A".
        by_letter = {c.label: c.id for c in task.completions} if isinstance(ranking, str) else {}
        for key, value in (("ratings", ratings), ("flags", flags)):
            if value is not None:
                body[key] = {by_letter.get(k.upper(), k) if by_letter else k: v
                             for k, v in value.items()}  # fmt: skip
        if comment is not None:
            body["comment"] = comment
        if time_ms is not None:
            body["time_ms"] = time_ms
        return self._post(slug, f"tasks/{prompt_id}/submit/", body, next, prefer)

    def skip(
        self, task: Task | int, reason: str, *, project=None, time_ms: int | None = None,
        next: bool = False, prefer: Task | int | None = None,
    ) -> Submitted:  # fmt: skip
        """Skip the task with a reason; you never get it again. ``next``/``prefer`` as for
        ``submit``."""
        slug, prompt_id = _where(task, project)
        body: dict[str, Any] = {"reason": reason}
        if time_ms is not None:
            body["time_ms"] = time_ms
        return self._post(slug, f"tasks/{prompt_id}/skip/", body, next, prefer)

    # ---------------------------------------------------------------------------------------

    def _post(self, slug: str, path: str, body: dict, next: bool, prefer) -> Submitted:
        data = self._http.call(
            "POST", f"projects/{slug}/{path}", json=body, params=_query(next, prefer) or None
        )
        submitted = Submitted.from_api(data, self._client)
        if submitted.next is not None:
            submitted.next.project = slug
        return submitted

    @staticmethod
    def _ids(task, ranking) -> Ranking:
        if isinstance(ranking, str):
            if not isinstance(task, Task):
                raise TypeError("a ranking in letters needs the Task (its letters)")
            return ranking_from_letters(ranking, task.letters)
        return [list(g) if isinstance(g, list | tuple) else [g] for g in ranking]
