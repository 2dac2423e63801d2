"""``client.projects``: projects, members, imports, prompts, judgements, agreement."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rankwise_client.errors import ApiError, BadRequest, JobFailed, NotFound
from rankwise_client.progress import ProgressLine, bar, human_bytes
from rankwise_client.resources.base import Resource, poll_until, project_slug
from rankwise_client.types import (
    AgreementReport,
    ImportResult,
    Judgement,
    Member,
    Project,
    Prompt,
)

IMPORT_FINISHED = {"succeeded", "failed", "cancelled", "ready"}


class _ProgressReader:
    """A file whose reads report how much of it was sent (httpx reads uploads in chunks)."""

    def __init__(self, f, size: int, line: ProgressLine, label: str):
        self._f, self.size, self.line, self.label = f, size, line, label

    def read(self, n: int = -1) -> bytes:
        chunk = self._f.read(n)
        done = self._f.tell()
        fraction = done / self.size if self.size else 1.0
        self.line.update(f"{self.label} {bar(fraction)} {human_bytes(done)} / "
                         f"{human_bytes(self.size)}")  # fmt: skip
        return chunk

    def seek(self, *args) -> int:
        return self._f.seek(*args)

    def tell(self) -> int:
        return self._f.tell()

    def fileno(self) -> int:
        return self._f.fileno()


def _gone_after_retry(exc: ApiError) -> bool:
    """A DELETE whose first attempt's answer was lost and whose retry finds nothing: done."""
    return isinstance(exc, NotFound) and exc.attempts > 1


