"""Network quality hot spots (location x event type x hour) and the link between quality and churn.

The warehouse has 1M+ events, so the usual input is pre-aggregated groups; averages are then
re-weighted by event counts and percentiles cannot be merged exactly (we report the worst group's
p10 instead). Event-level data is accepted too and aggregated exactly here.

`network_quality` runs three steps: `_checked_inputs` (parameters and tables -> `AnalysisError`s and
canonical event columns), `_computed` (events -> `QualityFindings`) and `_summary` / `_how_to_read`
(numbers -> words); the link to churn lives in `analyses._quality_churn`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from analyses._checks import as_list, filtered_inputs, require_level
from analyses._frame import (
    datetime_column,
    ensure_frame,
    listing,
    numeric_column,
    require_columns,
    require_rows,
    segment_labels,
    time_range,
)
from analyses._json import records
from analyses._quality_churn import ChurnModel, model_sentence, quality_and_churn
from analyses._stats import chi_square_independence, wilson_interval
from analyses.results import AnalysisError, AnalysisResult, Findings, StatTest
from analyses.spec import FILTERS_DOC, AnalysisSpec, FrameSpec, MartSource, SummaryChart
from analyses.steps import checkpoint

RAW_SCORE = "network_quality_score"
ALIASES: dict[str, tuple[str, ...]] = {
    "events": ("events", "event_count"),
    "poor_events": ("poor_events", "poor_quality_events"),
    "poor_share": ("poor_share", "poor_quality_share"),
    "avg_quality": ("avg_quality", "avg_quality_score"),
    "p10_quality": ("p10_quality", "p10_quality_score"),
    "p50_quality": ("p50_quality", "p50_quality_score", "median_quality_score"),
    "p90_quality": ("p90_quality", "p90_quality_score"),
}
DEFAULT_SEGMENTS = ("location", "event_type")
CELL_DIMENSIONS = ("location", "event_type", "event_hour")
WORST_CELLS = 10
WAREHOUSE_POOR_THRESHOLD = 2.5


def network_quality(
    groups: pd.DataFrame,
    *,
    customers: pd.DataFrame | None = None,
    poor_threshold: float = WAREHOUSE_POOR_THRESHOLD,
    segment_by: list[str] | None = None,
    min_cell_events: int = 100,
    quality_column: str = "avg_quality_score",
    churn_column: str = "is_churned",
    positive_label: Any = True,
    confidence: float = 0.95,
    filters: dict[str, Any] | None = None,
) -> AnalysisResult:
    """Quality and poor-quality share by segment, hour and worst cell; optionally its link to churn.

    `groups`: pre-aggregated event groups (location, event_type, event_hour, events/event_count,
    poor_events/poor_quality_events, avg_quality/avg_quality_score, p10_quality...) or event-level
    rows with `network_quality_score`. `customers`: `customer_features` (is_churned,
    avg_quality_score, poor_quality_share, account_type, tenure_days).
    """
    inputs = _checked_inputs(
        groups,
        customers,
        poor_threshold=poor_threshold,
        segment_by=segment_by,
        min_cell_events=min_cell_events,
        quality_column=quality_column,
        churn_column=churn_column,
        confidence=confidence,
        filters=filters,
    )
    findings = _computed(
        inputs,
        min_cell_events=min_cell_events,
        quality_column=quality_column,
        churn_column=churn_column,
        positive_label=positive_label,
        confidence=confidence,
    )
    return findings.result(
        "network_quality",
        summary=_summary(findings, poor_threshold, quality_column, confidence),
        how_to_read=_how_to_read(findings, min_cell_events),
        filters=filters,
    )


# ---------------------------------------------------------------------------------------- validate


@dataclass(frozen=True, eq=False)
class QualityInputs:
    """Events in canonical columns (`data`), how they were given, and the filtered tables."""

    data: pd.DataFrame
    raw: bool
    segments: list[str]
    stamps: pd.Series | None
    groups: pd.DataFrame
    customers: pd.DataFrame | None
    warnings: list[str]


def _checked_inputs(
    groups: pd.DataFrame,
    customers: pd.DataFrame | None,
    *,
    poor_threshold: float,
    segment_by: list[str] | None,
    min_cell_events: int,
    quality_column: str,
    churn_column: str,
    confidence: float,
    filters: dict[str, Any] | None,
) -> QualityInputs:
    """Every check that needs no computed number, in the order the caller should fix them."""
    groups = ensure_frame(groups, "groups")
    customers = ensure_frame(customers, "customers") if customers is not None else None
    require_level(confidence, "confidence", "0.95")
    if min_cell_events < 1:
        raise AnalysisError(f"min_cell_events must be at least 1, got {min_cell_events}")
    require_rows(groups, "groups")
    explicit = segment_by is not None
    segment_by = as_list(segment_by)
    if explicit:
        require_columns(groups, segment_by or [], "groups", "to segment by (segment_by)")
        measures = [
            c for c in segment_by or [] if c == RAW_SCORE or any(c in names for names in ALIASES.values())
        ]
        if measures:
            raise AnalysisError(
                f"{listing(measures)} is a measure, not a segment; segment_by takes columns such as "
                "location, event_type or event_hour"
            )
    if customers is not None:
        require_columns(customers, [churn_column], "customers", "as the churn flag (churn_column)")
        require_columns(
            customers, [quality_column], "customers", "as the customer's quality (quality_column)"
        )

    filtered = filtered_inputs("groups", groups, filters, customers=customers)
    groups, warnings = filtered.primary, filtered.warnings
    segments = list(segment_by or []) if explicit else [c for c in DEFAULT_SEGMENTS if c in groups.columns]
    events = _events(groups, segments, poor_threshold, warnings)
    return QualityInputs(
        data=events.data,
        raw=events.raw,
        segments=segments,
        stamps=events.stamps,
        groups=groups,
        customers=filtered.optional["customers"],
        warnings=warnings,
    )


class Events(NamedTuple):
    """Events in canonical columns, whether they came one per row, and their dates (if any)."""

    data: pd.DataFrame
    raw: bool
    stamps: pd.Series | None


def _events(groups: pd.DataFrame, segments: list[str], poor_threshold: float, warnings: list[str]) -> Events:
    """Groups or event-level rows in one shape, labels as text; an error when no event is left."""
    raw = _is_raw(groups)
    if raw:
        data = _prepare_raw(groups, poor_threshold, segments)
    else:
        data = _prepare_groups(groups, segments)
        if not math.isclose(poor_threshold, WAREHOUSE_POOR_THRESHOLD):
            warnings.append(
                f"poor_threshold={poor_threshold} only applies to event-level data; these groups were "
                f"counted in SQL with the warehouse threshold ({WAREHOUSE_POOR_THRESHOLD})"
            )
    stamps = data["event_date"].copy() if "event_date" in data.columns else None
    for column in [*segments, *CELL_DIMENSIONS]:
        checkpoint()
        if column in data.columns and column != "event_hour":
            data[column] = segment_labels(data[column]).to_numpy()
    if data["events"].sum() <= 0:
        raise AnalysisError("groups has no events after filters; loosen the filters")
    return Events(data, raw, stamps)


def _is_raw(groups: pd.DataFrame) -> bool:
    has_events = any(name in groups.columns for name in ALIASES["events"])
    if has_events:
        return False
    if RAW_SCORE in groups.columns:
        return True
    raise AnalysisError(
        "groups needs either pre-aggregated columns (events or event_count, poor_events or "
        f"poor_quality_events, avg_quality) or event-level '{RAW_SCORE}'; available columns: "
        f"{listing(map(str, groups.columns))}"
    )


def _source_name(groups: pd.DataFrame, canonical: str) -> str | None:
    return next((name for name in ALIASES[canonical] if name in groups.columns), None)


def _prepare_groups(groups: pd.DataFrame, segments: list[str]) -> pd.DataFrame:
    """Canonical columns from either our names (events, poor_events) or the mart's (event_count...)."""
    data = pd.DataFrame(index=groups.index)
    for column in dict.fromkeys([*segments, *CELL_DIMENSIONS]):
        if column in groups.columns:
            data[column] = groups[column]
    if "event_date" in groups.columns:
        data["event_date"] = datetime_column(groups, "event_date", "groups")
    events_name = _source_name(groups, "events")
    assert events_name is not None
    data["events"] = numeric_column(groups, events_name, "groups").fillna(0)
    poor_name, share_name = _source_name(groups, "poor_events"), _source_name(groups, "poor_share")
    if poor_name:
        data["poor_events"] = numeric_column(groups, poor_name, "groups").fillna(0)
    elif share_name:
        data["poor_events"] = (
            (numeric_column(groups, share_name, "groups") * data["events"]).round().fillna(0)
        )
    else:
        raise AnalysisError(
            "groups needs poor_events (or poor_quality_events, or poor_quality_share) to compute the "
            "poor-quality "
            f"share; available columns: {listing(map(str, groups.columns))}"
        )
    avg_name = _source_name(groups, "avg_quality")
    if avg_name:
        average = numeric_column(groups, avg_name, "groups")
        data["scored_events"] = data["events"].where(average.notna(), 0)
        data["quality_sum"] = (average * data["events"]).fillna(0)
    p10_name = _source_name(groups, "p10_quality")
    if p10_name:
        data["p10"] = numeric_column(groups, p10_name, "groups")
    if "event_hour" in data.columns:
        data["event_hour"] = pd.to_numeric(data["event_hour"], errors="coerce")
    return data.reset_index(drop=True)


