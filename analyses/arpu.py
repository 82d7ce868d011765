"""ARPU by month and segment, service and payment mix, and revenue of churned vs retained customers.

The one rule that matters: in `fct_arpu_monthly` every service_type row of a month x account_type
repeats the same `active_customers` (ARPU divides by all active customers, not only payers). So
across services revenue is added but active customers are taken once; summing them would divide by
the number of service types too and understate ARPU several-fold.

`arpu` runs three steps: `_checked_inputs` (parameters and tables -> `AnalysisError`s and the
usable monthly rows), `_computed` (rows -> `ArpuFindings`) and `_summary` / `_how_to_read`
(numbers -> words); churned vs retained customers live in `analyses._revenue_churn`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analyses._checks import as_list, filtered_inputs, require_level
from analyses._frame import (
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
from analyses._revenue_churn import RevenueGap, churned_vs_retained, gap_sentence
from analyses.results import AnalysisError, AnalysisResult, Findings, StatTest
from analyses.spec import FILTERS_DOC, AnalysisSpec, FrameSpec, MartSource, SummaryChart
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
    inputs = _checked_inputs(
        monthly,
        customers,
        payments,
        segment_by=segment_by,
        complete_months_only=complete_months_only,
        revenue_column=revenue_column,
        churn_column=churn_column,
        alpha=alpha,
        filters=filters,
    )
    findings = _computed(
        inputs,
        revenue_column=revenue_column,
        churn_column=churn_column,
        positive_label=positive_label,
        alpha=alpha,
    )
    return findings.result(
        "arpu",
        summary=_summary(findings, revenue_column),
        how_to_read=_how_to_read(findings, revenue_column),
        filters=filters,
    )


# ---------------------------------------------------------------------------------------- validate


@dataclass(frozen=True, eq=False)
class ArpuInputs:
    """Usable monthly rows in canonical columns, the filtered optional tables, and warnings so far.

    `grain_extra` lists account_type when it is not a requested segment: it is still the grain at
    which `active_customers` repeats, so it must be de-duplicated on before summing.
    """

    data: pd.DataFrame
    segment_by: list[str]
    grain_extra: list[str]
    has_service: bool
    customers: pd.DataFrame | None
    payments: pd.DataFrame | None
    warnings: list[str]


def _checked_inputs(
    monthly: pd.DataFrame,
    customers: pd.DataFrame | None,
    payments: pd.DataFrame | None,
    *,
    segment_by: list[str] | None,
    complete_months_only: bool,
    revenue_column: str,
    churn_column: str,
    alpha: float,
    filters: dict[str, Any] | None,
) -> ArpuInputs:
    """Every check that needs no computed number, in the order the caller should fix them."""
    monthly = ensure_frame(monthly, "monthly")
    customers = ensure_frame(customers, "customers") if customers is not None else None
    payments = ensure_frame(payments, "payments") if payments is not None else None
    require_level(alpha, "alpha", "0.05")
    require_rows(monthly, "monthly")
    require_columns(monthly, MONTHLY_REQUIRED, "monthly", "for ARPU")
    segment_by = as_list(segment_by)
    if segment_by is None:
        segment_by = ["account_type"] if "account_type" in monthly.columns else []
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

    filtered = filtered_inputs("monthly", monthly, filters, customers=customers, payments=payments)
    monthly, warnings = filtered.primary, filtered.warnings
    # account_type is the grain of active_customers in our mart even when not a requested segment
    grain_extra = (
        ["account_type"] if "account_type" in monthly.columns and "account_type" not in segment_by else []
    )
    data = _canonical(monthly, [*segment_by, *grain_extra])
    usable = _usable_rows(data, monthly, complete_months_only, warnings)
    require_rows(usable, "monthly", filters)
    return ArpuInputs(
        data=usable,
        segment_by=segment_by,
        grain_extra=grain_extra,
        has_service="service_type" in data.columns,
        customers=filtered.optional["customers"],
        payments=filtered.optional["payments"],
        warnings=warnings,
    )


def _canonical(monthly: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Month, numbers and labels in fixed names, whatever types the source used."""
    data = pd.DataFrame({"month": month_column(monthly, "month", "monthly")})
    data["revenue"] = numeric_column(monthly, "revenue", "monthly").to_numpy()
    data["active_customers"] = numeric_column(monthly, "active_customers", "monthly").to_numpy()
    for column in labels:
        checkpoint()
        data[column] = segment_labels(monthly[column]).to_numpy()
    if "service_type" in monthly.columns:
        data["service_type"] = segment_labels(monthly["service_type"]).to_numpy()
    return data


