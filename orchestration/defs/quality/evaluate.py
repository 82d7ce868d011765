"""Glue between the profile SQL (`warehouse.quality_profiles`) and the suites (`quality`).

Neither side may import the other, so the three steps meet here: choose the window, let
PostgreSQL compute the profiles, run the suite on them. Used by the Dagster gate (table
scope) and, for one import's staged rows, by `import_batch_gate` (batch scope), which
fits `warehouse.importing.loader.BatchGate`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import psycopg

from quality import QualityWindow, SuiteResult, run_suite, suite_for
from quality.results import json_safe
from quality.rules import MIN_DISTRIBUTION_DAYS
from warehouse import quality_profiles as profiles
from warehouse.quality_store import QualityResultRow


def today_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def table_profiles(
    conn: psycopg.Connection, table: str, *, as_of: dt.date, relation: str | None = None
) -> tuple[QualityWindow | None, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(window, recent, history, summary) of raw.<table>; window None when the table is empty."""
    suite = suite_for(table)
    summary = profiles.summary_profile(conn, table, as_of=as_of, relation=relation)
    newest = profiles.newest_day(conn, table, as_of=as_of, relation=relation)
    if newest is None:
        empty = pd.DataFrame({"day": [], "rows": []})
        return None, empty, empty, summary
    window = QualityWindow.trailing(newest, as_of=as_of)
    daily = profiles.daily_profile(
        conn,
        table,
        start=window.history_start,
        end=window.recent_end,
        relation=relation,
        value_sets=suite.value_sets,
        ranges=suite.profile_ranges,
    )
    recent, history = window.split(daily)
    return window, recent, history, summary


def evaluate_table(
    conn: psycopg.Connection,
    table: str,
    *,
    as_of: dt.date | None = None,
    relation: str | None = None,
    docs: Any = None,
    run_name: str | None = None,
) -> SuiteResult:
    """The gate's verdict on raw.<table>: the newest 7 days judged against the 28 before."""
    as_of = as_of or today_utc()
    window, recent, history, summary = table_profiles(conn, table, as_of=as_of, relation=relation)
    if window is None:
        window = QualityWindow.trailing(as_of, as_of=as_of)
        recent = _empty_daily(conn, table, window)
        history = recent.iloc[0:0]
    return run_suite(
        table, recent, history, window, summary=summary, scope="table", docs=docs, run_name=run_name
    )


def evaluate_batch(
    conn: psycopg.Connection,
    table: str,
    relation: str,
    *,
    as_of: dt.date | None = None,
    history_relation: str | None = None,
    customers_relation: str = "raw.customers",
) -> SuiteResult | None:
    """One staged batch (e.g. an import's temp table) judged against the warehouse's history.

    Recent = the days the batch touches (from the batch); history = the 28 days before its
    first day (from raw). Volume and freshness are not judged here: they are properties of
    the table after the load, which the gate checks before the next mart build. None when
    the batch is empty or the warehouse has too little history to judge it against.
    """
    as_of = as_of or today_utc()
    span = profiles.day_span(conn, table, relation=relation)
    if span is None:
        return None
    suite = suite_for(table)
    window = QualityWindow.for_batch(*span, as_of=as_of)
    common = {"value_sets": suite.value_sets, "ranges": suite.profile_ranges}
    recent = profiles.daily_profile(
        conn,
        table,
        start=window.recent_start,
        end=window.recent_end,
        relation=relation,
        customers_relation=customers_relation,
        key_duplicates=True,
        **common,
    )
    recent = recent[recent["rows"] > 0].reset_index(drop=True)  # only the days the batch touches
    history = profiles.daily_profile(
        conn,
        table,
        start=window.history_start,
        end=window.history_end,
        relation=history_relation,
        customers_relation=customers_relation,
        **common,
    )
    if int((history["rows"] > 0).sum()) < MIN_DISTRIBUTION_DAYS:
        # Nothing to judge the batch against (a team's first files): every relative check
        # would pass with a note, and the record rules already covered sets, ranges, keys
        # and customers. The table gate judges the loaded table before the next mart build;
        # skipping here also spares the import Great Expectations' ~6 s start-up.
        return None
    summary = profiles.summary_profile(conn, table, as_of=as_of, relation=relation)
    return run_suite(table, recent, history, window, summary=summary, scope="batch")


def import_batch_gate(conn: psycopg.Connection, stage: str, spec: Any) -> list[str]:
    """A `BatchGate` for the importer: reasons to refuse the staged batch (empty = accept).

    Only error-severity failures refuse a batch; warnings are left to the table gate.
    """
    result = evaluate_batch(conn, spec.name, stage)
    if result is None:
        return []
    return [o.headline for o in result.errors]


def _empty_daily(conn: psycopg.Connection, table: str, window: QualityWindow) -> pd.DataFrame:
    suite = suite_for(table)
    return profiles.daily_profile(
        conn,
        table,
        start=window.recent_start,
        end=window.recent_end,
        value_sets=suite.value_sets,
        ranges=suite.profile_ranges,
    )


def result_rows(result: SuiteResult) -> list[QualityResultRow]:
    """One ops.quality_results row per expectation evaluation."""
    rows = []
    for outcome in result.outcomes:
        details = {
            "family": outcome.family,
            "gx_expectation": outcome.expectation,
            "expected": outcome.expected,
            "explanation": outcome.explanation,
            "note": outcome.note,
            "window": result.window,
        }
        rows.append(
            QualityResultRow(
                table_name=result.table,
                scope=result.scope,
                expectation=outcome.name,
                column_name=outcome.column,
                severity=outcome.severity,
                success=outcome.success,
                observed=outcome.as_dict()["observed"],
                details=json_safe(details),
            )
        )
    return rows


__all__ = [
    "evaluate_batch",
    "evaluate_table",
    "import_batch_gate",
    "result_rows",
    "table_profiles",
    "today_utc",
]