def _prepare_raw(events: pd.DataFrame, poor_threshold: float, segments: list[str]) -> pd.DataFrame:
    data = pd.DataFrame(index=events.index)
    for column in dict.fromkeys([*segments, "location", "event_type"]):
        if column in events.columns:
            data[column] = events[column]
    score = numeric_column(events, RAW_SCORE, "groups")
    if "event_hour" in events.columns:
        data["event_hour"] = pd.to_numeric(events["event_hour"], errors="coerce")
    if "event_timestamp" in events.columns:
        stamps = datetime_column(events, "event_timestamp", "groups")
        if "event_hour" not in data.columns:
            data["event_hour"] = stamps.dt.hour
        data["event_date"] = stamps.dt.normalize()
    elif "event_date" in events.columns:
        data["event_date"] = datetime_column(events, "event_date", "groups")
    data["score"] = score
    data["events"] = 1.0
    data["poor_events"] = (score < poor_threshold).astype(float)
    data["scored_events"] = score.notna().astype(float)
    data["quality_sum"] = score.fillna(0)
    return data.reset_index(drop=True)


# ----------------------------------------------------------------------------------------- compute


@dataclass(kw_only=True, eq=False)
class QualityFindings(Findings):
    """The rows the summary quotes besides the tables."""

    total: pd.DataFrame
    by_segment: pd.DataFrame
    worst: pd.DataFrame
    cell_keys: list[str]
    segments: list[str]
    raw: bool
    model: ChurnModel | None


