"""The checks every analysis entry point opens with, worded once so all five answer alike.

Each entry point validates first (parameters and input tables -> an `AnalysisError` the caller can
act on), then computes, then narrates; these are the pieces of the first step that they share.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import pandas as pd

from analyses._frame import apply_filters, binary_outcome, coerce_decimals, numeric_column, require_rows
from analyses.results import AnalysisError

# Identifier columns (id, customer_id, id_card...) number rows rather than describe them: analyses that
# pick columns by themselves leave them out.
ID_PATTERN = re.compile(r"(^id$|_id$|^id_)", re.IGNORECASE)


def as_list(columns: list[str] | str | None) -> list[str] | None:
    """A lone column name where a list is expected: agents often send 'location' for ['location']."""
    return [columns] if isinstance(columns, str) else columns


def require_level(value: float, name: str, example: str) -> None:
    """A confidence or significance level must lie strictly between 0 and 1 to mean anything."""
    if not 0 < value < 1:
        raise AnalysisError(f"{name} must be between 0 and 1 (e.g. {example}), got {value}")


class Filtered(NamedTuple):
    """The input tables after the caller's filters, and what the filters could not be applied to."""

    primary: pd.DataFrame
    optional: dict[str, pd.DataFrame | None]
    warnings: list[str]


def filtered_inputs(
    name: str, primary: pd.DataFrame, filters: dict[str, Any] | None, **optional: pd.DataFrame | None
) -> Filtered:
    """Apply the filters to every table, and insist the main table still has rows.

    Only the main table has its database decimals turned into floats here: the optional ones are
    converted by the step that reads them, which may never run.
    """
    frames, warnings = apply_filters({name: primary, **optional}, filters)
    main = coerce_decimals(frames.pop(name))
    require_rows(main, name, filters)
    return Filtered(main, frames, warnings)


class CustomerOutcome(NamedTuple):
    """A filtered customers table read for a churned-vs-retained comparison."""

    customers: pd.DataFrame
    flag: pd.Series
    measure: pd.Series


def customer_outcome(
    customers: pd.DataFrame, churn_column: str, positive_label: Any, measure_column: str
) -> CustomerOutcome:
    """The churn flag and one per-customer measure of an optional customers table, after filters.

    An empty table is an error rather than a skipped table: the caller passed customers to get the
    comparison, and the filters are what took every row away.
    """
    customers = coerce_decimals(customers)
    if customers.empty:
        raise AnalysisError("customers has no rows after filters; loosen the filters or leave customers out")
    flag = binary_outcome(customers[churn_column], positive_label, churn_column, "customers")
    return CustomerOutcome(customers, flag, numeric_column(customers, measure_column, "customers"))
