"""What the Dagster UI shows for an analysis: the main table and the chart its spec names.

Presentation only; a chart that cannot be drawn (an unexpected table shape) leaves the
asset without a chart rather than failing a materialization whose result is stored.
"""

from __future__ import annotations

import logging
from typing import Any

from analyses.charts import ChartError, render_chart
from analyses.registry import ANALYSES
from analyses.results import AnalysisResult

logger = logging.getLogger(__name__)


def main_table(result: AnalysisResult, limit: int = 12) -> str | None:
    spec = ANALYSES.get(result.analysis_type)
    name = spec.main_table if spec else next(iter(result.tables), None)
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


def summary_chart(result: AnalysisResult) -> bytes | None:
    spec = ANALYSES.get(result.analysis_type)
    chart = spec.chart.data(result) if spec and spec.chart else None
    if chart is None:
        return None
    data, options = chart
    try:
        return render_chart(data, format="png", width=800, height=450, **options).content
    except (ChartError, KeyError, ValueError) as exc:
        logger.warning("no chart for %s: %s", result.analysis_type, exc)
        return None
