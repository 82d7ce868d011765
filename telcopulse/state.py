"""What a running `telcopulse up` owns: a lock and a state file in the data dir.

The lock (`flock` on `<data_dir>/up.lock`) is the truth about whether `up` runs: the
kernel drops it when the process dies, however it dies, so a stale state file left by
a killed `up` is never mistaken for a live one. The state file (`<data_dir>/state.json`,
mode 0600 because the URLs may carry passwords) tells other commands where the embedded
services and the UIs are, so `telcopulse keys`, `refresh`, `import`, `serve` … work
beside `make up` without anyone exporting a URL.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE_FILE = "state.json"
LOCK_FILE = "up.lock"


@dataclass
class RunState:
    """Where the pieces of one `telcopulse up` run are. URLs are None until they serve."""

    pid: int
    started_at: str
    data_dir: str
    log_file: str
    database_url: str | None = None
    redis_url: str | None = None
    embedded: list[str] = field(default_factory=list)  # "postgres", "redis": what `up` started
    postgres_pid: int | None = None
    redis_pid: int | None = None
    child_pids: list[int] = field(default_factory=list)  # process groups of the servers
    urls: dict[str, str] = field(default_factory=dict)  # "mcp", "dagster", "docs", "gx_docs"
    stage: str = "starting"

    @classmethod
    def new(cls, data_dir: Path, log_file: Path) -> RunState:
        return cls(
            pid=os.getpid(),
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            data_dir=str(data_dir.resolve()),
            log_file=str(log_file.resolve()),
        )


def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


def write_state(data_dir: Path, state: RunState) -> None:
    """Atomic replace with mode 0600 from the start: readers never see half a file."""
    data_dir.mkdir(parents=True, exist_ok=True)
    target = state_path(data_dir)
    partial = target.with_suffix(".json.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(state), handle, indent=2)
    os.chmod(partial, 0o600)
    os.replace(partial, target)


def read_state(data_dir: Path) -> RunState | None:
    """The recorded state, or None when there is none or it cannot be read."""
    try:
        raw: dict[str, Any] = json.loads(state_path(data_dir).read_text())
    except (OSError, ValueError):
        return None
    known = set(RunState.__dataclass_fields__)
    try:
        return RunState(**{key: value for key, value in raw.items() if key in known})
    except TypeError:
        return None


def clear_state(data_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        state_path(data_dir).unlink()


class InstanceLock:
    """One `up` per data dir. Held for the life of the process; released by the kernel
    if the process dies, so there is nothing to clean up after a crash."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def is_locked(data_dir: Path) -> bool:
    """True while some process (a running `up`) holds the data dir's lock."""
    probe = InstanceLock(data_dir)
    if not probe.path.exists():
        return False
    if probe.acquire():
        probe.release()
        return False
    return True


def running_state(data_dir: Path) -> RunState | None:
    """The state of the `up` that runs now for this data dir, None if none runs."""
    if not is_locked(data_dir):
        return None
    return read_state(data_dir)
