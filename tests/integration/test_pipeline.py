"""Dagster: definitions load, lineage is raw → staging → marts, a full in-process
materialization succeeds with every asset check passing, and each build is recorded."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration.definitions import build_definitions
from orchestration.resources import WarehouseResource
from tests.integration.conftest import PipelineRun
from warehouse.db import connect

pytestmark = pytest.mark.integration

MARTS = [
    "dim_customers",
    "fct_customer_churn_monthly",
    "fct_arpu_monthly",
    "fct_network_quality_daily",
    "customer_features",
]


@pytest.fixture(scope="module")
def asset_graph() -> dg.AssetGraph:
    return build_definitions(WarehouseResource(database_url="postgresql://unused/db")).resolve_asset_graph()


def test_definitions_load_with_expected_keys_and_groups(asset_graph) -> None:
    keys = {key.to_user_string() for key in asset_graph.get_all_asset_keys()}
    assert {"raw/customers", "raw/network_events", "raw/revenue"} <= keys
    assert {
        "staging/stg_telco__customers",
        "staging/stg_telco__network_events",
        "staging/stg_telco__revenue",
    } <= keys
    assert {f"marts/{m}" for m in MARTS} <= keys
    groups = {
        key.to_user_string(): asset_graph.get(key).group_name for key in asset_graph.get_all_asset_keys()
    }
    assert groups["raw/customers"] == "raw"
    assert groups["staging/stg_telco__customers"] == "staging"
    assert groups["marts/fct_arpu_monthly"] == "marts_revenue"
    assert groups["marts/fct_network_quality_daily"] == "marts_network"
    assert groups["marts/dim_customers"] == "marts_customers"


def test_dbt_tests_are_asset_checks(asset_graph) -> None:
    checks = {(k.asset_key.to_user_string(), k.name) for k in asset_graph.asset_check_keys}
    checked_marts = {asset for asset, _ in checks if asset.startswith("marts/")}
    assert {f"marts/{m}" for m in MARTS} <= checked_marts


def _upstream(asset_graph: dg.AssetGraph, key: str) -> set[str]:
    return {k.to_user_string() for k in asset_graph.get(dg.AssetKey.from_user_string(key)).parent_keys}


def test_lineage_runs_raw_to_staging_to_marts(asset_graph) -> None:
    assert _upstream(asset_graph, "staging/stg_telco__customers") == {"raw/customers"}
    assert _upstream(asset_graph, "staging/stg_telco__network_events") == {"raw/network_events"}
    assert _upstream(asset_graph, "staging/stg_telco__revenue") == {"raw/revenue"}
    for mart in MARTS:
        ancestors = _ancestors(asset_graph, f"marts/{mart}")
        assert any(a.startswith("staging/") for a in ancestors), mart
        assert any(a.startswith("raw/") for a in ancestors), mart


def _ancestors(asset_graph: dg.AssetGraph, key: str) -> set[str]:
    seen: set[str] = set()
    frontier = [key]
    while frontier:
        for parent in _upstream(asset_graph, frontier.pop()):
            if parent not in seen:
                seen.add(parent)
                frontier.append(parent)
    return seen


def test_full_materialization_succeeds_with_all_checks_passing(pipeline: PipelineRun) -> None:
    report = pipeline.report
    assert report.success, report.failed_steps
    assert report.checks_failed == []
    assert len(report.checks_passed) >= 30
    assert {f"marts/{m}" for m in MARTS} <= set(report.materialized)
    assert {"raw/customers", "raw/network_events", "raw/revenue"} <= set(report.materialized)


def test_successful_build_is_recorded_as_data_version(pipeline: PipelineRun) -> None:
    with connect(pipeline.database_url) as conn:
        rows = conn.execute("SELECT build_id, models_built FROM ops.data_builds").fetchall()
    assert [r[0] for r in rows] == [pipeline.report.run_id]
    assert rows[0][1] >= len(MARTS)


def test_raw_load_is_recorded_and_sized_as_asked(pipeline: PipelineRun) -> None:
    with connect(pipeline.database_url) as conn:
        customers = conn.execute("SELECT count(*) FROM raw.customers").fetchone()[0]
        loads = conn.execute("SELECT kind FROM ops.raw_loads").fetchall()
    assert customers == 800
    assert loads == [("synthetic",)]


ANALYSES = ["churn_rate", "arpu", "network_quality", "correlation", "drivers"]


def test_analyses_are_a_group_downstream_of_the_marts(asset_graph) -> None:
    for name in ANALYSES:
        node = asset_graph.get(dg.AssetKey(["analyses", name]))
        assert node.group_name == "analyses"
        assert any(a.startswith("marts/") for a in _ancestors(asset_graph, f"analyses/{name}")), name


def test_refresh_job_includes_the_analyses() -> None:
    defs = build_definitions(WarehouseResource(database_url="postgresql://unused/db"))
    job = defs.resolve_job_def("refresh_marts")
    keys = {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
    assert {f"analyses/{name}" for name in ANALYSES} <= keys


def test_precomputed_analyses_are_stored_for_the_current_version(pipeline: PipelineRun, redis_url) -> None:
    import redis

    from warehouse.analysis_store import DATA_VERSION_SQL, analysis_cache_key

    assert {f"analyses/{name}" for name in ANALYSES} <= set(pipeline.report.materialized)
    with connect(pipeline.database_url) as conn:
        version = conn.execute(DATA_VERSION_SQL).fetchone()[0]
        rows = conn.execute(
            "SELECT analysis_type, data_source, row_count, result->>'summary' FROM analytics.analysis_results "
            "WHERE data_version = %s AND computed_by = 'dagster' ORDER BY 1",
            (version,),
        ).fetchall()
    assert [r[0] for r in rows] == sorted(ANALYSES)
    assert all(r[1] == "warehouse" and r[2] > 0 and r[3] for r in rows)
    client = redis.Redis.from_url(redis_url)
    try:
        for name in ANALYSES:
            assert (
                client.ttl(analysis_cache_key(pipeline.database_url, version, name, "warehouse", {})) > 3000
            )
    finally:
        client.close()
