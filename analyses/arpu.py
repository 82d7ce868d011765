"""ARPU by month and segment, service and payment mix, and revenue of churned vs retained customers.

The one rule that matters: in `fct_arpu_monthly` every service_type row of a month x account_type
repeats the same `active_customers` (ARPU divides by all active customers, not only payers). So
across services revenue is added but active customers are taken once; summing them would divide by
the number of service types too and understate ARPU several-fold.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analyses._frame import (
    apply_filters,
    binary_outcome,
    coerce_decimals,
    ensure_frame,
    month_column,
    numeric_column,
    require_columns,
    require_rows,
    segment_labels,
)
from analyses._json import records
from analyses._stats import cohens_d, format_p, magnitude, significance_words
from analyses.results import AnalysisError, AnalysisResult, ComputedOn, StatTest
from analyses.steps import checkpoint

MONTHLY_REQUIRED = ("month", "revenue", "active_customers")
MONEY = ("revenue", "arpu", "mean", "median", "std", "avg_transaction", "difference")


def arpu(
    monthly: pd.DataFrame,
    *,
    customers: pd.DataFrame | None = None,
    payments: pd.DataFrame | None = None,
    segment_by: list[str] | None = None,
    complete_months_only: bool = True,
    revenue_column: str = "avg_monthly_revenue",
    churn_column: str = "is_churned",
    positive_label: Any = True,
    alpha: float = 0.05,
    filters: dict[str, Any] | None = None,
) -> AnalysisResult:
    """Revenue per active customer per month, by segment (default account_type) and service.

    `monthly`: `fct_arpu_monthly` (month, account_type, service_type, revenue, active_customers,
    is_complete_month). Optional `payments` (payment_method, revenue[, transactions, account_type,
    month]) gives the payment mix; optional `customers` (a churn flag and `revenue_column`) compares
    churned with retained customers.
    """
    monthly = ensure_frame(monthly, "monthly")
    customers = ensure_frame(customers, "customers") if customers is not None else None
    payments = ensure_frame(payments, "payments") if payments is not None else None
    if not 0 < alpha < 1:
        raise AnalysisError(f"alpha must be between 0 and 1 (e.g. 0.05), got {alpha}")
    require_rows(monthly, "monthly")
    require_columns(monthly, MONTHLY_REQUIRED, "monthly", "for ARPU")
    if segment_by is None:
        segment_by = ["account_type"] if "account_type" in monthly.columns else []
    elif isinstance(segment_by, str):
        segment_by = [segment_by]
    segment_by = list(segment_by)
    if "service_type" in segment_by or "month" in segment_by:
        raise AnalysisError(
            "segment_by takes customer attributes such as account_type; month and service_type are always "
            "broken out (by_month_segment, service_mix)"
        )
    require_columns(monthly, segment_by, "monthly", "to segment by (segment_by)")
    if customers is not None:
        require_columns(customers, [churn_column], "customers", "as the churn flag (churn_column)")
        require_columns(customers, [revenue_column], "customers", "as revenue per customer (revenue_column)")
    if payments is not None:
        require_columns(payments, ["payment_method", "revenue"], "payments", "for the payment mix")

    frames, warnings = apply_filters(
        {"monthly": monthly, "customers": customers, "payments": payments}, filters
    )
    monthly = coerce_decimals(frames["monthly"])
    require_rows(monthly, "monthly", filters)

    data = pd.DataFrame({"month": month_column(monthly, "month", "monthly")})
    data["revenue"] = numeric_column(monthly, "revenue", "monthly").to_numpy()
    data["active_customers"] = numeric_column(monthly, "active_customers", "monthly").to_numpy()
    for column in segment_by:
        checkpoint()
        data[column] = segment_labels(monthly[column]).to_numpy()
    has_service = "service_type" in monthly.columns
    if has_service:
        data["service_type"] = segment_labels(monthly["service_type"]).to_numpy()
    # account_type is the grain of active_customers in our mart even when not a requested segment
    grain_extra = [
        c for c in ("account_type",) if c in monthly.columns and c not in segment_by and c != "service_type"
    ]
    for column in grain_extra:
        data[column] = segment_labels(monthly[column]).to_numpy()
    dropped = data["month"].isna() | data["revenue"].isna() | data["active_customers"].isna()
    if dropped.any():
        warnings.append(
            f"{int(dropped.sum())} monthly rows without month, revenue or active_customers left out"
        )
        data = data.loc[~dropped.to_numpy()]

    if complete_months_only and "is_complete_month" in monthly.columns:
        complete = binary_outcome(monthly["is_complete_month"], True, "is_complete_month", "monthly")
        complete = complete.fillna(False).astype(bool).to_numpy()[~dropped.to_numpy()]
        partial = sorted({m.strftime("%Y-%m") for m in data.loc[~complete, "month"]})
        if partial:
            warnings.append(f"incomplete month(s) {', '.join(partial)} left out (complete_months_only=True)")
        data = data.loc[complete]
        if data.empty:
            raise AnalysisError(
                "monthly has no complete month; pass complete_months_only=false to include partial months"
            )
    elif "is_complete_month" in monthly.columns:
        complete = binary_outcome(monthly["is_complete_month"], True, "is_complete_month", "monthly")
        complete = complete.fillna(False).astype(bool).to_numpy()[~dropped.to_numpy()]
        partial = sorted({m.strftime("%Y-%m") for m in data.loc[~complete, "month"]})
        if partial:
            warnings.append(
                f"month(s) {', '.join(partial)} are incomplete: their ARPU and growth are not comparable yet"
            )
    require_rows(data, "monthly", filters)

    keys = ["month", *segment_by]
    grain = keys + grain_extra
    per_grain = data.groupby(grain, sort=True)["active_customers"]
    inconsistent = int((per_grain.nunique() > 1).sum())
    if inconsistent:
        warnings.append(
            f"active_customers differs between service rows in {inconsistent} month x segment cell(s); the "
            "largest value was used as the denominator"
        )
    active = per_grain.max().groupby(keys, sort=True).sum().rename("active_customers")
    revenue = data.groupby(keys, sort=True)["revenue"].sum()
    total = pd.concat([revenue, active], axis=1).reset_index()
    total = total.loc[total["active_customers"] > 0].copy()
    total["arpu"] = total["revenue"] / total["active_customers"]
    total["mom_growth"] = _mom_growth(total, segment_by)
    total["active_customers"] = total["active_customers"].astype(int)
    tables: dict[str, list[dict[str, Any]]] = {}

    if has_service:
        by_service = data.groupby([*keys, "service_type"], sort=True)["revenue"].sum().reset_index()
        by_service = by_service.merge(total[[*keys, "active_customers"]], on=keys, how="inner")
        by_service["arpu"] = by_service["revenue"] / by_service["active_customers"]
        tables["by_month_segment"] = records(by_service, money_columns=MONEY)
    tables["total_by_month"] = records(total, money_columns=MONEY)

    period = total.groupby(segment_by, sort=True) if segment_by else total.assign(_all="all").groupby("_all")
    by_segment = period.agg(
        months=("month", "nunique"),
        revenue=("revenue", "sum"),
        customer_months=("active_customers", "sum"),
    ).reset_index()
    by_segment = by_segment.drop(columns=["_all"], errors="ignore")
    by_segment["arpu"] = by_segment["revenue"] / by_segment["customer_months"]
    by_segment = by_segment.sort_values("arpu", ascending=False, kind="stable")
    tables["by_segment"] = records(by_segment, money_columns=MONEY)

    if has_service:
        mix = data.groupby([*segment_by, "service_type"], sort=True)["revenue"].sum().reset_index()
        group_total = (
            mix.groupby(segment_by)["revenue"].transform("sum") if segment_by else mix["revenue"].sum()
        )
        mix["share_of_revenue"] = _share(mix["revenue"], group_total)
        tables["service_mix"] = records(mix, money_columns=MONEY)

    months = sorted(total["month"].unique())
    time_range = (pd.Timestamp(months[0]).date().isoformat(), pd.Timestamp(months[-1]).date().isoformat())
    columns_used = [*MONTHLY_REQUIRED, *segment_by] + (["service_type"] if has_service else [])

    if frames["payments"] is not None:
        payment_table, payment_notes = _payment_mix(frames["payments"], segment_by, set(months))
        warnings.extend(payment_notes)
        if payment_table is not None:
            tables["payment_mix"] = records(payment_table, money_columns=MONEY)
            columns_used += ["payments.payment_method", "payments.revenue"]

    tests: list[StatTest] = []
    churn_text = ""
    if frames["customers"] is not None:
        comparison, test_list, churn_text, churn_notes = _churned_vs_retained(
            frames["customers"], revenue_column, churn_column, positive_label, alpha
        )
        warnings.extend(churn_notes)
        tables["churned_vs_retained"] = records(comparison, money_columns=MONEY)
        tests.extend(test_list)
        columns_used += [f"customers.{churn_column}", f"customers.{revenue_column}"]

    summary = _summary(total, by_segment, segment_by, months) + churn_text
    how = [
        "ARPU = revenue / active customers of the month (everyone active, paying or not). Across service "
        "types revenue is added and active customers counted once per month x account type.",
        "by_month_segment: revenue and ARPU of each service (service ARPUs of a month add up to its total "
        "ARPU). total_by_month: all services together; mom_growth = ARPU change vs the previous calendar "
        "month (None for the first month or after a gap). by_segment: the whole period, ARPU = revenue / "
        "customer-months. service_mix: each service's share of the segment's revenue.",
    ]
    if "payment_mix" in tables:
        how.append("payment_mix: revenue and transactions per payment method with their shares.")
    if "churned_vs_retained" in tables:
        how.append(
            f"churned_vs_retained: '{revenue_column}' per customer for churned and retained customers; Welch "
            "t-test (unequal variances) with Cohen's d, and a Mann-Whitney U test because revenue is skewed. "
            "A per-month measure is fairer than a lifetime total, which grows with tenure."
        )
    return AnalysisResult(
        analysis_type="arpu",
        summary=summary,
        how_to_read=" ".join(how),
        computed_on=ComputedOn(
            rows=len(data), time_range=time_range, filters=dict(filters or {}), columns_used=columns_used
        ),
        tables=tables,
        tests=tests,
        warnings=warnings,
    )


def _share(values: pd.Series, denominator: pd.Series | float) -> pd.Series:
    """values / denominator with no share where the denominator is 0 (NaN, serialised as None)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        share = values.astype(float) / denominator
    return share.replace([np.inf, -np.inf], np.nan)


