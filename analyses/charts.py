"""Chart rendering behind the `create_visualization` MCP tool: tabular data in, PNG/SVG/HTML bytes out.

The MCP server renders from worker threads (`asyncio.to_thread`), several at once. Matplotlib's
pyplot keeps global state (current figure, backend, rcParams edits) that such callers would trample,
so this module never imports pyplot and never writes rcParams: every call builds its own `Figure`,
attaches its own canvas and styles each artist explicitly. Mathtext is the one parser matplotlib
shares between figures, and agent-supplied text full of "$" would trigger it, so every user string
goes through `_plain` first.

Agents send data in whatever shape the previous tool returned, so `to_frame` accepts the common
shapes and every failure is a `ChartError` whose message says what to change.
"""

from __future__ import annotations

import datetime as dt
import difflib
import html
import io
import math
import numbers
import re
import textwrap
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from pandas.api import types as ptypes

ChartType = Literal["bar", "line", "scatter", "histogram", "heatmap"]
ImageFormat = Literal["png", "svg", "html"]

CHART_TYPES: tuple[str, ...] = get_args(ChartType)
IMAGE_FORMATS: tuple[str, ...] = get_args(ImageFormat)
MIME_TYPES: dict[str, str] = {"png": "image/png", "svg": "image/svg+xml", "html": "text/html"}

MAX_ROWS = 100_000
MIN_PIXELS, MAX_PIXELS = 200, 4000
MAX_CATEGORIES_LIMIT = 500
DPI = 100
MAX_SERIES = 8
HISTOGRAM_MAX_BINS = 60
ANNOTATE_MAX_CELLS = 20  # per heatmap side
BAR_LABEL_MAX_BARS = 20
RASTERIZE_POINTS = 5_000  # scatter points beyond which SVG embeds a bitmap instead of one path each
HTML_TABLE_ROWS = 100

# Okabe–Ito, reordered so the low-contrast yellow and the black (reads as an axis) come last.
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#56B4E9",
    "#CC79A7",
    "#F0E442",
    "#000000",
)
OTHER_COLOUR = "#999999"
HEATMAP_CMAP = "viridis"
TEXT_COLOUR = "#222222"
MUTED_COLOUR = "#555555"
GRID_COLOUR = "#e6e6e6"

_MISSING_WORDS = frozenset({"", "nan", "none", "null", "n/a", "na", "inf", "-inf", "infinity", "-infinity"})
_NUMERIC_SQL_TYPES = frozenset(
    {"int2", "int4", "int8", "float4", "float8", "numeric", "integer", "bigint", "smallint", "real", "double"}
)
_ISO_DATE = re.compile(
    r"\d{4}-\d{2}(?:-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?)?"
)
_SVG_SIZE = re.compile(r'width="[\d.]+pt" height="[\d.]+pt"')

Kind = Literal["number", "time", "category"]


class ChartError(ValueError):
    """The request cannot be drawn as asked; the message tells the caller what to change."""


@dataclass(frozen=True)
class Chart:
    """A rendered chart. `notes` repeats the subtitle (truncation, dropped values) as plain text so
    the tool can tell the agent without it having to read the image."""

    content: bytes
    format: ImageFormat
    mime_type: str
    width: int
    height: int
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------- input


def to_frame(data: Any) -> pd.DataFrame:
    """Normalise the shapes agents pass around into one DataFrame with unique string column names.

    Accepted: a list of row dicts; a dict of column -> list; the query tools' result shape
    `{"columns": [names or {"name", "type"}], "rows": [list or dict rows]}`; a DataFrame.
    """
    if isinstance(data, pd.DataFrame):
        frame = data.copy()
        if not isinstance(frame.index, pd.RangeIndex):
            try:  # a named index (groupby output) is usually the x column
                frame = frame.reset_index()
            except ValueError:  # its name clashes with a column: the index is not data then
                frame = frame.reset_index(drop=True)
        if isinstance(frame.columns, pd.MultiIndex):
            frame.columns = [" / ".join(str(p) for p in col if str(p)) for col in frame.columns]
    elif isinstance(data, Mapping):
        frame = _table_frame(data) if _is_table(data) else _column_frame(data)
    elif isinstance(data, Sequence) and not isinstance(data, str | bytes | bytearray):
        frame = _records_frame(data)
    else:
        raise ChartError(
            f"data must be a list of row objects, an object of column arrays, or "
            f'{{"columns": [...], "rows": [...]}}; got {type(data).__name__}'
        )
    frame.columns = [str(c) for c in frame.columns]
    duplicated = sorted(name for name, n in Counter(frame.columns).items() if n > 1)
    if duplicated:
        raise ChartError(f"column names must be unique; repeated: {', '.join(duplicated)}")
    for column in frame.columns:
        # psycopg hands numerics over as Decimal; pandas keeps those as opaque objects.
        if ptypes.is_object_dtype(frame[column]) and _all_numbers(frame[column]):
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame.reset_index(drop=True)


def _all_numbers(series: pd.Series) -> bool:
    present = series.dropna()
    return not present.empty and all(
        isinstance(v, numbers.Number) and not isinstance(v, bool) for v in present
    )


def _is_table(data: Mapping[str, Any]) -> bool:
    rows = data.get("rows")
    if not isinstance(rows, list | tuple):
        return False
    if "columns" in data:
        return True
    return bool(rows) and all(isinstance(r, Mapping) for r in rows)


def _column_names(columns: Any) -> list[str]:
    if not isinstance(columns, list | tuple):
        raise ChartError('"columns" must be a list of names or of {"name": ...} objects')
    names = []
    for i, column in enumerate(columns):
        if isinstance(column, str):
            names.append(column)
        elif isinstance(column, Mapping) and isinstance(column.get("name"), str):
            names.append(column["name"])
        else:
            raise ChartError(f'"columns"[{i}] must be a name or an object with a "name"; got {column!r}')
    return names


