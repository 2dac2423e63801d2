"""Write side of exports: create a snapshot, build it (the Celery task's body), verify, delete.

A snapshot is built into a hidden temporary folder and renamed into place only when complete,
so a reader never sees half a snapshot, and a failed build leaves nothing behind but the row's
``failed`` status and error.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import subprocess
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import metadata
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotate.models import Project
from core.services import audit_event_record
from exports import bundles, lines
from exports.models import DatasetSnapshot
from exports.options import SPLITS, ExportOptionsError, clean_options
from exports.sinks import HfSink, JsonlSink, file_sha256, pairwise_schema

logger = logging.getLogger(__name__)

FORMATS = tuple(DatasetSnapshot.Format.values)
STALE_BUILD = timedelta(hours=6)
DATA_NAMES = {"pairwise": "pairs.jsonl", "rankings": "rankings.jsonl", "hf": "hf"}


class SnapshotNotReady(Exception):
    pass


@functools.cache
def code_version() -> str:
    """``git describe`` of the checkout, else the installed package version."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=5, check=True,
        )  # fmt: skip
        if out.stdout.strip():
            return f"git:{out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return f"rankwise=={metadata.version('rankwise')}"
    except metadata.PackageNotFoundError:
        return "unknown"


def snapshots_root() -> Path:
    return Path(settings.ARTIFACTS_DIR) / "snapshots"


@transaction.atomic
def snapshot_create(
    *, project: Project, fmt: str, options: dict | None = None, user=None, enqueue: bool = True
) -> DatasetSnapshot:
    """Check the settings, record a pending snapshot and queue its build after commit.

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
        from exports.tasks import snapshot_build_task  # the task module imports this one

        transaction.on_commit(lambda: snapshot_build_task.delay(snapshot.pk))
    return snapshot


def snapshot_recreate(*, snapshot: DatasetSnapshot, user=None) -> DatasetSnapshot:
    """A new snapshot with the same project, format and settings (snapshots never change)."""
    return snapshot_create(
        project=snapshot.project, fmt=snapshot.format, options=snapshot.settings, user=user
    )


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


def snapshot_build(*, snapshot: DatasetSnapshot, chunk_size: int | None = None) -> DatasetSnapshot:
    """Build a pending snapshot; a failure is recorded on the row, not raised."""
    now = timezone.now()
    # A build whose worker died mid-way stays "running"; after STALE_BUILD it may be taken over
    # (each attempt writes its own temporary folder, so the two cannot mix files).
    claimable = Q(status=DatasetSnapshot.Status.PENDING) | Q(
        status=DatasetSnapshot.Status.RUNNING, started_at__lt=now - STALE_BUILD
    )
    claimed = DatasetSnapshot.objects.filter(claimable, pk=snapshot.pk).update(
        status=DatasetSnapshot.Status.RUNNING, started_at=now
    )
    if not claimed:  # a duplicate delivery of the task, or already built
        snapshot.refresh_from_db()
        return snapshot
    snapshot.refresh_from_db()
    snapshot.data_as_of = snapshot.started_at
    snapshot.code_version = code_version()
    snapshot.save(update_fields=["data_as_of", "code_version"])

    folder = snapshots_root() / snapshot.project.slug
    final = folder / f"{snapshot.pk:06d}-{snapshot.format}-{uuid.uuid4().hex[:8]}"
    work = folder / f".{final.name}.tmp"
    try:
        work.mkdir(parents=True)
        stats, sha256 = _write(snapshot, work, chunk_size or bundles.DEFAULT_CHUNK_SIZE)
        files = _manifest(work, snapshot.format)
        _write_card(snapshot, work, stats, sha256, files)
        os.replace(work, final)
    except Exception as exc:
        logger.exception("snapshot %s failed", snapshot.pk)
        shutil.rmtree(work, ignore_errors=True)
        snapshot.status = DatasetSnapshot.Status.FAILED
        snapshot.error = f"{type(exc).__name__}: {exc}"[:5000]
        snapshot.finished_at = timezone.now()
        snapshot.save(update_fields=["status", "error", "finished_at"])
        return snapshot

    snapshot.status = DatasetSnapshot.Status.READY
    snapshot.sha256 = sha256
    snapshot.file_path = str(
        (final / DATA_NAMES[snapshot.format]).relative_to(settings.ARTIFACTS_DIR)
    )
    snapshot.files = files
    snapshot.size_bytes = sum(f["size"] for f in files)
    snapshot.row_counts = stats.as_json()
    snapshot.rows_written = stats.rows
    snapshot.prompts_done = snapshot.prompts_total
    snapshot.finished_at = timezone.now()
    snapshot.save(
        update_fields=["status", "sha256", "file_path", "files", "size_bytes", "row_counts",
                       "rows_written", "prompts_done", "finished_at"]
    )  # fmt: skip
    return snapshot


def _write(snapshot: DatasetSnapshot, work: Path, chunk_size: int) -> tuple[BuildStats, str]:
    project = snapshot.project
    options = clean_options(project, snapshot.settings)
    as_of = snapshot.data_as_of
    total = bundles.prompt_count(project=project, as_of=as_of)
    DatasetSnapshot.objects.filter(pk=snapshot.pk).update(prompts_total=total)
    snapshot.prompts_total = total

    conversational = bundles.project_is_conversational(project=project, as_of=as_of)
    if snapshot.format == DatasetSnapshot.Format.RANKINGS:
        sink = JsonlSink(work / DATA_NAMES["rankings"])
    elif snapshot.format == DatasetSnapshot.Format.PAIRWISE:
        sink = JsonlSink(work / DATA_NAMES["pairwise"])
    else:
        schema = pairwise_schema(
            conversational=conversational,
            per_annotator=options.mode == "all",
            ties=options.ties == "keep",
        )
        sink = HfSink(work, schema)

    stats = BuildStats()
    done = 0
    try:
        full = snapshot.format == DatasetSnapshot.Format.RANKINGS
        chunks = bundles.prompt_bundles(
            project=project, as_of=as_of, chunk_size=chunk_size, full=full
        )
        for chunk in chunks:
            for bundle in chunk:
                selection = lines.select(bundle, options)
                if selection.excluded:
                    stats.excluded[selection.excluded] += 1
                    continue
                written = _emit(snapshot.format, bundle, selection, options, conversational,
                                sink, stats)  # fmt: skip
                if written:
                    stats.prompts += 1
                    stats.prompts_by_split[selection.split] += 1
            done += len(chunk)
            DatasetSnapshot.objects.filter(pk=snapshot.pk).update(
                prompts_done=done, rows_written=stats.rows
            )
        sha256 = sink.close()
    except BaseException:
        sink.abort()
        raise
    return stats, sha256


def _emit(fmt, bundle, selection, options, conversational, sink, stats) -> int:
    if fmt == DatasetSnapshot.Format.RANKINGS:
        line = lines.rankings_line(bundle, selection)
        sink.write(line)
        stats.annotators.update(a["annotator"] for a in line["annotations"])
        rows = 1
    else:
        rows = 0
        for row in lines.pairwise_rows(bundle, selection, options, conversational):
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