def _usable_rows(
    data: pd.DataFrame, monthly: pd.DataFrame, complete_months_only: bool, warnings: list[str]
) -> pd.DataFrame:
    """Rows with all three numbers, and (unless asked otherwise) of complete months only."""
    dropped = data["month"].isna() | data["revenue"].isna() | data["active_customers"].isna()
    if dropped.any():
        warnings.append(
            f"{int(dropped.sum())} monthly rows without month, revenue or active_customers left out"
        )
        data = data.loc[~dropped.to_numpy()]
    if "is_complete_month" not in monthly.columns:
        return data
    complete = binary_outcome(monthly["is_complete_month"], True, "is_complete_month", "monthly")
    complete = complete.fillna(False).astype(bool).to_numpy()[~dropped.to_numpy()]
    partial = sorted({m.strftime("%Y-%m") for m in data.loc[~complete, "month"]})
    if not complete_months_only:
        if partial:
            warnings.append(
                f"month(s) {', '.join(partial)} are incomplete: their ARPU and growth are not comparable yet"
            )
        return data
    if partial:
        warnings.append(f"incomplete month(s) {', '.join(partial)} left out (complete_months_only=True)")
    data = data.loc[complete]
    if data.empty:
        raise AnalysisError(
            "monthly has no complete month; pass complete_months_only=false to include partial months"
        )
    return data


# ----------------------------------------------------------------------------------------- compute


@dataclass(kw_only=True, eq=False)
class ArpuFindings(Findings):
    """The frames the summary quotes besides the tables."""

    total: pd.DataFrame
    by_segment: pd.DataFrame
    segment_by: list[str]
    months: list[Any]
    gap: RevenueGap | None


def _computed(
    inputs: ArpuInputs, *, revenue_column: str, churn_column: str, positive_label: Any, alpha: float
) -> ArpuFindings:
    data, segment_by, warnings = inputs.data, inputs.segment_by, list(inputs.warnings)
    keys = ["month", *segment_by]
    total = _total_by_month(data, segment_by, inputs.grain_extra, warnings)
    tables: dict[str, list[dict[str, Any]]] = {}
    if inputs.has_service:
        by_service = data.groupby([*keys, "service_type"], sort=True)["revenue"].sum().reset_index()
        by_service = by_service.merge(total[[*keys, "active_customers"]], on=keys, how="inner")
        by_service["arpu"] = by_service["revenue"] / by_service["active_customers"]
        tables["by_month_segment"] = records(by_service, money_columns=MONEY)
    tables["total_by_month"] = records(total, money_columns=MONEY)
    by_segment = _by_segment(total, segment_by)
    tables["by_segment"] = records(by_segment, money_columns=MONEY)
    if inputs.has_service:
        tables["service_mix"] = records(_service_mix(data, segment_by), money_columns=MONEY)

    months = sorted(total["month"].unique())
    time_range = (pd.Timestamp(months[0]).date().isoformat(), pd.Timestamp(months[-1]).date().isoformat())
    columns_used = [*MONTHLY_REQUIRED, *segment_by] + (["service_type"] if inputs.has_service else [])

    if inputs.payments is not None:
        payment_table, payment_notes = _payment_mix(inputs.payments, segment_by, set(months))
        warnings.extend(payment_notes)
        if payment_table is not None:
            tables["payment_mix"] = records(payment_table, money_columns=MONEY)
            columns_used += ["payments.payment_method", "payments.revenue"]

    tests: list[StatTest] = []
    gap: RevenueGap | None = None
    if inputs.customers is not None:
        comparison = churned_vs_retained(
            inputs.customers, revenue_column, churn_column, positive_label, alpha
        )
        warnings.extend(comparison.notes)
        tables["churned_vs_retained"] = records(comparison.table, money_columns=MONEY)
        tests.extend(comparison.tests)
        gap = comparison.gap
        columns_used += [f"customers.{churn_column}", f"customers.{revenue_column}"]

    return ArpuFindings(
        rows=len(data),
        tables=tables,
        tests=tests,
        warnings=warnings,
        columns_used=columns_used,
        time_range=time_range,
        total=total,
        by_segment=by_segment,
        segment_by=segment_by,
        months=months,
        gap=gap,
    )


def _total_by_month(
    data: pd.DataFrame, segment_by: list[str], grain_extra: list[str], warnings: list[str]
) -> pd.DataFrame:
    """Revenue summed over services, active customers taken once per month x account type."""
    keys = ["month", *segment_by]
    per_grain = data.groupby(keys + grain_extra, sort=True)["active_customers"]
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
    return total


def _by_segment(total: pd.DataFrame, segment_by: list[str]) -> pd.DataFrame:
    """The whole period per segment: ARPU = revenue / customer-months, highest first."""
    period = total.groupby(segment_by, sort=True) if segment_by else total.assign(_all="all").groupby("_all")
    by_segment = period.agg(
        months=("month", "nunique"),
        revenue=("revenue", "sum"),
        customer_months=("active_customers", "sum"),
    ).reset_index()
    by_segment = by_segment.drop(columns=["_all"], errors="ignore")
    by_segment["arpu"] = by_segment["revenue"] / by_segment["customer_months"]
    return by_segment.sort_values("arpu", ascending=False, kind="stable")


