"""Every tool × every role: allowed or Forbidden as the policy says, and hidden when forbidden;
sessions are owned."""

from __future__ import annotations

import pytest
from mcp import Client

from mcp_server.app import build_server
from mcp_server.security import rbac
from mcp_server.security.identity import Principal
from tests.integration.mcp_helpers import error_text, mcp_settings, structured

# One call per tool that succeeds for an allowed role (session ids are filled in per test).
CALLS = {
    "list_marts": {},
    "query_mart": {"mart": "dim_customers", "columns": ["count(*)"]},
    "query_database": {"query": "SELECT 1 AS one"},
    "explain_query": {"query": "SELECT 1 AS one"},
    "export_result": {"format": "csv", "query": "SELECT 1 AS one"},
    "search_catalog": {"text": "churn"},
    "analyze_data": {"data_source": "warehouse", "analysis_type": "correlation"},
    "create_visualization": {
        "data": [{"x": "a", "y": 1}, {"x": "b", "y": 2}],
        "chart_type": "bar",
        "title": "t",
        "x_axis": "x",
        "y_axis": "y",
    },
    "session_create": {"data_source": "warehouse", "access_level": "write"},
    "session_update": {"key": "k", "value": 1},
    "session_read": {"key": "k"},
    "session_close": {"archive": False},
    "cache_clear": {"scope": "queries"},
    "list_imports": {"limit": 5},
}
PEOPLE = {
    "admin": Principal(key_id="aaaaaaaaaaaa", name="ada", role="admin"),
    "analyst": Principal(key_id="bbbbbbbbbbbb", name="alice", role="analyst"),
    "viewer": Principal(key_id="cccccccccccc", name="victor", role="viewer"),
}


@pytest.fixture(scope="module")
def settings(pipeline, redis_url, tmp_path_factory):
    return mcp_settings(
        pipeline.database_url,
        redis_url,
        tmp_path_factory.mktemp("rbac"),
        rate_limits={"admin": 10_000, "analyst": 10_000, "viewer": 10_000},
    )


def _server(settings, role: str):
    return build_server(settings, local=PEOPLE[role])


def test_policy_covers_every_registered_tool(settings):
    import asyncio

    tools = asyncio.run(_server(settings, "admin").list_tools())
    assert {t.name for t in tools} <= set(rbac.TOOL_POLICY)


@pytest.mark.parametrize("role", sorted(PEOPLE))
async def test_tools_list_shows_exactly_the_allowed_tools(settings, role):
    async with Client(_server(settings, role)) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
    registered = set(CALLS)
    assert listed == {name for name in registered if rbac.allowed(name, role)}


@pytest.mark.parametrize("role", sorted(PEOPLE))
@pytest.mark.parametrize("tool", sorted(CALLS))
async def test_every_tool_for_every_role(settings, role, tool):
    # An analyst-owned session shared with the viewer, holding key "k".
    async with Client(_server(settings, "analyst"), read_timeout_seconds=120) as owner:
        session = structured(
            await owner.call_tool(
                "session_create",
                {"data_source": "warehouse", "access_level": "write", "shared_with": ["victor"]},
            )
        )
        sid = session["session_id"]
        structured(await owner.call_tool("session_update", {"session_id": sid, "key": "k", "value": 1}))
    arguments = dict(CALLS[tool])
    if tool.startswith("session_") and tool != "session_create":
        arguments["session_id"] = sid
    async with Client(_server(settings, role), read_timeout_seconds=120) as client:
        result = await client.call_tool(tool, arguments)
    if not rbac.allowed(tool, role):
        assert result.is_error and error_text(result).startswith(f"Forbidden: tool {tool} needs role")
        assert role in error_text(result)
    else:
        assert not result.is_error, (tool, role, error_text(result))


@pytest.mark.parametrize("role", ["admin", "analyst"])
async def test_only_admins_sql_reads_raw(settings, role):
    """query_database runs admins' SQL as the admin query role (rbac.query_role_for)."""
    async with Client(_server(settings, role)) as client:
        result = await client.call_tool(
            "query_database", {"query": "SELECT count(*) AS n FROM raw.customers"}
        )
    if role == "admin":
        assert structured(result)["rows"][0]["n"] > 0
    else:
        assert result.is_error and "permission denied" in error_text(result)


async def test_sessions_are_owned(settings):
    async with Client(_server(settings, "analyst")) as alice:
        sid = structured(
            await alice.call_tool("session_create", {"data_source": "w", "access_level": "write"})
        )["session_id"]
        structured(
            await alice.call_tool("session_update", {"session_id": sid, "key": "secret", "value": "mine"})
        )
    bob = build_server(settings, local=Principal(key_id="dddddddddddd", name="bob", role="analyst"))
    async with Client(bob) as client:
        for tool, extra in (
            ("session_read", {"key": "secret"}),
            ("session_update", {"key": "secret", "value": "yours"}),
            ("session_close", {}),
        ):
            result = await client.call_tool(tool, {"session_id": sid, **extra})
            assert result.is_error and error_text(result).startswith(
                f"Forbidden: session {sid} belongs to another"
            )
        saved = await client.call_tool(
            "query_database", {"query": "SELECT 1 AS x", "session_id": sid, "save_as": "sneaky"}
        )
        assert saved.is_error and error_text(saved).startswith("Forbidden:")
        forged = await client.call_tool("session_create", {"data_source": "w", "user_id": "alice"})
        assert forged.is_error and error_text(forged).startswith("Forbidden: only admins")
    async with Client(_server(settings, "admin")) as admin:
        value = structured(await admin.call_tool("session_read", {"session_id": sid, "key": "secret"}))
        assert value["value"] == "mine"
        structured(await admin.call_tool("session_close", {"session_id": sid, "archive": False}))


async def test_viewer_reads_shared_sessions_only(settings):
    async with Client(_server(settings, "analyst")) as alice:
        shared = structured(
            await alice.call_tool(
                "session_create", {"data_source": "w", "access_level": "write", "shared_with": ["victor"]}
            )
        )["session_id"]
        private = structured(
            await alice.call_tool("session_create", {"data_source": "w", "access_level": "write"})
        )["session_id"]
        for sid in (shared, private):
            structured(await alice.call_tool("session_update", {"session_id": sid, "key": "k", "value": 7}))
    async with Client(_server(settings, "viewer")) as victor:
        assert (
            structured(await victor.call_tool("session_read", {"session_id": shared, "key": "k"}))["value"]
            == 7
        )
        denied = await victor.call_tool("session_read", {"session_id": private, "key": "k"})
        assert denied.is_error and error_text(denied).startswith("Forbidden:")


async def test_only_admins_read_raw_and_their_cached_results_stay_theirs(settings):
    query = {"query": "SELECT count(*) AS n FROM raw.customers"}
    async with Client(_server(settings, "admin")) as admin:
        first = structured(await admin.call_tool("query_database", query))
        again = structured(await admin.call_tool("query_database", query))
    assert first["rows"][0]["n"] == 800 and again["cached"] is True
    async with Client(_server(settings, "analyst")) as analyst:
        refused = await analyst.call_tool("query_database", query)
    assert refused.is_error and "permission denied" in error_text(refused)