def _mom_growth(total: pd.DataFrame, segment_by: list[str]) -> pd.Series:
    """ARPU growth vs the previous calendar month of the same segment; None across gaps."""
    ordered = total.sort_values([*segment_by, "month"])
    groups = ordered.groupby(segment_by, sort=False) if segment_by else ordered.assign(_k=0).groupby("_k")
    previous_arpu = groups["arpu"].shift(1)
    previous_month = groups["month"].shift(1)
    consecutive = previous_month == (ordered["month"] - pd.DateOffset(months=1))
    growth = (ordered["arpu"] / previous_arpu - 1).where(consecutive & (previous_arpu > 0))
    return growth.reindex(total.index)


def _payment_mix(
    payments: pd.DataFrame, segment_by: list[str], months: set[pd.Timestamp]
) -> tuple[pd.DataFrame | None, list[str]]:
    notes: list[str] = []
    payments = coerce_decimals(payments)
    if payments.empty:
        notes.append("payments has no rows after filters, so there is no payment_mix")
        return None, notes
    frame = pd.DataFrame({"payment_method": segment_labels(payments["payment_method"]).to_numpy()})
    frame["revenue"] = numeric_column(payments, "revenue", "payments").to_numpy()
    has_transactions = "transactions" in payments.columns
    if has_transactions:
        frame["transactions"] = numeric_column(payments, "transactions", "payments").to_numpy()
    groups = [c for c in segment_by if c in payments.columns]
    for column in groups:
        frame[column] = segment_labels(payments[column]).to_numpy()
    if "month" in payments.columns:
        payment_months = month_column(payments, "month", "payments").to_numpy()
        keep = pd.Series(payment_months).isin(months).to_numpy()
        if not keep.all():
            notes.append(
                f"{int((~keep).sum())} payment rows outside the analysed months left out of payment_mix"
            )
        frame = frame.loc[keep]
    if frame.empty:
        return None, notes
    sums = {"revenue": "sum", **({"transactions": "sum"} if has_transactions else {})}
    table = frame.groupby([*groups, "payment_method"], sort=True).agg(sums).reset_index()
    for measure in sums:
        denominator = table.groupby(groups)[measure].transform("sum") if groups else table[measure].sum()
        table[f"share_of_{measure}"] = _share(table[measure], denominator)
    if has_transactions:
        table["avg_transaction"] = (table["revenue"] / table["transactions"]).where(table["transactions"] > 0)
        table["transactions"] = table["transactions"].astype(int)
    sort_keys = [*groups, "revenue"]
    table = table.sort_values(sort_keys, ascending=[True] * len(groups) + [False], kind="stable")
    return table, notes