def _service_mix(data: pd.DataFrame, segment_by: list[str]) -> pd.DataFrame:
    mix = data.groupby([*segment_by, "service_type"], sort=True)["revenue"].sum().reset_index()
    group_total = mix.groupby(segment_by)["revenue"].transform("sum") if segment_by else mix["revenue"].sum()
    mix["share_of_revenue"] = _share(mix["revenue"], group_total)
    return mix


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


# ----------------------------------------------------------------------------------------- narrate


def _summary(findings: ArpuFindings, revenue_column: str) -> str:
    total, by_segment, segment_by, months = (
        findings.total,
        findings.by_segment,
        findings.segment_by,
        findings.months,
    )
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
    if findings.gap is not None:
        text += gap_sentence(findings.gap, revenue_column)
    return text


def _how_to_read(findings: ArpuFindings, revenue_column: str) -> str:
    how = [
        "ARPU = revenue / active customers of the month (everyone active, paying or not). Across service "
        "types revenue is added and active customers counted once per month x account type.",
        "by_month_segment: revenue and ARPU of each service (service ARPUs of a month add up to its total "
        "ARPU). total_by_month: all services together; mom_growth = ARPU change vs the previous calendar "
        "month (None for the first month or after a gap). by_segment: the whole period, ARPU = revenue / "
        "customer-months. service_mix: each service's share of the segment's revenue.",
    ]
    if "payment_mix" in findings.tables:
        how.append("payment_mix: revenue and transactions per payment method with their shares.")
    if "churned_vs_retained" in findings.tables:
        how.append(
            f"churned_vs_retained: '{revenue_column}' per customer for churned and retained customers; Welch "
            "t-test (unequal variances) with Cohen's d, and a Mann-Whitney U test because revenue is skewed. "
            "A per-month measure is fairer than a lifetime total, which grows with tenure."
        )
    return " ".join(how)


def _arpu_by_account_type(rows: list[dict[str, Any]]) -> tuple[pd.DataFrame, list[str]]:
    """One line per account type over the months: the table pivoted wide, and its series."""
    wide = pd.DataFrame(rows).pivot_table(index="month", columns="account_type", values="arpu").reset_index()
    return wide, [c for c in wide.columns if c != "month"]


SPEC = AnalysisSpec(
    name="arpu",
    title="Average revenue per user by month, segment and service",
    brief="by month/account/service, growth, mix, churned vs retained t-test",
    position=2,
    function=arpu,
    frames=[
        FrameSpec(
            name="monthly",
            required=True,
            description="Revenue and active customers per month x account type x service "
            "(marts.fct_arpu_monthly).",
            columns=[
                "month",
                "account_type",
                "service_type",
                "revenue",
                "active_customers",
                "is_complete_month",
            ],
            source=MartSource(mart="fct_arpu_monthly"),
        ),
        FrameSpec(
            name="customers",
            required=False,
            description="Per-customer churn flag and revenue for churned_vs_retained "
            "(marts.customer_features).",
            columns=["is_churned", "avg_monthly_revenue"],
            source=MartSource(
                mart="customer_features",
                columns=("customer_id", "account_type", "is_churned", "avg_monthly_revenue"),
            ),
        ),
        FrameSpec(
            name="payments",
            required=False,
            description="Revenue per payment method for payment_mix.",
            columns=["payment_method", "revenue", "transactions", "account_type", "month"],
            source=MartSource(
                mart="fct_revenue_by_payment_method",
                columns=("payment_method", "account_type", "revenue", "transactions"),
                order_by=("payment_method", "account_type"),
            ),
        ),
    ],
    parameter_docs={
        "segment_by": "Columns of `monthly` to break ARPU down by; default ['account_type'].",
        "complete_months_only": "Leave out months flagged is_complete_month = false (the running month).",
        "revenue_column": "Per-customer revenue column of `customers` for churned_vs_retained.",
        "churn_column": "Churn flag column of `customers`.",
        "positive_label": "Value of churn_column that means churned.",
        "alpha": "Significance level of the churned vs retained tests.",
        "filters": FILTERS_DOC,
    },
    # The month spine of the customer-month marts spans the network event history (int_months),
    # so revenue alone yields no ARPU month.
    raw_tables=("customers", "revenue", "network_events"),
    main_table="total_by_month",
    chart=SummaryChart(
        table="total_by_month",
        chart_type="line",
        x_axis="month",
        y_axis=None,
        title="ARPU by month",
        rows=_arpu_by_account_type,
    ),
)
