"""Mart figures equal independent SQL over the raw tables, to the cent.

The reference queries below are written from the business definitions in the dbt docs,
not copied from the models, so a wrong join or denominator in a model shows up here.
The analyses' standard inputs read only public, contracted marts, and the lineage that says
so (dbt exposures, the analysis assets' deps in Dagster) matches what they read.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal

import dagster as dg
import pytest
import sqlglot
from sqlglot import exp

from analyses.registry import ANALYSES
from orchestration.definitions import build_definitions
from orchestration.defs.dbt.project import dbt_project
from orchestration.resources import WarehouseResource
from tests.integration.conftest import PIPELINE_CUSTOMERS, PipelineRun
from warehouse.analysis_inputs import marts_read, standard_inputs
from warehouse.db import connect

pytestmark = pytest.mark.integration

MONTHS = """
    months AS (
        SELECT generate_series(date_trunc('month', min(event_timestamp)),
                               date_trunc('month', max(event_timestamp)), interval '1 month')::date AS month
        FROM raw.network_events
    )"""
ACTIVE = "c.created_at < m.month + interval '1 month' AND (c.churn_date IS NULL OR c.churn_date >= m.month)"


def _rows(url: str, sql: str) -> list[tuple]:
    with connect(url) as conn:
        return conn.execute(sql).fetchall()


def test_churn_mart_matches_raw_by_month_account_type_and_location(pipeline: PipelineRun) -> None:
    expected = _rows(
        pipeline.database_url,
        f"""WITH {MONTHS}
        SELECT m.month, c.account_type, c.location, count(*) AS at_risk,
               count(*) FILTER (WHERE c.churn_date >= m.month
                                AND c.churn_date < m.month + interval '1 month') AS churned
        FROM months m JOIN raw.customers c ON {ACTIVE}
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
    )
    actual = _rows(
        pipeline.database_url,
        "SELECT month, account_type, location, customers_at_risk, customers_churned, churn_rate"
        " FROM marts.fct_customer_churn_monthly ORDER BY 1, 2, 3",
    )
    assert len(expected) > 100
    assert [r[:5] for r in actual] == expected
    for row in actual:
        assert row[5] == (Decimal(row[4]) / Decimal(row[3])).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def test_churn_rate_by_account_type_matches_raw(pipeline: PipelineRun) -> None:
    expected = dict(
        _rows(
            pipeline.database_url,
            f"""WITH {MONTHS}
            SELECT c.account_type,
                   round(count(*) FILTER (WHERE c.churn_date >= m.month
                         AND c.churn_date < m.month + interval '1 month')::numeric / count(*), 6)
            FROM months m JOIN raw.customers c ON {ACTIVE} GROUP BY 1""",
        )
    )
    actual = dict(
        _rows(
            pipeline.database_url,
            "SELECT account_type, round(sum(customers_churned)::numeric / sum(customers_at_risk), 6)"
            " FROM marts.fct_customer_churn_monthly GROUP BY 1",
        )
    )
    assert actual == expected
    assert actual["Basic"] > actual["Enterprise"]


def test_arpu_mart_matches_raw_to_the_cent(pipeline: PipelineRun) -> None:
    expected = _rows(
        pipeline.database_url,
        f"""WITH {MONTHS},
        active AS (
            SELECT m.month, c.account_type, count(*) AS active_customers
            FROM months m JOIN raw.customers c ON {ACTIVE} GROUP BY 1, 2
        ),
        revenue AS (
            SELECT date_trunc('month', r.transaction_date)::date AS month, c.account_type, r.service_type,
                   sum(r.amount) AS revenue
            FROM raw.revenue r JOIN raw.customers c USING (customer_id) GROUP BY 1, 2, 3
        )
        SELECT a.month, a.account_type, s.service_type, coalesce(r.revenue, 0) AS revenue,
               a.active_customers, round(coalesce(r.revenue, 0) / a.active_customers, 2) AS arpu
        FROM active a
        CROSS JOIN (VALUES ('data'), ('sms'), ('subscription'), ('voice')) AS s (service_type)
        LEFT JOIN revenue r ON r.month = a.month AND r.account_type = a.account_type
                           AND r.service_type = s.service_type
        ORDER BY 1, 2, 3""",
    )
    actual = _rows(
        pipeline.database_url,
        "SELECT month, account_type, service_type, revenue, active_customers, arpu"
        " FROM marts.fct_arpu_monthly ORDER BY 1, 2, 3",
    )
    assert len(expected) >= 13 * 3 * 4
    assert actual == expected