def _table_frame(data: Mapping[str, Any]) -> pd.DataFrame:
    rows = list(data["rows"])
    names = _column_names(data["columns"]) if "columns" in data else None
    if all(isinstance(r, Mapping) for r in rows):
        frame = pd.DataFrame.from_records(rows, columns=names) if rows else pd.DataFrame(columns=names)
    elif all(isinstance(r, list | tuple) for r in rows):
        if names is None:
            raise ChartError('rows given as lists need "columns" naming each position')
        for i, row in enumerate(rows):
            if len(row) != len(names):
                raise ChartError(f"row {i} has {len(row)} values but there are {len(names)} columns")
        frame = pd.DataFrame.from_records(rows, columns=names)
    else:
        raise ChartError('"rows" must all be objects or all be lists')
    # Our query tools send non-finite numerics as strings ("NaN"); trust the declared type.
    for column in data.get("columns") or ():
        if isinstance(column, Mapping) and str(column.get("type", "")).lower() in _NUMERIC_SQL_TYPES:
            name = column["name"]
            frame[name] = pd.to_numeric(frame[name], errors="coerce")
    return frame


def _column_frame(data: Mapping[Any, Any]) -> pd.DataFrame:
    lengths = {}
    for name, values in data.items():
        if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray | pd.Series):
            raise ChartError(
                f"column {name!r} must be a list of values, got {type(values).__name__}; pass a list of "
                f'row objects, column -> list, or {{"columns": [...], "rows": [...]}}'
            )
        lengths[name] = len(values)
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise ChartError(f"column arrays must all have the same length; got {shown}")
    return pd.DataFrame({k: list(v) for k, v in data.items()})


def _records_frame(data: Sequence[Any]) -> pd.DataFrame:
    rows = list(data)
    if not rows:
        return pd.DataFrame()
    if not all(isinstance(r, Mapping) for r in rows):
        raise ChartError(
            'a list of rows must hold objects like {"region": "North", "revenue": 10}; for list rows '
            'pass {"columns": [...names...], "rows": [...]}'
        )
    return pd.DataFrame.from_records(rows)


