"""Helpers for MCP tests: settings for a server against the shared pipeline warehouse, and a
checksum of everything an attack could change."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from mcp import Client
from mcp_types import CallToolResult

from warehouse.db import connect
from warehouse.settings import Settings


def mcp_settings(database_url: str, redis_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "data_dir": data_dir,
        "fernet_keys": Fernet.generate_key().decode(),
        "db_pool_min": 1,
        "db_pool_max": 5,
    }
    values.update(overrides)
    return Settings(**values)


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, error_text(result)
    assert result.structured_content is not None
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


_TABLES_SQL = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname IN ('raw', 'staging', 'intermediate', 'marts', 'ops', 'public')
ORDER BY 1, 2
"""


# Written by the server itself on every call (the append-only audit trail), so excluded from
# "nothing changed"; the corpus test checks separately that every attempt was audited.
SERVER_BOOKKEEPING = {("ops", "audit_log")}


def database_fingerprint(url: str) -> dict[str, Any]:
    """Content checksums of every table, the server settings, roles, functions and sequences."""
    with connect(url) as conn:
        tables = conn.execute(_TABLES_SQL).fetchall()
        sums = {}
        for schema, name in tables:
            if (schema, name) in SERVER_BOOKKEEPING:
                continue
            sums[f"{schema}.{name}"] = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \"{schema}\".\"{name}\" t"
            ).fetchone()
        settings = conn.execute("SELECT name, setting FROM pg_settings ORDER BY name").fetchall()
        roles = conn.execute("SELECT rolname, rolsuper, rolcanlogin FROM pg_roles ORDER BY 1").fetchall()
        functions = conn.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
        ).fetchall()
        sequences = conn.execute(
            "SELECT schemaname, sequencename, last_value FROM pg_sequences "
            "WHERE (schemaname, sequencename) <> ('ops', 'audit_log_id_seq') ORDER BY 1, 2"
        ).fetchall()
        grants = conn.execute(
            "SELECT table_schema, table_name, grantee, privilege_type FROM information_schema.role_table_grants "
            "WHERE table_schema IN ('raw', 'staging', 'intermediate', 'marts', 'ops') ORDER BY 1, 2, 3, 4"
        ).fetchall()
    volatile = {"application_name", "transaction_read_only", "default_transaction_read_only"}
    return {
        "tables": sums,
        "settings": [s for s in settings if s[0] not in volatile],
        "roles": roles,
        "functions": functions,
        "sequences": sequences,
        "grants": grants,
    }


@asynccontextmanager
async def keyed_client(
    url: str, key: str | None, *, read_timeout_seconds: float = 60, verify: object = True, **options: Any
) -> AsyncIterator[Client]:
    """An MCP client over streamable HTTP that sends `key` in X-API-Key (none if None); `options`
    go to `Client` (e.g. `mode="legacy"`, `message_handler=`)."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    headers = {"X-API-Key": key} if key else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300), verify=verify) as http,
        Client(
            streamable_http_client(url, http_client=http),
            read_timeout_seconds=read_timeout_seconds,
            **options,
        ) as client,
    ):
        yield client


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(
    args: list[str], env: dict[str, str], health_url: str, verify: object = True, log_path: Path | None = None
) -> Iterator[None]:
    """Start `telcopulse serve ...` (own process group), wait for its health endpoint, stop it after.

    The child's output goes to a file (`log_path`, or a temporary one), never to a pipe that
    nobody drains: a server that logs every call would block once a pipe buffer filled up.
    """
    import tempfile

    import httpx
    import pytest

    if log_path is None:
        log_path = Path(tempfile.mkdtemp(prefix="telcopulse-serve-")) / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(health_url, timeout=1, verify=verify).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"MCP HTTP server did not start:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.2)
        yield
    finally:
        stop_group(process, timeout=15)


@contextmanager
def serving_http(env: dict[str, str]) -> Iterator[str]:
    """`telcopulse serve --transport http` on a free port with `env`; yields its base URL."""
    import sys

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    telcopulse = str(Path(sys.executable).parent / "telcopulse")
    with running_server(
        [telcopulse, "serve", "--transport", "http", "--port", str(port)], env, f"{base}/healthz"
    ):
        yield base


def stop_group(process: subprocess.Popen, *, timeout: float) -> None:
    """SIGTERM a child started in its own session, SIGKILL it if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@dataclass
class McpHttp:
    url: str
    keys: dict[str, str]
    key_ids: dict[str, str]
    env: dict[str, str]
    keys_file: Path


def server_env(database_url: str, redis_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    from warehouse.db import as_url

    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DATABASE_URL": as_url(database_url),
        "REDIS_URL": redis_url,
        "TELCOPULSE_DATA_DIR": str(data_dir),
        "TELCOPULSE_FERNET_KEYS": Fernet.generate_key().decode(),
        "TELCOPULSE_DB_POOL_MIN": "2",
        **extra,
    }


def make_keys(keys_file: Path, people: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Create one key per name -> role in a file key store; returns (name -> key, name -> key_id)."""
    from mcp_server.security.api_keys.file_store import FileKeyStore

    store = FileKeyStore(keys_file)
    keys, ids = {}, {}
    for name, role in people.items():
        key, record = store.create(name, role)  # type: ignore[arg-type]
        keys[name], ids[name] = key, record.key_id
    return keys, ids


# A raw MCP initialize request, for tests that speak HTTP below the client (auth, TLS, logs).
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
