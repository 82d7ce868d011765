"""One asset per standard analysis, downstream of the marts it reads.

Materializing an analysis computes it on the fresh marts and stores it for the MCP server
(Redis cache + analytics.analysis_results); the asset's metadata shows the headline, the
main table and a chart in the Dagster UI.
"""

import base64

import dagster as dg

from orchestration.defs.analyses.precompute import precompute
from orchestration.defs.analyses.summary import main_table, summary_chart
from orchestration.resources import RedisResource, WarehouseResource

# What each analysis reads, as asset keys (dbt models are keyed <schema>/<model>).
ANALYSIS_DEPS: dict[str, list[str]] = {
    "churn_rate": ["marts/dim_customers", "marts/fct_customer_churn_monthly"],
    "arpu": ["marts/fct_arpu_monthly", "marts/customer_features", "staging/stg_telco__revenue"],
    "network_quality": ["staging/stg_telco__network_events", "marts/customer_features"],
    "correlation": ["marts/customer_features"],
    "drivers": ["marts/customer_features"],
}

DESCRIPTIONS = {
    "churn_rate": "Churn rate overall and by segment (Wilson intervals, chi-square), trend and cohorts.",
    "arpu": "ARPU by month, account and service type, growth, service and payment mix, churned vs retained.",
    "network_quality": "Quality by location, event type and hour; poor-quality share; link to churn (logit).",
    "correlation": "Pearson correlations between customer features, with p-values and significant pairs.",
    "drivers": "Churn drivers: cross-validated logistic regression and boosting, permutation importance.",
}


def _analysis_asset(analysis_type: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=["analyses", analysis_type],
        deps=[dg.AssetKey(key.split("/")) for key in ANALYSIS_DEPS[analysis_type]],
        group_name="analyses",
        kinds={"python", "redis"},
        description=DESCRIPTIONS[analysis_type],
    )
    def _asset(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, analysis_cache: RedisResource
    ) -> dg.MaterializeResult:
        done = precompute(warehouse.url(), analysis_cache.url(), analysis_type)
        if not done.cached_in_redis:
            context.log.warning("REDIS_URL is not set: stored in analytics.analysis_results only")
        metadata: dict[str, dg.MetadataValue] = {
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
    return [_analysis_asset(name) for name in ANALYSIS_DEPS]
