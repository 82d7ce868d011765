"""Analyses as declared specs: everything that names an analysis is derived from its module's SPEC.

The first test is the issue's promise: a new module in `analyses/` (here a toy one, in a temporary
folder joined to the package's path) is an analysis everywhere, with no other edit: a Dagster asset
downstream of the mart it reads, which computes and stores it; a valid `analysis_type` in the MCP
tool's schema and description; a `templates://analysis/` resource; an `analyze_data` answer served
from what the asset stored; and an exposure in the generated dbt file. It runs in a fresh
interpreter so the catalogue this test process already built is not the one under test.

The others check the derived tables against the specs they come from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pytest
from mcp import Client
from mcp_types import ResourceTemplateReference

from analyses.registry import ANALYSES
from mcp_server.app import build_server
from mcp_server.resources.templates import SQL_EQUIVALENTS, template
from orchestration.definitions import build_definitions
from orchestration.defs.dbt.exposures import ANALYSIS_EXPOSURES, analysis_exposures_yaml
from orchestration.resources import WarehouseResource
from tests.integration.mcp_helpers import mcp_settings
from warehouse.analysis_inputs import marts_read, required_raw_tables
from warehouse.db import connect
from warehouse.raw_schema import RAW_TABLE_NAMES
from warehouse.settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

TOY_MODULE = '''
"""Toy analysis: median tenure of churned and retained customers."""

from __future__ import annotations

import pandas as pd

from analyses.results import AnalysisResult, ComputedOn
from analyses.spec import AnalysisSpec, FrameSpec, MartSource, SummaryChart


def tenure_toy(customers: pd.DataFrame, *, churn_column: str = "is_churned") -> AnalysisResult:
    """Median tenure in days of churned and of retained customers."""
    medians = customers.groupby(churn_column)["tenure_days"].median()
    rows = [{"churned": bool(k), "median_tenure_days": float(v)} for k, v in medians.items()]
    return AnalysisResult(
        analysis_type="tenure_toy",
        summary=f"{len(customers)} customers",
        how_to_read="Medians, not means.",
        computed_on=ComputedOn(rows=len(customers)),
        tables={"by_outcome": rows},
    )


SPEC = AnalysisSpec(
    name="tenure_toy",
    title="Tenure of churned and retained customers",
    brief="median tenure by churn",
    function=tenure_toy,
    frames=[
        FrameSpec(
            name="customers",
            required=True,
            description="One row per customer (marts.dim_customers).",
            columns=["is_churned", "tenure_days"],
            source=MartSource(mart="dim_customers", columns=("customer_id", "is_churned", "tenure_days")),
        )
    ],
    parameter_docs={"churn_column": "Churn flag column."},
    raw_tables=("customers",),
    main_table="by_outcome",
    chart=SummaryChart(
        table="by_outcome", chart_type="bar", x_axis="churned", y_axis="median_tenure_days", title="Tenure"
    ),
)
'''

PROBE = """
import asyncio, json, sys
from pathlib import Path

import analyses

analyses.__path__.append(sys.argv[1])

import dagster as dg
from mcp import Client
from mcp_types import ResourceTemplateReference

from mcp_server.app import build_server
from orchestration.definitions import build_definitions
from orchestration.defs.dbt.exposures import analysis_exposures_yaml
from orchestration.resources import RedisResource, WarehouseResource
from tests.integration.mcp_helpers import mcp_settings

database_url, redis_url, data_dir = sys.argv[2], sys.argv[3], Path(sys.argv[4])
defs = build_definitions(WarehouseResource(database_url=database_url), RedisResource(redis_url=redis_url))
graph = defs.resolve_asset_graph()
key = dg.AssetKey(["analyses", "tenure_toy"])
node = graph.get(key)
job = defs.resolve_implicit_global_asset_job_def()
run = job.execute_in_process(asset_selection=[key], raise_on_error=True)
metadata = run.asset_materializations_for_node("analyses__tenure_toy")[0].metadata


async def mcp():
    server = build_server(mcp_settings(database_url, redis_url, data_dir))
    async with Client(server, read_timeout_seconds=120) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        tool = tools["analyze_data"]
        resource = await client.read_resource("templates://analysis/tenure_toy")
        answer = await client.call_tool(
            "analyze_data", {"data_source": "warehouse", "analysis_type": "tenure_toy"}
        )
        return {
            "enum": tool.input_schema["properties"]["analysis_type"]["enum"],
            "description": tool.description,
            "template": json.loads(resource.contents[0].text),
            "answer": answer.structured_content,
        }