def _computed(
    inputs: QualityInputs,
    *,
    min_cell_events: int,
    quality_column: str,
    churn_column: str,
    positive_label: Any,
    confidence: float,
) -> QualityFindings:
    data, raw, segments = inputs.data, inputs.raw, inputs.segments
    warnings = list(inputs.warnings)
    alpha = 1 - confidence
    tables: dict[str, list[dict[str, Any]]] = {}
    total = _aggregate(data, [], raw, confidence)
    by_segment = _aggregate(data, segments, raw, confidence).sort_values("poor_share", ascending=False)
    tables["by_segment"] = records(by_segment)
    if "event_hour" in data.columns:
        tables["by_hour"] = records(
            _aggregate(data, ["event_hour"], raw, confidence).sort_values("event_hour")
        )
    cell_keys = [c for c in CELL_DIMENSIONS if c in data.columns]
    worst = pd.DataFrame()
    if cell_keys:
        worst = _worst_cells(data, cell_keys, raw, confidence, min_cell_events, warnings)
        tables["worst_cells"] = records(worst)

    tests = _segment_tests(data, segments, alpha, warnings)
    groups = inputs.groups
    columns_used = [*segments] + [c for c in cell_keys if c not in segments]
    columns_used += (
        [RAW_SCORE] if raw else [_source_name(groups, k) for k in ALIASES if _source_name(groups, k)]
    )
    model: ChurnModel | None = None
    if inputs.customers is not None:
        link = quality_and_churn(
            inputs.customers, quality_column, churn_column, positive_label, confidence, alpha
        )
        tables.update(link.tables)
        tests.extend(link.tests)
        warnings.extend(link.notes)
        model = link.model
        columns_used += [f"customers.{c}" for c in link.columns]

    return QualityFindings(
        rows=len(groups),
        tables=tables,
        tests=tests,
        warnings=warnings,
        columns_used=columns_used,
        time_range=time_range(inputs.stamps) if inputs.stamps is not None else None,
        total=total,
        by_segment=by_segment,
        worst=worst,
        cell_keys=cell_keys,
        segments=segments,
        raw=raw,
        model=model,
    )


