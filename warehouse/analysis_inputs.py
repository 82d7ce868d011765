"""The standard inputs of each analysis, as SQL over the marts (data source "warehouse").

Shared by the Dagster precompute (psycopg) and the MCP server (asyncpg), so a cached
result and a fresh one are computed on exactly the same rows. Every input reads only the
published `marts` schema and aggregates nothing itself: the heavy work is done by dbt
(network quality arrives pre-aggregated by location x event type x hour in
`fct_network_quality_by_hour`, 576 groups rather than a million events; the payment mix in
`fct_revenue_by_payment_method`), and everything else is one row per customer or per mart row.
`marts_read` names the marts an analysis reads: the Dagster analysis assets take their
upstream marts from it, and the dbt exposures `analysis_<type>` list the same marts.
"""

from __future__ import annotations

import re

from warehouse.raw_schema import RAW_TABLE_NAMES

# analysis_type -> frame name -> SQL. The first frame is the analysis' primary input.
STANDARD_INPUTS: dict[str, dict[str, str]] = {
    "churn_rate": {
        "customers": (
            "SELECT customer_id, account_type, location, gender, age_band, signup_month, is_churned, "
            "churn_month, tenure_days FROM marts.dim_customers"
        ),
        "monthly": (
            "SELECT month, account_type, location, customers_at_risk, customers_churned, is_complete_month "
            "FROM marts.fct_customer_churn_monthly"
        ),
    },
    "arpu": {
        "monthly": "SELECT * FROM marts.fct_arpu_monthly",
        "customers": (
            "SELECT customer_id, account_type, is_churned, avg_monthly_revenue FROM marts.customer_features"
        ),
        "payments": (
            "SELECT payment_method, account_type, revenue, transactions "
            "FROM marts.fct_revenue_by_payment_method ORDER BY payment_method, account_type"
        ),
    },
    "network_quality": {
        # Groups of scored events: quality statistics weigh by the scored events only.
        "groups": (
            "SELECT location, event_type, event_hour, scored_event_count AS events, "
            "poor_quality_events AS poor_events, avg_quality_score AS avg_quality, "
            "p10_quality_score AS p10_quality, median_quality_score AS p50_quality, "
            "p90_quality_score AS p90_quality "
            "FROM marts.fct_network_quality_by_hour WHERE scored_event_count > 0 "
            "ORDER BY location, event_type, event_hour"
        ),
        "customers": (
            "SELECT customer_id, account_type, tenure_days, avg_quality_score, poor_quality_share, "
            "is_churned FROM marts.customer_features"
        ),
    },
    "correlation": {
        "data": (
            "SELECT tenure_days, age, total_events, avg_quality_score, poor_quality_share, "
            "avg_monthly_events, avg_monthly_data_mb, usage_trend, avg_monthly_revenue, is_churned "
            "FROM marts.customer_features"
        ),
    },
    "drivers": {
        "features": "SELECT * FROM marts.customer_features",
    },
}

# Which frame a single mart or a session dataset stands in for, per analysis.
PRIMARY_FRAME: dict[str, str] = {name: next(iter(frames)) for name, frames in STANDARD_INPUTS.items()}

_MART_REFERENCE = re.compile(r"\bmarts\.([a-z_][a-z0-9_]*)\b", re.IGNORECASE)


def marts_read(analysis_type: str) -> list[str]:
    """The marts the standard inputs of `analysis_type` read, in order of first mention."""
    names: dict[str, None] = {}
    for sql in STANDARD_INPUTS[analysis_type].values():
        names.update(dict.fromkeys(match.lower() for match in _MART_REFERENCE.findall(sql)))
    return list(names)


# analysis_type -> raw tables it needs rows in. Teams bring their tables one at a time, and the
# marts build (empty) on whatever is there; an analysis whose raw tables are still empty has
# "no data yet" rather than failing. arpu needs network events too: the month spine of the
# customer-month marts spans the network event history (int_months), so revenue alone
# yields no ARPU month.
REQUIRED_RAW_TABLES: dict[str, tuple[str, ...]] = {
    "churn_rate": ("customers",),
    "arpu": ("customers", "revenue", "network_events"),
    "network_quality": ("customers", "network_events"),
    "correlation": ("customers",),
    "drivers": ("customers",),
}

# One probe per raw table, through its 1:1 staging view: the MCP server may read staging but
# never raw, and the Dagster assets run after dbt built the views, so both ask the same thing.
RAW_TABLE_HAS_ROWS_SQL: dict[str, str] = {
    table: f"SELECT EXISTS (SELECT 1 FROM staging.stg_telco__{table})" for table in RAW_TABLE_NAMES
}


def import_command(table: str) -> str:
    """How a person fills a raw table (the `telcopulse import` command)."""
    return f"telcopulse import FILE --table {table}"


def empty_inputs(analysis_type: str, has_rows: dict[str, bool]) -> list[str]:
    """The raw tables `analysis_type` needs that hold no rows, in REQUIRED_RAW_TABLES order."""
    return [table for table in REQUIRED_RAW_TABLES[analysis_type] if not has_rows.get(table, False)]


def no_data_message(analysis_type: str, empty_tables: list[str]) -> str:
    """ "No data yet" as an error an agent can act on (one wording for every caller)."""
    names = " and ".join(f"raw.{table}" for table in empty_tables)
    verb, pronoun = ("is", "it") if len(empty_tables) == 1 else ("are", "them")
    loads = "; ".join(import_command(table) for table in empty_tables)
    return f"{analysis_type} needs rows in {names}, which {verb} empty; load {pronoun} with {loads}"


def no_data_status(empty_tables: list[str]) -> str:
    """ "No data yet" as a status line for the Dagster UI."""
    loads = ", ".join(f"raw.{table} ({import_command(table)})" for table in empty_tables)
    return f"no data yet — load {loads}"