def _churned_vs_retained(
    customers: pd.DataFrame, revenue_column: str, churn_column: str, positive_label: Any, alpha: float
) -> tuple[pd.DataFrame, list[StatTest], str, list[str]]:
    notes: list[str] = []
    customers = coerce_decimals(customers)
    if customers.empty:
        raise AnalysisError("customers has no rows after filters; loosen the filters or leave customers out")
    flag = binary_outcome(customers[churn_column], positive_label, churn_column, "customers")
    revenue = numeric_column(customers, revenue_column, "customers")
    usable = flag.notna().to_numpy() & revenue.notna().to_numpy()
    if not usable.all():
        notes.append(
            f"{int((~usable).sum())} customers without '{revenue_column}' or '{churn_column}' left out of "
            "churned_vs_retained"
        )
    churned_flag = flag.to_numpy(dtype=bool, na_value=False)[usable]
    values = revenue.to_numpy()[usable]
    rows = []
    for group, mask in (("churned", churned_flag), ("retained", ~churned_flag)):
        sample = values[mask]
        rows.append(
            {
                "group": group,
                "customers": int(mask.sum()),
                "mean": float(np.mean(sample)) if len(sample) else None,
                "median": float(np.median(sample)) if len(sample) else None,
                "std": float(np.std(sample, ddof=1)) if len(sample) > 1 else None,
            }
        )
    table = pd.DataFrame(rows)
    churned_values, retained_values = values[churned_flag], values[~churned_flag]
    if len(churned_values) < 2 or len(retained_values) < 2:
        notes.append("fewer than 2 churned or retained customers with revenue: no test of the difference")
        return table, [], "", notes

    welch = stats.ttest_ind(churned_values, retained_values, equal_var=False)
    d = cohens_d(churned_values, retained_values)
    difference = float(np.mean(churned_values) - np.mean(retained_values))
    size = magnitude(d, (0.2, 0.5, 0.8))
    direction = "lower" if difference < 0 else "higher"
    if welch.pvalue < alpha:
        sentence = (
            f"{significance_words(welch.pvalue, alpha)}: churned customers have {direction} {revenue_column} "
            f"than retained ones ({size} effect)"
        )
    else:
        sentence = (
            f"{significance_words(welch.pvalue, alpha)} ({format_p(welch.pvalue)}): no evidence that "
            f"{revenue_column} differs between churned and retained customers"
        )
    tests = [
        StatTest(
            name=f"Welch t-test: {revenue_column}, churned vs retained",
            statistic=float(welch.statistic),
            p_value=float(welch.pvalue),
            dof=round(float(welch.df)) if math.isfinite(float(welch.df)) else None,
            effect_size=d,
            effect_name="Cohen's d (churned minus retained, pooled SD)",
            interpretation=sentence,
        )
    ]
    mann_whitney = stats.mannwhitneyu(churned_values, retained_values, alternative="two-sided")
    n1, n2 = len(churned_values), len(retained_values)
    rank_biserial = 2 * float(mann_whitney.statistic) / (n1 * n2) - 1
    tests.append(
        StatTest(
            name=f"Mann-Whitney U: {revenue_column}, churned vs retained",
            statistic=float(mann_whitney.statistic),
            p_value=float(mann_whitney.pvalue),
            effect_size=rank_biserial,
            effect_name="rank-biserial correlation (positive: churned tend to be higher)",
            interpretation=(
                f"{significance_words(mann_whitney.pvalue, alpha)}: the distributions "
                f"{'differ' if mann_whitney.pvalue < alpha else 'do not clearly differ'} "
                f"({magnitude(rank_biserial, (0.1, 0.3, 0.5))} effect)"
            ),
        )
    )
    text = (
        f" Churned customers averaged {np.mean(churned_values):,.2f} {revenue_column} vs "
        f"{np.mean(retained_values):,.2f} for retained (Welch {format_p(welch.pvalue)}, Cohen's d "
        f"{d:.2f})."
        if d is not None
        else ""
    )
    return table, tests, text, notes