def _worst_cells(
    data: pd.DataFrame,
    cell_keys: list[str],
    raw: bool,
    confidence: float,
    min_cell_events: int,
    warnings: list[str],
) -> pd.DataFrame:
    """The cells with the highest poor share among those with enough events to rank them on."""
    cells = _aggregate(data, cell_keys, raw, confidence)
    eligible = cells.loc[cells["events"] >= min_cell_events]
    if eligible.empty:
        warnings.append(
            f"no {' x '.join(cell_keys)} cell has {min_cell_events}+ events; worst_cells is empty "
            "(lower min_cell_events)"
        )
    return eligible.sort_values(["poor_share", "events"], ascending=[False, False]).head(WORST_CELLS)


def _segment_tests(
    data: pd.DataFrame, segments: list[str], alpha: float, warnings: list[str]
) -> list[StatTest]:
    """Chi-square of poor vs not-poor events across each segment column."""
    tests: list[StatTest] = []
    for column in segments:
        checkpoint()
        counts = data.groupby(column)[["poor_events", "events"]].sum()
        crosstab = pd.DataFrame(
            {"poor": counts["poor_events"], "not_poor": counts["events"] - counts["poor_events"]}
        )
        test, warning = chi_square_independence(
            crosstab, outcome="poor-quality share", factor=column, alpha=alpha
        )
        if test is not None:
            tests.append(test)
        if warning:
            warnings.append(warning)
    return tests


def _aggregate(data: pd.DataFrame, keys: list[str], raw: bool, confidence: float) -> pd.DataFrame:
    frame = data.assign(_all="all") if not keys else data
    by = keys or ["_all"]
    grouped = frame.groupby(by, sort=True, dropna=False)
    sums = grouped[["events", "poor_events"]].sum()
    if "quality_sum" in frame.columns:
        quality = grouped[["quality_sum", "scored_events"]].sum()
        sums["avg_quality"] = (quality["quality_sum"] / quality["scored_events"]).where(
            quality["scored_events"] > 0
        )
    else:
        sums["avg_quality"] = np.nan
    sums["poor_share"] = (sums["poor_events"] / sums["events"]).where(sums["events"] > 0)
    low, high = wilson_interval(sums["poor_events"], sums["events"], confidence)
    sums["ci_low"], sums["ci_high"] = low, high
    if raw:
        quantiles = grouped["score"].quantile([0.1, 0.5, 0.9]).unstack()
        sums["p10_quality"], sums["p50_quality"], sums["p90_quality"] = (
            quantiles[0.1],
            quantiles[0.5],
            quantiles[0.9],
        )
    elif "p10" in frame.columns:
        sums["min_group_p10"] = grouped["p10"].min()
    result = sums.reset_index()
    result = result.drop(columns=["_all"], errors="ignore")
    result["events"] = result["events"].astype(int)
    result["poor_events"] = result["poor_events"].astype(int)
    if "event_hour" in result.columns:
        result["event_hour"] = result["event_hour"].astype("Int64")
    return result


# ----------------------------------------------------------------------------------------- narrate


def _summary(findings: QualityFindings, poor_threshold: float, quality_column: str, confidence: float) -> str:
    overall = findings.total.iloc[0]
    summary = (
        f"{int(overall['events']):,} events: average quality {overall['avg_quality']:.2f}, "
        f"{overall['poor_share']:.1%} poor (< {poor_threshold:g})."
        if pd.notna(overall["avg_quality"])
        else f"{int(overall['events']):,} events, {overall['poor_share']:.1%} poor (< {poor_threshold:g})."
    )
    if len(findings.worst):
        cell = findings.worst.iloc[0]
        where = " / ".join(str(cell[c]) + (":00" if c == "event_hour" else "") for c in findings.cell_keys)
        summary += (
            f" Worst cell: {where} with {cell['poor_share']:.1%} poor of {int(cell['events']):,} events."
        )
    segments = findings.segments
    if segments and len(findings.by_segment) >= 2:
        top = findings.by_segment.iloc[0]
        names = " / ".join(str(top[c]) for c in segments)
        summary += f" Worst {' x '.join(segments)}: {names} ({top['poor_share']:.1%} poor)."
    if findings.model is not None:
        summary += model_sentence(findings.model, quality_column, confidence)
    return summary


