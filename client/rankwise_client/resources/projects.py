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
    ImportJob,
    ImportResult,
    Judgement,
    Member,
    Project,
    Prompt,
)


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
        (``invalid_import``) whose ``fields`` name each line (``{"line 17": "..."}``).
        Re-importing a file leaves what is already stored unchanged, so the upload is retried
        like a GET.

        A file too large to import in the request (over the server's
        RANKWISE_IMPORT_SYNC_MAX_BYTES once decompressed) becomes an import job on the worker
        (202): it is followed (every ``poll`` s, up to ``timeout``) and ends the same way, with
        the ImportResult or the BadRequest."""
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
        if response.status_code == 202:
            job = ImportJob.from_api(response.json(), self._client)
            job = self._follow(job, response.headers.get("Location") or job.url, line,
                               timeout=timeout, poll=poll)  # fmt: skip
            result = job.result or ImportResult()
        else:
            result = ImportResult.from_api(response.json(), self._client)
        line.close(
            f"imported {path.name}: {result.lines} lines, {result.prompts_created} prompts and "
            f"{result.annotations_created} judgements created, {result.prompts_unchanged} "
            "prompts unchanged"
        )
        return result

    def _follow(self, job: ImportJob, url: str, line: ProgressLine, *, timeout, poll) -> ImportJob:
        def show(j: ImportJob) -> None:
            line.update(f"import job {j.id} {j.status}: {j.lines_read} lines read, "
                        f"{j.prompts_created} prompts created")  # fmt: skip

        job = poll_until(
            lambda: ImportJob.from_api(self._http.get(url), self._client),
            finished=lambda j: j.status in ImportJob.FINISHED,
            timeout=timeout, poll=poll, on_update=show,
            describe=lambda j: f"import job {j.id} is {j.status}",
        )  # fmt: skip
        if job.status == "succeeded":
            return job
        return _raise_import_failed(job)

    def import_jobs(self, project) -> Iterator[ImportJob]:
        """The project's import jobs, newest first (admins)."""
        for item in self._http.paginate(f"projects/{project_slug(project)}/imports/"):
            yield ImportJob.from_api(item, self._client)

    def import_job(self, project, job_id: int) -> ImportJob:
        data = self._http.get(f"projects/{project_slug(project)}/imports/{int(job_id)}/")
        return ImportJob.from_api(data, self._client)

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


def _raise_import_failed(job: ImportJob):
    """A failed import job as the 400 the same file would have had in the request; a job the
    worker could not finish (no line to blame) as JobFailed."""
    errors = [e for e in job.errors if isinstance(e, dict)]
    if not any(e.get("line") is not None or e.get("field") for e in errors):
        reason = "; ".join(str(e.get("message")) for e in errors) or "no reason given"
        raise JobFailed(job, f"import job {job.id} failed: {reason}")
    fields: dict[str, str] = {}
    for e in errors:
        key = f"line {e['line']}" if e.get("line") is not None else str(e.get("field"))
        named = e.get("line") is not None and e.get("field")
        message = f"{e['field']}: {e.get('message')}" if named else str(e.get("message"))
        fields[key] = f"{fields[key]}; {message}" if key in fields else message
    more = " (more not shown)" if job.errors_truncated else ""
    detail = f"Nothing was imported: {job.error_count or len(errors)} line(s) have errors{more}."
    raise BadRequest(400, "invalid_import", detail, fields=fields, body=job.raw)
