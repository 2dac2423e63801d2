"""``Client``: the entry point. Three lines in a notebook::

from rankwise_client import Client
rw = Client()                      # RANKWISE_URL / RANKWISE_TOKEN, or `rankwise login`'s file
rw.projects.list()
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rankwise_client._http import Http
from rankwise_client.config import credentials_resolve
from rankwise_client.errors import RankwiseError
from rankwise_client.progress import ProgressLine, human_bytes
from rankwise_client.resources.projects import Projects
from rankwise_client.resources.registry import Generations, Policies, RewardModels
from rankwise_client.resources.snapshots import Snapshots
from rankwise_client.resources.tasks import Tasks
from rankwise_client.resources.training import Runs
from rankwise_client.resources.webhooks import Webhooks
from rankwise_client.types import AuditEvent, Project, User


def default_cache_dir() -> Path:
    explicit = os.environ.get("RANKWISE_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rankwise"


class Client:
    """A Rankwise server's REST API as typed objects.

    ``url`` and ``token`` default to ``RANKWISE_URL`` / ``RANKWISE_TOKEN``, then to the file
    ``rankwise login`` writes. Idempotent calls are retried ``retries`` times with exponential
    backoff from ``backoff`` seconds on 502/503/504, 429 and connection errors.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        cache_dir: str | Path | None = None,
        artifacts_dir: str | Path | None = None,
    ):
        credentials = credentials_resolve(url, token)
        self.url = credentials.url.rstrip("/")
        self.credentials_source = credentials.source
        self.http = Http(self.url, credentials.token, timeout=timeout, retries=retries,
                         backoff=backoff, max_backoff=max_backoff)  # fmt: skip
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.artifacts_dir = artifacts_dir
        self.projects = Projects(self)
        self.snapshots = Snapshots(self)
        self.tasks = Tasks(self)
        self.runs = Runs(self)
        self.reward_models = RewardModels(self)
        self.policies = Policies(self)
        self.generations = Generations(self)
        self.webhooks = Webhooks(self)

    @staticmethod
    def token_for(url: str, username: str, password: str, *, timeout: float = 60.0) -> str:
        """The API token of ``username`` on the server at ``url``, for its password (one is
        made if the user has none; an existing one is returned unchanged). Not retried: a
        wrong password counts against the login throttle."""
        http = Http(url, "", timeout=timeout, retries=0)
        try:
            data = http.call("POST", "auth/token/",
                             json={"username": username, "password": password})  # fmt: skip
        finally:
            http.close()
        return data["token"]

    @classmethod
    def login(cls, url: str, username: str, password: str, **kwargs: Any) -> Client:
        """A client for ``username`` (its token fetched with the password); nothing stored."""
        return cls(url, cls.token_for(url, username, password), **kwargs)

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def me(self) -> User:
        """Who the token belongs to: username, roles, project slugs."""
        return User.from_api(self.http.get("me/"), self)

    def audit_events(self, **filters: Any) -> Iterator[AuditEvent]:
        """Admins: the audit log, newest first, every page. Filters: project (slug or id),
        actor, action (``token.issue``, or a family: ``token``), object_type, object_id,
        since, until (datetimes or ISO strings), page_size."""
        query = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in filters.items()}
        for item in self.http.paginate("audit-events/", query):
            yield AuditEvent.from_api(item, self)

    def project_id(self, project: Any) -> int:
        """A project's numeric id from a Project, an id, or a slug (looked up)."""
        if isinstance(project, Project) and project.id is not None:
            return project.id
        if isinstance(project, int) and not isinstance(project, bool):
            return project
        return self.projects.get(project).id

    # --- model files -------------------------------------------------------------------------

    def models_local_path(self, model, artifacts_dir: str | Path | None = None) -> Path:
        """A registered model's folder on this machine, where it sees the server's
        ARTIFACTS_DIR (the demo, a shared volume): ``artifacts_dir``, else the client's, else
        ``RANKWISE_ARTIFACTS_DIR``. Elsewhere use ``models_download`` (over the API)."""
        root = artifacts_dir or self.artifacts_dir or os.environ.get("RANKWISE_ARTIFACTS_DIR")
        if not root:
            raise RankwiseError(
                f"{type(model).__name__} {model.id} lives on the server at <ARTIFACTS_DIR>/"
                f"{model.path}; pass artifacts_dir= (or set RANKWISE_ARTIFACTS_DIR) where this "
                "machine mounts the server's artifacts, or download it: model.download(dir)"
            )
        folder = Path(root).expanduser() / model.path
        if not (folder / "config.json").is_file():
            raise RankwiseError(f"no model at {folder} (is {root} the server's ARTIFACTS_DIR?)")
        return folder

    def models_download(self, model, dest: str | Path, artifacts_dir: str | Path | None = None,
                        *, progress: bool = True) -> Path:  # fmt: skip
        """A registered model's folder (weights, tokenizer, config, card; not the training
        checkpoints) in ``dest``, which must not exist yet: copied from ``artifacts_dir``
        when given (a shared volume), else downloaded file by file over the API, each
        written under a temporary name and checked against the listed size. ``dest`` is
        complete or absent: a failed download removes what it wrote."""
        dest = Path(dest)
        if dest.exists():
            raise RankwiseError(f"{dest} exists already; give a new folder")
        if artifacts_dir is not None:
            source = self.models_local_path(model, artifacts_dir)
            shutil.copytree(source, dest, ignore=shutil.ignore_patterns("checkpoints", "inputs"))
            return dest
        kind = "policies" if type(model).__name__ == "Policy" else "reward-models"
        listing = self.http.get(f"{kind}/{model.id}/files/")
        work = dest.with_name(f".{dest.name}.part")
        shutil.rmtree(work, ignore_errors=True)
        total = sum(f["size"] for f in listing["files"])
        line = ProgressLine(enabled=progress)
        done = 0
        try:
            for entry in listing["files"]:
                target = work / entry["path"]

                def show(n: int, _total: int | None, base=done) -> None:
                    line.update(f"{model.name}: {human_bytes(base + n)} / {human_bytes(total)}")

                self.http.download(f"{kind}/{model.id}/download/", target,
                                   params={"file": entry["path"]}, on_bytes=show)  # fmt: skip
                if target.stat().st_size != entry["size"]:
                    raise RankwiseError(f"{entry['path']}: got {target.stat().st_size} bytes, "
                                        f"the server listed {entry['size']}")  # fmt: skip
                done += entry["size"]
            os.replace(work, dest)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        finally:
            line.close()
        return dest
