"""Where run outputs live on disk.

Paths are stored relative to ``settings.ARTIFACTS_DIR`` so that the web container and the
GPU worker may mount the same volume at different places; an absolute path (a model
registered from elsewhere) is used as it is.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def artifact_path_resolve(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else Path(settings.ARTIFACTS_DIR) / p


def run_artifact_relpath(run_id: int) -> str:
    return f"runs/{run_id}"
