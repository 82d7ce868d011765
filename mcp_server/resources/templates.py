"""`templates://analysis/{type}`: how to run each standard analysis, with runnable example calls.

The examples use tools this server has today (query_mart / query_database) so an agent
can follow them as written; the parameters are the ones the analytics engine takes.
"""

from __future__ import annotations

from typing import Any

TEMPLATES: dict[str, dict[str, Any]] = {
    "churn_rate": {
        "title": "Churn rate by segment and month",
        "description": "Share of customers at risk at the start of a month who churned in it, by "
        "account type and location; compare segments and follow the trend over complete months.",
        "data_source": "fct_customer_churn_monthly",
        "parameters": {
            "segment_by": {
                "type": "list[str]",
                "default": ["account_type"],
                "allowed": ["account_type", "location"],
            },
            "months": {"type": "int", "default": 12, "description": "Most recent complete months"},
            "complete_months_only": {"type": "bool", "default": True},
        },
        "metric": "churn_rate = sum(customers_churned) / sum(customers_at_risk) (re-weight; never "
        "average rates)",
        "example_calls": [
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
    },
    "arpu": {
        "title": "Average revenue per user",
        "description": "Revenue per active customer by month, account type and service type, and its "
        "month-over-"
        "month growth.",
        "data_source": "fct_arpu_monthly",
        "parameters": {
            "segment_by": {
                "type": "list[str]",
                "default": ["account_type"],
                "allowed": ["account_type", "service_type"],
            },
            "months": {"type": "int", "default": 12},
            "complete_months_only": {"type": "bool", "default": True},
        },
        "metric": "ARPU = revenue / active_customers; across service types add revenue, keep "
        "active_customers "
        "(it is the same for every service type of a month x account type)",
        "example_calls": [
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
    },
    "network_quality": {
        "title": "Network quality by location, event type and time",
        "description": "Average and low-percentile quality scores (1-5), share of poor-quality events (< "
        "2.5) and "
        "volumes per location and event type; relate to churn with customer_features.",
        "data_source": "fct_network_quality_daily",
        "parameters": {
            "segment_by": {
                "type": "list[str]",
                "default": ["location"],
                "allowed": ["location", "event_type"],
            },
            "days": {"type": "int", "default": 90},
            "poor_quality_threshold": {"type": "float", "default": 2.5},
        },
        "metric": "poor_quality_share = sum(poor_quality_events) / sum(event_count)",
        "example_calls": [
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
    },
    "correlation": {
        "title": "Correlation of customer features",
        "description": "Pearson or Spearman correlation between numeric per-customer features (quality, "
        "usage "
        "trend, revenue, tenure) and churn.",
        "data_source": "customer_features",
        "parameters": {
            "method": {"type": "str", "default": "pearson", "allowed": ["pearson", "spearman"]},
            "columns": {
                "type": "list[str]",
                "default": [
                    "avg_quality_score",
                    "usage_trend",
                    "avg_monthly_revenue",
                    "tenure_days",
                    "is_churned",
                ],
            },
        },
        "metric": "corr(x, y) over customers with both values present",
        "example_calls": [
            {
                "tool": "query_database",
                "arguments": {
                    "query": "SELECT corr(avg_quality_score, is_churned::int) AS quality_vs_churn, "
                    "corr(usage_trend, is_churned::int) AS usage_trend_vs_churn "
                    "FROM marts.customer_features WHERE account_type = :account_type",
                    "parameters": {"account_type": "Basic"},
                },
            }
        ],
    },
}


def analysis_types() -> list[str]:
    return sorted(TEMPLATES)
