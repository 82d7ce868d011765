"""`telcopulse status` and `telcopulse stop`: see and end what `telcopulse up` started.

`stop` asks the running `up` to stop (SIGTERM, which it handles like Ctrl-C: servers,
embedded Redis and embedded PostgreSQL all go down) and waits for its lock to drop. If
`up` was killed outright, its servers' process groups and the embedded PostgreSQL may
outlive it; `stop` then ends those itself, using the pids the state file recorded.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from telcopulse.errors import NotRunning
from telcopulse.processes import signal_group
from telcopulse.state import RunState, clear_state, is_locked, read_state, running_state, state_path
from warehouse.db import redacted_url

LABELS = {"mcp": "MCP server", "dagster": "Dagster UI", "docs": "dbt docs", "gx_docs": "data-quality docs"}


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def stop(data_dir: Path, *, timeout: float = 90) -> list[str]:
    """Stop what `up` started for this data dir; returns what was done, line by line."""
    from warehouse.embedded import stop_postgres

    done: list[str] = []
    state = read_state(data_dir)
    if is_locked(data_dir):
        if state is None:
            raise NotRunning(
                f"`telcopulse up` holds {data_dir} but wrote no state yet; try again in a moment"
            )
        os.kill(state.pid, signal.SIGTERM)
        if not _wait(lambda: not is_locked(data_dir), timeout):
            os.kill(state.pid, signal.SIGKILL)
            _wait(lambda: not _alive(state.pid), 10)
            done.append(f"`telcopulse up` (pid {state.pid}) did not stop within {timeout:.0f}s: killed it")
        else:
            embedded = " and ".join(f"the embedded {name}" for name in _names(state.embedded))
            done.append(
                f"stopped `telcopulse up` (pid {state.pid}), the servers it started"
                + (f" and {embedded}" if embedded else "")
            )
    if state is not None:
        leftovers = [pid for pid in state.child_pids if _alive(pid)]
        for pid in leftovers:
            signal_group(pid, signal.SIGKILL)
        if leftovers:
            done.append(f"ended {len(leftovers)} server process group(s) a killed `up` left behind")
        if state.redis_pid and _alive(state.redis_pid) and "redis" in state.embedded:
            os.kill(state.redis_pid, signal.SIGTERM)
            _wait(lambda: not _alive(state.redis_pid), 10)
            done.append(f"stopped the embedded Redis (pid {state.redis_pid})")
    if stop_postgres(data_dir):
        done.append(f"stopped the embedded PostgreSQL under {data_dir / 'pg'}")
    clear_state(data_dir)
    if not done:
        raise NotRunning(f"nothing of telcopulse runs for {data_dir}")
    return done


def _names(embedded: list[str]) -> list[str]:
    return [{"postgres": "PostgreSQL", "redis": "Redis"}.get(name, name) for name in embedded]


def _age(since: dt.datetime) -> str:
    seconds = int((dt.datetime.now(dt.UTC) - since).total_seconds())
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def _data_version(database_url: str | None) -> str:
    """The newest data build (what the marts hold), or why it cannot be read."""
    if not database_url:
        return "unknown (no DATABASE_URL)"
    import psycopg

    from warehouse.data_builds import latest_build

    try:
        build = latest_build(database_url)
    except psycopg.Error:
        return "unknown (the warehouse does not answer)"
    if build is None:
        return "none yet (no refresh has finished)"
    version, finished_at = build
    return f"{version}, built {finished_at:%Y-%m-%d %H:%M:%S} UTC ({_age(finished_at)})"


def status_lines(data_dir: Path, *, database_url: str | None = None) -> list[str]:
    """What runs for this data dir. Raises NotRunning when nothing does."""
    from warehouse.embedded import running_postgres_pid

    state = running_state(data_dir)
    if state is None:
        stray = running_postgres_pid(data_dir)
        if stray:
            return [
                f"`telcopulse up` is not running for {data_dir}, but its embedded PostgreSQL is "
                f"(pid {stray}); `telcopulse stop` stops it"
            ]
        raise NotRunning(f"`telcopulse up` is not running for {data_dir}; `make up` starts it")
    return _describe(state, database_url or state.database_url)


def _describe(state: RunState, database_url: str | None) -> list[str]:
    started = dt.datetime.fromisoformat(state.started_at)
    lines = [
        f"`telcopulse up` is running for {state.data_dir}: pid {state.pid}, "
        f"started {state.started_at} ({_age(started)}), {state.stage}"
    ]
    pg_kind = f"embedded, pid {state.postgres_pid}" if "postgres" in state.embedded else "external"
    redis_kind = f"embedded, pid {state.redis_pid}" if "redis" in state.embedded else "external"
    lines.append(f"  PostgreSQL ({pg_kind}): {redacted_url(state.database_url or '-')}")
    lines.append(f"  Redis ({redis_kind}): {redacted_url(state.redis_url or '-')}")
    lines += [f"  {LABELS.get(name, name)}: {url}" for name, url in state.urls.items()]
    lines.append(f"  data version: {_data_version(database_url)}")
    lines.append(f"  state: {state_path(Path(state.data_dir))}")
    lines.append(f"  log: {state.log_file}")
    return lines
