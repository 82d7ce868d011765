"""Log hygiene: every tool, on success and on failure, leaves JSON log lines (and audit rows)
that name the call but never carry what was in it - no query parameter values, no raw e-mail
addresses or phone numbers, no encryption key, no API key.

Two runs: an in-memory server with a capturing JSON handler on the root logger at DEBUG (the
per-request library loggers held at WARNING, as `configure_logging` does at every level), and
a real `telcopulse serve --transport http` process whose stderr and stdout go to a file.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from mcp import Client
from mcp_types import CallToolResult

from mcp_server.app import build_server
from mcp_server.observability.logging import NOISY_LOGGERS, JsonFormatter
from mcp_server.security.identity import Principal
from tests.integration.conftest import TELCOPULSE
from tests.integration.mcp_helpers import (
    INITIALIZE,
    MCP_HEADERS,
    error_text,
    free_port,
    keyed_client,
    make_keys,
    mcp_settings,
    running_server,
    server_env,
    structured,
)
from warehouse.db import connect

SECRET_PARAM = "SECRET-PARAM-7f3a"
EMAIL = "jane.doe@example.com"
PHONE = "+44 7911 123456"
FERNET_KEY = Fernet.generate_key().decode()
# What must never show up, in any spelling a formatter might produce.
ALWAYS_SECRET = (SECRET_PARAM, EMAIL, "jane.doe", PHONE, "7911 123456", "7911123456", FERNET_KEY, "gAAAAA")
PERSONAL_VALUE = {"email": EMAIL, "phone": PHONE, "note": f"call {PHONE} or write to {EMAIL}"}
SELECT_SECRETS = f"SELECT :p AS p, '{EMAIL}' AS email, '{PHONE}' AS phone"

ALICE = Principal(key_id="a1a1a1a1a1a1", name="hygiene-alice", role="analyst")
ADA = Principal(key_id="a2a2a2a2a2a2", name="hygiene-ada", role="admin")
TOOL_LINE_FIELDS = {"tool", "outcome", "duration_ms", "key_id", "role"}


@dataclass
class Run:
    lines: list[str]
    calls: list[tuple[str, str]] = field(default_factory=list)  # (tool, outcome), in order
    admin_calls: list[tuple[str, str]] = field(default_factory=list)
    registered: set[str] = field(default_factory=set)


def outcome(result: CallToolResult) -> str:
    return error_text(result).split(":", 1)[0] if result.is_error else "ok"


def parsed(lines: list[str]) -> list[dict[str, Any]]:
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"log line is not JSON: {line[:300]!r}")
        assert isinstance(record, dict) and {"ts", "level", "logger", "msg"} <= set(record), line[:300]
        records.append(record)
    return records


def assert_no_secrets(lines: list[str], secrets: tuple[str, ...]) -> None:
    for line in lines:
        for secret in secrets:
            assert secret not in line, f"{secret[:12]!r}... leaked into the log: {line[:500]}"


def assert_tool_lines(records: list[dict[str, Any]], calls: list[tuple[str, str]], key_id: str) -> None:
    """One `telcopulse.tools` line per call, in order, with tool, outcome and duration."""
    tool_lines = [r for r in records if r["logger"] == "telcopulse.tools" and r.get("key_id") == key_id]
    assert [(r["tool"], r["outcome"]) for r in tool_lines] == calls
    for record in tool_lines:
        assert set(record) >= TOOL_LINE_FIELDS, record
        assert isinstance(record["duration_ms"], int) and record["duration_ms"] >= 0, record
        assert not {"arguments", "params", "parameters", "query", "value"} & set(record), record


# --------------------------------------------------------------------------- in-memory server


async def _exercise_every_tool(settings: Any, run: Run) -> None:
    """Each tool at least once succeeding and once failing, as alice (analyst) or, for admin
    tools, ada; records (tool, outcome) per call in `run`."""

    async def call(
        client: Client, tool: str, arguments: dict[str, Any], expect: str, log: list | None = None
    ) -> CallToolResult:
        result = await client.call_tool(tool, arguments)
        got = outcome(result)
        assert got == expect, (tool, arguments, error_text(result)[:300])
        (run.calls if log is None else log).append((tool, got))
        return result

    async with Client(build_server(settings, local=ADA), read_timeout_seconds=120) as ada:
        run.registered = {tool.name for tool in (await ada.list_tools()).tools}
        foreign_session = {"data_source": "w", "access_level": "write", "user_id": "x"}
        foreign = structured(await call(ada, "session_create", foreign_session, "ok", run.admin_calls))
        foreign = foreign["session_id"]
        if "cache_clear" in run.registered:
            await call(ada, "cache_clear", {"scope": "queries"}, "ok", run.admin_calls)
            await call(ada, "cache_clear", {"scope": EMAIL}, "ValidationError", run.admin_calls)
        if "list_imports" in run.registered:
            await call(ada, "list_imports", {"limit": 3}, "ok", run.admin_calls)
            await call(ada, "list_imports", {"import_id": EMAIL}, "ValidationError", run.admin_calls)
    async with Client(build_server(settings, local=ALICE), read_timeout_seconds=120) as alice:
        await call(alice, "list_marts", {}, "ok")
        await call(alice, "list_marts", {"unexpected": EMAIL}, "ok")  # extra arguments are ignored
        sid = structured(
            await call(alice, "session_create", {"data_source": EMAIL, "access_level": "write"}, "ok")
        )["session_id"]
        await call(alice, "session_create", {"data_source": "w", "user_id": EMAIL}, "Forbidden")
        await call(
            alice, "session_update", {"session_id": sid, "key": "person", "value": PERSONAL_VALUE}, "ok"
        )
        await call(
            alice, "session_update", {"session_id": sid, "key": EMAIL, "value": PHONE}, "ValidationError"
        )
        await call(alice, "session_update", {"session_id": foreign, "key": "k", "value": PHONE}, "Forbidden")
        await call(alice, "session_read", {"session_id": sid, "key": "person"}, "ok")
        await call(alice, "session_read", {"session_id": sid, "key": "nope"}, "NotFound")
        rows = {"query": SELECT_SECRETS, "parameters": {"p": SECRET_PARAM}}
        await call(alice, "query_database", {**rows, "session_id": sid, "save_as": "secrets"}, "ok")
        await call(
            alice,
            "query_database",
            {"query": "SELECT :p::int AS p", "parameters": {"p": SECRET_PARAM}},
            "QueryError",
        )
        await call(alice, "query_database", {"query": f"SELECT '{EMAIL}'::int AS x"}, "QueryError")
        await call(
            alice,
            "query_database",
            {"query": f"DELETE FROM marts.dim_customers WHERE x = '{PHONE}'"},
            "QueryError",
        )
        await call(
            alice,
            "query_database",
            {"query": SELECT_SECRETS, "parameters": {"p": [SECRET_PARAM, {"a": 1}]}},
            "ValidationError",
        )
        await call(
            alice,
            "query_database",
            {
                "query": "SELECT count(*) AS n FROM generate_series(1, 500000000) g WHERE length(:p) > 0",
                "parameters": {"p": SECRET_PARAM},
                "timeout": 1,
            },
            "TimeoutError",
        )
        await call(alice, "explain_query", {"query": SELECT_SECRETS, "parameters": {"p": SECRET_PARAM}}, "ok")
        await call(
            alice,
            "explain_query",
            {"query": f"DELETE FROM marts.dim_customers WHERE x = '{PHONE}'"},
            "QueryError",
        )
        await call(alice, "search_catalog", {"text": EMAIL}, "ok")
        await call(
            alice,
            "export_result",
            {"format": "csv", "query": SELECT_SECRETS, "parameters": {"p": SECRET_PARAM}},
            "ok",
        )
        await call(alice, "export_result", {"format": "csv", "mart": EMAIL}, "ValidationError")
        await call(alice, "search_catalog", {"text": "churn", "cursor": PHONE}, "ValidationError")
        mart_filter = [{"column": "account_type", "op": "=", "value": EMAIL}]
        await call(alice, "query_mart", {"mart": "dim_customers", "filters": mart_filter}, "ok")
        await call(
            alice,
            "query_mart",
            {"mart": "dim_customers", "filters": [{"column": PHONE, "value": 1}]},
            "ValidationError",
        )
        await call(alice, "analyze_data", {"data_source": "warehouse", "analysis_type": "correlation"}, "ok")
        await call(
            alice,
            "analyze_data",
            {"data_source": "warehouse", "analysis_type": "arpu", "parameters": {"alpha": SECRET_PARAM}},
            "ValidationError",
        )
        await call(
            alice,
            "analyze_data",
            {"data_source": sid, "analysis_type": "correlation", "parameters": {"session_key": "secrets"}},
            "ValidationError",
        )
        chart = [{"who": EMAIL, "n": 1}, {"who": PHONE, "n": 2}]
        await call(
            alice,
            "create_visualization",
            {"data": chart, "chart_type": "bar", "title": EMAIL, "x_axis": "who", "y_axis": "n"},
            "ok",
        )
        await call(
            alice,
            "create_visualization",
            {"data": chart, "chart_type": "bar", "title": "t", "x_axis": SECRET_PARAM},
            "ValidationError",
        )
        await call(alice, "session_close", {"session_id": foreign}, "Forbidden")
        await call(alice, "session_close", {"session_id": sid, "archive": True}, "ok")
        await call(alice, "session_read", {"session_id": sid, "key": "person"}, "SessionExpired")
        await call(alice, "no_such_tool", {"x": SECRET_PARAM}, "NotFound")
        if "cache_clear" in run.registered:
            await call(alice, "cache_clear", {"scope": "all"}, "Forbidden")
        if "list_imports" in run.registered:
            await call(alice, "list_imports", {"import_id": SECRET_PARAM}, "Forbidden")


@pytest.fixture(scope="module")
def memory_run(pipeline, redis_url, tmp_path_factory) -> Run:
    settings = mcp_settings(
        pipeline.database_url,
        redis_url,
        tmp_path_factory.mktemp("hygiene"),
        fernet_keys=FERNET_KEY,
        rate_limits={"admin": 10_000, "analyst": 10_000, "viewer": 10_000},
    )
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ["", *NOISY_LOGGERS]}
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in NOISY_LOGGERS:  # what configure_logging("json", "DEBUG") does
        logging.getLogger(name).setLevel(logging.WARNING)
    run = Run(lines=[])
    try:
        asyncio.run(_exercise_every_tool(settings, run))
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    run.lines = buffer.getvalue().splitlines()
    return run


def test_every_tool_was_exercised_with_success_and_failure(memory_run):
    outcomes: dict[str, set[str]] = {}
    for tool, result in memory_run.calls + memory_run.admin_calls:
        outcomes.setdefault(tool, set()).add(result)
    assert {"list_marts", "query_mart", "query_database", "analyze_data", "create_visualization"} <= (
        memory_run.registered
    )
    missing = memory_run.registered - set(outcomes)
    assert not missing, f"add calls for the new tool(s) {sorted(missing)} to _exercise_every_tool"
    for tool in memory_run.registered - {"list_marts"}:  # list_marts takes no input that could fail
        assert "ok" in outcomes[tool] and outcomes[tool] - {"ok"}, (tool, outcomes[tool])


def test_every_line_is_json(memory_run):
    assert len(memory_run.lines) >= len(memory_run.calls)
    parsed(memory_run.lines)


def test_no_unexpected_errors_were_logged(memory_run):
    # every failure above is anticipated: named, logged at INFO on the tool line, no traceback
    errors = [r for r in parsed(memory_run.lines) if r["level"] in ("ERROR", "CRITICAL")]
    assert not errors, errors[:3]
    assert not [r for r in parsed(memory_run.lines) if "traceback" in r]


def test_no_values_in_the_log(memory_run):
    assert_no_secrets(memory_run.lines, ALWAYS_SECRET)


def test_tool_lines_name_the_call_and_its_outcome(memory_run):
    assert_tool_lines(parsed(memory_run.lines), memory_run.calls, ALICE.key_id)
    assert_tool_lines(parsed(memory_run.lines), memory_run.admin_calls, ADA.key_id)


def _audit_rows(url: str, key_id: str) -> list[tuple[str, str, str]]:
    """The outcome rows (admin and write calls also get a `started` row before they act)."""
    with connect(url) as conn:
        return conn.execute(
            "SELECT tool, outcome, t::text FROM ops.audit_log t WHERE key_id = %s AND outcome <> 'started' "
            "ORDER BY id",
            (key_id,),
        ).fetchall()


def test_the_audit_trail_has_one_row_per_call(memory_run, pipeline):
    rows = _audit_rows(pipeline.database_url, ALICE.key_id)
    assert [(tool, result) for tool, result, _ in rows] == memory_run.calls


def test_the_audit_trail_holds_no_values_either(memory_run, pipeline):
    rows = _audit_rows(pipeline.database_url, ALICE.key_id)
    assert_no_secrets([text for _, _, text in rows], ALWAYS_SECRET)


# --------------------------------------------------------------------------- HTTP server process


INIT = INITIALIZE
HEADERS = MCP_HEADERS


@dataclass
class HttpRun(Run):
    key: str = ""
    key_id: str = ""
    bad_keys: list[str] = field(default_factory=list)


async def _http_calls(url: str, key: str) -> list[tuple[str, str]]:
    calls = []
    async with keyed_client(url, key) as client:
        for tool, arguments in (
            ("list_marts", {}),
            ("query_database", {"query": SELECT_SECRETS, "parameters": {"p": SECRET_PARAM}}),
            ("query_database", {"query": "SELECT :p::int AS p", "parameters": {"p": SECRET_PARAM}}),
            (
                "query_mart",
                {"mart": "dim_customers", "filters": [{"column": "account_type", "value": EMAIL}]},
            ),
            # its error text echoes the value (the audit keeps only its name); the log must not
            (
                "analyze_data",
                {"data_source": "warehouse", "analysis_type": "arpu", "parameters": {"alpha": SECRET_PARAM}},
            ),
            ("session_create", {"data_source": EMAIL, "access_level": "write"}),
        ):
            result = await client.call_tool(tool, arguments)
            calls.append((tool, outcome(result)))
            if tool == "session_create":
                sid = structured(result)["session_id"]
                update = {"session_id": sid, "key": "person", "value": PERSONAL_VALUE}
                calls.append(("session_update", outcome(await client.call_tool("session_update", update))))
    return calls


@pytest.fixture(scope="module")
def http_run(pipeline, redis_url, tmp_path_factory) -> HttpRun:
    data_dir = tmp_path_factory.mktemp("hygiene-http")
    keys_file = data_dir / "api_keys.jsonl"
    keys, key_ids = make_keys(keys_file, {"hygiene-http": "analyst"})
    key, key_id = keys["hygiene-http"], key_ids["hygiene-http"]
    env = server_env(
        pipeline.database_url,
        redis_url,
        data_dir,
        TELCOPULSE_API_KEYS_FILE=str(keys_file),
        TELCOPULSE_FERNET_KEYS=FERNET_KEY,
        TELCOPULSE_LOG_FORMAT="json",
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    tampered = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")  # right id, wrong secret
    stranger = "tp_0123456789ab_" + "S3cretStrangerKeyValue" * 2
    log_path = data_dir / "server.log"
    args = [TELCOPULSE, "serve", "--transport", "http", "--port", str(port)]
    with running_server(args, env, f"http://127.0.0.1:{port}/healthz", log_path=log_path):
        calls = asyncio.run(_http_calls(url, key))
        statuses = [
            httpx.post(url, headers={**HEADERS, "X-API-Key": tampered}, json=INIT, timeout=10).status_code,
            httpx.post(
                url, headers={**HEADERS, "Authorization": f"Bearer {stranger}"}, json=INIT, timeout=10
            ).status_code,
            httpx.post(url, headers=HEADERS, json=INIT, timeout=10).status_code,
        ]
        assert statuses == [401, 401, 401]
    run = HttpRun(
        lines=log_path.read_text().splitlines(),
        calls=calls,
        key=key,
        key_id=key_id,
        bad_keys=[tampered, stranger],
    )
    return run


def test_http_server_log_is_json_without_values_or_keys(http_run):
    assert http_run.lines, "the server wrote no log at all"
    records = parsed(http_run.lines)
    assert not [r for r in records if r["level"] in ("ERROR", "CRITICAL") or "traceback" in r]
    keys = [http_run.key, *http_run.bad_keys]
    secrets = (*ALWAYS_SECRET, *keys, *(k.split("_", 2)[2] for k in keys))
    assert_no_secrets(http_run.lines, secrets)


def test_http_tool_lines_name_the_call_and_its_outcome(http_run):
    assert http_run.calls == [
        ("list_marts", "ok"),
        ("query_database", "ok"),
        ("query_database", "QueryError"),
        ("query_mart", "ok"),
        ("analyze_data", "ValidationError"),
        ("session_create", "ok"),
        ("session_update", "ok"),
    ]
    assert_tool_lines(parsed(http_run.lines), http_run.calls, http_run.key_id)


def test_http_calls_are_audited(http_run, pipeline):
    rows = _audit_rows(pipeline.database_url, http_run.key_id)
    assert [(tool, result) for tool, result, _ in rows] == http_run.calls
    assert all(",http," in text for _, _, text in rows)


def test_invalid_keys_are_logged_as_auth_errors_without_the_key(http_run):
    auth = [r for r in parsed(http_run.lines) if r["logger"] == "telcopulse.auth"]
    rejected = [r for r in auth if r.get("outcome") == "AuthError"]
    # the tampered key (its id is public), the unknown key, and the request without any key
    assert [r.get("key_id") for r in rejected] == [http_run.key_id, "0123456789ab", None], rejected
    # successful authentications may be logged (at DEBUG they are not): then with the key id only
    accepted = [r for r in auth if r.get("outcome") == "ok"]
    assert all(r.get("key_id") == http_run.key_id and r.get("role") == "analyst" for r in accepted)
