"""Import a JSONL file of prompts, completions and judgements into a project.

The file is streamed in batches (memory stays bounded) inside one transaction: a file with
any bad line is rolled back whole and reported with every bad line's number and field.
Re-importing a file changes nothing: prompts are matched by external id, judgements by
(prompt, annotator).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from annotate.imports.formats import FORMATS
from annotate.imports.reader import iter_json_lines
from annotate.imports.records import LineError, PromptRecord, content_digest
from annotate.imports.validate import validate_record
from annotate.judgements import JUDGEMENT_FIELDS, JudgementRules
from annotate.models import Annotation, AnnotationRevision, Completion, Project, Prompt
from annotate.rendering import messages_html, text_html
from annotate.services.queue import prompt_counters_refresh
from annotate.services.users import annotators_get_or_create
from core.db import allocate_ids, insert_rows
from core.errors import ServiceError
from core.events import PROMPTS_IMPORTED, event_publish
from core.services import audit_event_record

Source = str | Path | BinaryIO
logger = logging.getLogger(__name__)


class ImportFailed(ServiceError):
    """Nothing was imported: the API lists each bad line (``fields`` by line, ``errors`` in full)."""

    code = "invalid_import"

    def __init__(self, errors: list[LineError], truncated: bool = False):
        self.errors = errors
        self.truncated = truncated
        more = " (more errors not shown)" if truncated else ""
        super().__init__("\n".join(str(e) for e in errors) + more)

    def api_detail(self) -> str:
        more = " (more not shown)" if self.truncated else ""
        return f"Nothing was imported: {len(self.errors)} line(s) have errors{more}."

    def api_fields(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        for err in self.errors:
            key = f"line {err.line}" if err.line is not None else err.field
            message = (
                err.message if err.line is None or not err.field else f"{err.field}: {err.message}"
            )
            fields[key] = f"{fields[key]}; {message}" if key in fields else message
        return fields

    def api_extra(self) -> dict:
        errors = [{"line": e.line, "field": e.field, "message": e.message} for e in self.errors]
        return {"errors": errors, "truncated": self.truncated}


@dataclass
class ImportResult:
    lines: int = 0
    prompts_created: int = 0
    prompts_unchanged: int = 0
    completions_created: int = 0
    annotations_created: int = 0
    annotations_unchanged: int = 0
    annotators: set[str] = field(default_factory=set)

    def as_dict(self) -> dict:
        data = {k: v for k, v in self.__dict__.items() if k != "annotators"}
        data["annotators"] = len(self.annotators)
        return data


def _records(source: Source, fmt: str, annotator: str | None) -> Iterator[PromptRecord | LineError]:
    """Parsed records in file order; a bad line yields its LineError and parsing goes on."""
    parser = FORMATS[fmt]
    for line_no, obj in iter_json_lines(source):
        if isinstance(obj, LineError):
            yield obj
            continue
        try:
            records = list(parser(obj, annotator=annotator))
        except LineError as exc:
            exc.line = line_no
            yield exc
            continue
        for record in records:
            record.line = line_no
            yield record


def _stored_digests(project: Project, external_ids: list[str]) -> dict[str, bytes]:
    # Plain tuples, not model instances: a re-import compares every prompt of the file.
    prompts = {
        pid: (external_id, text, messages)
        for pid, external_id, text, messages in Prompt.objects.filter(
            project=project, external_id__in=external_ids
        ).values_list("id", "external_id", "text", "messages")
    }
    completions: dict[int, list[tuple[str, str]]] = {pid: [] for pid in prompts}
    for pid, cid, text in (
        Completion.objects.filter(prompt_id__in=prompts)
        .order_by("prompt_id", "position")
        .values_list("prompt_id", "external_id", "text")
    ):
        completions[pid].append((cid, text))
    return {
        external_id: content_digest(text, messages, completions[pid])
        for pid, (external_id, text, messages) in prompts.items()
    }


class _Rollback(Exception):
    """Raised inside the import transaction so that a file with errors leaves nothing behind."""


@dataclass(frozen=True)
class ImportProgress:
    lines_read: int
    errors: int
    prompts_created: int


ProgressCallback = Callable[[ImportProgress], None]
PROGRESS_EVERY_LINES = 1000


class _FileImport:
    """The state of one import while its file streams through: counts, errors, a batch."""

    def __init__(self, *, project, actor, max_errors: int, progress: ProgressCallback | None):
        self.project = project
        self.actor = actor
        self.max_errors = max_errors
        self.progress = progress
        self.rules = JudgementRules.for_project(project)
        self.result = ImportResult()
        self.errors: list[LineError] = []
        self.seen: dict[str, tuple[int, bytes]] = {}
        self.batch: list[PromptRecord] = []
        self.last_line = 0
        self.reported_line = 0

    def add(self, record: PromptRecord | LineError) -> None:
        self.last_line = max(self.last_line, record.line or 0)
        if isinstance(record, LineError):
            self.errors.append(record)
            return
        try:
            validate_record(record, self.rules)
        except LineError as exc:
            self.errors.append(exc)
            return
        digest = record.digest()
        if record.external_id in self.seen:
            first_line, first_digest = self.seen[record.external_id]
            if first_digest != digest:
                self.errors.append(LineError(
                    "id", f"{record.external_id!r} is used on line {first_line} for "
                    "another prompt", record.line))  # fmt: skip
            return  # an identical repeated line is a no-op
        self.seen[record.external_id] = (record.line, digest)
        self.batch.append(record)
        if len(self.batch) >= settings.RANKWISE_IMPORT_BATCH_SIZE:
            self.flush()
        elif self.last_line - self.reported_line >= PROGRESS_EVERY_LINES:
            self.report()

    def flush(self) -> None:
        if not self.batch:
            return
        self.errors.extend(_conflicts_with_database(self.project, self.batch))
        if not self.errors:
            try:
                # A savepoint: a refusal the checks above missed must not poison the
                # transaction, so the rest of the file is still checked and reported.
                with transaction.atomic():
                    _write_batch(self.project, self.batch, self.actor, self.result)
            except DatabaseError as exc:
                logger.exception("import into %s: the database refused a batch", self.project)
                first, last = self.batch[0].line, self.batch[-1].line
                reason = (str(exc).splitlines() or [type(exc).__name__])[0]
                message = f"the database refused the lines {first} to {last}: {reason}"
                self.errors.append(LineError("", message, first))
        self.batch.clear()
        self.report()

    def report(self) -> None:
        self.reported_line = self.last_line
        if self.progress is not None:
            self.progress(ImportProgress(
                self.last_line, len(self.errors), self.result.prompts_created))  # fmt: skip

    @property
    def full(self) -> bool:
        return len(self.errors) >= self.max_errors


def prompts_import(
    *,
    project: Project,
    source: Source,
    fmt: str = "rankwise",
    annotator: str | None = None,
    actor=None,
    max_errors: int = 20,
    progress: ProgressCallback | None = None,
    label: str = "",
) -> ImportResult:
    """Import a whole file atomically, or raise ImportFailed naming every bad line.

    One pass, one transaction: each batch is validated (shape, judgements against the
    project's rules, ids repeated in the file, ids already stored with other content) and
    written; after the first error nothing more is written, the rest of the file is still
    validated so the report is complete, and the transaction is rolled back. Parsing the file
    once instead of twice halves the cost of a large import. ``progress`` is called every
    batch or thousand lines; ``label`` names the file in the audit log.
    """
    if fmt not in FORMATS:
        raise ImportFailed(
            [LineError("format", f"unknown format {fmt!r}; use {', '.join(FORMATS)}")]
        )
    state = _FileImport(project=project, actor=actor, max_errors=max_errors, progress=progress)
    try:
        with transaction.atomic():
            for record in _records(source, fmt, annotator):
                if state.full:
                    break
                state.add(record)
            state.flush()
            if state.errors:
                raise _Rollback
            state.result.lines = len(state.seen)
            _audit_import(project=project, actor=actor, fmt=fmt, label=label, result=state.result)
    except _Rollback:
        errors = sorted(state.errors, key=lambda e: e.line or 0)
        raise ImportFailed(errors, truncated=state.full) from None
    result = state.result
    if result.prompts_created or result.annotations_created:
        # Imported judgements change agreement and consensus (a recompute follows the
        # commit); new prompts reopen the queue (webhooks re-arms queue.empty).
        event_publish(
            PROMPTS_IMPORTED, project_id=project.pk, prompts_created=result.prompts_created,
            judgements_created=result.annotations_created,
        )  # fmt: skip
    return result


def _audit_import(*, project, actor, fmt: str, label: str, result: ImportResult) -> None:
    audit_event_record(
        action="project.import", obj=project, project=project, actor=actor,
        after={"file": label, "format": fmt, **result.as_dict()},
    )  # fmt: skip


def _conflicts_with_database(project: Project, batch: list[PromptRecord]) -> list[LineError]:
    stored = _stored_digests(project, [r.external_id for r in batch])
    return [
        LineError(
            "completions",
            f"prompt {r.external_id!r} already exists with other content "
            "(import it under a new id, or edit it in the admin)",
            r.line,
        )
        for r in batch
        if r.external_id in stored and stored[r.external_id] != r.digest()
    ]


def _write_batch(project: Project, batch: list[PromptRecord], actor, result: ImportResult) -> None:
    now = timezone.now()
    existing = dict(
        Prompt.objects.filter(
            project=project, external_id__in=[r.external_id for r in batch]
        ).values_list("external_id", "id")
    )
    new = [r for r in batch if r.external_id not in existing]
    result.prompts_unchanged += len(batch) - len(new)

    prompt_ids = allocate_ids(Prompt, len(new))
    insert_rows(
        Prompt,
        ["id", "project", "external_id", "text", "html", "messages", "messages_html", "metadata",
         "is_gold", "gold_ranking", "submitted_count", "created_at"],
        ((pid, project.pk, r.external_id, r.text, text_html(r.text) if r.text else "",
          r.messages, messages_html(r.messages), r.metadata,
          r.gold_ranking is not None, r.gold_ranking,
          sum(not a.data["skipped"] for a in r.annotations), now)
         for pid, r in zip(prompt_ids, new, strict=True)),
    )  # fmt: skip
    # Rendered once here (not on every next-task request): annotate.rendering.
    completion_rows = [
        (pid, c.external_id, pos, c.text, text_html(c.text), c.model_name, c.metadata)
        for pid, r in zip(prompt_ids, new, strict=True)
        for pos, c in enumerate(r.completions)
    ]
    insert_rows(
        Completion,
        ["prompt", "external_id", "position", "text", "html", "model_name", "metadata"],
        completion_rows,
    )  # fmt: skip
    result.prompts_created += len(new)
    result.completions_created += len(completion_rows)
    known_ids = set(existing.values())
    existing.update({r.external_id: pid for pid, r in zip(prompt_ids, new, strict=True)})

    wanted = [(existing[r.external_id], a) for r in batch for a in r.annotations]
    if not wanted:
        return
    users = annotators_get_or_create(usernames={a.annotator for _, a in wanted}, project=project)
    result.annotators.update(users)
    already = set(
        Annotation.objects.filter(prompt_id__in={pid for pid, _ in wanted}).values_list(
            "prompt_id", "annotator_id"
        )
    )
    fresh = [(pid, a) for pid, a in wanted if (pid, users[a.annotator]) not in already]
    result.annotations_unchanged += len(wanted) - len(fresh)
    annotation_ids = allocate_ids(Annotation, len(fresh))
    rows = []
    revisions = []
    for aid, (pid, a) in zip(annotation_ids, fresh, strict=True):
        d = a.data
        rows.append((aid, pid, users[a.annotator], *(d[name] for name in JUDGEMENT_FIELDS),
                     Annotation.Source.IMPORT, d["created_at"] or now, now))  # fmt: skip
        state = {"annotator": a.annotator, **d, "created_at": (d["created_at"] or now).isoformat()}
        revisions.append((aid, actor.pk if actor else None, AnnotationRevision.Action.IMPORTED,
                          state, now))  # fmt: skip
    insert_rows(
        Annotation,
        ["id", "prompt", "annotator", *JUDGEMENT_FIELDS, "source", "created_at", "updated_at"],
        rows,
    )  # fmt: skip
    insert_rows(
        AnnotationRevision, ["annotation", "editor", "action", "state", "created_at"], revisions
    )
    result.annotations_created += len(fresh)
    # New prompts were written with their count; known prompts that gained judgements need
    # the queue's counter recomputed so overlap stays exact.
    touched = {pid for pid, _ in fresh if pid in known_ids}
    if touched:
        prompt_counters_refresh(prompt_ids=touched)
