"""Network quality hot spots (location x event type x hour) and the link between quality and churn.

The warehouse has 1M+ events, so the usual input is pre-aggregated groups; averages are then
re-weighted by event counts and percentiles cannot be merged exactly (we report the worst group's
p10 instead). Event-level data is accepted too and aggregated exactly here.
"""

from __future__ import annotations

import math
import warnings as pywarnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analyses._frame import (
    apply_filters,
    binary_outcome,
    coerce_decimals,
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
from analyses._stats import (
    chi_square_independence,
    correlation_strength,
    format_p,
    significance_words,
    wilson_interval,
    z_value,
)
from analyses.results import AnalysisError, AnalysisResult, ComputedOn, StatTest
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
    groups = ensure_frame(groups, "groups")
    customers = ensure_frame(customers, "customers") if customers is not None else None
    if not 0 < confidence < 1:
        raise AnalysisError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}")
    if min_cell_events < 1:
        raise AnalysisError(f"min_cell_events must be at least 1, got {min_cell_events}")
    require_rows(groups, "groups")
    explicit = segment_by is not None
    if isinstance(segment_by, str):
        segment_by = [segment_by]
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

    frames, warnings = apply_filters({"groups": groups, "customers": customers}, filters)
    groups = coerce_decimals(frames["groups"])
    require_rows(groups, "groups", filters)
    alpha = 1 - confidence

    segments = list(segment_by or []) if explicit else [c for c in DEFAULT_SEGMENTS if c in groups.columns]
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
        cells = _aggregate(data, cell_keys, raw, confidence)
        eligible = cells.loc[cells["events"] >= min_cell_events]
        if eligible.empty:
            warnings.append(
                f"no {' x '.join(cell_keys)} cell has {min_cell_events}+ events; worst_cells is empty "
                "(lower min_cell_events)"
            )
        worst = eligible.sort_values(["poor_share", "events"], ascending=[False, False]).head(WORST_CELLS)
        tables["worst_cells"] = records(worst)

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

    overall = total.iloc[0]
    summary = (
        f"{int(overall['events']):,} events: average quality {overall['avg_quality']:.2f}, "
        f"{overall['poor_share']:.1%} poor (< {poor_threshold:g})."
        if pd.notna(overall["avg_quality"])
        else f"{int(overall['events']):,} events, {overall['poor_share']:.1%} poor (< {poor_threshold:g})."
    )
    if len(worst):
        cell = worst.iloc[0]
        where = " / ".join(str(cell[c]) + (":00" if c == "event_hour" else "") for c in cell_keys)
        summary += (
            f" Worst cell: {where} with {cell['poor_share']:.1%} poor of {int(cell['events']):,} events."
        )
    if segments and len(by_segment) >= 2:
        top = by_segment.iloc[0]
        names = " / ".join(str(top[c]) for c in segments)
        summary += f" Worst {' x '.join(segments)}: {names} ({top['poor_share']:.1%} poor)."

    columns_used = [*segments] + [c for c in cell_keys if c not in segments]
    columns_used += (
        [RAW_SCORE] if raw else [_source_name(groups, k) for k in ALIASES if _source_name(groups, k)]
    )
    if customers is not None:
        churn_tables, churn_tests, churn_text, churn_notes, churn_columns = _quality_and_churn(
            frames["customers"], quality_column, churn_column, positive_label, confidence, alpha
        )
        tables.update(churn_tables)
        tests.extend(churn_tests)
        warnings.extend(churn_notes)
        summary += churn_text
        columns_used += [f"customers.{c}" for c in churn_columns]

    how = [
        "poor_share = poor events / events (poor: quality score below the threshold); avg_quality is "
        "event-weighted; ci_low/ci_high are Wilson intervals for poor_share, which treat events as "
        "independent "
        "and are therefore too narrow when a few customers produce many events.",
    ]
    if raw:
        how.append("p10/p50/p90_quality are exact percentiles of the event scores.")
    else:
        how.append(
            "Percentiles of pre-aggregated groups cannot be merged: min_group_p10 is the lowest p10 "
            "among the "
            "groups of a row (a pessimistic bound), not the row's own p10."
        )
    if "worst_cells" in tables:
        how.append(
            f"worst_cells: the {WORST_CELLS} {' x '.join(cell_keys)} cells with the highest poor_share among "
            f"those with at least {min_cell_events} events."
        )
    how.append(
        "tests: chi-square of poor vs not-poor events across each segment column with Cramér's V; with "
        "millions of events p is almost always tiny, so judge by the effect size and the share difference."
    )
    if "churn_model" in tables:
        how.append(
            "quality_vs_churn: point-biserial correlation of the churn flag with each quality measure per "
            "customer. churn_by_quality_band: churn rate by quartile of the customer's average quality. "
            "churn_model: logistic regression of churn on average quality, controlling for account type and "
            "tenure (years); odds_ratio < 1 for quality means better quality goes with lower churn odds. "
            "Tenure of churned customers stops at churn, so the tenure term is descriptive, not causal."
        )
    return AnalysisResult(
        analysis_type="network_quality",
        summary=summary,
        how_to_read=" ".join(how),
        computed_on=ComputedOn(
            rows=len(groups),
            time_range=time_range(stamps) if stamps is not None else None,
            filters=dict(filters or {}),
            columns_used=columns_used,
        ),
        tables=tables,
        tests=tests,
        warnings=warnings,
    )


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


