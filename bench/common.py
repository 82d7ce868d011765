"""Helpers shared by the benchmark scripts: scratch databases, timing, machine facts."""

from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

from warehouse.db import dbt_connection_env, temporary_database
from warehouse.migrate import migrate
from warehouse.settings import DBT_PROJECT_DIR

BASE_URL = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
VENV_BIN = Path(__file__).resolve().parent.parent / ".venv" / "bin"


def machine() -> str:
    mem = psutil.virtual_memory().total / 2**30
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GiB, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


@contextmanager
def scratch_database(prefix: str = "tp_bench") -> Iterator[str]:
    with temporary_database(BASE_URL, prefix) as url:
        migrate(url)
        yield url


@contextmanager
def timer() -> Iterator[list[float]]:
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)


def dbt(url: str, *args: str) -> float:
    """Run a dbt command against `url`; return seconds. Raises on failure."""
    env = {**os.environ, **dbt_connection_env(url)}
    start = time.perf_counter()
    subprocess.run(
        [
            str(VENV_BIN / "dbt"),
            *args,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--quiet",
        ],
        env=env,
        cwd=DBT_PROJECT_DIR,
        check=True,
    )
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(args: list[str], env: dict[str, str], health: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(args, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(health, timeout=1)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{args} did not start") from None
                time.sleep(0.2)
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def bench_key(data_dir: str, role: str = "analyst") -> tuple[str, dict[str, str]]:
    """An API key in a file store under `data_dir`, and the env that points a server at it with
    limits high enough that a benchmark measures the server, not the rate limiter.

    Analyst by default, the role agents get; an admin's SQL takes the explicit-transaction
    path of `mcp_server.query.executor` (it may read raw), one round trip slower."""
    from mcp_server.security.api_keys.file_store import FileKeyStore

    keys_file = Path(data_dir) / "api_keys.jsonl"
    key, _ = FileKeyStore(keys_file).create("bench", role)
    env = {
        "TELCOPULSE_API_KEYS_FILE": str(keys_file),
        "TELCOPULSE_RATE_LIMITS": '{"admin": 100000000, "analyst": 100000000, "viewer": 100000000}',
    }
    return key, env


def keyed_client(url: str, key: str | None, read_timeout_seconds: float = 120, **options: Any) -> Any:
    """The official MCP client over streamable HTTP, sending `key` as X-API-Key; `options` go to
    `Client` (e.g. `mode="legacy"`, `message_handler=`)."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"X-API-Key": key} if key else {}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=600))
    return Client(
        streamable_http_client(url, http_client=http), read_timeout_seconds=read_timeout_seconds, **options
    )


def server_env(database_url: str, data_dir: str) -> tuple[str, dict[str, str]]:
    """(analyst API key, environment) for `telcopulse serve` on `database_url` with its data in
    `data_dir` and limits raised (`bench_key`): what every benchmark's server runs with."""
    from cryptography.fernet import Fernet

    from warehouse.db import as_url

    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DATABASE_URL": as_url(database_url),
        "REDIS_URL": os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
        "TELCOPULSE_DATA_DIR": data_dir,
        "TELCOPULSE_FERNET_KEYS": Fernet.generate_key().decode(),
    }
    key, key_env = bench_key(data_dir)
    return key, {**env, **key_env}
