"""Processes a fault test starts, and kills: its own redis-server and Celery workers.

Only the PIDs started here are ever signalled (never a name or a process group we did not
make); each process writes its log to the test's tmp folder, printed when a wait times out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).parent / "celery"


def wait_until(check: Callable[[], object], timeout: float, what: str, logs=()) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    tails = "\n".join(f"--- {p}\n{Path(p).read_text()[-3000:]}" for p in logs if Path(p).exists())
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{tails}")


class RedisServer:
    """A throwaway Redis on 127.0.0.1:<port>, no persistence: a restart comes back empty."""

    def __init__(self, port: int, folder: Path):
        self.port, self.folder = port, folder
        self.url = f"redis://127.0.0.1:{port}/0"
        self.log = folder / f"redis-{port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder), "--logfile", str(self.log)],
        )  # fmt: skip
        wait_until(self.answers, 10, f"redis-server on port {self.port}", [self.log])
        return self

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL: the outage, and everything it held (queued messages, cache) is lost."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM: Redis closes its clients' connections and exits; without persistence it
        keeps nothing."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)

    def pause(self) -> None:
        """SIGSTOP: unreachable (connections time out) but keeping its data."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)


class Worker:
    """``celery worker`` on the test's Redis and database (``tests.faults.worker_app``)."""

    def __init__(
        self, name: str, env: dict[str, str], folder: Path, pool: str = "threads", slots: int = 2,
        queues: str = "default,gpu",
    ):  # fmt: skip
        self.name, self.env, self.pool, self.slots, self.queues = name, env, pool, slots, queues
        self.log = folder / f"worker-{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Worker:
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [str(CELERY), "-A", "tests.faults.worker_app", "worker", "-Q", self.queues,
                 "-P", self.pool, "-c", str(self.slots), "-n", f"{self.name}@faults", "--loglevel", "INFO",
                 "--without-gossip", "--without-mingle", "--without-heartbeat"],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_until(lambda: " ready." in self.log.read_text(), 60, f"worker {self.name}",
                   [self.log])  # fmt: skip
        return self

    def kill(self) -> None:
        """SIGKILL mid-task: no cleanup, no acknowledgement, no last heartbeat."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """Warm shutdown: finish the task at hand, then exit."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