class Projects(Resource):
    def list(self) -> list[Project]:
        return [Project.from_api(p, self._client) for p in self._http.paginate("projects/")]

    def get(self, project) -> Project:
        slug = project_slug(project)
        return Project.from_api(self._http.get(f"projects/{slug}/"), self._client)

    def create(self, name: str, slug: str | None = None, **settings: Any) -> Project:
        """Admins. ``settings``: instructions, ties_allowed, require_all_placed, rating_scale,
        flags, overlap, claim_timeout_minutes."""
        body = {"name": name, **settings}
        if slug:
            body["slug"] = slug
        return Project.from_api(self._http.call("POST", "projects/", json=body), self._client)

    def update(self, project, **changes: Any) -> Project:
        data = self._http.call("PATCH", f"projects/{project_slug(project)}/", json=changes)
        return Project.from_api(data, self._client)

    def delete(self, project) -> None:
        try:
            self._http.call("DELETE", f"projects/{project_slug(project)}/")
        except ApiError as exc:
            if not _gone_after_retry(exc):
                raise

    # --- members ---------------------------------------------------------------------------

    def members(self, project) -> list[Member]:
        data = self._http.paginate(f"projects/{project_slug(project)}/members/")
        return [Member.from_api(m, self._client) for m in data]

    def add_members(self, project, usernames: Iterable[str]) -> list[Member]:
        """Admins; adding someone who is already a member changes nothing, so it is retried."""
        data = self._http.call(
            "POST", f"projects/{project_slug(project)}/members/",
            json={"usernames": list(usernames)}, idempotent=True,
        )  # fmt: skip
        return [Member.from_api(m, self._client) for m in data]

    def remove_member(self, project, username: str) -> None:
        try:
            self._http.call("DELETE", f"projects/{project_slug(project)}/members/{username}/")
        except ApiError as exc:
            if not _gone_after_retry(exc):
                raise

    # --- import ----------------------------------------------------------------------------

    def import_file(
        self,
        project,
        path: str | Path,
        *,
        format: str = "rankwise",
        annotator: str | None = None,
        progress: bool = True,
        timeout: float | None = None,
        poll: float = 2.0,
    ) -> ImportResult:
        """Upload a ``.jsonl`` / ``.jsonl.gz`` file (formats: rankwise, pairwise, hh-rlhf,
        oasst...). All or nothing: a file with bad lines imports nothing and raises BadRequest
        whose ``fields`` name each line (``{"line 17": "..."}``). Re-importing a file leaves
        what is already stored unchanged, so the upload is retried like a GET.

        A server that imports in the background answers 202 with a job; it is polled (every
        ``poll`` s, up to ``timeout``) and its result returned the same way."""
        slug = project_slug(project)
        path = Path(path)
        size = path.stat().st_size
        line = ProgressLine(enabled=progress)
        form = {"format": format, **({"annotator": annotator} if annotator else {})}
        with open(path, "rb") as f:
            reader = _ProgressReader(f, size, line, f"uploading {path.name}")
            response = self._http.request(
                "POST", f"projects/{slug}/prompts/import/", data=form,
                files=lambda: {"file": (path.name, reader, "application/octet-stream")},
                idempotent=True,
            )  # fmt: skip
        body = response.json()
        if response.status_code == 202:
            line.update(f"imported {path.name}: the server is processing it", force=True)
            body = self._import_job(response, body, timeout=timeout, poll=poll)
        result = ImportResult.from_api(body, self._client)
        line.close(
            f"imported {path.name}: {result.lines} lines, {result.prompts_created} prompts and "
            f"{result.annotations_created} judgements created, {result.prompts_unchanged} "
            "prompts unchanged"
        )
        return result

    def _import_job(self, response, body: dict, *, timeout, poll) -> dict:
        url = response.headers.get("Location") or body.get("url")
        if not url:
            raise ApiError(202, "no_job_url", "the import was queued but no job URL came back",
                           body=body)  # fmt: skip
        job = poll_until(
            lambda: self._http.get(url),
            finished=lambda j: j.get("status") in IMPORT_FINISHED,
            timeout=timeout, poll=poll,
            describe=lambda j: f"import job {j.get('id')} is {j.get('status')}",
        )  # fmt: skip
        if job.get("status") in ("succeeded", "ready"):
            return job.get("result") or {}
        error = job.get("error")
        if isinstance(error, dict) and error.get("error"):
            raise BadRequest(400, error["error"], str(error.get("detail", "")),
                             fields=error.get("fields"), body=error)  # fmt: skip
        raise JobFailed(job, f"import job {job.get('id')} {job.get('status')}: {error}")

    # --- prompts, judgements, agreement ----------------------------------------------------

    def prompts(self, project, **filters: Any) -> Iterator[Prompt]:
        """Every prompt, oldest first, over as many pages as it takes. Filters: external_id,
        is_gold, annotated, created_after, created_before, page_size."""
        path = f"projects/{project_slug(project)}/prompts/"
        for item in self._http.paginate(path, _query(filters)):
            yield Prompt.from_api(item, self._client)

    def prompt(self, project, prompt_id: int) -> Prompt:
        data = self._http.get(f"projects/{project_slug(project)}/prompts/{int(prompt_id)}/")
        return Prompt.from_api(data, self._client)

    def judgements(self, project, **filters: Any) -> Iterator[Judgement]:
        """Every judgement (annotation), newest first, over as many pages as it takes.
        Filters: annotator, prompt, prompt_external_id, skipped, flag, source, created_after,
        created_before, page_size."""
        path = f"projects/{project_slug(project)}/annotations/"
        for item in self._http.paginate(path, _query(filters)):
            yield Judgement.from_api(item, self._client)

    def agreement(self, project) -> AgreementReport:
        data = self._http.get(f"projects/{project_slug(project)}/agreement/")
        return AgreementReport.from_api(data, self._client)

    def recompute_agreement(self, project) -> None:
        self._http.call("POST", f"projects/{project_slug(project)}/agreement/recompute/")


def _query(filters: dict[str, Any]) -> dict[str, Any]:
    """Query parameters as the API reads them: booleans as true/false, datetimes as ISO."""
    out = {}
    for key, value in filters.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        out[key] = value
    return out
