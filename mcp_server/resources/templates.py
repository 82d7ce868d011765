"""`templates://analysis/{type}`: how to run each standard analysis, with runnable example calls.

Parameters, defaults and input tables come from the analyses' specs (parameters read from the
functions' signatures, so they cannot drift from the code); the example calls are real calls of
this server's tools: `analyze_data` first, then the same figures through `query_mart` /
`query_database` for an agent that wants the raw numbers.
"""

from __future__ import annotations

from typing import Any

from analyses.registry import ANALYSES

# The same headline numbers without the engine: rates re-weighted from counts, never averaged.
# Optional: an analysis without an entry gets only the analyze_data example (a test keeps the keys
# within the catalogue).
SQL_EQUIVALENTS: dict[str, list[dict[str, Any]]] = {
    "churn_rate": [
        {
            "tool": "query_mart",
            "arguments": {
                "mart": "fct_customer_churn_monthly",
                "columns": ["account_type", "sum(customers_churned)", "sum(customers_at_risk)"],
                "filters": [{"column": "is_complete_month", "op": "=", "value": True}],
                "group_by": ["account_type"],
            },
        }
    ],
    "arpu": [
        {
            "tool": "query_mart",
            "arguments": {
                "mart": "fct_arpu_monthly",
                "columns": ["month", "account_type", "sum(revenue)", "max(active_customers)"],
                "filters": [{"column": "is_complete_month", "op": "=", "value": True}],
                "group_by": ["month", "account_type"],
                "order_by": ["month asc"],
            },
        }
    ],
    "network_quality": [
        {
            "tool": "query_mart",
            "arguments": {
                "mart": "fct_network_quality_daily",
                "columns": [
                    "location",
                    "sum(poor_quality_events)",
                    "sum(event_count)",
                    "avg(avg_quality_score)",
                ],
                "group_by": ["location"],
            },
        }
    ],
    "correlation": [
        {
            "tool": "query_database",
            "arguments": {
                "query": "SELECT corr(avg_quality_score, is_churned::int) AS "
                "quality_vs_churn, corr(usage_trend, is_churned::int) AS "
                "usage_trend_vs_churn FROM marts.customer_features WHERE "
                "account_type = :account_type",
                "parameters": {"account_type": "Basic"},
            },
        }
    ],
}


def template(analysis_type: str) -> dict[str, Any] | None:
    spec = ANALYSES.get(analysis_type)
    if spec is None:
        return None
    examples: list[dict[str, Any]] = [
        {
            "tool": "analyze_data",
            "arguments": {"data_source": "warehouse", "analysis_type": analysis_type, "parameters": {}},
            "note": "precomputed after every mart build: answered from cache",
        }
    ]
    examples += SQL_EQUIVALENTS.get(analysis_type, [])
    return {
        "analysis_type": analysis_type,
        **spec.template(),
        "data_sources": "'warehouse' (standard inputs below), a mart name (becomes the first input table), "
        "or a session_id with parameters.session_key naming the data key that holds rows",
        "example_calls": examples,
    }
