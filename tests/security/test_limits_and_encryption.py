"""Rate limits per key hold across server instances sharing Redis; session data is
encrypted at rest in Redis and in the archive; only admins clear caches."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import redis
from mcp import Client

from mcp_server.app import build_server
from mcp_server.security.identity import Principal
from tests.integration.mcp_helpers import error_text, mcp_settings, structured
from warehouse.db import connect


@pytest.fixture(scope="module")
def limited_settings(pipeline, redis_url, tmp_path_factory):
    return mcp_settings(
        pipeline.database_url,
        redis_url,
        tmp_path_factory.mktemp("limits"),
        rate_limits={"admin": 1000, "analyst": 20, "viewer": 3},
    )


def _principal(role: str = "analyst") -> Principal:
    return Principal(key_id=uuid.uuid4().hex[:12], name=f"rl-{uuid.uuid4().hex[:6]}", role=role)


async def test_limit_holds_across_two_instances_and_recovers(limited_settings):
    who = _principal()
    first = build_server(limited_settings, local=who)
    second = build_server(limited_settings, local=who)  # another replica, same key, same Redis
    outcomes = []
    async with Client(first) as a, Client(second) as b:
        for index in range(22):
            client = a if index % 2 else b
            result = await client.call_tool("query_database", {"query": "SELECT 1 AS one"})
            outcomes.append("ok" if not result.is_error else error_text(result).split(":")[0])
        assert outcomes == ["ok"] * 20 + ["RateLimited"] * 2
        refused = await a.call_tool("list_marts", {})
        text = error_text(refused)
        assert text.startswith(
            "RateLimited: rate limit of 20 calls/min for role analyst reached; retry after"
        )
        retry_after = float(text.split("retry after ")[1].split(" s")[0])
        assert 0 < retry_after <= 3.1
        await asyncio.sleep(retry_after + 0.1)
        assert not (await b.call_tool("query_database", {"query": "SELECT 1 AS one"})).is_error


async def test_limits_are_per_key_and_per_role(limited_settings):
    viewer, other = _principal("viewer"), _principal("analyst")
    async with Client(build_server(limited_settings, local=viewer)) as v:
        results = [await v.call_tool("session_read", {"session_id": "0" * 32, "key": "k"}) for _ in range(4)]
    assert [error_text(r).split(":")[0] for r in results] == [
        "NotFound",
        "NotFound",
        "NotFound",
        "RateLimited",
    ]
    async with Client(build_server(limited_settings, local=other)) as o:
        assert not (await o.call_tool("query_database", {"query": "SELECT 1 AS one"})).is_error


async def test_session_data_is_encrypted_at_rest(limited_settings, redis_url, pipeline):
    secret = f"plaintext-{uuid.uuid4().hex}"
    async with Client(build_server(limited_settings, local=_principal())) as client:
        sid = structured(
            await client.call_tool("session_create", {"data_source": "w", "access_level": "write"})
        )["session_id"]
        structured(
            await client.call_tool(
                "session_update",
                {"session_id": sid, "key": "note", "value": {"text": secret, "email": "a@b.co"}},
            )
        )
        raw = redis.Redis.from_url(redis_url)
        try:
            stored = raw.get(f"session:{sid}:data:note")
            assert stored is not None and stored.startswith(b"gAAAAA")
            assert secret.encode() not in stored and b"a@b.co" not in stored
            hash_fields = raw.hgetall(f"session:{sid}")
            assert all(secret.encode() not in value for value in hash_fields.values())
        finally:
            raw.close()
        structured(await client.call_tool("session_close", {"session_id": sid}))
    with connect(pipeline.database_url) as conn:
        data, metadata = conn.execute(
            "SELECT data, metadata FROM ops.session_archive WHERE session_id = %s", (sid,)
        ).fetchone()
    assert secret not in json.dumps(data) and secret not in json.dumps(metadata)
    assert data["note"].startswith("gAAAAA")


async def test_only_admins_clear_caches(limited_settings, redis_url):
    async with Client(build_server(limited_settings, local=_principal("analyst"))) as analyst:
        structured(await analyst.call_tool("query_database", {"query": "SELECT 2 AS two"}))
        refused = await analyst.call_tool("cache_clear", {})
        assert refused.is_error and error_text(refused).startswith(
            "Forbidden: tool cache_clear needs role admin"
        )
    async with Client(build_server(limited_settings, local=_principal("admin"))) as admin:
        cleared = structured(await admin.call_tool("cache_clear", {"scope": "queries"}))
        assert cleared["scope"] == "queries" and cleared["deleted_keys"] >= 1
        again = structured(await admin.call_tool("query_database", {"query": "SELECT 2 AS two"}))
        assert again["cached"] is False
