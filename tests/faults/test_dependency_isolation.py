"""No single dependency takes everything down (issue 13): a real MCP HTTP server on a
private PostgreSQL and a private Redis, each stopped in turn.

* PostgreSQL down (longer than the key cache TTL, made 1 s here): keys the server verified
  before keep working from memory, so the Redis-only session tools answer; query tools
  answer a named error; a key never seen gets 503 `Unavailable` with Retry-After (not
  401). PostgreSQL back: a key revoked meanwhile is refused within the documented window.
* Redis down: the key check and the query tools keep answering (the rate limiter falls back
  to a per-process limiter, which still refuses a flood); session tools answer a named
  error. Redis back: the shared Redis budget is in charge again.

The machine's 5432/6379 are never touched (tests/private_services.py). No pass/fail depends
on wall-clock time: waits are polls with generous deadlines.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from mcp_server.security.api_keys.postgres_store import PostgresKeyStore
from tests.integration.mcp_helpers import (
    INITIALIZE,
    MCP_HEADERS,
    error_text,
    free_port,
    keyed_client,
    running_server,
    server_env,
    structured,
)
from tests.private_services import PrivatePostgres, PrivateRedis
from warehouse.db import create_database, with_database
from warehouse.migrate import migrate

pytestmark = pytest.mark.integration

TELCOPULSE = str(Path(__import__("sys").executable).parent / "telcopulse")
CACHE_TTL_S = 1  # TELCOPULSE_AUTH_CACHE_TTL for the server under test
# admin's tiny limit makes the rate limiter observable; the others never reach theirs here.
RATE_LIMITS = {"admin": 5, "analyst": 600, "viewer": 60}
PEOPLE = {"alice": "analyst", "victim": "analyst", "latecomer": "analyst", "ada": "admin"}
DEADLINE_S = 90  # generous: only ever a bound on polling, never an assertion on timing


@dataclass
class Stack:
    pg: PrivatePostgres
    rds: PrivateRedis
    database_url: str
    url: str  # the MCP endpoint
    keys: dict[str, str]
    key_ids: dict[str, str]
    log_path: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    pg, rds = PrivatePostgres(), PrivateRedis(appendonly=False)
    try:
        pg.start()
        rds.start()
        create_database(pg.url(), "telcopulse")
        database_url = with_database(pg.url(), "telcopulse")
        migrate(database_url)
        store = PostgresKeyStore(database_url)  # the default store: ops.api_keys
        keys, key_ids = {}, {}
        for name, role in PEOPLE.items():
            key, record = store.create(name, role)  # type: ignore[arg-type]
            keys[name], key_ids[name] = key, record.key_id
        data_dir = tmp_path_factory.mktemp("isolation")
        env = server_env(
            database_url,
            rds.url(),
            data_dir,
            TELCOPULSE_AUTH_CACHE_TTL=str(CACHE_TTL_S),
            TELCOPULSE_RATE_LIMITS=json.dumps(RATE_LIMITS),
            TELCOPULSE_LOG_FORMAT="text",
        )
        port = free_port()
        log_path = data_dir / "server.log"
        args = [TELCOPULSE, "serve", "--transport", "http", "--port", str(port)]
        with running_server(args, env, f"http://127.0.0.1:{port}/healthz", log_path=log_path):
            yield Stack(pg, rds, database_url, f"http://127.0.0.1:{port}/mcp", keys, key_ids, log_path)
    finally:
        rds.cleanup()
        pg.cleanup()


# --------------------------------------------------------------------------- helpers


async def call(stack: Stack, who: str, tool: str, arguments: dict[str, Any] | None = None) -> Any:
    """One tool call on a fresh MCP connection (initialize passes the auth middleware too)."""
    async with keyed_client(stack.url, stack.keys[who]) as client:
        return await client.call_tool(tool, arguments or {})


def post_initialize(stack: Stack, key: str) -> httpx.Response:
    """A raw MCP initialize: shows the HTTP status and body the auth middleware answers."""
    return httpx.post(stack.url, headers={**MCP_HEADERS, "X-API-Key": key}, json=INITIALIZE, timeout=30)


async def eventually(probe: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not await probe():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {DEADLINE_S} s")
        await asyncio.sleep(0.3)


async def new_session(stack: Stack, who: str, value: Any) -> str:
    """A write session holding `value` under "k" (session_create + session_update)."""
    arguments = {"data_source": "w", "access_level": "write"}
    session_id = structured(await call(stack, who, "session_create", arguments))["session_id"]
    arguments = {"session_id": session_id, "key": "k", "value": value}
    structured(await call(stack, who, "session_update", arguments))
    return session_id


async def read_back(stack: Stack, who: str, session_id: str) -> Any:
    result = await call(stack, who, "session_read", {"session_id": session_id, "key": "k"})
    return structured(result)["value"]


def assert_named_outage(result: Any, tool: str) -> None:
    """A tool-level error (HTTP 200 with isError), named, and not about the key or the limit."""
    assert result.is_error, f"{tool} answered without its dependency"
    text = error_text(result)
    assert not text.startswith(("AuthError", "RateLimited", "Forbidden")), text
    # Named outage errors come from the PG/Redis error mapping (mcp_server/query, sessions);
    # until every path maps them, an unexpected failure still answers with a named error.
    assert text.startswith(("Unavailable:", "Error: the tool failed unexpectedly")), text


_QUERY_NUMBERS = itertools.count(1)


async def select(stack: Stack, who: str) -> Any:
    """A trivial query_database call; a new literal each time, so the result cache never answers."""
    return await call(stack, who, "query_database", {"query": f"SELECT {next(_QUERY_NUMBERS)} AS n"})


def select_ok(result: Any) -> bool:
    if result.is_error:
        return False
    rows = structured(result)["rows"]
    return len(rows) == 1 and list(rows[0]) == ["n"]


# --------------------------------------------------------------------------- PostgreSQL down


async def test_postgres_outage_keeps_verified_keys_and_sessions_working(stack: Stack) -> None:
    # Before: everything works, and alice's and victim's keys get verified (and cached).
    assert select_ok(await select(stack, "alice"))
    session_id = await new_session(stack, "alice", [1, 2])
    assert structured(await call(stack, "victim", "session_create", {"data_source": "w"}))["session_id"]

    stack.pg.stop()
    try:
        await asyncio.sleep(CACHE_TTL_S * 2 + 0.5)  # past the cache TTL: only the grace is left

        # Keys verified before are still in: the Redis-only session reads answer.
        assert await read_back(stack, "alice", session_id) == [1, 2]
        # Session writes keep working too: their audit rows wait in memory for PostgreSQL.
        write = await call(stack, "victim", "session_create", {"data_source": "w"})
        assert not write.is_error, error_text(write)
        # Query tools need PostgreSQL: a named tool error, not a 401/503 for the transport.
        assert_named_outage(await select(stack, "alice"), "query")

        # A key never seen by this server: 503 with retry advice, never 401.
        response = post_initialize(stack, stack.keys["latecomer"])
        assert response.status_code == 503, response.text
        error = response.json()["error"]
        assert error["data"] == {"error": "Unavailable"}
        assert error["message"].startswith(
            "cannot check API keys right now (the key store is unreachable); retry in "
        )
        assert int(response.headers["retry-after"]) >= 1
        assert "www-authenticate" not in response.headers
        # A wrong secret for a cached key id is not "seen": 503 too (the store cannot say).
        wrong = stack.keys["alice"][:-1] + ("A" if stack.keys["alice"][-1] != "A" else "B")
        assert post_initialize(stack, wrong).status_code == 503
        # A malformed key needs no store: still 401.
        assert post_initialize(stack, "tp_nonsense").status_code == 401
    finally:
        stack.pg.start()

    # Back: the store answers again; a key revoked now is refused within the documented
    # window (cache TTL + store retry; polled here with a generous deadline).
    PostgresKeyStore(stack.database_url).revoke(stack.key_ids["victim"])

    async def victim_refused() -> bool:
        return post_initialize(stack, stack.keys["victim"]).status_code == 401

    await eventually(victim_refused, "revoked key refused after PostgreSQL came back")
    assert post_initialize(stack, stack.keys["victim"]).json()["error"]["data"] == {"error": "AuthError"}

    async def latecomer_in() -> bool:
        return post_initialize(stack, stack.keys["latecomer"]).status_code == 200

    await eventually(latecomer_in, "an unseen key accepted after PostgreSQL came back")

    async def queries_back() -> bool:
        return select_ok(await select(stack, "alice"))

    await eventually(queries_back, "query tools answer again after PostgreSQL came back")
    assert await read_back(stack, "alice", await new_session(stack, "alice", {"back": True})) == {
        "back": True
    }


# --------------------------------------------------------------------------- Redis down


async def test_redis_outage_keeps_queries_and_a_local_rate_limit(stack: Stack) -> None:
    ada = stack.key_ids["ada"]
    bucket = f"telcopulse:ratelimit:{ada}"
    stack.rds.stop()
    try:
        # The key check never needs Redis, and query tools keep answering, unmetered by Redis
        # but not unlimited: the local fallback enforces admin's 5 calls/min in process.
        outcomes = []
        for _ in range(RATE_LIMITS["admin"] + 1):
            result = await select(stack, "ada")
            outcomes.append("ok" if select_ok(result) else error_text(result))
        assert outcomes[: RATE_LIMITS["admin"]] == ["ok"] * RATE_LIMITS["admin"], outcomes
        assert outcomes[-1].startswith("RateLimited: rate limit of 5 calls/min for role admin reached"), (
            outcomes
        )
        assert select_ok(await select(stack, "alice"))
        # Session tools need Redis: a named tool error.
        assert_named_outage(await call(stack, "alice", "session_create", {"data_source": "w"}), "session")
    finally:
        stack.rds.start()

    # Redis back: sessions work again, and the shared Redis budget is in charge again
    # (the fresh Redis holds no budget yet; the first check that reaches it writes one).
    async def sessions_back() -> bool:
        result = await call(stack, "alice", "session_create", {"data_source": "w"})
        return not result.is_error

    await eventually(sessions_back, "session tools answer again after Redis came back")
    raw = redis.Redis.from_url(stack.rds.url())
    try:

        async def shared_budget_back() -> bool:
            await call(stack, "ada", "list_marts")
            return raw.exists(bucket) == 1

        await eventually(shared_budget_back, "rate limiting back on Redis")
        refused = None
        for _ in range(RATE_LIMITS["admin"] + 1):
            result = await select(stack, "ada")
            if result.is_error:
                refused = error_text(result)
                break
        assert refused is not None and refused.startswith("RateLimited:"), refused
        assert raw.exists(bucket) == 1
    finally:
        raw.close()
