"""One asset per analysis in the catalogue, downstream of the marts its declared inputs read.

Materializing an analysis computes it on the fresh marts and stores it for the MCP server
(Redis cache + analytics.analysis_results); the asset's metadata shows the headline, the
main table and a chart in the Dagster UI. An analysis whose raw tables are still empty
materializes with status "no data yet" and the table to load, and one whose data is too
small or degenerate for it with "not enough data yet" and the reason, instead of failing
the run.
"""

import base64

import dagster as dg

from analyses.registry import ANALYSES
from analyses.results import AnalysisError
from orchestration.defs.analyses.precompute import missing_inputs, precompute
from orchestration.defs.analyses.summary import main_table, summary_chart
from orchestration.resources import RedisResource, WarehouseResource
from warehouse.analysis_inputs import marts_read, no_data_status


def _analysis_asset(analysis_type: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=["analyses", analysis_type],
        # dbt models are keyed <schema>/<model>: the marts the analysis' declared inputs read.
        deps=[dg.AssetKey(["marts", mart]) for mart in marts_read(analysis_type)],
        group_name="analyses",
        kinds={"python", "redis"},
        description=ANALYSES[analysis_type].description,
    )
    def _asset(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, analysis_cache: RedisResource
    ) -> dg.MaterializeResult:
        empty = missing_inputs(warehouse.url(), analysis_type)
        if empty:
            # Not a failure: a team brings its tables one at a time, and the refresh must stay
            # green until the rest arrive. The UI says which table to load next.
            status = no_data_status(empty)
            context.log.info("%s: %s", analysis_type, status)
            return dg.MaterializeResult(
                metadata={
                    "status": dg.MetadataValue.text(status),
                    "missing_raw_tables": dg.MetadataValue.text(", ".join(f"raw.{t}" for t in empty)),
                }
            )
        try:
            done = precompute(warehouse.url(), analysis_cache.url(), analysis_type)
        except AnalysisError as error:
            # The standard inputs with default parameters: only the data can be at fault, e.g.
            # a team's first small import with three churned customers is too little for a
            # cross-validated model. Say so in the UI; the rest of the refresh stays green.
            status = f"not enough data yet: {error}"
            context.log.warning("%s: %s", analysis_type, status)
            return dg.MaterializeResult(metadata={"status": dg.MetadataValue.text(status)})
        if not done.cached_in_redis:
            context.log.warning("REDIS_URL is not set: stored in analytics.analysis_results only")
        metadata: dict[str, dg.MetadataValue] = {
            "status": dg.MetadataValue.text("computed"),
            "summary": dg.MetadataValue.text(done.result.summary),
            "data_version": dg.MetadataValue.text(done.data_version),
            "rows_analysed": dg.MetadataValue.int(done.row_count),
            "seconds": dg.MetadataValue.float(round(done.seconds, 3)),
            "cached_in_redis": dg.MetadataValue.bool(done.cached_in_redis),
        }
        table = main_table(done.result)
        if table:
            metadata["main_table"] = dg.MetadataValue.md(table)
        chart = summary_chart(done.result)
        if chart is not None:
            encoded = base64.b64encode(chart).decode()
            metadata["chart"] = dg.MetadataValue.md(f"![{analysis_type}](data:image/png;base64,{encoded})")
        return dg.MaterializeResult(metadata=metadata)

    return _asset


def build_analysis_assets() -> list[dg.AssetsDefinition]:
    return [_analysis_asset(name) for name in ANALYSES]
