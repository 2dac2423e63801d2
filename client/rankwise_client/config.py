"""Where the server URL and the token come from: arguments, then the environment
(``RANKWISE_URL``, ``RANKWISE_TOKEN``), then the file ``rankwise login`` writes.

The file is ``$RANKWISE_CONFIG``, else ``$XDG_CONFIG_HOME/rankwise/config.json``, else
``~/.config/rankwise/config.json``: ``{"url": ..., "token": ...}``, mode 0600 in a 0700 folder,
because the token acts as its user.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from rankwise_client.errors import ConfigurationError


def config_path() -> Path:
    explicit = os.environ.get("RANKWISE_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "rankwise" / "config.json"


def config_read(path: Path | None = None) -> dict:
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"{path} is not valid JSON ({exc}); run `rankwise login`") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path} must hold a JSON object; run `rankwise login`")
    return data


def config_write(*, url: str, token: str, path: Path | None = None) -> Path:
    """Write the file readable by its owner only; an existing file is replaced atomically, so
    a crash never leaves a half-written or world-readable token behind."""
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask may have taken bits away, never added: be exact
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"url": url, "token": token}, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


@dataclass(frozen=True)
class Credentials:
    url: str
    token: str
    source: str  # "arguments", "environment", or the config file's path

    def __repr__(self) -> str:  # never print the token by accident
        return f"Credentials(url={self.url!r}, token='***', source={self.source!r})"


def credentials_resolve(url: str | None = None, token: str | None = None) -> Credentials:
    """Each of url and token from the first place that has it."""
    sources = []
    file_values: dict | None = None

    def from_file() -> dict:
        nonlocal file_values
        if file_values is None:
            file_values = config_read()
        return file_values

    values = {}
    for name, given in (("url", url), ("token", token)):
        env = os.environ.get(f"RANKWISE_{name.upper()}")
        if given:
            values[name], where = given, "arguments"
        elif env:
            values[name], where = env, "environment"
        elif from_file().get(name):
            values[name], where = str(from_file()[name]), str(config_path())
        else:
            continue
        sources.append(where)
    missing = [n for n in ("url", "token") if n not in values]
    if missing:
        raise ConfigurationError(
            f"no server {' or '.join(missing)}: pass Client(url, token), set "
            f"{' and '.join('RANKWISE_' + m.upper() for m in missing)}, or run `rankwise login`"
        )
    return Credentials(values["url"], values["token"], " + ".join(dict.fromkeys(sources)))