def _quality_and_churn(
    customers: pd.DataFrame,
    quality_column: str,
    churn_column: str,
    positive_label: Any,
    confidence: float,
    alpha: float,
) -> tuple[dict[str, list[dict[str, Any]]], list[StatTest], str, list[str], list[str]]:
    """Point-biserial correlations, churn by quality quartile and an adjusted logistic model."""
    notes: list[str] = []
    customers = coerce_decimals(customers)
    if customers.empty:
        raise AnalysisError("customers has no rows after filters; loosen the filters or leave customers out")
    flag = binary_outcome(customers[churn_column], positive_label, churn_column, "customers")
    quality = numeric_column(customers, quality_column, "customers")
    measures = {quality_column: quality}
    if "poor_quality_share" in customers.columns and quality_column != "poor_quality_share":
        measures["poor_quality_share"] = numeric_column(customers, "poor_quality_share", "customers")
    columns = [churn_column, *measures]
    tables: dict[str, list[dict[str, Any]]] = {}
    tests: list[StatTest] = []
    rows = []
    y_all = flag.to_numpy(dtype=float, na_value=np.nan)
    for name, values in measures.items():
        x = values.to_numpy(dtype=float)
        ok = ~np.isnan(x) & ~np.isnan(y_all)
        if ok.sum() < 3 or np.unique(y_all[ok]).size < 2 or np.unique(x[ok]).size < 2:
            notes.append(f"not enough variation to correlate churn with {name}")
            continue
        result = stats.pointbiserialr(y_all[ok], x[ok])
        r, p = float(result.statistic), float(result.pvalue)
        rows.append(
            {"feature": name, "r": r, "p_value": p, "n": int(ok.sum()), "strength": correlation_strength(r)}
        )
        tests.append(
            StatTest(
                name=f"point-biserial: churn vs {name}",
                statistic=r,
                p_value=p,
                dof=int(ok.sum()) - 2,
                effect_size=r,
                effect_name="point-biserial r",
                interpretation=(
                    f"{significance_words(p, alpha)}: {correlation_strength(r)} "
                    f"{'positive' if r > 0 else 'negative'} association of churn with {name} (r = {r:.3f})"
                ),
            )
        )
    if rows:
        tables["quality_vs_churn"] = records(pd.DataFrame(rows))

    ok = quality.notna().to_numpy() & flag.notna().to_numpy()
    if ok.sum() >= 8 and quality[ok].nunique() >= 4:
        bands = pd.qcut(quality[ok].astype(float), q=4, duplicates="drop")
        frame = pd.DataFrame({"band": bands.to_numpy(), "churned": flag[ok].astype(bool).to_numpy()})
        table = frame.groupby("band", observed=True).agg(
            customers=("churned", "size"), churned=("churned", "sum")
        )
        table = table.reset_index()
        table["quality_band"] = table["band"].map(lambda b: f"{b.left:.2f} to {b.right:.2f}")
        table["churned"] = table["churned"].astype(int)
        table["churn_rate"] = table["churned"] / table["customers"]
        low, high = wilson_interval(table["churned"], table["customers"], confidence)
        table["ci_low"], table["ci_high"] = low, high
        tables["churn_by_quality_band"] = records(
            table[["quality_band", "customers", "churned", "churn_rate", "ci_low", "ci_high"]]
        )

    model_table, model_test, text, model_notes, model_columns = _churn_model(
        customers, flag, quality, quality_column, confidence, alpha
    )
    notes.extend(model_notes)
    if model_table is not None:
        tables["churn_model"] = records(model_table)
        tests.append(model_test)
    return tables, tests, text, notes, columns + model_columns


