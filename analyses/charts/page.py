"""The HTML format: one self-contained page around the chart's SVG, with the data as a table.

Agents hand the file to people who open it from disk or a chat attachment, so it fetches
nothing (inline CSS, inline SVG, a CSP that forbids loads) and escapes every string that
came from the data.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Sequence
from typing import Any

import pandas as pd
from pandas.api import types as ptypes

HTML_TABLE_ROWS = 100

_HTML_STYLE = """
body{margin:0;padding:24px;color:#222;background:#fff;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
h1{font-size:1.35rem;margin:0 0 4px}
p.notes{margin:0 0 12px;color:#555;font-size:.875rem}
figure{margin:0}
figure svg{max-width:100%;height:auto;display:block}
details{margin-top:16px;font-size:.8125rem}
summary{cursor:pointer;color:#0072B2}
table{border-collapse:collapse;margin-top:8px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f5f5f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
""".strip()


def html_page(svg: str, title: str, notes: Sequence[str], frame: pd.DataFrame) -> str:
    """One self-contained page: inline SVG, inline CSS, and a CSP that forbids fetching anything."""
    body = svg[svg.index("<svg") :]
    body = re.sub(r"<metadata>.*?</metadata>\s*", "", body, count=1, flags=re.S)
    body = body.replace("<svg ", f'<svg role="img" aria-label="{html.escape(title)}" ', 1)
    escaped = html.escape(title)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escaped}</title>",
        f"<style>{_HTML_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{escaped}</h1>",
    ]
    if notes:
        parts.append(f'<p class="notes">{html.escape(" · ".join(notes))}</p>')
    parts += [f"<figure>{body}</figure>", _html_table(frame), "</body>", "</html>", ""]
    return "\n".join(parts)


def _html_table(frame: pd.DataFrame) -> str:
    shown = frame.head(HTML_TABLE_ROWS)
    numeric = {c for c in frame.columns if ptypes.is_numeric_dtype(frame[c])}
    summary = (
        f"Data ({len(frame):,} rows)"
        if len(frame) <= HTML_TABLE_ROWS
        else f"Data (first {HTML_TABLE_ROWS} of {len(frame):,} rows)"
    )
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    rows = []
    for record in shown.itertuples(index=False, name=None):
        cells = []
        for column, cell in zip(shown.columns, record, strict=True):
            css = ' class="num"' if column in numeric else ""
            cells.append(f"<td{css}>{html.escape(_cell_text(cell))}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f"<details><summary>{html.escape(summary)}</summary>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></details>"
    )


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return "" if math.isnan(value) else str(value)
        return (
            f"{value:,.0f}"
            if value.is_integer()
            else f"{value:,.6g}"
            if abs(value) < 1000
            else f"{value:,.2f}"
        )
    if isinstance(value, pd.Timestamp | dt.date | dt.datetime):
        return value.isoformat()
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)