def test_arpu_total_by_month_matches_raw(pipeline: PipelineRun) -> None:
    """Monthly revenue summed from the mart equals the raw ledger (nothing dropped or doubled)."""
    expected = _rows(
        pipeline.database_url,
        "SELECT date_trunc('month', transaction_date)::date, sum(amount)"
        " FROM raw.revenue GROUP BY 1 ORDER BY 1",
    )
    actual = _rows(
        pipeline.database_url, "SELECT month, sum(revenue) FROM marts.fct_arpu_monthly GROUP BY 1 ORDER BY 1"
    )
    assert actual == expected


def test_network_quality_daily_matches_raw(pipeline: PipelineRun) -> None:
    expected = _rows(
        pipeline.database_url,
        """SELECT e.event_timestamp::date, c.location, e.event_type, count(*),
                  round(avg(e.network_quality_score), 3),
                  count(*) FILTER (WHERE e.network_quality_score < 2.5),
                  sum(e.duration_seconds), sum(e.data_usage_mb)
           FROM raw.network_events e JOIN raw.customers c USING (customer_id)
           GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
    )
    actual = _rows(
        pipeline.database_url,
        """SELECT event_date, location, event_type, event_count, avg_quality_score, poor_quality_events,
                  total_duration_seconds, total_data_usage_mb
           FROM marts.fct_network_quality_daily ORDER BY 1, 2, 3""",
    )
    assert actual == expected


def test_customer_marts_have_one_row_per_customer(pipeline: PipelineRun) -> None:
    counts = _rows(
        pipeline.database_url,
        """SELECT (SELECT count(*) FROM marts.dim_customers),
                  (SELECT count(*) FROM marts.customer_features),
                  (SELECT count(*) FROM marts.customer_features f JOIN raw.customers c USING (customer_id)
                    WHERE f.is_churned IS DISTINCT FROM coalesce(c.is_churned, false))""",
    )[0]
    assert counts == (PIPELINE_CUSTOMERS, PIPELINE_CUSTOMERS, 0)


def test_lifetime_revenue_matches_raw(pipeline: PipelineRun) -> None:
    mismatches = _rows(
        pipeline.database_url,
        """SELECT count(*) FROM marts.dim_customers d
           LEFT JOIN (SELECT customer_id, sum(amount) AS total FROM raw.revenue GROUP BY 1) r
             USING (customer_id)
           WHERE d.lifetime_revenue <> coalesce(r.total, 0)""",
    )[0][0]
    assert mismatches == 0


def test_payment_mix_mart_matches_raw_to_the_cent(pipeline: PipelineRun) -> None:
    expected = _rows(
        pipeline.database_url,
        """SELECT r.payment_method, c.account_type, sum(r.amount), count(*), count(DISTINCT r.customer_id)
           FROM raw.revenue r JOIN raw.customers c USING (customer_id)
           GROUP BY 1, 2 ORDER BY 1, 2""",
    )
    actual = _rows(
        pipeline.database_url,
        "SELECT payment_method, account_type, revenue, transactions, paying_customers"
        " FROM marts.fct_revenue_by_payment_method ORDER BY 1, 2",
    )
    assert len(expected) == 4 * 3
    assert actual == expected
    # the payment mix adds up to the customers' lifetime revenue, per account type
    mismatches = _rows(
        pipeline.database_url,
        """SELECT count(*) FROM (
               SELECT account_type, sum(revenue) AS revenue FROM marts.fct_revenue_by_payment_method GROUP BY 1
           ) p FULL JOIN (
               SELECT account_type, sum(lifetime_revenue) AS revenue FROM marts.dim_customers
               GROUP BY 1 HAVING sum(lifetime_revenue) > 0
           ) d USING (account_type)
           WHERE p.revenue IS DISTINCT FROM d.revenue""",
    )[0][0]
    assert mismatches == 0


def test_network_quality_by_hour_matches_raw(pipeline: PipelineRun) -> None:
    expected = _rows(
        pipeline.database_url,
        """SELECT c.location, e.event_type, extract(hour FROM e.event_timestamp)::int, count(*),
                  count(e.network_quality_score),
                  count(*) FILTER (WHERE e.network_quality_score < 2.5),
                  round(avg(e.network_quality_score), 10),
                  percentile_cont(0.1) WITHIN GROUP (ORDER BY e.network_quality_score),
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY e.network_quality_score),
                  percentile_cont(0.9) WITHIN GROUP (ORDER BY e.network_quality_score)
           FROM raw.network_events e JOIN raw.customers c USING (customer_id)
           GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
    )
    actual = _rows(
        pipeline.database_url,
        """SELECT location, event_type, event_hour, event_count, scored_event_count, poor_quality_events,
                  round(avg_quality_score, 10), p10_quality_score, median_quality_score, p90_quality_score
           FROM marts.fct_network_quality_by_hour ORDER BY 1, 2, 3""",
    )
    assert len(expected) == 8 * 3 * 24
    assert actual == expected
    # every event of a known customer with a location is in one hour of day (the daily mart's total)
    totals = _rows(
        pipeline.database_url,
        """SELECT (SELECT sum(event_count) FROM marts.fct_network_quality_by_hour WHERE location IS NOT NULL),
                  (SELECT sum(event_count) FROM marts.fct_network_quality_daily WHERE location <> 'Unknown')""",
    )[0]
    assert totals[0] == totals[1]