def _how_to_read(findings: QualityFindings, min_cell_events: int) -> str:
    how = [
        "poor_share = poor events / events (poor: quality score below the threshold); avg_quality is "
        "event-weighted; ci_low/ci_high are Wilson intervals for poor_share, which treat events as "
        "independent "
        "and are therefore too narrow when a few customers produce many events.",
    ]
    if findings.raw:
        how.append("p10/p50/p90_quality are exact percentiles of the event scores.")
    else:
        how.append(
            "Percentiles of pre-aggregated groups cannot be merged: min_group_p10 is the lowest p10 "
            "among the "
            "groups of a row (a pessimistic bound), not the row's own p10."
        )
    if "worst_cells" in findings.tables:
        how.append(
            f"worst_cells: the {WORST_CELLS} {' x '.join(findings.cell_keys)} cells with the highest "
            f"poor_share among those with at least {min_cell_events} events."
        )
    how.append(
        "tests: chi-square of poor vs not-poor events across each segment column with Cramér's V; with "
        "millions of events p is almost always tiny, so judge by the effect size and the share difference."
    )
    if "churn_model" in findings.tables:
        how.append(
            "quality_vs_churn: point-biserial correlation of the churn flag with each quality measure per "
            "customer. churn_by_quality_band: churn rate by quartile of the customer's average quality. "
            "churn_model: logistic regression of churn on average quality, controlling for account type and "
            "tenure (years); odds_ratio < 1 for quality means better quality goes with lower churn odds. "
            "Tenure of churned customers stops at churn, so the tenure term is descriptive, not causal."
        )
    return " ".join(how)


SPEC = AnalysisSpec(
    name="network_quality",
    title="Network quality hot spots and their link to churn",
    brief="by location/event type/hour, link to churn via logistic regression",
    position=3,
    function=network_quality,
    frames=[
        FrameSpec(
            name="groups",
            required=True,
            description="Event groups aggregated in SQL (or event-level rows with network_quality_score).",
            columns=[
                "location",
                "event_type",
                "event_hour",
                "events",
                "poor_events",
                "avg_quality",
                "p10_quality",
            ],
            # Groups of scored events: quality statistics weigh by the scored events only.
            source=MartSource(
                mart="fct_network_quality_by_hour",
                columns=(
                    "location",
                    "event_type",
                    "event_hour",
                    "scored_event_count",
                    "poor_quality_events",
                    "avg_quality_score",
                    "p10_quality_score",
                    "median_quality_score",
                    "p90_quality_score",
                ),
                rename={
                    "scored_event_count": "events",
                    "poor_quality_events": "poor_events",
                    "avg_quality_score": "avg_quality",
                    "p10_quality_score": "p10_quality",
                    "median_quality_score": "p50_quality",
                    "p90_quality_score": "p90_quality",
                },
                where=(("scored_event_count", ">", 0),),
                order_by=("location", "event_type", "event_hour"),
            ),
        ),
        FrameSpec(
            name="customers",
            required=False,
            description="Per-customer quality and churn for the churn link (marts.customer_features).",
            columns=["is_churned", "avg_quality_score", "poor_quality_share", "account_type", "tenure_days"],
            source=MartSource(
                mart="customer_features",
                columns=(
                    "customer_id",
                    "account_type",
                    "tenure_days",
                    "avg_quality_score",
                    "poor_quality_share",
                    "is_churned",
                ),
            ),
        ),
    ],
    parameter_docs={
        "poor_threshold": "Quality score below which an event is poor; applies to event-level data only "
        "(pre-aggregated groups were counted in SQL with 2.5).",
        "segment_by": "Columns to break quality down by; default location and event_type.",
        "min_cell_events": "Minimum events for a location x event_type x hour cell to be ranked in "
        "worst_cells.",
        "quality_column": "Per-customer average quality column of `customers` for the churn link.",
        "churn_column": "Churn flag column of `customers`.",
        "positive_label": "Value of churn_column that means churned.",
        "confidence": "Confidence level of intervals; 1 - confidence is the test level.",
        "filters": FILTERS_DOC,
    },
    raw_tables=("customers", "network_events"),
    main_table="by_segment",
    chart=SummaryChart(
        table="by_hour",
        chart_type="line",
        x_axis="event_hour",
        y_axis="poor_share",
        title="Poor-quality share",
    ),
)
