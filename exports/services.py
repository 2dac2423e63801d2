"""Write side of exports: create a snapshot, build it (the Celery task's body), verify, delete.

A snapshot is built into a hidden temporary folder and renamed into place only when complete,
so a reader never sees half a snapshot, and a failed build leaves nothing behind but the row's
``failed`` status and error.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from annotate.models import Project
from core.dispatch import task_enqueue
from core.heartbeat import Heartbeat, max_attempts, stale_after
from core.services import audit_event_record
from exports import bundles, full_lines, lines
from exports.models import DatasetSnapshot
from exports.options import SPLITS, ExportOptionsError, clean_options
from exports.sinks import HfSink, JsonlSink, file_sha256, pairwise_schema
from rlhf.utils import code_version
from webhooks.services import webhook_snapshot_emit

logger = logging.getLogger(__name__)

FORMATS = tuple(DatasetSnapshot.Format.values)
DATA_NAMES = {"pairwise": "pairs.jsonl", "rankings": "rankings.jsonl", "hf": "hf",
              "helpsteer3": "helpsteer3.jsonl"}  # fmt: skip
# Formats whose lines need every judgement field (the others only what pairs need).
FULL_FORMATS = (DatasetSnapshot.Format.RANKINGS, DatasetSnapshot.Format.HELPSTEER3)


class SnapshotNotReady(Exception):
    pass


class SnapshotSuperseded(Exception):
    """The reaper wrote this attempt off and re-queued the snapshot; stop writing."""


def snapshots_root() -> Path:
    return Path(settings.ARTIFACTS_DIR) / "snapshots"


def _build_enqueue(snapshot_id: int, *, require_broker: bool) -> None:
    from exports.tasks import snapshot_build_task  # the task module imports this one

    task_enqueue(task=snapshot_build_task, args=[snapshot_id], require_broker=require_broker)


@transaction.atomic
def snapshot_create(
    *, project: Project, fmt: str, options: dict | None = None, user=None, enqueue: bool = True
) -> DatasetSnapshot:
    """Check the settings, record a pending snapshot and queue its build after commit.

    With the broker down this raises ``BrokerUnavailable`` and records nothing (503).
    ``enqueue=False`` leaves the build to the caller (``export_data`` builds in-process).
    """
    if fmt not in FORMATS:
        raise ExportOptionsError("format", f"must be one of {', '.join(FORMATS)}, not {fmt!r}")
    cleaned = clean_options(project, options)
    snapshot = DatasetSnapshot.objects.create(
        project=project,
        format=fmt,
        settings=cleaned.as_json(),
        created_by=user if user is not None and user.is_authenticated else None,
    )
    audit_event_record(action="snapshot.create", obj=snapshot, project=project, actor=user,
                       after={"format": fmt, "settings": snapshot.settings})  # fmt: skip
    if enqueue:
        _build_enqueue(snapshot.pk, require_broker=True)
    return snapshot


def snapshot_recreate(*, snapshot: DatasetSnapshot, user=None) -> DatasetSnapshot:
    """A new snapshot with the same project, format and settings (snapshots never change)."""
    return snapshot_create(
        project=snapshot.project, fmt=snapshot.format, options=snapshot.settings, user=user
    )


@transaction.atomic
def snapshots_recreate(*, snapshots: list[DatasetSnapshot], user=None) -> list[DatasetSnapshot]:
    """``snapshot_recreate`` for each, all or none: with the broker gone half-way, the 503
    must not hide the snapshots queued before it."""
    return [snapshot_recreate(snapshot=snapshot, user=user) for snapshot in snapshots]


@dataclass
class BuildStats:
    rows: int = 0
    prompts: int = 0
    ties: int = 0
    rows_by_split: Counter = field(default_factory=Counter)
    prompts_by_split: Counter = field(default_factory=Counter)
    excluded: Counter = field(default_factory=Counter)
    annotators: set = field(default_factory=set)

    def as_json(self) -> dict:
        return {
            "rows": self.rows,
            "prompts": self.prompts,
            "annotators": len(self.annotators),
            "ties": self.ties,
            "splits": {s: self.rows_by_split.get(s, 0) for s in SPLITS},
            "prompts_by_split": {s: self.prompts_by_split.get(s, 0) for s in SPLITS},
            "excluded_prompts": dict(sorted(self.excluded.items())),
        }


def _claim(snapshot: DatasetSnapshot) -> bool:
    """Take a pending snapshot, or a running one whose worker stopped heartbeating (a
    message delivered again after its worker died), for this attempt."""
    now = timezone.now()
    cutoff = now - stale_after()
    claimable = Q(status=DatasetSnapshot.Status.PENDING) | Q(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff),
        status=DatasetSnapshot.Status.RUNNING,
    )
    claimed = DatasetSnapshot.objects.filter(claimable, pk=snapshot.pk).update(
        status=DatasetSnapshot.Status.RUNNING, started_at=now, heartbeat_at=now,
        attempts=F("attempts") + 1, data_as_of=now, code_version=code_version(),
    )  # fmt: skip
    snapshot.refresh_from_db()
    return bool(claimed)


def snapshot_build(*, snapshot: DatasetSnapshot, chunk_size: int | None = None) -> DatasetSnapshot:
    """Build a pending snapshot; a failure is recorded on the row, not raised.

    Every write after the claim names this attempt (``attempts``), so an attempt the reaper
    wrote off cannot overwrite the one that replaced it; a heartbeat thread keeps the row's
    ``heartbeat_at`` fresh while the build runs.
    """
    if not _claim(snapshot):  # a duplicate delivery of the task, or already built
        return snapshot
    mine = DatasetSnapshot.objects.filter(
        pk=snapshot.pk, attempts=snapshot.attempts, status=DatasetSnapshot.Status.RUNNING
    )
    folder = snapshots_root() / snapshot.project.slug
    final = folder / f"{snapshot.pk:06d}-{snapshot.format}-{uuid.uuid4().hex[:8]}"
    work = folder / f".{final.name}.tmp"
    try:
        with Heartbeat(mine):
            work.mkdir(parents=True)
            stats, sha256 = _write(snapshot, mine, work, chunk_size or bundles.DEFAULT_CHUNK_SIZE)
            files = _manifest(work, snapshot.format)
            _write_card(snapshot, work, stats, sha256, files)
            os.replace(work, final)
    except Exception as exc:
        logger.exception("snapshot %s failed", snapshot.pk)
        shutil.rmtree(work, ignore_errors=True)
        with transaction.atomic():  # the event commits with the status it reports
            failed = mine.update(
                status=DatasetSnapshot.Status.FAILED,
                error=f"{type(exc).__name__}: {exc}"[:5000],
                finished_at=timezone.now(),
            )
            snapshot.refresh_from_db()
            if failed:
                webhook_snapshot_emit(snapshot=snapshot)
        return snapshot

    with transaction.atomic():  # the event commits with the status it reports
        done = _mark_ready(snapshot, mine, final, files, stats, sha256)
    if not done:  # written off meanwhile: the attempt that replaced it owns the snapshot
        shutil.rmtree(final, ignore_errors=True)
    snapshot.refresh_from_db()
    return snapshot


def _mark_ready(snapshot, mine, final: Path, files, stats: BuildStats, sha256: str) -> int:
    done = mine.update(
        status=DatasetSnapshot.Status.READY,
        sha256=sha256,
        file_path=str((final / DATA_NAMES[snapshot.format]).relative_to(settings.ARTIFACTS_DIR)),
        files=files,
        size_bytes=sum(f["size"] for f in files),
        row_counts=stats.as_json(),
        rows_written=stats.rows,
        prompts_done=F("prompts_total"),
        finished_at=timezone.now(),
    )
    if done:
        snapshot.refresh_from_db()
        webhook_snapshot_emit(snapshot=snapshot)
    return done


def _leftovers_remove(snapshot: DatasetSnapshot) -> list[str]:
    """Folders of unfinished attempts of this snapshot (temporary or renamed in place but
    never recorded): none of them is the snapshot, which is not ready."""
    folder = snapshots_root() / snapshot.project.slug
    removed = []
    for pattern in (f".{snapshot.pk:06d}-*", f"{snapshot.pk:06d}-*"):
        for path in folder.glob(pattern):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


def snapshots_reap_stale(*, now=None) -> dict[str, list[int]]:
    """Builds whose worker stopped heartbeating for ``TASK_STALE_SECONDS`` are never left
    ``running``: their temporary folders are removed and they go back to the queue, or fail
    with the reason after ``TASK_MAX_ATTEMPTS`` attempts."""
    now = now or timezone.now()
    cutoff = now - stale_after()
    stale = DatasetSnapshot.objects.filter(status=DatasetSnapshot.Status.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    outcome: dict[str, list[int]] = {"requeued": [], "failed": []}
    for pk in list(stale.order_by("id").values_list("pk", flat=True)):
        with transaction.atomic():
            # Re-check under the lock: the worker may have written since the query.
            snapshot = (
                stale.select_for_update(skip_locked=True).select_related("project")
                .filter(pk=pk).first()
            )  # fmt: skip
            if snapshot is None:
                continue
            since = snapshot.heartbeat_at or snapshot.started_at
            note = f"no heartbeat since {since:%Y-%m-%d %H:%M:%S} UTC: worker presumed lost"
            removed = _leftovers_remove(snapshot)
            logger.warning("snapshot %s: %s; removed %s", pk, note, removed or "no folders")
            if snapshot.attempts < max_attempts():
                snapshot.status = DatasetSnapshot.Status.PENDING
                snapshot.error = f"{note}; re-queued (attempt {snapshot.attempts} lost)"
                snapshot.save(update_fields=["status", "error"])
                _build_enqueue(snapshot.pk, require_broker=False)
                outcome["requeued"].append(pk)
            else:
                snapshot.status = DatasetSnapshot.Status.FAILED
                snapshot.error = f"{note} after {snapshot.attempts} attempts"
                snapshot.finished_at = now
                snapshot.save(update_fields=["status", "error", "finished_at"])
                webhook_snapshot_emit(snapshot=snapshot)
                outcome["failed"].append(pk)
    return outcome


def _write(snapshot, mine, work: Path, chunk_size: int) -> tuple[BuildStats, str]:
    project = snapshot.project
    options = clean_options(project, snapshot.settings)
    as_of = snapshot.data_as_of
    total = bundles.prompt_count(project=project, as_of=as_of)
    mine.update(prompts_total=total)
    snapshot.prompts_total = total

    conversational = bundles.project_is_conversational(project=project, as_of=as_of)
    if snapshot.format != DatasetSnapshot.Format.HF:
        sink = JsonlSink(work / DATA_NAMES[snapshot.format])
    else:
        schema = pairwise_schema(
            conversational=conversational,
            per_annotator=options.mode == "all",
            ties=options.ties == "keep",
            dimensions=options.dimension_lines,
        )
        sink = HfSink(work, schema)

    stats = BuildStats()
    done = 0
    try:
        full = snapshot.format in FULL_FORMATS
        chunks = bundles.prompt_bundles(
            project=project, as_of=as_of, chunk_size=chunk_size, full=full,
            dimensions=options.dimension_lines,
        )  # fmt: skip
        keys = tuple(d["key"] for d in project.dimensions or []) if options.dimension_lines else ()
        for chunk in chunks:
            for bundle in chunk:
                selection = lines.select(bundle, options)
                if selection.excluded:
                    stats.excluded[selection.excluded] += 1
                    continue
                written = _emit(snapshot.format, bundle, selection, options, conversational,
                                sink, stats, keys)  # fmt: skip
                if written:
                    stats.prompts += 1
                    stats.prompts_by_split[selection.split] += 1
            done += len(chunk)
            if not mine.update(prompts_done=done, rows_written=stats.rows):
                raise SnapshotSuperseded(f"snapshot {snapshot.pk}: another attempt took over")
        sha256 = sink.close()
    except BaseException:
        sink.abort()
        raise
    return stats, sha256


def _emit(fmt, bundle, selection, options, conversational, sink, stats, keys=()) -> int:
    if fmt in FULL_FORMATS:
        line = full_lines.full_line(fmt, bundle, selection)
        if line is not None:
            sink.write(line)
            stats.annotators.update(full_lines.line_annotators(line))
        rows = int(line is not None)
    else:
        rows = 0
        for row in lines.pairwise_rows(bundle, selection, options, conversational, keys):
            sink.write(row)
            rows += 1
            stats.ties += bool(row.get("tie"))
        if rows and options.mode == "all":
            stats.annotators.update(a.annotator for a in selection.judgements if not a.skipped)
    stats.rows += rows
    stats.rows_by_split[selection.split] += rows
    return rows


def _manifest(work: Path, fmt: str) -> list[dict]:
    paths = sorted(p for p in work.rglob("*") if p.is_file())
    return [
        {"path": str(p.relative_to(work)), "size": p.stat().st_size, "sha256": file_sha256(p)}
        for p in paths
    ]


def _write_card(snapshot, work: Path, stats: BuildStats, sha256: str, files: list[dict]) -> None:
    """snapshot.json and SHA256SUMS, so a copied folder explains and checks itself offline."""
    card = {
        "snapshot_id": snapshot.pk,
        "project": snapshot.project.slug,
        "format": snapshot.format,
        "data": DATA_NAMES[snapshot.format],
        "sha256": sha256,
        "sha256_of": "the canonical JSONL lines (for hf: the pairwise JSONL of the same rows)",
        "settings": snapshot.settings,
        "row_counts": stats.as_json(),
        "code_version": snapshot.code_version,
        "data_as_of": snapshot.data_as_of.isoformat(),
        "created_by": snapshot.created_by.get_username() if snapshot.created_by else None,
        "created_at": snapshot.created_at.isoformat(),
    }
    (work / "snapshot.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    sums = "".join(f"{f['sha256']}  {f['path']}\n" for f in files)
    (work / "SHA256SUMS").write_text(sums)


def snapshot_verify(*, snapshot: DatasetSnapshot) -> list[str]:
    """Problems found re-hashing the files on disk; an empty list means intact."""
    if not snapshot.is_ready:
        raise SnapshotNotReady(f"snapshot {snapshot.pk} is {snapshot.status}")
    folder = snapshot.folder
    problems = []
    for entry in snapshot.files:
        path = folder / entry["path"]
        if not path.is_file():
            problems.append(f"{entry['path']}: missing")
        elif file_sha256(path) != entry["sha256"]:
            problems.append(f"{entry['path']}: SHA-256 differs from the one recorded")
    jsonl = snapshot.format != DatasetSnapshot.Format.HF
    if jsonl and not problems and file_sha256(snapshot.path) != snapshot.sha256:
        problems.append(f"{snapshot.file_path}: content SHA-256 differs")
    return problems


def snapshot_delete(*, snapshot: DatasetSnapshot, actor=None) -> None:
    """Remove the row and its files (a training run that uses it protects it)."""
    folder = snapshot.folder
    with transaction.atomic():
        audit_event_record(
            action="snapshot.delete", obj=snapshot, project=snapshot.project, actor=actor,
            before={"format": snapshot.format, "status": snapshot.status,
                    "sha256": snapshot.sha256, "settings": snapshot.settings},
        )  # fmt: skip
        snapshot.delete()
        if folder is not None:
            transaction.on_commit(lambda: shutil.rmtree(folder, ignore_errors=True))