def _resolve(frame: pd.DataFrame, name: str, role: str) -> str:
    if not isinstance(name, str):
        raise ChartError(f"{role} must be a column name, got {name!r}")
    if name in frame.columns:
        return name
    folded = [c for c in frame.columns if c.casefold() == name.strip().casefold()]
    if len(folded) == 1:
        return folded[0]
    close = difflib.get_close_matches(name, list(frame.columns), n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ChartError(
        f"unknown column {name!r} for {role}; available columns: {_listing(frame.columns)}.{hint}"
    )


def _resolve_many(frame: pd.DataFrame, names: str | Sequence[str] | None, role: str) -> list[str]:
    if names is None:
        return []
    if isinstance(names, str):
        names = [names]
    resolved = [_resolve(frame, n, role) for n in names]
    return list(dict.fromkeys(resolved))


def _listing(values: Any, limit: int = 30) -> str:
    items = [str(v) for v in values]
    shown = ", ".join(items[:limit])
    return shown + (f", … ({len(items) - limit} more)" if len(items) > limit else "")


def _numeric_columns(frame: pd.DataFrame, exclude: Sequence[str] = ()) -> list[str]:
    """Columns that read as numbers, including numeric text that came through JSON."""
    return [c for c in frame.columns if c not in exclude and _classify(frame[c])[0] == "number"]


def _numeric(frame: pd.DataFrame, column: str, purpose: str) -> pd.Series:
    """Floats with NaN for missing/non-finite; text that is not a number is an error, not silently NaN,
    because a chart of a mostly-text column would mislead."""
    series = frame[column]
    if ptypes.is_bool_dtype(series):
        return series.astype(float)
    if ptypes.is_numeric_dtype(series):
        return series.astype(float).replace([np.inf, -np.inf], np.nan)
    if not ptypes.is_datetime64_any_dtype(series):
        values = pd.to_numeric(series, errors="coerce")
        unparsed = series[series.notna() & values.isna()]
        bad = unparsed[~unparsed.astype(str).str.strip().str.lower().isin(_MISSING_WORDS)]
        if bad.empty:
            return values.astype(float).replace([np.inf, -np.inf], np.nan)
        examples = ", ".join(repr(v) for v in list(dict.fromkeys(bad.astype(str)))[:3])
    else:
        examples = f"dates such as {series.dropna().iloc[0]!s}" if series.notna().any() else "dates"
    numeric = _numeric_columns(frame) or ["(none)"]
    raise ChartError(
        f"column {column!r} must be numeric for {purpose}, but holds values like {examples}; "
        f"numeric columns: {_listing(numeric)}"
    )


def _classify(series: pd.Series) -> tuple[Kind, pd.Series]:
    """Decide how an x column orders: numbers and dates ascend, anything else is a category label."""
    if ptypes.is_bool_dtype(series):
        return "category", series.map(str, na_action="ignore")
    if ptypes.is_numeric_dtype(series):
        return "number", series.astype(float).replace([np.inf, -np.inf], np.nan)
    if ptypes.is_datetime64_any_dtype(series):
        # Keep the wall-clock time the data was recorded in; labels in UTC would surprise.
        return "time", series.dt.tz_localize(None) if series.dt.tz is not None else series
    present = series.dropna()
    if present.empty:
        return "category", series
    if present.map(lambda v: isinstance(v, dt.date)).all():
        return "time", _naive(pd.to_datetime(series, utc=True))
    text = present.astype(str).str.strip()
    text = text[~text.str.lower().isin(_MISSING_WORDS)]
    if text.empty:
        return "category", series.map(str, na_action="ignore")
    if text.str.fullmatch(_ISO_DATE).all():
        parsed = pd.to_datetime(
            series.map(str, na_action="ignore"), format="ISO8601", utc=True, errors="coerce"
        )
        return "time", _naive(parsed)
    if (
        not present.map(lambda v: isinstance(v, bool)).any()
        and pd.to_numeric(text, errors="coerce").notna().all()
    ):
        numbers_ = pd.to_numeric(series, errors="coerce").astype(float)
        return "number", numbers_.replace([np.inf, -np.inf], np.nan)
    return "category", series.map(str, na_action="ignore")


def _naive(series: pd.Series) -> pd.Series:
    """Parsed text with mixed offsets has no common wall clock, so it is shown in UTC."""
    if getattr(series.dt, "tz", None) is not None:
        return series.dt.tz_convert(None)
    return series


def _key_labels(index: pd.Index, kind: Kind) -> list[str]:
    if kind == "time":
        stamps = pd.DatetimeIndex(index)
        midnight = bool(((stamps.hour == 0) & (stamps.minute == 0) & (stamps.second == 0)).all())
        if not midnight:
            return list(stamps.strftime("%Y-%m-%d %H:%M"))
        return list(stamps.strftime("%Y-%m" if bool((stamps.day == 1).all()) else "%Y-%m-%d"))
    if kind == "number":
        return [str(int(v)) if float(v).is_integer() else f"{v:g}" for v in index]
    return [str(v) for v in index]


# ------------------------------------------------------------------------------------ prepared data


@dataclass(frozen=True)
class BarData:
    """What a bar chart plots, after grouping, sorting and truncation (kept separate for testing)."""

    labels: list[str]
    series: dict[str, np.ndarray]
    kind: Kind
    notes: tuple[str, ...] = ()
    y_label: str = "Value"
    legend_title: str = ""


@dataclass(frozen=True)
class _Plot:
    draw: Callable[[Figure, Axes, _Style], None]
    x_label: str
    y_label: str
    notes: tuple[str, ...]
    default_title: str
    grid_axis: Literal["x", "y", "both", "none"] = "y"


@dataclass(frozen=True)
class _Style:
    scale: float

    def size(self, points: float) -> float:
        return points * self.scale


def humanise(name: str) -> str:
    """'avg_quality_score' -> 'Avg quality score': axis labels should read as words, not identifiers."""
    text = re.sub(r"[_\s]+", " ", str(name)).strip()
    return text[:1].upper() + text[1:] if text else ""


def _plain(text: Any) -> str:
    """Literal text for matplotlib: an escaped "$" keeps mathtext (and its shared parser) out."""
    return str(text).replace("$", r"\$")


def _shorten(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _default_x(frame: pd.DataFrame, prefer: Kind) -> str:
    if frame.columns.empty:
        raise ChartError("data has no columns")
    for column in frame.columns:
        kind, _ = _classify(frame[column].head(200))
        if kind == prefer:
            return column
    return frame.columns[0]


def _drop_note(count: int, what: str) -> list[str]:
    if count == 1:
        what = re.sub(r"\b(row|value)s\b", r"\1", what, count=1)
    return [f"{count:,} {what} dropped"] if count else []


def prepare_bar(
    frame: pd.DataFrame,
    x_axis: str | None,
    y_axis: str | Sequence[str] | None,
    max_categories: int = 50,
    *,
    value: str | None = None,
) -> BarData:
    """Group by x (mean when rows repeat an x), order, and keep at most `max_categories` bars.

    Named categories sort by value descending (summed across series for grouped bars) so the biggest
    bar leads; numbers and dates keep their natural ascending order because re-ordering a time axis
    by value hides the trend. `value` splits one y (or the row count) into one series per group.
    """
    x = _resolve(frame, x_axis, "x_axis") if x_axis is not None else _default_x(frame, "category")
    ys = _resolve_many(frame, y_axis, "y_axis")
    notes: list[str] = []
    legend_title = ""
    measures, counting = ys, not ys
    if value is not None:
        legend_title = humanise(_resolve(frame, value, "value"))
        frame, ys = _spread(frame, x, ys, value, "a bar chart's y axis", notes)
    if len(ys) > MAX_SERIES:
        raise ChartError(f"at most {MAX_SERIES} y columns fit one bar chart; got {len(ys)}")
    kind, key = _classify(frame[x])
    keep = key.notna()
    notes += _drop_note(int((~keep).sum()), f"rows without {x}")
    key = key[keep]
    if ys:
        values = pd.DataFrame({y: _numeric(frame, y, "a bar chart's y axis") for y in ys})[keep]
        if value is None:
            notes += _drop_note(int(values.isna().sum().sum()), "missing y values")
        grouped = values.groupby(key, sort=False)
        if grouped.ngroups < len(values):
            notes.append(f"bars show the mean of rows with the same {x}")
        table = grouped.mean()
    else:
        table = key.groupby(key, sort=False).size().astype(float).to_frame("Count")
    table = table.dropna(how="all")
    if table.empty:
        raise ChartError("no rows left to plot after dropping missing values")
    table = table.sort_index(key=_sort_key(kind))
    size = table.sum(axis=1, skipna=True)
    total = len(table)
    if kind == "category":
        table = table.loc[size.sort_values(ascending=False, kind="stable").index]
        if total > max_categories:
            table = table.head(max_categories)
            notes.append(f"top {max_categories} of {total:,} categories")
    elif total > max_categories:
        if kind == "time":
            table = table.tail(max_categories)
            notes.append(f"latest {max_categories} of {total:,}")
        else:
            top = size.sort_values(ascending=False, kind="stable").head(max_categories).index
            table = table.loc[table.index.isin(top)]
            notes.append(f"top {max_categories} of {total:,}")
    series = {str(c): table[c].to_numpy(dtype=float) for c in table.columns}
    if counting:
        y_label = "Count"
    elif value is not None or len(measures) == 1:
        y_label = humanise(measures[0])
    else:
        y_label = "Value"
    return BarData(
        labels=_key_labels(table.index, kind),
        series=series,
        kind=kind,
        notes=tuple(notes),
        y_label=y_label,
        legend_title=legend_title,
    )


def _spread(
    frame: pd.DataFrame, x: str, ys: list[str], value: str, purpose: str, notes: list[str]
) -> tuple[pd.DataFrame, list[str]]:
    """Long rows (x, group, y) -> one column per group, so "revenue by month per region" is one call
    on the shape SQL naturally returns. Without a y the groups' row counts are plotted."""
    group = _resolve(frame, value, "value")
    if len(ys) > 1:
        raise ChartError("value splits one y_axis column into a series per group; pass a single y_axis")
    kind, key = _classify(frame[group])
    labels = pd.Series(np.nan, index=frame.index, dtype=object)
    present = key.notna()
    labels[present] = _key_labels(pd.Index(key[present]), kind)
    order = pd.Index(labels[present].unique())
    if len(order) > MAX_SERIES:
        raise ChartError(
            f"{group} has {len(order):,} distinct values but at most {MAX_SERIES} series fit one chart; "
            f"filter to fewer {group} values, or omit value"
        )
    notes += _drop_note(int((~present).sum()), f"rows without {group}")
    if ys:
        measure = _numeric(frame, ys[0], purpose)
        notes += _drop_note(int(measure[present].isna().sum()), "missing y values")
    else:
        measure = pd.Series(1.0, index=frame.index)
    long = pd.DataFrame({"x": frame[x], "g": labels, "y": measure})[present].dropna(subset=["y"])
    if long.empty:
        raise ChartError("no rows left to plot after dropping missing values")
    if ys and long.groupby(["x", "g"], sort=False).size().max() > 1:
        notes.append(f"each point is the mean of rows with the same {x} and {group}")
    wide = long.pivot_table(index="x", columns="g", values="y", aggfunc="mean" if ys else "sum", sort=False)
    if not ys:
        wide = wide.fillna(0.0)
    columns = sorted(order, key=(lambda v: str(v).casefold()) if kind == "category" else _natural(kind))
    names = [c if c != x else f"{c} ({group})" for c in columns]
    spread = wide[columns].set_axis(names, axis=1).rename_axis(x).reset_index()
    return spread, names


def _natural(kind: Kind) -> Callable[[str], Any]:
    """Sort key for labels already rendered by `_key_labels`: numbers numerically, dates as ISO text."""
    if kind == "number":
        return float
    return str


def _sort_key(kind: Kind) -> Callable[[pd.Index], pd.Index] | None:
    if kind == "category":
        return lambda index: index.map(lambda v: str(v).casefold())
    return None


def _bar_plot(
    frame: pd.DataFrame,
    x_axis: str | None,
    y_axis: str | Sequence[str] | None,
    value: str | None,
    max_categories: int,
) -> _Plot:
    data = prepare_bar(frame, x_axis, y_axis, max_categories, value=value)
    x = _resolve(frame, x_axis, "x_axis") if x_axis is not None else _default_x(frame, "category")
    names = list(data.series)
    y_label = data.y_label

    def draw(fig: Figure, ax: Axes, style: _Style) -> None:
        n, k = len(data.labels), len(names)
        positions = np.arange(n)
        width = 0.8 / k
        for i, name in enumerate(names):
            bars = ax.bar(
                positions + (i - (k - 1) / 2) * width,
                data.series[name],
                width,
                color=PALETTE[i % len(PALETTE)] if k > 1 else PALETTE[0],
                label=_plain(name if data.legend_title else humanise(name)),
                zorder=2,
            )
            if k == 1 and n <= BAR_LABEL_MAX_BARS and _labels_fit(fig, n, data.series[name], style):
                ax.bar_label(
                    bars,
                    labels=value_labels(data.series[name]),
                    padding=2,
                    fontsize=style.size(8),
                    color=MUTED_COLOUR,
                )
        _category_ticks(ax, data.labels, style, rotate_hint=n)
        ax.set_xlim(-0.6, n - 0.4)
        ax.yaxis.set_major_formatter(_NumberFormatter())
        if k > 1 or data.legend_title:
            _legend(ax, style, title=data.legend_title)

    title = f"{y_label} by {humanise(x).lower()}"
    return _Plot(draw, humanise(x), y_label, data.notes, title)


def _labels_fit(fig: Figure, bars: int, values: np.ndarray, style: _Style) -> bool:
    """Value labels only when each fits over its bar; overlapping numbers are worse than none."""
    bar_px = fig.get_figwidth() * DPI * 0.75 * 0.8 / bars
    widest = max((len(label) for label in value_labels(values)), default=0)
    return widest * style.size(8) * 0.62 * DPI / 72 <= bar_px


def _category_ticks(ax: Axes, labels: list[str], style: _Style, rotate_hint: int) -> None:
    shown = [_plain(_shorten(label)) for label in labels]
    axes_px = ax.figure.get_figwidth() * DPI * 0.8
    text_px = sum(len(s) + 2 for s in shown) * style.size(9) * 0.62 * DPI / 72
    fontsize = style.size(9 if rotate_hint <= 40 else 7)
    if text_px > axes_px:
        ax.set_xticks(
            np.arange(len(shown)), shown, rotation=45, ha="right", rotation_mode="anchor", fontsize=fontsize
        )
    else:
        ax.set_xticks(np.arange(len(shown)), shown, fontsize=fontsize)
    ax.tick_params(axis="x", length=0)


def _line_plot(
    frame: pd.DataFrame,
    x_axis: str | None,
    y_axis: str | Sequence[str] | None,
    value: str | None,
    max_categories: int,
) -> _Plot:
    x = _resolve(frame, x_axis, "x_axis") if x_axis is not None else _default_x(frame, "time")
    group = _resolve(frame, value, "value") if value is not None else None
    ys = _resolve_many(frame, y_axis, "y_axis") or _numeric_columns(frame, exclude=[x, group or x])
    if not ys:
        raise ChartError(
            f"a line chart needs a numeric y_axis; columns: {_listing(frame.columns)} (none numeric)"
        )
    notes: list[str] = []
    y_label = humanise(ys[0]) if len(ys) == 1 else "Value"
    if group is not None:
        frame, ys = _spread(frame, x, ys, group, "a line chart's y axis", notes)
    if len(ys) > MAX_SERIES:
        raise ChartError(
            f"at most {MAX_SERIES} lines fit one chart; got {len(ys)} y columns: pass y_axis to choose"
        )
    kind, key = _classify(frame[x])
    keep = key.notna()
    notes += _drop_note(int((~keep).sum()), f"rows without {x}")
    values = pd.DataFrame({y: _numeric(frame, y, "a line chart's y axis") for y in ys})[keep]
    key = key[keep]
    if key.empty:
        raise ChartError(f"no rows with a value in {x} to plot")
    if group is None:
        notes += _drop_note(int(values.isna().sum().sum()), "missing y values")
    grouped = values.groupby(key, sort=True)
    if grouped.ngroups < len(values):
        notes.append(f"points show the mean of rows with the same {x}")
    table = grouped.mean()
    if kind == "category":
        table = table.sort_index(key=_sort_key(kind))
    labels = _key_labels(table.index, kind) if kind == "category" else []
    if kind == "time":
        xs = mdates.date2num(pd.DatetimeIndex(table.index).to_numpy())
    elif kind == "number":
        xs = table.index.to_numpy(dtype=float)
    else:
        xs = np.arange(len(table), dtype=float)
    lines = []
    for y in ys:
        mask = table[y].notna().to_numpy()
        if mask.any():
            lines.append((y, xs[mask], table[y].to_numpy(dtype=float)[mask]))
    if not lines:
        raise ChartError(f"every value of {_listing(ys)} is missing; nothing to plot")

    def draw(fig: Figure, ax: Axes, style: _Style) -> None:
        for i, (name, px, py) in enumerate(lines):
            ax.plot(
                px,
                py,
                color=PALETTE[i % len(PALETTE)],
                linewidth=style.size(2),
                marker="o" if len(px) <= 60 else None,
                markersize=style.size(3.5),
                label=_plain(name if group else humanise(name)),
                zorder=2,
            )
        if kind == "time":
            locator = mdates.AutoDateLocator(minticks=3, maxticks=10)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        elif kind == "number":
            ax.xaxis.set_major_formatter(_NumberFormatter(group_from=10_000))
        else:
            step = max(1, math.ceil(len(labels) / 25))
            ax.set_xticks(xs[::step], [_plain(_shorten(s)) for s in labels[::step]])
            if len(labels) > 12:
                for tick in ax.get_xticklabels():
                    tick.set(rotation=45, ha="right", rotation_mode="anchor")
        ax.yaxis.set_major_formatter(_NumberFormatter())
        if len(lines) > 1 or group:
            _legend(ax, style, title=humanise(group or ""))

    return _Plot(draw, humanise(x), y_label, tuple(notes), f"{y_label} by {humanise(x).lower()}", "both")


def _scatter_plot(
    frame: pd.DataFrame,
    x_axis: str | None,
    y_axis: str | Sequence[str] | None,
    value: str | None,
    max_categories: int,
) -> _Plot:
    numeric = _numeric_columns(frame)
    x = _resolve(frame, x_axis, "x_axis") if x_axis is not None else None
    ys = _resolve_many(frame, y_axis, "y_axis")
    if len(ys) > 1:
        raise ChartError("a scatter chart takes one y_axis column; use value to colour groups")
    y = ys[0] if ys else None
    colour_by = _resolve(frame, value, "value") if value is not None else None
    spare = [c for c in numeric if c not in (x, y, colour_by)]
    x = x or (spare.pop(0) if spare else None)
    y = y or (spare.pop(0) if spare else None)
    if x is None or y is None:
        raise ChartError(
            "a scatter chart needs numeric x_axis and y_axis; "
            f"numeric columns: {_listing(numeric) or '(none)'}"
        )
    xs = _numeric(frame, x, "a scatter chart's x axis")
    ys_ = _numeric(frame, y, "a scatter chart's y axis")
    keep = (xs.notna() & ys_.notna()).to_numpy()
    notes = _drop_note(int((~keep).sum()), "rows with a missing x or y")
    if not keep.any():
        raise ChartError(f"no row has both {x} and {y}; nothing to plot")
    px, py = xs.to_numpy()[keep], ys_.to_numpy()[keep]
    groups: list[tuple[str, np.ndarray, str]] = []
    continuous: np.ndarray | None = None
    if colour_by is not None:
        kind, key = _classify(frame[colour_by])
        key = key[keep].reset_index(drop=True)
        if kind == "number" and key.nunique() > MAX_SERIES:
            continuous = key.to_numpy(dtype=float)
        else:
            labels = pd.Series("(missing)", index=key.index, dtype=object)
            labels[key.notna()] = _key_labels(pd.Index(key.dropna()), kind)
            counts = labels.value_counts(sort=True)
            ordered = sorted(counts.index, key=lambda v: (-counts[v], str(v)))
            if len(ordered) > MAX_SERIES:
                kept = ordered[: MAX_SERIES - 1]
                notes.append(f"{len(ordered) - len(kept):,} smaller {colour_by} groups merged into Other")
                labels = labels.where(labels.isin(kept), "Other")
                # Merged points go first so the named groups are drawn over the grey mass.
                groups.append(("Other", (labels == "Other").to_numpy(), OTHER_COLOUR))
                ordered = kept
            for i, label in enumerate(ordered):
                groups.append((str(label), (labels == label).to_numpy(), PALETTE[i]))
    n = len(px)
    size, alpha = (30, 0.85) if n <= 500 else (12, 0.6) if n <= RASTERIZE_POINTS else (4, 0.35)

    def draw(fig: Figure, ax: Axes, style: _Style) -> None:
        common = {
            "s": size * style.scale,
            "alpha": alpha,
            "linewidths": 0,
            "rasterized": n > RASTERIZE_POINTS,
        }
        if continuous is not None:
            points = ax.scatter(px, py, c=continuous, cmap=HEATMAP_CMAP, zorder=2, **common)
            bar = fig.colorbar(points, ax=ax, pad=0.02)
            bar.set_label(_plain(humanise(colour_by or "")), fontsize=style.size(9), color=TEXT_COLOUR)
            bar.ax.tick_params(labelsize=style.size(8))
            bar.ax.yaxis.set_major_formatter(_NumberFormatter())
        elif groups:
            artists = {
                label: ax.scatter(px[mask], py[mask], color=colour, zorder=2, **common)
                for label, mask, colour in groups
            }
            # Drawn with the merged remainder first (underneath); listed largest group first, Other last.
            order = sorted(artists, key=lambda label: label == "Other" and groups[0][0] == "Other")
            legend = ax.legend(
                [artists[label] for label in order],
                [_plain(_shorten(label)) for label in order],
                **_legend_options(style, humanise(colour_by or "")),
            )
            for handle in legend.legend_handles:
                handle.set_alpha(1.0)
                handle.set_sizes([30 * style.scale])
        else:
            ax.scatter(px, py, color=PALETTE[0], zorder=2, **common)
        ax.xaxis.set_major_formatter(_NumberFormatter(group_from=10_000))
        ax.yaxis.set_major_formatter(_NumberFormatter())

    return _Plot(
        draw, humanise(x), humanise(y), tuple(notes), f"{humanise(y)} vs {humanise(x).lower()}", "both"
    )


def histogram_bins(values: np.ndarray) -> np.ndarray:
    """Bin edges by numpy's "auto" rule (the smaller of Freedman–Diaconis and Sturges widths), capped.

    Computed here rather than by `np.histogram_bin_edges(bins="auto")` because that allocates every
    edge before we could cap the count, and one outlier in 100k rows can ask for millions of bins.
    """
    lo, hi = float(values.min()), float(values.max())
    if lo == hi:
        return np.array([lo - 0.5, hi + 0.5])
    n = len(values)
    sturges = (hi - lo) / (math.log2(n) + 1.0)
    q75, q25 = np.percentile(values, [75, 25])
    fd = 2.0 * (q75 - q25) * n ** (-1.0 / 3.0)
    width = min(fd, sturges) if fd > 0 else sturges
    bins = max(1, min(HISTOGRAM_MAX_BINS, math.ceil((hi - lo) / width)))
    return np.linspace(lo, hi, bins + 1)


def _histogram_plot(
    frame: pd.DataFrame,
    x_axis: str | None,
    y_axis: str | Sequence[str] | None,
    value: str | None,
    max_categories: int,
) -> _Plot:
    if x_axis is not None:
        x = _resolve(frame, x_axis, "x_axis")
    else:
        numeric = _numeric_columns(frame)
        if not numeric:
            raise ChartError(f"a histogram needs a numeric x_axis; columns: {_listing(frame.columns)}")
        x = numeric[0]
    series = _numeric(frame, x, "a histogram")
    values = series.dropna().to_numpy()
    notes = _drop_note(len(series) - len(values), "missing values")
    if not len(values):
        raise ChartError(f"every value of {x} is missing; nothing to plot")
    edges = histogram_bins(values)
    notes.append(f"n = {len(values):,} in {len(edges) - 1} bins")

    def draw(fig: Figure, ax: Axes, style: _Style) -> None:
        ax.hist(values, bins=edges, color=PALETTE[0], edgecolor="white", linewidth=0.6, zorder=2)
        ax.xaxis.set_major_formatter(_NumberFormatter(group_from=10_000))
        ax.yaxis.set_major_formatter(_NumberFormatter())

    return _Plot(draw, humanise(x), "Count", tuple(notes), f"Distribution of {humanise(x).lower()}")


def _heatmap_plot(
    frame: pd.DataFrame,
    x_axis: str | None,
    y_axis: str | Sequence[str] | None,
    value: str | None,
    max_categories: int,
) -> _Plot:
    notes: list[str] = []
    ys = _resolve_many(frame, y_axis, "y_axis")
    if len(ys) > 1:
        raise ChartError("a heatmap takes one y_axis column (the row categories)")
    if ys:
        matrix, x_name, y_name, value_label = _long_matrix(frame, x_axis, ys[0], value, notes)
    else:
        if value is not None:
            raise ChartError(
                "a heatmap with value needs y_axis too (long data: x, y, value); or omit y_axis and value "
                "to plot a wide table whose first column labels the rows"
            )
        matrix, x_name, y_name, value_label = _wide_matrix(frame, x_axis, notes)
    for axis, size in (("x", matrix.shape[1]), ("y", matrix.shape[0])):
        if size > max_categories:
            raise ChartError(
                f"heatmap {axis} axis has {size:,} categories (max {max_categories}); filter or bucket the "
                f"data first, or raise max_categories"
            )
    cells = matrix.to_numpy(dtype=float)
    if np.isnan(cells).all():
        raise ChartError("every heatmap cell is empty; nothing to plot")
    empty = int(np.isnan(cells).sum())
    if empty:
        notes.append(f"{empty:,} empty cell{'s' if empty > 1 else ''}")
    x_labels = [str(c) for c in matrix.columns]
    y_labels = [str(r) for r in matrix.index]

    def draw(fig: Figure, ax: Axes, style: _Style) -> None:
        rows, cols = cells.shape
        finite = cells[np.isfinite(cells)]
        norm = Normalize(vmin=float(finite.min()), vmax=float(finite.max()))
        cmap = matplotlib.colormaps[HEATMAP_CMAP]
        mesh = ax.pcolormesh(
            np.arange(cols + 1),
            np.arange(rows + 1),
            np.ma.masked_invalid(cells),
            cmap=cmap,
            norm=norm,
            edgecolors="white",
            linewidth=0.5 if rows * cols <= 900 else 0,
        )
        ax.set_facecolor("#f2f2f2")
        ax.set_xlim(0, cols)
        ax.set_ylim(rows, 0)
        fontsize = style.size(9 if max(rows, cols) <= 25 else 7)
        ax.set_xticks(np.arange(cols) + 0.5, [_plain(_shorten(s, 20)) for s in x_labels], fontsize=fontsize)
        ax.set_yticks(np.arange(rows) + 0.5, [_plain(_shorten(s, 24)) for s in y_labels], fontsize=fontsize)
        if sum(len(s) + 1 for s in x_labels) * fontsize * 0.62 > fig.get_figwidth() * 72 * 0.7:
            for tick in ax.get_xticklabels():
                tick.set(rotation=45, ha="right", rotation_mode="anchor")
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        bar = fig.colorbar(mesh, ax=ax, pad=0.02)
        bar.set_label(_plain(value_label), fontsize=style.size(9), color=TEXT_COLOUR)
        bar.ax.tick_params(labelsize=style.size(8))
        bar.ax.yaxis.set_major_formatter(_NumberFormatter())
        bar.outline.set_visible(False)
        if rows <= ANNOTATE_MAX_CELLS and cols <= ANNOTATE_MAX_CELLS:
            cell_pt = min(fig.get_figwidth() * 72 * 0.75 / cols, fig.get_figheight() * 72 * 0.7 / rows)
            size = max(5.0, min(style.size(8.5), cell_pt * 0.28))
            texts = np.array(value_labels(cells.ravel())).reshape(cells.shape)
            for (r, c), v in np.ndenumerate(cells):
                if not np.isfinite(v):
                    continue
                red, green, blue, _ = cmap(norm(v))
                light = 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.5
                ax.text(
                    c + 0.5,
                    r + 0.5,
                    texts[r, c],
                    ha="center",
                    va="center",
                    fontsize=size,
                    color="#111111" if light else "white",
                )

    title = f"{value_label} by {y_name.lower()} and {x_name.lower()}" if x_name else value_label
    return _Plot(draw, x_name, y_name, tuple(notes), title, "none")


def _long_matrix(
    frame: pd.DataFrame, x_axis: str | None, y: str, value: str | None, notes: list[str]
) -> tuple[pd.DataFrame, str, str, str]:
    if x_axis is None:
        raise ChartError("a heatmap of long data needs x_axis (column categories) as well as y_axis")
    x = _resolve(frame, x_axis, "x_axis")
    x_kind, x_key = _classify(frame[x])
    y_kind, y_key = _classify(frame[y])
    keep = x_key.notna() & y_key.notna()
    notes += _drop_note(int((~keep).sum()), "rows without x or y")
    if value is not None:
        column = _resolve(frame, value, "value")
        values = _numeric(frame, column, "a heatmap's value")
        notes += _drop_note(int((values[keep].isna()).sum()), "missing values")
        value_label = humanise(column)
    else:
        values = pd.Series(1.0, index=frame.index)
        value_label = "Count"
    long = pd.DataFrame({"x": x_key, "y": y_key, "v": values})[keep].dropna(subset=["v"])
    if long.empty:
        raise ChartError("no rows left to plot after dropping missing values")
    grouped = long.groupby(["y", "x"], sort=False)["v"]
    if value is None:
        cells = grouped.sum()
    else:
        cells = grouped.mean()
        if len(cells) < len(long):
            notes.append("cells show the mean of repeated x/y pairs")
    matrix = cells.unstack("x")
    matrix = matrix.sort_index(key=_sort_key(y_kind)).sort_index(axis=1, key=_sort_key(x_kind))
    matrix.index = _key_labels(matrix.index, y_kind)
    matrix.columns = _key_labels(matrix.columns, x_kind)
    return matrix, humanise(x), humanise(y), value_label


def _wide_matrix(
    frame: pd.DataFrame, x_axis: str | None, notes: list[str]
) -> tuple[pd.DataFrame, str, str, str]:
    label = _resolve(frame, x_axis, "x_axis") if x_axis is not None else frame.columns[0]
    columns = [c for c in frame.columns if c != label]
    if not columns:
        raise ChartError(
            "a wide heatmap needs a label column plus numeric columns; or pass x_axis, y_axis and value"
        )
    values = pd.DataFrame({c: _numeric(frame, c, "a wide heatmap's cells") for c in columns})
    _, key = _classify(frame[label])
    keep = key.notna()
    notes += _drop_note(int((~keep).sum()), f"rows without {label}")
    grouped = values[keep].groupby(key[keep].map(str), sort=False)
    if grouped.ngroups < int(keep.sum()):
        notes.append(f"cells show the mean of rows with the same {label}")
    matrix = grouped.mean()
    return matrix, "", humanise(label), "Value"


_PREPARERS: dict[str, Callable[..., _Plot]] = {
    "bar": _bar_plot,
    "line": _line_plot,
    "scatter": _scatter_plot,
    "histogram": _histogram_plot,
    "heatmap": _heatmap_plot,
}


# ---------------------------------------------------------------------------------------- formatting


def _decimals(values: Sequence[float]) -> int:
    finite = [v for v in values if math.isfinite(v)]
    for places in range(7):
        scale = 10.0**places
        if all(abs(v * scale - round(v * scale)) < 1e-6 * max(1.0, abs(v * scale)) for v in finite):
            return places
    return 6


def _format_number(value: float, places: int, group_from: float) -> str:
    if not math.isfinite(value):
        return ""
    if abs(value) < 0.5 * 10.0**-places:
        value = 0.0
    return f"{value:,.{places}f}" if abs(value) >= group_from else f"{value:.{places}f}"


def value_labels(values: Sequence[float]) -> list[str]:
    """Labels for bars or heatmap cells with one decimal count for the set, so neighbours line up.

    Decimals follow the largest magnitude (about three significant digits); whole-number data
    stays whole. Missing values get an empty label.
    """
    finite = [float(v) for v in values if math.isfinite(v)]
    if not finite or all(v.is_integer() for v in finite):
        places = 0
    else:
        top = max(abs(v) for v in finite) or 1.0
        places = max(0, min(6, 2 - math.floor(math.log10(top))))
    return [f"{v:,.{places}f}" if math.isfinite(v) else "" for v in map(float, values)]


class _NumberFormatter(ticker.Formatter):
    """Tick labels with thousands separators and one decimal count for the whole axis.

    `group_from` lets x axes of years or hours keep "2024" rather than "2,024".
    """

    def __init__(self, group_from: float = 1000.0) -> None:
        self.group_from = group_from
        self.places = 0

    def __call__(self, x: float, pos: int | None = None) -> str:
        return _format_number(x, self.places, self.group_from)

    def format_ticks(self, values: Sequence[float]) -> list[str]:
        self.places = _decimals(list(values))
        return [self(v) for v in values]


def _legend_options(style: _Style, title: str) -> dict[str, Any]:
    return {
        "loc": "upper left",
        "bbox_to_anchor": (1.01, 1.0),
        "frameon": False,
        "fontsize": style.size(9),
        "title": _plain(title) if title else None,
        "title_fontsize": style.size(9),
        "borderaxespad": 0,
    }


def _legend(ax: Axes, style: _Style, title: str = "") -> Legend:
    """Legend outside the plot, right: it never hides data and constrained layout makes room."""
    return ax.legend(**_legend_options(style, title))


# ------------------------------------------------------------------------------------------- render


def render_chart(
    data: Any,
    chart_type: ChartType,
    *,
    title: str,
    x_axis: str | None = None,
    y_axis: str | list[str] | None = None,
    value: str | None = None,
    format: ImageFormat = "png",
    width: int = 960,
    height: int = 540,
    x_label: str | None = None,
    y_label: str | None = None,
    max_categories: int = 50,
) -> Chart:
    """Render `data` as one chart. Safe to call from several threads at once: nothing global is touched.

    Missing columns are inferred where the choice is unambiguous enough to help (first date-like column
    as a line's x, every other numeric column as its lines, bar counts when y is omitted); anything
    that cannot be drawn raises `ChartError` naming the fix.
    """
    if chart_type not in _PREPARERS:
        raise ChartError(f"unknown chart_type {chart_type!r}; choose one of {', '.join(CHART_TYPES)}")
    if format not in MIME_TYPES:
        raise ChartError(f"unknown format {format!r}; choose one of {', '.join(IMAGE_FORMATS)}")
    for name, size in (("width", width), ("height", height)):
        if isinstance(size, bool) or not isinstance(size, int) or not MIN_PIXELS <= size <= MAX_PIXELS:
            raise ChartError(
                f"{name} must be a whole number of pixels from {MIN_PIXELS} to {MAX_PIXELS}; got {size!r}"
            )
    if isinstance(max_categories, bool) or not isinstance(max_categories, int):
        raise ChartError(f"max_categories must be a whole number; got {max_categories!r}")
    if not 1 <= max_categories <= MAX_CATEGORIES_LIMIT:
        raise ChartError(f"max_categories must be from 1 to {MAX_CATEGORIES_LIMIT}; got {max_categories}")

    frame = to_frame(data)
    if frame.empty or frame.columns.empty:
        raise ChartError("data is empty: there are no rows to plot; check the query returned rows")
    if len(frame) > MAX_ROWS:
        raise ChartError(
            f"{len(frame):,} rows is more than the {MAX_ROWS:,} a chart accepts; aggregate first "
            f"(GROUP BY the x column) or sample"
        )
    plot = _PREPARERS[chart_type](frame, x_axis, y_axis, value, max_categories)
    heading = str(title or "").strip() or plot.default_title
    fig = _figure(
        plot,
        heading if format != "html" else None,
        width,
        height,
        x_label if x_label is not None else plot.x_label,
        y_label if y_label is not None else plot.y_label,
    )
    if format == "png":
        content = _png(fig)
    elif format == "svg":
        content = _svg(fig, heading, width, height).encode("utf-8")
    else:
        content = _html(_svg(fig, heading, width, height), heading, plot.notes, frame).encode("utf-8")
    return Chart(content, format, MIME_TYPES[format], width, height, plot.notes)


def _figure(plot: _Plot, title: str | None, width: int, height: int, x_label: str, y_label: str) -> Figure:
    style = _Style(scale=max(0.75, min(2.5, min(width / 960, height / 540))))
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, facecolor="white", layout="constrained")
    FigureCanvasAgg(fig)
    fig.get_layout_engine().set(h_pad=0.08, w_pad=0.1)
    ax = fig.add_subplot()
    ax.set_facecolor("white")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#bbbbbb")
    ax.tick_params(colors=MUTED_COLOUR, labelsize=style.size(9), labelcolor=TEXT_COLOUR)
    if plot.grid_axis != "none":
        ax.grid(True, axis=plot.grid_axis, color=GRID_COLOUR, linewidth=0.8, zorder=0)
        ax.set_axisbelow(True)
    plot.draw(fig, ax, style)
    ax.set_xlabel(_plain(x_label), fontsize=style.size(10.5), color=TEXT_COLOUR)
    ax.set_ylabel(_plain(y_label), fontsize=style.size(10.5), color=TEXT_COLOUR)
    if title is not None:
        chars = max(20, int(width / (style.size(14) * 0.6 * DPI / 72)))
        lines = textwrap.wrap(title, chars, max_lines=2, placeholder=" …") or [title]
        fig.suptitle(
            _plain("\n".join(lines)),
            x=0.01,
            ha="left",
            fontsize=style.size(14),
            fontweight="bold",
            color=TEXT_COLOUR,
        )
        if plot.notes:
            ax.set_title(
                _plain(" · ".join(plot.notes)), loc="left", fontsize=style.size(9), color=MUTED_COLOUR
            )
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches=None, metadata={"Software": None})
    return buffer.getvalue()


def _svg(fig: Figure, title: str, width: int, height: int) -> str:
    """SVG text whose root declares the pixel size asked for (matplotlib writes points)."""
    buffer = io.BytesIO()
    fig.savefig(
        buffer,
        format="svg",
        bbox_inches=None,
        metadata={"Date": None, "Creator": "telcopulse", "Title": title},
    )
    text = buffer.getvalue().decode("utf-8")
    return _SVG_SIZE.sub(f'width="{width}px" height="{height}px"', text, count=1)


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


def _html(svg: str, title: str, notes: Sequence[str], frame: pd.DataFrame) -> str:
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


__all__ = [
    "CHART_TYPES",
    "IMAGE_FORMATS",
    "MAX_ROWS",
    "PALETTE",
    "BarData",
    "Chart",
    "ChartError",
    "ChartType",
    "ImageFormat",
    "histogram_bins",
    "humanise",
    "prepare_bar",
    "render_chart",
    "to_frame",
    "value_labels",
]
