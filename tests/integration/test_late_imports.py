"""Late-arriving data: an import of events for a day long past is re-processed by the next
incremental build (exactly those days, not a full refresh), while an import that changed
existing customers' history forces a full refresh. Real Dagster runs, real dbt.

Own small warehouse (not the shared pipeline): these tests add imports and builds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from orchestration.definitions import build_definitions
from orchestration.defs.dbt.assets import (
    customer_history_changed_since_last_build,
    late_event_days_since_last_build,
    raw_history_replaced_since_last_build,
)
from orchestration.refresh import RefreshReport, refresh_all
from orchestration.resources import RedisResource, WarehouseResource
from tests.integration.simulated_imports import record_import
from warehouse.db import connect, temporary_database
from warehouse.generator import generate
from warehouse.migrate import migrate

pytestmark = pytest.mark.integration

NETWORK_CHECK = "marts/fct_network_quality_daily:assert_network_daily_totals_match_staging"

# Mart vs staging per day: events, poor-quality events, data volume.
DAILY_DIFF_SQL = """
SELECT count(*) FROM (
    SELECT event_date AS d, sum(event_count) AS n, sum(poor_quality_events) AS p, sum(total_data_usage_mb) AS mb
    FROM marts.fct_network_quality_daily WHERE event_date = ANY(%(days)s) GROUP BY 1
) m FULL JOIN (
    SELECT event_date AS d, count(*) AS n, count(*) FILTER (WHERE is_poor_quality) AS p,
           coalesce(sum(data_usage_mb), 0) AS mb
    FROM staging.stg_telco__network_events WHERE event_date = ANY(%(days)s) GROUP BY 1
) s USING (d)
WHERE m.n IS DISTINCT FROM s.n OR m.p IS DISTINCT FROM s.p OR m.mb IS DISTINCT FROM s.mb
"""


@dataclass
class Warehouse:
    url: str
    redis_url: str

    def refresh(self) -> RefreshReport:
        defs = build_definitions(
            WarehouseResource(database_url=self.url), RedisResource(redis_url=self.redis_url)
        )
        report = refresh_all(defs)
        assert report.ok, (report.failed_steps, report.checks_failed)
        return report

    def scalar(self, sql: str, params: object = None) -> object:
        with connect(self.url) as conn:
            return conn.execute(sql, params).fetchone()[0]

    def mart_oid(self) -> int:
        return int(self.scalar("SELECT 'marts.fct_network_quality_daily'::regclass::oid"))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def warehouse(base_database_url: str, redis_url: str) -> Iterator[Warehouse]:
    with temporary_database(base_database_url, "telcopulse_test") as url:
        migrate(url)
        generate(url, customers=150, seed=21, end_date=dt.date(2026, 6, 30), history_months=3, progress=False)
        built = Warehouse(url, redis_url)
        built.refresh()
        yield built


def _insert_events(wh: Warehouse, day: dt.date, count: int) -> None:
    """`count` events on `day` for customers active that whole day (the singular tests hold)."""
    with connect(wh.url) as conn:
        customers = [
            row[0]
            for row in conn.execute(
                "SELECT customer_id FROM raw.customers WHERE created_at < %s"
                " AND (churn_date IS NULL OR churn_date >= %s) ORDER BY customer_id LIMIT 10",
                (day, day + dt.timedelta(days=1)),
            )
        ]
        assert customers
        for i in range(count):
            conn.execute(
                "INSERT INTO raw.network_events (customer_id, event_timestamp, event_type,"
                " network_quality_score, duration_seconds, data_usage_mb) VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    customers[i % len(customers)],
                    dt.datetime.combine(day, dt.time(1 + i % 22, i % 60)),
                    ("call", "sms", "data")[i % 3],
                    (1.2, 2.5, 4.1, 4.9)[i % 4],
                    30 * (i % 3 == 0),
                    12.5 * (i % 3 == 2),
                ),
            )
        record_import(conn, "network_events", rows_loaded=count, affected_days=[day])
        conn.commit()


def test_events_imported_for_a_past_day_are_reprocessed_incrementally(warehouse: Warehouse) -> None:
    newest = warehouse.scalar("SELECT max(event_date) FROM marts.fct_network_quality_daily")
    assert isinstance(newest, dt.date)
    late_day = newest - dt.timedelta(days=30)
    untouched_day = newest - dt.timedelta(days=45)
    oid_before = warehouse.mart_oid()
    untouched_before = warehouse.scalar(
        "SELECT array_agg((xmin::text, event_count) ORDER BY location, event_type)::text"
        " FROM marts.fct_network_quality_daily WHERE event_date = %s",
        (untouched_day,),
    )
    assert untouched_before

    _insert_events(warehouse, late_day, 40)
    assert warehouse.scalar(DAILY_DIFF_SQL, {"days": [late_day]}) > 0  # the mart is stale now
    assert late_event_days_since_last_build(warehouse.url) == [late_day]
    assert not raw_history_replaced_since_last_build(warehouse.url)  # an import adds, it replaces nothing

    report = warehouse.refresh()

    assert NETWORK_CHECK in report.checks_passed
    assert warehouse.scalar(DAILY_DIFF_SQL, {"days": [late_day]}) == 0
    # Incremental, not a full refresh: same table, and rows of other old days were not rewritten.
    assert warehouse.mart_oid() == oid_before
    assert (
        warehouse.scalar(
            "SELECT array_agg((xmin::text, event_count) ORDER BY location, event_type)::text"
            " FROM marts.fct_network_quality_daily WHERE event_date = %s",
            (untouched_day,),
        )
        == untouched_before
    )
    details = warehouse.scalar("SELECT details FROM ops.data_builds ORDER BY finished_at DESC LIMIT 1")
    assert details["reprocess_days"] == [late_day.isoformat()] and details["started_at"]  # type: ignore[index]
    assert late_event_days_since_last_build(warehouse.url) == []  # consumed by that build


def test_customer_history_change_forces_a_full_refresh(warehouse: Warehouse) -> None:
    oid_before = warehouse.mart_oid()
    with connect(warehouse.url) as conn:
        moved = conn.execute(
            "UPDATE raw.customers SET location = 'Central' WHERE customer_id IN (SELECT customer_id FROM"
            " raw.network_events GROUP BY 1 ORDER BY count(*) DESC LIMIT 5) AND location <> 'Central'"
        ).rowcount
        assert moved > 0
        record_import(conn, "customers", rows_loaded=0, rows_updated=moved, history_changed=True)
        conn.commit()
    assert customer_history_changed_since_last_build(warehouse.url)

    report = warehouse.refresh()

    assert NETWORK_CHECK in report.checks_passed
    assert warehouse.mart_oid() != oid_before  # rebuilt: every day moved those customers' events
    wrong = warehouse.scalar(
        """SELECT count(*) FROM (
               SELECT e.event_timestamp::date AS d, coalesce(c.location, 'Unknown') AS loc, count(*) AS n
               FROM raw.network_events e LEFT JOIN raw.customers c USING (customer_id) GROUP BY 1, 2
           ) r FULL JOIN (
               SELECT event_date AS d, location AS loc, sum(event_count) AS n
               FROM marts.fct_network_quality_daily GROUP BY 1, 2
           ) m USING (d, loc) WHERE r.n IS DISTINCT FROM m.n"""
    )
    assert wrong == 0
    assert not customer_history_changed_since_last_build(warehouse.url)


def test_only_loaded_imports_after_the_last_build_count(empty_database_url: str) -> None:
    day = dt.date(2026, 3, 1)
    with connect(empty_database_url) as conn:
        record_import(conn, "network_events", rows_loaded=5, affected_days=[day])
        record_import(conn, "customers", rows_loaded=5, history_changed=True)
        conn.commit()
    assert late_event_days_since_last_build(empty_database_url) == [day]
    assert customer_history_changed_since_last_build(empty_database_url)
    with connect(empty_database_url) as conn:
        conn.execute("INSERT INTO ops.data_builds (build_id, source) VALUES ('b1', 'test')")
        conn.commit()
    with connect(empty_database_url) as conn:
        # after the build: a refused file, revenue days and an unchanged-history customers file
        record_import(conn, "network_events", rows_loaded=0, affected_days=[day], status="refused", error="x")
        record_import(conn, "revenue", rows_loaded=3, affected_days=[day])
        record_import(conn, "customers", rows_loaded=3)
        conn.commit()
    assert late_event_days_since_last_build(empty_database_url) == []
    assert not customer_history_changed_since_last_build(empty_database_url)
    assert not raw_history_replaced_since_last_build(empty_database_url)
    with connect(empty_database_url) as conn:
        days = [day + dt.timedelta(days=n) for n in (3, 1, 2)]
        record_import(conn, "network_events", rows_loaded=9, affected_days=days[:2])
        record_import(conn, "network_events", rows_loaded=9, affected_days=days[1:])
        conn.commit()
    assert late_event_days_since_last_build(empty_database_url) == sorted(days)
