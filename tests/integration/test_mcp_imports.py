"""`list_imports` (admin only: rejects carry file contents) and the last import in
`list_marts`' freshness, through a real MCP client on a warehouse with simulated imports."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from mcp import Client

from mcp_server.app import build_server
from mcp_server.security.identity import Principal
from tests.integration.mcp_helpers import error_text, mcp_settings, structured
from tests.integration.simulated_imports import record_import
from warehouse.db import connect

pytestmark = pytest.mark.integration

ADMIN = Principal(key_id="e1e1e1e1e1e1", name="imp-ada", role="admin")
ANALYST = Principal(key_id="e2e2e2e2e2e2", name="imp-alice", role="analyst")
VIEWER = Principal(key_id="e3e3e3e3e3e3", name="imp-victor", role="viewer")
SECRET_AGE = "SECRET-AGE-7"


def _reject(line: int, rules: list[str], reason: str, **record: object) -> dict[str, object]:
    return {"record_number": f"line {line}", "rules": rules, "reason": reason, "record": record}


@pytest.fixture()
def imports(empty_database_url: str) -> dict[str, str]:
    """Three imports, oldest first: loaded customers with rejects, refused revenue, loaded events."""
    with connect(empty_database_url) as conn:
        customers = record_import(
            conn,
            "customers",
            rows_loaded=40,
            source_file="/home/ops/drop/customers-2026-10.csv",
            rejects=[
                _reject(
                    3, ["age:range"], f"age: must be between 18 and 120, got '{SECRET_AGE}'", age=SECRET_AGE
                ),
                _reject(5, ["age:range", "gender:allowed"], "age: ..., gender: ...", age="7", gender="x"),
                _reject(9, ["gender:allowed"], "gender: must be one of ..., got 'x'", gender="x"),
                _reject(12, ["age:range"], "age: must be between 18 and 120, got '200'", age="200"),
            ],
        )
        conn.commit()
    with connect(empty_database_url) as conn:
        revenue = record_import(
            conn, "revenue", rows_loaded=0, status="refused", error="no header row", source_file="rev.pdf"
        )
        conn.commit()
    with connect(empty_database_url) as conn:
        days = [dt.date(2026, 9, 1), dt.date(2026, 9, 3)]
        events = record_import(
            conn, "network_events", rows_loaded=25, affected_days=days, source_file="C:\\drop\\cdr-sept.csv"
        )
        conn.commit()
    return {"customers": customers, "revenue": revenue, "network_events": events}


def _server(url: str, redis_url: str, tmp_path: Path, who: Principal):
    return build_server(mcp_settings(url, redis_url, tmp_path), local=who)


async def test_admin_lists_recent_imports_newest_first(imports, empty_database_url, redis_url, tmp_path):
    async with Client(_server(empty_database_url, redis_url, tmp_path, ADMIN)) as client:
        listed = structured(await client.call_tool("list_imports", {}))["imports"]
        two = structured(await client.call_tool("list_imports", {"limit": 2}))
    assert [i["import_id"] for i in listed] == [
        imports["network_events"],
        imports["revenue"],
        imports["customers"],
    ]
    events, revenue, customers = listed
    assert events["table_name"] == "network_events" and events["status"] == "loaded"
    assert events["rows_loaded"] == 25 and events["affected_day_count"] == 2
    assert (events["first_affected_day"], events["last_affected_day"]) == ("2026-09-01", "2026-09-03")
    assert revenue["status"] == "refused" and revenue["error"] == "no header row"
    assert customers["rows_rejected"] == 4 and customers["rows_read"] == 44
    assert customers["started_at"] <= customers["finished_at"]
    assert len(two["imports"]) == 2 and two["rejects"] is None


async def test_admin_sees_the_rejects_of_one_import_grouped_by_rule(
    imports, empty_database_url, redis_url, tmp_path
):
    async with Client(_server(empty_database_url, redis_url, tmp_path, ADMIN)) as client:
        out = structured(await client.call_tool("list_imports", {"import_id": imports["customers"]}))
        clean = structured(await client.call_tool("list_imports", {"import_id": imports["network_events"]}))
    assert [i["import_id"] for i in out["imports"]] == [imports["customers"]]
    groups = {g["rule"]: g for g in out["rejects"]}
    assert [g["rule"] for g in out["rejects"]] == ["age:range", "gender:allowed"]  # most frequent first
    assert groups["age:range"]["records"] == 3
    assert groups["age:range"]["record_numbers"] == ["line 3", "line 5", "line 12"]
    assert groups["gender:allowed"]["records"] == 2
    first = groups["age:range"]["examples"][0]
    assert first == {
        "record_number": "line 3",
        "reason": f"age: must be between 18 and 120, got '{SECRET_AGE}'",
        "record": {"age": SECRET_AGE},
    }
    assert clean["rejects"] == []


async def test_unknown_or_malformed_import_ids_are_named_errors(
    imports, empty_database_url, redis_url, tmp_path
):
    async with Client(_server(empty_database_url, redis_url, tmp_path, ADMIN)) as client:
        missing = await client.call_tool("list_imports", {"import_id": str(uuid.uuid4())})
        malformed = await client.call_tool("list_imports", {"import_id": "customers.csv"})
        too_many = await client.call_tool("list_imports", {"limit": 10_000})
    assert missing.is_error and error_text(missing).startswith("NotFound: no import")
    assert malformed.is_error and error_text(malformed).startswith("ValidationError: import_id")
    assert too_many.is_error and error_text(too_many).startswith("ValidationError: limit")


@pytest.mark.parametrize("who", [ANALYST, VIEWER], ids=lambda p: p.role)
async def test_other_roles_are_refused_and_see_no_values(
    who, imports, empty_database_url, redis_url, tmp_path
):
    async with Client(_server(empty_database_url, redis_url, tmp_path, who)) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("list_imports", {"import_id": imports["customers"]})
    assert "list_imports" not in listed
    assert result.is_error and error_text(result).startswith("Forbidden: tool list_imports needs role admin")
    assert SECRET_AGE not in error_text(result) and "customers-2026-10" not in error_text(result)
    assert result.structured_content is None


async def test_list_marts_shows_the_last_import_and_whether_the_marts_have_it(
    imports, empty_database_url, redis_url, tmp_path
):
    server = _server(empty_database_url, redis_url, tmp_path, ANALYST)
    async with Client(server) as client:
        before = structured(await client.call_tool("list_marts", {}))["last_import"]
        with connect(empty_database_url) as conn:
            conn.execute("INSERT INTO ops.data_builds (build_id, source) VALUES ('after-import', 'test')")
            conn.commit()
        after = structured(await client.call_tool("list_marts", {}))["last_import"]
    assert before["table_name"] == "network_events" and before["source_file"] == "cdr-sept.csv"
    assert before["status"] == "loaded" and before["rows_loaded"] == 25
    assert dt.datetime.fromisoformat(before["finished_at"]).tzinfo is not None
    assert before["in_marts"] is False and after["in_marts"] is True


async def test_list_marts_without_imports(empty_database_url, redis_url, tmp_path):
    async with Client(_server(empty_database_url, redis_url, tmp_path, ANALYST)) as client:
        assert structured(await client.call_tool("list_marts", {}))["last_import"] is None