def _manifest() -> dict:
    with dbt_project().manifest_path.open() as handle:
        return json.load(handle)


def test_analysis_inputs_read_only_public_contracted_marts() -> None:
    models = {n["name"]: n for n in _manifest()["nodes"].values() if n["resource_type"] == "model"}
    for analysis in ANALYSES:
        tables = set()
        for name, sql in standard_inputs(analysis).items():
            parsed = sqlglot.parse_one(sql, read="postgres")
            assert not list(parsed.find_all(exp.AggFunc)), f"{analysis}.{name} aggregates in SQL: use a mart"
            tables |= {(t.db, t.name) for t in parsed.find_all(exp.Table)}
        assert {schema for schema, _ in tables} == {"marts"}, analysis
        assert sorted(name for _, name in tables) == sorted(marts_read(analysis))
        for mart in marts_read(analysis):
            node = models[mart]
            assert node["access"] == "public" and node["contract"]["enforced"], mart
            assert node["config"]["meta"]["grain"] and node["config"]["meta"]["unique_key"], mart
        for frame in ANALYSES[analysis].frames:
            source = frame.source
            named = {*source.columns, *(c for c, _, _ in source.where), *source.order_by}
            missing = named - set(models[source.mart]["columns"])
            assert not missing, (
                f"{analysis}.{frame.name} names columns {source.mart} does not have: {missing}"
            )


def test_exposures_list_what_each_analysis_reads() -> None:
    manifest = _manifest()
    exposures = {e["name"]: e for e in manifest["exposures"].values()}

    def reads(exposure: str) -> set[str]:
        return {node.removeprefix("model.telcopulse.") for node in exposures[exposure]["depends_on"]["nodes"]}

    for analysis in ANALYSES:
        assert reads(f"analysis_{analysis}") == set(marts_read(analysis)), analysis
        assert set(marts_read(analysis)) <= reads("telcopulse_mcp_server"), analysis
    public_marts = {
        n["name"]
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["schema"] == "marts" and n["access"] == "public"
    }
    assert reads("telcopulse_mcp_server") == public_marts


def test_analysis_assets_are_downstream_of_the_marts_they_read() -> None:
    graph = build_definitions(WarehouseResource(database_url="postgresql://unused/db")).resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    for analysis in ANALYSES:
        parents = {k.to_user_string() for k in graph.get(dg.AssetKey(["analyses", analysis])).parent_keys}
        assert parents == {f"marts/{mart}" for mart in marts_read(analysis)}, analysis
        assert all(dg.AssetKey(["marts", mart]) in keys for mart in marts_read(analysis)), analysis
    assert graph.get(dg.AssetKey(["marts", "fct_network_quality_by_hour"])).group_name == "marts_network"
    assert graph.get(dg.AssetKey(["marts", "fct_revenue_by_payment_method"])).group_name == "marts_revenue"