def _churn_model(
    customers: pd.DataFrame,
    flag: pd.Series,
    quality: pd.Series,
    quality_column: str,
    confidence: float,
    alpha: float,
) -> tuple[pd.DataFrame | None, StatTest | None, str, list[str], list[str]]:
    """Logit of churn on quality + account type + tenure; skipped (with a warning) when it cannot be fit."""
    notes: list[str] = []
    design = pd.DataFrame({quality_column: quality.to_numpy()}, index=customers.index)
    labels = {quality_column: f"{quality_column} (+1 point)"}
    used: list[str] = []
    if "tenure_days" in customers.columns:
        design["tenure_years"] = numeric_column(customers, "tenure_days", "customers").to_numpy() / 365.25
        labels["tenure_years"] = "tenure (+1 year)"
        used.append("tenure_days")
    y = flag.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    complete = design.notna().all(axis=1).to_numpy() & ~np.isnan(y)
    if "account_type" in customers.columns:
        account = segment_labels(customers["account_type"])
        counts = account[complete].value_counts()
        if len(counts) >= 2:
            reference = str(counts.index[0])
            for level in sorted(counts.index[1:]):
                name = f"account_type[{level}]"
                design[name] = (account == level).astype(float).to_numpy()
                labels[name] = f"account_type = {level} (vs {reference})"
            used.append("account_type")
    design, y = design.loc[complete], y[complete]
    if len(y) < 20 or y.sum() < 5 or (len(y) - y.sum()) < 5:
        notes.append("too few churned or retained customers with quality data to fit the churn model")
        return None, None, "", notes, used
    import statsmodels.api as sm  # lazily: statsmodels takes seconds to import
    from statsmodels.tools.sm_exceptions import (
        ConvergenceWarning,
        PerfectSeparationError,
        PerfectSeparationWarning,
    )

    exog = sm.add_constant(design.astype(float), has_constant="add")
    try:
        with pywarnings.catch_warnings():
            pywarnings.simplefilter("error", PerfectSeparationWarning)
            pywarnings.simplefilter("ignore", RuntimeWarning)
            pywarnings.simplefilter("ignore", ConvergenceWarning)  # checked via mle_retvals below
            fit = sm.Logit(y, exog).fit(disp=0, maxiter=200)
    except (PerfectSeparationError, PerfectSeparationWarning):
        notes.append(
            "churn is perfectly predicted by the model terms (separation); the churn model was skipped"
        )
        return None, None, "", notes, used
    except (np.linalg.LinAlgError, ValueError) as exc:
        notes.append(f"the churn model could not be fitted ({exc}); a term may be constant or collinear")
        return None, None, "", notes, used
    converged = bool(fit.mle_retvals.get("converged", True))
    if not converged or not np.all(np.isfinite(fit.bse)):
        notes.append("the churn model did not converge (near-separation or collinear terms); it was skipped")
        return None, None, "", notes, used
    z = z_value(confidence)
    rows = []
    for term, label in labels.items():
        if term not in fit.params.index:
            continue
        beta, se = float(fit.params[term]), float(fit.bse[term])
        rows.append(
            {
                "term": label,
                "odds_ratio": math.exp(beta),
                "ci_low": math.exp(beta - z * se),
                "ci_high": math.exp(beta + z * se),
                "p_value": float(fit.pvalues[term]),
            }
        )
    table = pd.DataFrame(rows)
    beta = float(fit.params[quality_column])
    odds_ratio, p_value = math.exp(beta), float(fit.pvalues[quality_column])
    controls = [
        c
        for c in ("account type", "tenure")
        if ("account_type" if c == "account type" else "tenure_days") in used
    ]
    control_text = f" at the same {' and '.join(controls)}" if controls else ""
    first = rows[0]
    change = "lower" if odds_ratio < 1 else "higher"
    test = StatTest(
        name=f"logistic regression: churn ~ {quality_column}" + "".join(f" + {c}" for c in used),
        statistic=float(fit.tvalues[quality_column]),
        p_value=p_value,
        dof=int(fit.df_resid),
        effect_size=odds_ratio,
        effect_name=f"odds ratio per +1 {quality_column} (adjusted)",
        interpretation=(
            f"{significance_words(p_value, alpha)}: each extra quality point goes with "
            f"{odds_ratio:.2f}x the odds "
            f"of churn ({change}){control_text}"
        ),
    )
    text = (
        f" Each point higher {quality_column} goes with {odds_ratio:.2f}x the odds of churn "
        f"({confidence:.0%} CI {first['ci_low']:.2f}-{first['ci_high']:.2f}, "
        f"{format_p(p_value)}){control_text}, "
        f"n={len(y):,} customers."
    )
    return table, test, text, notes, used
