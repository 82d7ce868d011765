"""What the Dagster UI shows for an analysis: its main table and one chart.

Presentation only; a chart that cannot be drawn (an unexpected table shape) leaves the
asset without a chart rather than failing a materialization whose result is stored.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from analyses.charts import ChartError, render_chart
from analyses.results import AnalysisResult

logger = logging.getLogger(__name__)

MAIN_TABLE = {
    "churn_rate": "by_segment",
    "arpu": "total_by_month",
    "network_quality": "by_segment",
    "correlation": "significant_pairs",
    "drivers": "importance",
}


def main_table(result: AnalysisResult, limit: int = 12) -> str | None:
    name = MAIN_TABLE.get(result.analysis_type) or next(iter(result.tables), None)
    rows = result.tables.get(name or "", [])
    if not rows:
        return None
    columns = list(rows[0])
    lines = [f"**{name}** ({len(rows)} rows{', first ' + str(limit) if len(rows) > limit else ''})", ""]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "---|" * len(columns))
    for row in rows[:limit]:
        lines.append("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "/")


def _chart_spec(result: AnalysisResult) -> tuple[Any, dict[str, Any]] | None:
    tables = result.tables
    kind = result.analysis_type
    if kind == "churn_rate" and tables.get("by_segment"):
        by_type = [r for r in tables["by_segment"] if r.get("segment_column") == "account_type"]
        rows = by_type or tables["by_segment"]
        return rows, {"chart_type": "bar", "x_axis": "segment", "y_axis": "churn_rate", "title": "Churn rate"}
    if kind == "arpu" and tables.get("total_by_month"):
        frame = pd.DataFrame(tables["total_by_month"])
        wide = frame.pivot_table(index="month", columns="account_type", values="arpu").reset_index()
        series = [c for c in wide.columns if c != "month"]
        return wide, {"chart_type": "line", "x_axis": "month", "y_axis": series, "title": "ARPU by month"}
    if kind == "network_quality" and tables.get("by_hour"):
        spec = {
            "chart_type": "line",
            "x_axis": "event_hour",
            "y_axis": "poor_share",
            "title": "Poor-quality share",
        }
        return tables["by_hour"], spec
    if kind == "correlation" and tables.get("matrix"):
        spec = {"chart_type": "heatmap", "x_axis": "column_a", "y_axis": "column_b", "value": "r"}
        return tables["matrix"], {**spec, "title": "Correlation"}
    if kind == "drivers" and tables.get("importance"):
        spec = {
            "chart_type": "bar",
            "x_axis": "feature",
            "y_axis": "importance_mean",
            "title": "Churn drivers",
        }
        return tables["importance"][:15], spec
    return None


def summary_chart(result: AnalysisResult) -> bytes | None:
    spec = _chart_spec(result)
    if spec is None:
        return None
    data, options = spec
    try:
        return render_chart(data, format="png", width=800, height=450, **options).content
    except (ChartError, KeyError, ValueError) as exc:
        logger.warning("no chart for %s: %s", result.analysis_type, exc)
        return None
