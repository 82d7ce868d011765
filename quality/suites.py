"""The expectation suites of the three raw tables, run on daily profiles.

A suite is planned in Python (bounds learned from the trailing history, see `rules`),
evaluated by Great Expectations on a small frame of the recent days (one row per day,
one column per judged quantity), and turned back into `ExpectationOutcome`s with an
explanation a person can act on. Families:

volume · null_share · value_set · plausible_range · distribution (daily mean and median)
· duplicates (content, keys) · freshness · future timestamps · referential integrity.

Severity: `error` blocks the marts (the batch is plainly wrong: lost rows in the event
stream, a unit error, a null flood, orphans); `warn` is shown but does not block (stale
data, quiet signup or billing days, a shift in network quality, which may be real).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from quality import rules
from quality.results import ExpectationOutcome, Scope, Severity, SuiteResult, format_number
from quality.windows import QualityWindow

ACCOUNT_TYPES = ("Basic", "Premium", "Enterprise")
GENDERS = ("Male", "Female", "Other", "Unspecified")
EVENT_TYPES = ("call", "sms", "data")
SERVICE_TYPES = ("voice", "data", "sms", "subscription")
PAYMENT_METHODS = ("credit_card", "debit_card", "bank_transfer", "mobile_wallet")


@dataclass(frozen=True)
class MetricRule:
    """A measure whose daily mean and median must stay near the trailing history's.

    `profile` names the measure in the daily profile (`<profile>__mean`…); `column` is the
    raw column it is taken from, for the explanation.
    """

    profile: str
    column: str
    rows_label: str  # what the measure is taken on, e.g. "data sessions"
    unit: str
    kind: Literal["ratio", "additive"]
    severity: Severity
    # observed ÷ usual → likely cause, e.g. {1000: "KB sent as MB?"}
    unit_hints: dict[float, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TableSuite:
    table: str
    timestamp: str
    key: str
    volume_severity: Severity
    freshness_days: int
    nulls: dict[str, Severity]
    value_sets: dict[str, tuple[str, ...]]
    ranges: dict[str, tuple[float, float, str]]  # column: (low, high, unit)
    metrics: tuple[MetricRule, ...]
    referential: dict[str, tuple[str, str]]  # profile count: (column, what it means)
    content_label: str

    @property
    def profile_ranges(self) -> dict[str, tuple[float, float]]:
        """The ranges as the profile SQL takes them."""
        return {column: (low, high) for column, (low, high, _unit) in self.ranges.items()}


SUITES: dict[str, TableSuite] = {
    "customers": TableSuite(
        table="customers",
        timestamp="created_at",
        key="customer_id",
        # Signups come in waves (campaigns): a quiet day is worth a look, not a stop.
        volume_severity="warn",
        freshness_days=30,
        nulls={
            "age": "warn",
            "gender": "warn",
            "location": "error",
            "account_type": "error",
            "is_churned": "error",
        },
        value_sets={"gender": GENDERS, "account_type": ACCOUNT_TYPES},
        ranges={"age": (18, 120, "years")},
        metrics=(),
        referential={
            "churn_before_signup": ("churn_date", "customers whose churn_date is before created_at")
        },
        content_label="same signup time, age, gender, location, plan and churn under a different customer_id",
    ),
    "network_events": TableSuite(
        table="network_events",
        timestamp="event_timestamp",
        key="event_id",
        # The event stream is continuous: half a day missing is lost data.
        volume_severity="error",
        freshness_days=2,
        nulls={
            "customer_id": "error",
            "event_type": "error",
            "network_quality_score": "error",
            "duration_seconds": "error",
            "data_usage_mb": "error",
        },
        value_sets={"event_type": EVENT_TYPES},
        ranges={
            "network_quality_score": (1.0, 5.0, ""),
            "duration_seconds": (0, 86_400, "s"),
            "data_usage_mb": (0, 100_000, "MB"),
        },
        metrics=(
            MetricRule(
                "data_usage_mb",
                "data_usage_mb",
                "data sessions",
                "MB",
                "ratio",
                "error",
                {
                    1000: "a unit error (KB sent as MB?)",
                    1024: "a unit error (KB sent as MB?)",
                    1e6: "a unit error (bytes sent as MB?)",
                    0.001: "a unit error (GB sent as MB?)",
                },
            ),
            MetricRule(
                "duration_seconds",
                "duration_seconds",
                "calls",
                "s",
                "ratio",
                "error",
                {
                    1000: "a unit error (milliseconds sent as seconds?)",
                    1 / 60: "a unit error (minutes sent as seconds?)",
                },
            ),
            # Quality can really drop (an outage): shown, never blocking.
            MetricRule("network_quality_score", "network_quality_score", "events", "", "additive", "warn"),
        ),
        referential={
            "orphans": ("customer_id", "events whose customer_id is not in raw.customers"),
            "before_signup": ("event_timestamp", "events dated before their customer's created_at"),
            "after_churn": ("event_timestamp", "events dated after their customer's churn_date"),
        },
        content_label="same customer, timestamp, type and values under a different event_id",
    ),
    "revenue": TableSuite(
        table="revenue",
        timestamp="transaction_date",
        key="transaction_id",
        # Billing is bursty (runs on the 1st and at month end): a quiet day is a warning.
        volume_severity="warn",
        freshness_days=35,
        nulls={"customer_id": "error", "amount": "error", "service_type": "error", "payment_method": "error"},
        value_sets={"service_type": SERVICE_TYPES, "payment_method": PAYMENT_METHODS},
        ranges={"amount": (0, 100_000, "")},
        # Judged apart: subscriptions (~20–120, billed on the 1st or at signup) and usage bills
        # (a few units, billed at month end or churn) would make every billing day an outlier.
        metrics=tuple(
            MetricRule(
                profile,
                "amount",
                label,
                "",
                "ratio",
                "error",
                {
                    100: "a unit error (cents sent as currency units?)",
                    0.01: "a unit error (currency sent as cents?)",
                },
            )
            for profile, label in (
                ("subscription_amount", "subscription charges"),
                ("usage_amount", "usage bills"),
            )
        ),
        referential={
            "orphans": ("customer_id", "transactions whose customer_id is not in raw.customers"),
            "before_signup": ("transaction_date", "transactions dated before their customer's created_at"),
        },
        content_label=(
            "same customer, date, amount, service and payment method under a different transaction_id"
        ),
    ),
}


def suite_for(table: str) -> TableSuite:
    try:
        return SUITES[table]
    except KeyError:
        raise ValueError(f"no quality suite for table {table!r}; expected one of {sorted(SUITES)}") from None


# --- planning ---------------------------------------------------------------------------------


@dataclass
class Planned:
    """One expectation before evaluation: the GX call, and how to explain its verdict."""

    key: str
    name: str
    family: str
    column: str | None
    severity: Severity
    frame: Literal["daily", "summary"]
    gx_type: str
    gx_kwargs: dict[str, Any]
    description: str
    expected: dict[str, Any]
    explain: Callable[[list[int]], tuple[str, dict[str, Any]]]  # failing rows → text, observed
    note: str | None = None
    evaluate: bool = True  # False: passes with its note, GX is not asked

    @property
    def expectation(self) -> str:
        """snake_case GX type, e.g. expect_column_values_to_be_between."""
        name = self.gx_type
        return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


@dataclass
class Plan:
    daily: pd.DataFrame
    summary: pd.DataFrame
    expectations: list[Planned]
    notes: list[str]


def _day(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _pct(share: float) -> str:
    return f"{share * 100:.1f} %" if share >= 0.001 else f"{share * 100:.2g} %"


def _worst(frame: pd.DataFrame, positions: list[int], score: Callable[[pd.Series], float]) -> pd.Series:
    rows = frame.iloc[positions]
    return rows.loc[max(rows.index, key=lambda i: score(rows.loc[i]))]


def _more(positions: list[int]) -> str:
    return (
        f" (and {len(positions) - 1} more day{'s' if len(positions) > 2 else ''})"
        if len(positions) > 1
        else ""
    )


def _per_day(frame: pd.DataFrame, column: str) -> dict[str, Any]:
    return {_day(d): v for d, v in zip(frame["day"], frame[column], strict=True)}


class _Planner:
    def __init__(
        self,
        suite: TableSuite,
        recent: pd.DataFrame,
        history: pd.DataFrame,
        window: QualityWindow,
        summary: pd.DataFrame | None,
        scope: Scope,
    ) -> None:
        self.suite, self.window, self.scope = suite, window, scope
        self.daily = recent.reset_index(drop=True).copy()
        self.history = history.reset_index(drop=True)
        self.has_summary = summary is not None and len(summary) > 0
        # One row: table-wide values (freshness, future dates, pooled window means).
        self.summary = summary.reset_index(drop=True).copy() if self.has_summary else pd.DataFrame(index=[0])
        self.planned: list[Planned] = []
        self.notes: list[str] = []

    @property
    def t(self) -> str:
        return self.suite.table

    def add(self, planned: Planned) -> None:
        self.planned.append(planned)

    def plan(self) -> Plan:
        if self.scope == "table":
            self.volume()
        else:
            self.notes.append("volume and freshness are table properties: judged by the gate after loading")
        self.null_shares()
        self.value_sets()
        self.ranges()
        self.distributions()
        self.duplicates()
        self.referential()
        if self.scope == "table" and self.has_summary:
            self.freshness()
        if self.has_summary:
            self.future()
        return Plan(self.daily, self.summary, self.planned, self.notes)

    # volume -------------------------------------------------------------------------------------

    def volume(self) -> None:
        days = list(self.daily["day"])
        complete = {d for d in days if self.window.is_complete(d)}
        base = rules.volume_baseline(self.history, days, complete)
        self.daily["volume_floor"] = [base.floors.get(d, math.nan) for d in days]
        self.daily["rows_judged"] = self.daily["rows"].astype(float).where(self.daily["volume_floor"].notna())
        expected = {
            "ratio": rules.VOLUME_RATIO,
            "trailing_median_rows": base.median,
            "history": self.window.describe_history(),
            "floors": {_day(d): f for d, f in base.floors.items()},
        }
        frame = self.daily

        def explain(positions: list[int]) -> tuple[str, dict[str, Any]]:
            observed = {"rows": _per_day(frame, "rows")}
            if not positions:
                judged = frame[frame["volume_floor"].notna()]
                if judged.empty or base.median is None:
                    return f"{self.t}: volume not judged — {base.note}", observed
                return (
                    f"{self.t}: {format_number(int(judged['rows'].min()))}–"
                    f"{format_number(int(judged['rows'].max()))} rows per complete recent day, above the "
                    "floor of "
                    f"{format_number(round(judged['volume_floor'].min()))} "
                    f"(trailing median {format_number(round(base.median))} rows/day)",
                    observed,
                )
            worst = _worst(frame, positions, lambda r: -r["rows"] / max(r["volume_floor"], 1))
            day, baseline = worst["day"], base.baselines[worst["day"]]
            observed.update(day=_day(day), value=int(worst["rows"]), failed_days=_days(frame, positions))
            return (
                f"{self.t}: {format_number(int(worst['rows']))} rows on {_day(day)}, under the floor of "
                f"{format_number(round(worst['volume_floor']))} ({int(rules.VOLUME_RATIO * 100)} % of the "
                f"trailing median {format_number(round(baseline))} rows/day, "
                f"{self.window.describe_history()})"
                f"{_more(positions)} — is part of the day missing?",
                observed,
            )

        self.add(
            Planned(
                key="volume",
                name="daily_volume",
                family="volume",
                column=None,
                severity=self.suite.volume_severity,
                frame="daily",
                gx_type="ExpectColumnPairValuesAToBeGreaterThanB",
                gx_kwargs={
                    "column_A": "rows_judged",
                    "column_B": "volume_floor",
                    "or_equal": True,
                    "ignore_row_if": "either_value_is_missing",
                },
                description=(
                    f"{self.t}: rows per complete day ≥ {int(rules.VOLUME_RATIO * 100)} % of the trailing "
                    "median (weekday-aware, Poisson floor for small counts); trailing median "
                    f"{format_number(base.median)} rows/day over {self.window.describe_history()}."
                ),
                expected=expected,
                explain=explain,
                note=base.note,
            )
        )

    # null shares ----------------------------------------------------------------------------------

    def null_shares(self) -> None:
        frame = self.daily
        for column, severity in self.suite.nulls.items():
            limit, trailing = rules.null_share_limit(self.history, column)
            derived = f"null_share__{column}"
            frame[derived] = rules.flood_share(frame[f"nulls__{column}"], frame["rows"], rules.FLOOD_MIN_ROWS)
            label = f"{self.t}.{column}"

            def explain(
                positions: list[int], column: str = column, derived: str = derived, limit: float = limit
            ) -> tuple[str, dict[str, Any]]:
                observed = {"nulls": _per_day(frame, f"nulls__{column}"), "rows": _per_day(frame, "rows")}
                if not positions:
                    nulls, rows = int(frame[f"nulls__{column}"].sum()), int(frame["rows"].sum())
                    share = nulls / rows if rows else 0.0
                    return (
                        f"{self.t}.{column}: {format_number(nulls)} nulls in {format_number(rows)} recent "
                        "rows "
                        f"({_pct(share)}), limit {_pct(limit)} per day",
                        observed,
                    )
                worst = _worst(frame, positions, lambda r: r[derived])
                observed.update(
                    day=_day(worst["day"]), value=float(worst[derived]), failed_days=_days(frame, positions)
                )
                return (
                    f"{self.t}.{column}: {_pct(worst[derived])} null on {_day(worst['day'])} "
                    f"({format_number(int(worst[f'nulls__{column}']))} of "
                    f"{format_number(int(worst['rows']))} rows), "
                    f"limit {_pct(limit)}{_more(positions)} — a column the source or the mapping lost?",
                    observed,
                )

            self.add(
                Planned(
                    key=f"nulls:{column}",
                    name="null_share",
                    family="null_share",
                    column=column,
                    severity=severity,
                    frame="daily",
                    gx_type="ExpectColumnValuesToBeBetween",
                    gx_kwargs={"column": derived, "max_value": limit},
                    description=(
                        f"{label}: share of nulls per day ≤ max(1 %, 2 × trailing share) = {_pct(limit)} "
                        f"(days with ≥ {rules.FLOOD_MIN_ROWS} nulls are judged)."
                    ),
                    expected={
                        "max_share": limit,
                        "trailing_share": trailing,
                        "min_nulls": rules.FLOOD_MIN_ROWS,
                    },
                    explain=explain,
                )
            )

    # value sets ----------------------------------------------------------------------------------

    def value_sets(self) -> None:
        frame = self.daily
        for column, allowed in self.suite.value_sets.items():
            counts = f"out_of_set__{column}"
            allowed_text = "{" + ", ".join(allowed) + "}"

            def explain(
                positions: list[int],
                column: str = column,
                counts: str = counts,
                allowed_text: str = allowed_text,
            ) -> tuple[str, dict[str, Any]]:
                observed = {"outside": _per_day(frame, counts)}
                if not positions:
                    return f"{self.t}.{column}: every recent value is in {allowed_text}", observed
                worst = _worst(frame, positions, lambda r: r[counts])
                sample = worst.get(f"out_of_set_sample__{column}") or []
                example = f" (e.g. {', '.join(repr(s) for s in sample)})" if len(sample) else ""
                observed.update(day=_day(worst["day"]), value=int(worst[counts]), sample=list(sample))
                return (
                    f"{self.t}.{column}: {format_number(int(worst[counts]))} rows on {_day(worst['day'])} "
                    "outside "
                    f"{allowed_text}{example}{_more(positions)} — map the source's values to these",
                    observed,
                )

            self.add(
                Planned(
                    key=f"set:{column}",
                    name="value_set",
                    family="value_set",
                    column=column,
                    severity="error",
                    frame="daily",
                    gx_type="ExpectColumnValuesToBeBetween",
                    gx_kwargs={"column": counts, "max_value": 0},
                    description=f"{self.t}.{column}: no value outside {allowed_text}.",
                    expected={"allowed": list(allowed)},
                    explain=explain,
                )
            )

    # plausible ranges -----------------------------------------------------------------------------

    def ranges(self) -> None:
        frame = self.daily
        for column, (low, high, unit) in self.suite.ranges.items():
            derived = f"out_of_range_share__{column}"
            frame[derived] = rules.flood_share(frame[f"out_of_range__{column}"], frame["rows"], 1)
            span = f"{format_number(low)}–{format_number(high)}{' ' + unit if unit else ''}"

            def explain(
                positions: list[int], column: str = column, derived: str = derived, span: str = span
            ) -> tuple[str, dict[str, Any]]:
                observed = {"outside": _per_day(frame, f"out_of_range__{column}")}
                if not positions:
                    return f"{self.t}.{column}: recent values within {span}", observed
                worst = _worst(frame, positions, lambda r: r[derived])
                observed.update(
                    day=_day(worst["day"]), value=float(worst[derived]), failed_days=_days(frame, positions)
                )
                return (
                    f"{self.t}.{column}: {format_number(int(worst[f'out_of_range__{column}']))} rows on "
                    f"{_day(worst['day'])} outside the plausible {span} ({_pct(worst[derived])} of the day, "
                    "limit "
                    f"{_pct(rules.RANGE_SHARE_LIMIT)}){_more(positions)} — a unit or parsing error?",
                    observed,
                )

            self.add(
                Planned(
                    key=f"range:{column}",
                    name="plausible_range",
                    family="plausible_range",
                    column=column,
                    severity="error",
                    frame="daily",
                    gx_type="ExpectColumnValuesToBeBetween",
                    gx_kwargs={"column": derived, "max_value": rules.RANGE_SHARE_LIMIT},
                    description=(
                        f"{self.t}.{column}: at most {_pct(rules.RANGE_SHARE_LIMIT)} of a day outside {span}."
                    ),
                    expected={"low": low, "high": high, "max_share": rules.RANGE_SHARE_LIMIT},
                    explain=explain,
                )
            )

    # distributions --------------------------------------------------------------------------------

    def distributions(self) -> None:
        """Daily mean and median per measure; a pooled window mean when the days are too thin.

        Thin days (fewer than MIN_METRIC_ROWS rows: a small warehouse, billing off-days) make
        daily statistics noise, so the recent window's rows are pooled into one mean and
        compared with the history's pooled mean instead.
        """
        for metric in self.suite.metrics:
            history = rules.judged_values(self.history, metric.profile, "mean")
            band = rules.distribution_band(history, metric.kind)
            recent = rules.judged_values(self.daily, metric.profile, "mean")
            if band is not None and recent.notna().any():
                self._daily_distribution(metric, "mean", "mean")
                self._daily_distribution(metric, "p50", "median")
            else:
                self._pooled_distribution(metric)

    @staticmethod
    def _metric_label(table: str, metric: MetricRule) -> str:
        suffix = f" ({metric.rows_label})" if metric.profile != metric.column else ""
        return f"{table}.{metric.column}{suffix}"

    def _daily_distribution(self, metric: MetricRule, stat: str, stat_label: str) -> None:
        frame, profile = self.daily, metric.profile
        derived = f"{profile}__{stat}__judged"
        frame[derived] = rules.judged_values(frame, profile, stat)
        band = rules.distribution_band(rules.judged_values(self.history, profile, stat), metric.kind)
        unit = f" {metric.unit}" if metric.unit else ""
        label = self._metric_label(self.t, metric)
        note = None
        if band is None:
            note = (
                f"fewer than {rules.MIN_DISTRIBUTION_DAYS} history days with ≥ {rules.MIN_METRIC_ROWS} "
                f"{metric.rows_label} to learn the {stat_label} from: not judged"
            )

        def explain(positions: list[int]) -> tuple[str, dict[str, Any]]:
            observed = {stat: _per_day(frame, f"{profile}__{stat}"), "n": _per_day(frame, f"{profile}__n")}
            if band is None:
                return f"{label}: daily {stat_label} not judged — {note}", observed
            span = f"{format_number(band.low)}–{format_number(band.high)}{unit}"
            learned = f"learned from {self.window.previous_days()}"
            if band.days < len(self.history):
                learned += f" ({band.days} days with ≥ {rules.MIN_METRIC_ROWS} {metric.rows_label})"
            if not positions:
                judged = frame[derived].dropna()
                return (
                    f"{label}: daily {stat_label} "
                    f"{format_number(judged.min())}–{format_number(judged.max())}{unit} "
                    f"on the recent days, inside {span} {learned}",
                    observed,
                )

            def distance(row: pd.Series) -> float:
                value = row[derived]
                if metric.kind == "ratio":
                    return abs(math.log(max(value, 1e-12) / max(band.median, 1e-12)))
                return abs(value - band.median)

            worst = _worst(frame, positions, distance)
            value = float(worst[derived])
            observed.update(day=_day(worst["day"]), value=value, failed_days=_days(frame, positions))
            return (
                f"{label}: daily {stat_label} {format_number(value)}{unit} on {_day(worst['day'])} is "
                f"outside {span} "
                f"{learned}{_more(positions)} — {self._hint(metric, value, band.median)}",
                observed,
            )

        kwargs: dict[str, Any] = {"column": derived}
        expected: dict[str, Any] = {"mode": "daily", "min_rows_per_day": rules.MIN_METRIC_ROWS}
        if band is not None:
            kwargs.update(min_value=band.low, max_value=band.high)
            expected.update(
                min=band.low, max=band.high, history_median=band.median, history_days=band.days,
                history=self.window.describe_history(),
            )  # fmt: skip
        rule = (
            f"[min ÷ {rules.DISTRIBUTION_FACTOR:g}, max × {rules.DISTRIBUTION_FACTOR:g}]"
            if metric.kind == "ratio"
            else f"[min − m, max + m], m = max({rules.ADDITIVE_MIN_MARGIN}, {rules.ADDITIVE_SD_MARGIN:g} "
            "robust SD)"
        )
        self.add(
            Planned(
                key=f"distribution:{profile}:{stat}",
                name=f"daily_{stat_label}",
                family="distribution",
                column=metric.column,
                severity=metric.severity,
                frame="daily",
                gx_type="ExpectColumnValuesToBeBetween",
                gx_kwargs=kwargs,
                description=(
                    f"{label}: daily {stat_label} over {metric.rows_label} inside {rule} of the trailing "
                    f"history's daily {stat_label}s (days with ≥ {rules.MIN_METRIC_ROWS} rows)"
                    + (
                        f" = {format_number(band.low)}–{format_number(band.high)}{unit}, learned from "
                        f"{self.window.describe_history()}."
                        if band is not None
                        else "."
                    )
                ),
                expected=expected,
                explain=explain,
                note=note,
                evaluate=band is not None,
            )
        )

    def _pooled_distribution(self, metric: MetricRule) -> None:
        profile, summary = metric.profile, self.summary
        recent_n, recent_mean = rules.pooled_mean(self.daily, profile)
        history_n, history_mean = rules.pooled_mean(self.history, profile)
        enough = recent_n >= rules.MIN_METRIC_ROWS and history_n >= rules.MIN_METRIC_ROWS
        band = rules.pooled_band(history_mean, metric.kind) if enough else None
        derived = f"{profile}__window_mean"
        summary[derived] = recent_mean if enough else math.nan
        unit = f" {metric.unit}" if metric.unit else ""
        label = self._metric_label(self.t, metric)
        thin = f"days too thin (< {rules.MIN_METRIC_ROWS} {metric.rows_label} a day)"
        note = (
            f"{thin}: the recent window's mean is judged against the history's"
            if band is not None
            else f"{thin} and too few {metric.rows_label} in the window ({recent_n} recent, {history_n} in "
            "the "
            f"history; {rules.MIN_METRIC_ROWS} each needed): not judged"
        )
        recent_span = f"{self.window.recent_start}–{self.window.recent_end}"

        def explain(positions: list[int]) -> tuple[str, dict[str, Any]]:
            observed = {
                "window_mean": recent_mean,
                "n": recent_n,
                "history_mean": history_mean,
                "history_n": history_n,
            }
            if band is None:
                return f"{label}: mean not judged — {note}", observed
            span = f"{format_number(band.low)}–{format_number(band.high)}{unit}"
            text = (
                f"{label}: mean {format_number(recent_mean)}{unit} over {recent_span} "
                f"({format_number(recent_n)} "
                f"{metric.rows_label})"
            )
            learned = f"learned from {self.window.previous_days()} (mean {format_number(history_mean)}{unit})"
            if not positions:
                return f"{text}, inside {span} {learned}", observed
            return (
                f"{text} is outside {span} {learned} — {self._hint(metric, recent_mean, history_mean)}",
                observed,
            )

        expected: dict[str, Any] = {"mode": "window", "min_rows": rules.MIN_METRIC_ROWS}
        kwargs: dict[str, Any] = {"column": derived}
        if band is not None:
            kwargs.update(min_value=band.low, max_value=band.high)
            expected.update(
                min=band.low, max=band.high, history_mean=history_mean, history=self.window.describe_history()
            )
        self.add(
            Planned(
                key=f"distribution:{profile}:mean",
                name="daily_mean",
                family="distribution",
                column=metric.column,
                severity=metric.severity,
                frame="summary",
                gx_type="ExpectColumnValuesToBeBetween",
                gx_kwargs=kwargs,
                description=(
                    f"{label}: mean over the recent window near the trailing history's ({thin})"
                    + (
                        f": inside {format_number(band.low)}–{format_number(band.high)}{unit}, learned from "
                        f"{self.window.describe_history()}."
                        if band is not None
                        else "."
                    )
                ),
                expected=expected,
                explain=explain,
                note=note,
                evaluate=band is not None,
            )
        )
        median_note = f"{thin}: no daily median to judge"
        self.add(
            Planned(
                key=f"distribution:{profile}:p50",
                name="daily_median",
                family="distribution",
                column=metric.column,
                severity=metric.severity,
                frame="daily",
                gx_type="ExpectColumnValuesToBeBetween",
                gx_kwargs={},
                description=f"{label}: daily median (not judged: {thin}).",
                expected={"mode": "none"},
                explain=lambda positions: (f"{label}: daily median not judged — {median_note}", {}),
                note=median_note,
                evaluate=False,
            )
        )

    @staticmethod
    def _hint(metric: MetricRule, value: float, usual: float) -> str:
        if metric.kind == "additive" or usual <= 0 or value <= 0:
            return "a real shift or a broken source? (check the recent batches)"
        ratio = value / usual
        for factor, hint in metric.unit_hints.items():
            if abs(math.log(ratio / factor)) < math.log(2.5):
                return hint
        direction = "higher" if ratio > 1 else "lower"
        return (
            f"{format_number(ratio if ratio > 1 else 1 / ratio)}× {direction} than usual: a unit error "
            "or a broken mapping?"
        )

    # duplicates -----------------------------------------------------------------------------------

    def duplicates(self) -> None:
        frame = self.daily
        frame["content_duplicate_share"] = rules.flood_share(
            frame["content_duplicates"], frame["rows"], rules.FLOOD_MIN_ROWS
        )
        limit = rules.CONTENT_DUPLICATE_LIMIT

        def explain(positions: list[int]) -> tuple[str, dict[str, Any]]:
            observed = {"content_duplicates": _per_day(frame, "content_duplicates")}
            if not positions:
                return (
                    f"{self.t}: {format_number(int(frame['content_duplicates'].sum()))} content duplicates "
                    "in the "
                    f"recent days (limit {_pct(limit)} of a day)",
                    observed,
                )
            worst = _worst(frame, positions, lambda r: r["content_duplicate_share"])
            observed.update(
                day=_day(worst["day"]),
                value=float(worst["content_duplicate_share"]),
                failed_days=_days(frame, positions),
            )
            return (
                f"{self.t}: {format_number(int(worst['content_duplicates']))} content duplicates on "
                f"{_day(worst['day'])} ({_pct(worst['content_duplicate_share'])} of the day, limit "
                f"{_pct(limit)}) — "
                f"{self.suite.content_label}: was a file loaded twice with new keys?",
                observed,
            )

        self.add(
            Planned(
                key="content_duplicates",
                name="content_duplicates",
                family="duplicates",
                column=None,
                severity="error",
                frame="daily",
                gx_type="ExpectColumnValuesToBeBetween",
                gx_kwargs={"column": "content_duplicate_share", "max_value": limit},
                description=(
                    f"{self.t}: at most {_pct(limit)} of a day's rows repeat another row "
                    f"({self.suite.content_label})."
                ),
                expected={"max_share": limit, "min_rows": rules.FLOOD_MIN_ROWS},
                explain=explain,
            )
        )
        if "key_duplicates" not in frame:
            return

        def explain_keys(positions: list[int]) -> tuple[str, dict[str, Any]]:
            observed = {"key_duplicates": _per_day(frame, "key_duplicates")}
            if not positions:
                return f"{self.t}.{self.suite.key}: no repeated key in the recent rows", observed
            worst = _worst(frame, positions, lambda r: r["key_duplicates"])
            observed.update(day=_day(worst["day"]), value=int(worst["key_duplicates"]))
            return (
                f"{self.t}.{self.suite.key}: {format_number(int(worst['key_duplicates']))} repeated keys on "
                f"{_day(worst['day'])}{_more(positions)} — the same record twice in the batch?",
                observed,
            )

        self.add(
            Planned(
                key="key_duplicates",
                name="unique_key",
                family="duplicates",
                column=self.suite.key,
                severity="error",
                frame="daily",
                gx_type="ExpectColumnValuesToBeBetween",
                gx_kwargs={"column": "key_duplicates", "max_value": 0},
                description=f"{self.t}.{self.suite.key}: no key appears twice.",
                expected={"max": 0},
                explain=explain_keys,
            )
        )

    # referential integrity --------------------------------------------------------------------------

    def referential(self) -> None:
        frame = self.daily
        for count, (column, meaning) in self.suite.referential.items():

            def explain(
                positions: list[int], count: str = count, column: str = column, meaning: str = meaning
            ) -> tuple[str, dict[str, Any]]:
                observed = {count: _per_day(frame, count)}
                if not positions:
                    return f"{self.t}.{column}: no {meaning} in the recent days", observed
                worst = _worst(frame, positions, lambda r: r[count])
                total = int(frame[count].sum())
                observed.update(day=_day(worst["day"]), value=int(worst[count]), total=total)
                fix = (
                    "load the customers first"
                    if count == "orphans"
                    else "check the dates' time zone and format"
                )
                return (
                    f"{self.t}.{column}: {format_number(total)} {meaning} in the recent days "
                    f"({format_number(int(worst[count]))} on {_day(worst['day'])}) — {fix}",
                    observed,
                )

            self.add(
                Planned(
                    key=f"ref:{count}",
                    name=count,
                    family="referential",
                    column=column,
                    severity="error",
                    frame="daily",
                    gx_type="ExpectColumnValuesToBeBetween",
                    gx_kwargs={"column": count, "max_value": 0},
                    description=f"{self.t}: no {meaning}.",
                    expected={"max": 0},
                    explain=explain,
                )
            )

    # freshness and future timestamps ------------------------------------------------------------------

    def freshness(self) -> None:
        summary, as_of = self.summary, self.window.as_of
        newest = summary.loc[0, "newest_ts"]
        empty = newest is None or pd.isna(newest)
        gap = rules.longest_gap(pd.concat([self.history, self.daily[["day", "rows"]]]))
        limit = max(self.suite.freshness_days, 2 * gap)
        summary["newest_age_days"] = float(36_500 if empty else (as_of - pd.Timestamp(newest).date()).days)
        ts = self.suite.timestamp

        def explain(positions: list[int]) -> tuple[str, dict[str, Any]]:
            age = int(summary.loc[0, "newest_age_days"])
            observed = {
                "newest": None if empty else pd.Timestamp(newest).isoformat(),
                "age_days": None if empty else age,
            }
            if empty:
                return f"{self.t}.{ts}: the table has no rows", observed
            when = pd.Timestamp(newest).strftime("%Y-%m-%d %H:%M")
            text = f"{self.t}.{ts}: newest record {when}, {age} day{'s' if age != 1 else ''} before {as_of}"
            if not positions:
                return f"{text} (limit {limit} days)", observed
            return f"{text}, older than the limit of {limit} days — has the feed stopped?", observed

        self.add(
            Planned(
                key="freshness",
                name="freshness",
                family="freshness",
                column=ts,
                severity="warn",
                frame="summary",
                gx_type="ExpectColumnValuesToBeBetween",
                gx_kwargs={"column": "newest_age_days", "max_value": limit},
                description=f"{self.t}.{ts}: newest record at most {limit} days old (learned gaps included).",
                expected={
                    "max_age_days": limit,
                    "base_days": self.suite.freshness_days,
                    "longest_gap_days": gap,
                },
                explain=explain,
            )
        )

    def future(self) -> None:
        summary, ts = self.summary, self.suite.timestamp
        summary["future_rows"] = summary["future_rows"].astype(float)

        def explain(positions: list[int]) -> tuple[str, dict[str, Any]]:
            rows = int(summary.loc[0, "future_rows"])
            observed = {"future_rows": rows}
            if not positions:
                return f"{self.t}.{ts}: no record dated after {self.window.as_of} + 1 day", observed
            newest = summary.loc[0, "future_newest_ts"]
            observed["newest"] = None if pd.isna(newest) else pd.Timestamp(newest).isoformat()
            return (
                f"{self.t}.{ts}: {format_number(rows)} rows dated after {self.window.as_of} + 1 day "
                f"(up to {observed['newest']}) — day and month swapped, or a wrong epoch?",
                observed,
            )

        self.add(
            Planned(
                key="future",
                name="no_future_dates",
                family="plausible_range",
                column=ts,
                severity="error",
                frame="summary",
                gx_type="ExpectColumnValuesToBeBetween",
                gx_kwargs={"column": "future_rows", "max_value": 0},
                description=f"{self.t}.{ts}: no record dated more than a day after today (UTC).",
                expected={"max": 0},
                explain=explain,
            )
        )


def _days(frame: pd.DataFrame, positions: list[int]) -> list[str]:
    return [_day(frame.loc[p, "day"]) for p in positions]


# --- running -----------------------------------------------------------------------------------------


def plan_suite(
    table: str,
    recent: pd.DataFrame,
    history: pd.DataFrame,
    window: QualityWindow,
    *,
    summary: pd.DataFrame | None = None,
    scope: Scope = "table",
) -> Plan:
    """Learn the bounds and lay out the expectations (no Great Expectations involved yet)."""
    return _Planner(suite_for(table), recent, history, window, summary, scope).plan()


def run_suite(
    table: str,
    recent: pd.DataFrame,
    history: pd.DataFrame,
    window: QualityWindow,
    *,
    summary: pd.DataFrame | None = None,
    scope: Scope = "table",
    docs: Any = None,
    run_name: str | None = None,
) -> SuiteResult:
    """Run one table's suite on its profiles.

    `recent`: daily profile of the judged days (raw.<table> for the gate, the staged batch
    for an import); `history`: daily profile of the trailing days; `summary`: the
    one-row summary profile (freshness, future dates); `docs`: a `quality.engine.DataDocs`
    to also write Great Expectations Data Docs.
    """
    from quality.engine import validate  # Great Expectations: imported on first use only

    started = time.perf_counter()
    plan = plan_suite(table, recent, history, window, summary=summary, scope=scope)
    verdicts, docs_page = validate(f"{table}_{scope}", plan, docs=docs, run_name=run_name)
    outcomes = []
    for planned in plan.expectations:
        verdict = verdicts.get(planned.key)
        success = True if verdict is None else verdict.success
        positions = [] if verdict is None else verdict.unexpected_positions
        explanation, observed = planned.explain([] if success else positions)
        if verdict is not None and verdict.error:
            label = f"{table}.{planned.column}" if planned.column else table
            explanation = f"{label}: {planned.name} could not be evaluated — {verdict.error}"
        outcomes.append(
            ExpectationOutcome(
                name=planned.name,
                family=planned.family,
                expectation=planned.expectation,
                table=table,
                column=planned.column,
                severity=planned.severity,
                success=success,
                observed=observed,
                expected=planned.expected,
                explanation=explanation,
                note=planned.note,
            )
        )
    return SuiteResult(
        table=table,
        scope=scope,
        window=window.as_dict(),
        outcomes=outcomes,
        seconds=time.perf_counter() - started,
        docs_page=docs_page,
        notes=plan.notes,
    )
