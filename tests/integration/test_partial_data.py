"""Teams bring their tables one at a time: a migrated, empty warehouse holding only imported
customers refreshes green, with exactly those customers in the marts and no demo data; the
analyses that need events or revenue say "no data yet" (Dagster) and answer NoData (MCP).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
from mcp import Client

from mcp_server.app import build_server
from orchestration.definitions import build_definitions
from orchestration.defs.raw.assets import raw_tables
from orchestration.refresh import RefreshReport, refresh_all
from orchestration.resources import RedisResource, WarehouseResource
from tests.integration.mcp_helpers import error_text, mcp_settings, structured
from tests.integration.simulated_imports import record_import
from warehouse.db import connect

pytestmark = pytest.mark.integration

# (account_type, location, created_at, churn_date or None): 5 churned of 12
CUSTOMERS = [
    ("Basic", "North", dt.datetime(2025, 1, 5), dt.datetime(2025, 6, 1)),
    ("Basic", "North", dt.datetime(2025, 2, 9), None),
    ("Basic", "South", dt.datetime(2025, 3, 1), dt.datetime(2025, 9, 15)),
    ("Basic", "South", dt.datetime(2025, 4, 20), None),
    ("Basic", "East", dt.datetime(2025, 5, 2), dt.datetime(2025, 7, 30)),
    ("Premium", "North", dt.datetime(2025, 1, 15), None),
    ("Premium", "East", dt.datetime(2025, 2, 1), dt.datetime(2025, 10, 1)),
    ("Premium", "East", dt.datetime(2025, 6, 6), None),
    ("Premium", "West", dt.datetime(2025, 7, 7), None),
    ("Enterprise", "West", dt.datetime(2025, 1, 1), None),
    ("Enterprise", "Central", dt.datetime(2025, 3, 3), dt.datetime(2025, 12, 24)),
    ("Enterprise", "Central", dt.datetime(2025, 8, 8), None),
]


@dataclass
class CustomersOnly:
    url: str
    report: RefreshReport
    instance: dg.DagsterInstance


@pytest.fixture(scope="module")
def customers_only(base_database_url: str, redis_url: str) -> Iterator[CustomersOnly]:
    from warehouse.db import temporary_database
    from warehouse.migrate import migrate

    with temporary_database(base_database_url, "telcopulse_test") as url:
        migrate(url)
        with connect(url) as conn:
            for i, (account, location, created, churned) in enumerate(CUSTOMERS):
                conn.execute(
                    "INSERT INTO raw.customers (created_at, age, gender, location, account_type, is_churned,"
                    " churn_date) VALUES (%s, %s, 'Female', %s, %s, %s, %s)",
                    (created, 25 + i, location, account, churned is not None, churned),
                )
            record_import(conn, "customers", rows_loaded=len(CUSTOMERS))
            conn.commit()
        instance = dg.DagsterInstance.ephemeral()
        defs = build_definitions(WarehouseResource(database_url=url), RedisResource(redis_url=redis_url))
        report = refresh_all(defs, instance=instance)
        yield CustomersOnly(url, report, instance)


def _metadata(instance: dg.DagsterInstance, *key: str) -> dict[str, object]:
    event = instance.get_latest_materialization_event(dg.AssetKey(list(key)))
    assert event is not None and event.asset_materialization is not None, key
    return {name: value.value for name, value in event.asset_materialization.metadata.items()}


def test_refresh_is_green_and_adds_no_demo_data(customers_only: CustomersOnly) -> None:
    report = customers_only.report
    assert report.ok, (report.failed_steps, report.checks_failed)
    assert {"analyses/arpu", "analyses/network_quality", "analyses/churn_rate"} <= set(report.materialized)
    with connect(customers_only.url) as conn:
        counts = {
            table: conn.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0]
            for table in ("customers", "network_events", "revenue")
        }
        kinds = [row[0] for row in conn.execute("SELECT kind FROM ops.raw_loads")]
        empty_marts = {
            mart: conn.execute(f"SELECT count(*) FROM marts.{mart}").fetchone()[0]
            for mart in ("fct_network_quality_daily", "fct_arpu_monthly")
        }
    assert counts == {"customers": len(CUSTOMERS), "network_events": 0, "revenue": 0}
    assert kinds == ["import"]
    assert empty_marts == {"fct_network_quality_daily": 0, "fct_arpu_monthly": 0}
    raw_meta = _metadata(customers_only.instance, "raw", "customers")
    assert str(raw_meta["action"]).startswith("kept") and raw_meta["rows_added"] == 0


def test_customer_marts_hold_exactly_the_imported_customers(customers_only: CustomersOnly) -> None:
    expected: dict[str, list[int]] = {}
    for account, _, _, churned in CUSTOMERS:
        expected.setdefault(account, [0, 0])
        expected[account][0] += 1
        expected[account][1] += churned is not None
    with connect(customers_only.url) as conn:
        rows = conn.execute(
            "SELECT account_type, count(*), count(*) FILTER (WHERE is_churned) FROM marts.dim_customers GROUP BY 1"
        ).fetchall()
        features = conn.execute("SELECT count(*) FROM marts.customer_features").fetchone()[0]
        churn_months = conn.execute(
            "SELECT churn_month, count(*) FROM marts.dim_customers WHERE is_churned GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert {account: [n, churned] for account, n, churned in rows} == expected
    assert features == len(CUSTOMERS)
    want = sorted(
        (dt.date(c.year, c.month, 1), 1) for *_, c in CUSTOMERS if c is not None
    )  # every churn month differs
    assert churn_months == want


def test_analyses_without_their_raw_tables_say_no_data_yet(customers_only: CustomersOnly) -> None:
    arpu = _metadata(customers_only.instance, "analyses", "arpu")
    assert str(arpu["status"]).startswith(
        "no data yet — load raw.revenue (telcopulse import FILE --table revenue)"
    )
    quality = _metadata(customers_only.instance, "analyses", "network_quality")
    assert (
        quality["status"]
        == "no data yet — load raw.network_events (telcopulse import FILE --table network_events)"
    )
    churn = _metadata(customers_only.instance, "analyses", "churn_rate")
    assert churn["status"] == "computed" and churn["rows_analysed"] == len(CUSTOMERS)


async def test_analyze_data_answers_no_data_naming_the_raw_table(
    customers_only: CustomersOnly, redis_url: str, tmp_path: Path
) -> None:
    server = build_server(mcp_settings(customers_only.url, redis_url, tmp_path))
    async with Client(server, read_timeout_seconds=120) as client:
        arpu = await client.call_tool("analyze_data", {"data_source": "warehouse", "analysis_type": "arpu"})
        quality = await client.call_tool(
            "analyze_data", {"data_source": "warehouse", "analysis_type": "network_quality"}
        )
        churn = structured(
            await client.call_tool(
                "analyze_data", {"data_source": "warehouse", "analysis_type": "churn_rate"}
            )
        )
    assert arpu.is_error
    assert error_text(arpu).startswith(
        "NoData: arpu needs rows in raw.revenue and raw.network_events, which are empty; "
        "load them with telcopulse import FILE --table revenue; telcopulse import FILE --table network_events"
    )
    assert quality.is_error and error_text(quality).startswith(
        "NoData: network_quality needs rows in raw.network_events, which is empty; "
        "load it with telcopulse import FILE --table network_events"
    )
    assert churn["metadata"]["cached"] is True and churn["metadata"]["row_count"] == len(CUSTOMERS)


def test_a_rejected_first_import_keeps_demo_data_out(empty_database_url: str) -> None:
    """All rows of the team's first file were rejected: raw is empty, but it is their warehouse."""
    with connect(empty_database_url) as conn:
        record_import(
            conn,
            "customers",
            rows_loaded=0,
            rejects=[
                {"reason": "age: must be between 18 and 120, got '7'", "rules": ["age:range"], "record": {}}
            ],
        )
        conn.commit()
    result = dg.materialize(
        [raw_tables], resources={"warehouse": WarehouseResource(database_url=empty_database_url)}
    )
    assert result.success
    with connect(empty_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM raw.customers").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM ops.raw_loads WHERE kind = 'synthetic'").fetchone()[0] == 0
    action = result.asset_materializations_for_node("raw_tables")[0].metadata["action"].value
    assert "ops.imports" in str(action)