print(json.dumps({
    "parents": sorted(k.to_user_string() for k in node.parent_keys),
    "group": node.group_name,
    "status": metadata["status"].value,
    "main_table": metadata["main_table"].value,
    "has_chart": "chart" in metadata,
    "exposures": analysis_exposures_yaml(),
    **asyncio.run(mcp()),
}))
"""


def test_a_new_analysis_module_is_everywhere_with_no_other_edit(pipeline, redis_url, tmp_path):
    toy_dir = tmp_path / "more_analyses"
    toy_dir.mkdir()
    (toy_dir / "tenure_toy.py").write_text(textwrap.dedent(TOY_MODULE))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        done = subprocess.run(
            [sys.executable, "-c", PROBE, str(toy_dir), pipeline.database_url, redis_url, str(tmp_path)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        seen = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        # The shared pipeline warehouse keeps only the standard analyses' results.
        with connect(pipeline.database_url) as conn:
            conn.execute("DELETE FROM analytics.analysis_results WHERE analysis_type = 'tenure_toy'")

    # Dagster: an asset downstream of the mart its input reads, computed and summarised.
    assert seen["parents"] == ["marts/dim_customers"] and seen["group"] == "analyses"
    assert seen["status"] == "computed" and "**by_outcome**" in seen["main_table"] and seen["has_chart"]
    # MCP: a valid analysis_type, listed after the five (default position), described and templated.
    assert seen["enum"] == [*ANALYSES, "tenure_toy"]
    assert "tenure_toy (median tenure by churn)" in " ".join(seen["description"].split())
    assert seen["template"]["analysis_type"] == "tenure_toy"
    assert seen["template"]["parameters"]["churn_column"]["default"] == "is_churned"
    assert [f["name"] for f in seen["template"]["frames"]] == ["customers"]
    # The answer is what the Dagster asset stored, on every customer of the warehouse.
    answer = seen["answer"]
    assert answer["metadata"]["cached"] is True, answer
    with connect(pipeline.database_url) as conn:
        customers = conn.execute("SELECT count(*) FROM marts.dim_customers").fetchone()[0]
    assert answer["metadata"]["row_count"] == customers
    assert {row["churned"] for row in answer["results"]["tables"]["by_outcome"]} == {True, False}
    # dbt: the generated exposures name it and the mart it reads.
    assert "  - name: analysis_tenure_toy\n" in seen["exposures"]
    assert "      - ref('dim_customers')\n" in seen["exposures"].split("analysis_tenure_toy")[1]


def test_the_committed_dbt_exposures_are_the_ones_the_specs_give():
    committed = (DBT_PROJECT_DIR / ANALYSIS_EXPOSURES).read_text()
    assert committed == analysis_exposures_yaml(), "the analyses' specs changed: run `make exposures`"


def test_derived_tables_equal_the_specs():
    assert list(ANALYSES) == ["churn_rate", "arpu", "network_quality", "correlation", "drivers"]
    for name, spec in ANALYSES.items():
        assert set(required_raw_tables(name)) <= set(RAW_TABLE_NAMES), name
        assert marts_read(name) == list(dict.fromkeys(f.source.mart for f in spec.frames)), name
        published = template(name)
        assert published is not None and published["analysis_type"] == name
        assert [f["name"] for f in published["frames"]] == [f.name for f in spec.frames]
        assert list(published["parameters"]) == list(spec.parameters)
        assert spec.main_table and spec.chart is not None, name
    # Optional extras keyed by name must not outlive the analysis they describe.
    assert set(SQL_EQUIVALENTS) <= set(ANALYSES)


def test_dagster_analysis_assets_equal_the_specs():
    graph = build_definitions(WarehouseResource(database_url="postgresql://unused/db")).resolve_asset_graph()
    assets = {key.path[1]: graph.get(key) for key in graph.get_all_asset_keys() if key.path[0] == "analyses"}
    assert sorted(assets) == sorted(ANALYSES)
    for name, node in assets.items():
        assert node.description == ANALYSES[name].description, name
        assert node.parent_keys == {dg.AssetKey(["marts", mart]) for mart in marts_read(name)}, name


@pytest.mark.asyncio(loop_scope="session")
async def test_the_analyze_data_schema_equals_the_specs(empty_database_url, redis_url, tmp_path):
    server = build_server(mcp_settings(empty_database_url, redis_url, tmp_path))
    async with Client(server) as client:
        tool = next(t for t in (await client.list_tools()).tools if t.name == "analyze_data")
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
        listed = await client.complete(
            ResourceTemplateReference(type="ref/resource", uri="templates://analysis/{type}"),
            {"name": "type", "value": ""},
        )
    assert tool.input_schema["properties"]["analysis_type"]["enum"] == list(ANALYSES)
    described = " ".join((tool.description or "").split())
    assert all(f"{spec.name} ({spec.brief})" in described for spec in ANALYSES.values())
    assert "templates://analysis/{type}" in templates
    assert listed.completion.values == sorted(ANALYSES)