def _summary(total: pd.DataFrame, by_segment: pd.DataFrame, segment_by: list[str], months: list[Any]) -> str:
    revenue, customer_months = total["revenue"].sum(), total["active_customers"].sum()
    first, last = pd.Timestamp(months[0]), pd.Timestamp(months[-1])
    text = (
        f"Over {len(months)} month(s) {first:%Y-%m}..{last:%Y-%m}, ARPU was {revenue / customer_months:,.2f} "
        f"per active customer per month ({revenue:,.2f} revenue over {int(customer_months):,} "
        "customer-months)."
    )
    if segment_by and len(by_segment) >= 2:
        top, bottom = by_segment.iloc[0], by_segment.iloc[-1]
        label = " / ".join(segment_by)
        top_name = " / ".join(str(top[c]) for c in segment_by)
        bottom_name = " / ".join(str(bottom[c]) for c in segment_by)
        text += (
            f" By {label}: highest {top_name} {top['arpu']:,.2f}, lowest {bottom_name} {bottom['arpu']:,.2f}."
        )
    latest = total.loc[total["month"] == last]
    previous = total.loc[total["month"] == last - pd.DateOffset(months=1)]
    if len(previous):
        latest_arpu = latest["revenue"].sum() / latest["active_customers"].sum()
        previous_arpu = previous["revenue"].sum() / previous["active_customers"].sum()
        if previous_arpu > 0:
            text += (
                f" Latest month {last:%Y-%m}: {latest_arpu:,.2f} ({latest_arpu / previous_arpu - 1:+.1%} vs "
                "the month before)."
            )
    return text
