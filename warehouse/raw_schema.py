"""The raw tables' rules as data: columns, types, keys, allowed values and ranges.

Migration 0001 states these rules as SQL (types, CHECKs, foreign keys); the importer needs
them row by row, to keep a bad record aside with a reason instead of failing a whole COPY
on the first CHECK violation. They are written here once for Python, and
tests/integration/test_raw_schema_spec.py compares them with the live catalog, so the two
cannot drift apart unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["uuid", "timestamp", "integer", "decimal", "text", "boolean"]
RawTable = Literal["customers", "network_events", "revenue"]
RAW_TABLE_NAMES: tuple[RawTable, ...] = ("customers", "network_events", "revenue")

ACCOUNT_TYPES = ("Basic", "Premium", "Enterprise")
GENDERS = ("Male", "Female", "Other", "Unspecified")
EVENT_TYPES = ("call", "sms", "data")
SERVICE_TYPES = ("voice", "data", "sms", "subscription")
PAYMENT_METHODS = ("credit_card", "debit_card", "bank_transfer", "mobile_wallet")


@dataclass(frozen=True)
class ColumnSpec:
    """One raw column. `required` means an import must provide a value for every record."""

    name: str
    kind: Kind
    required: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    scale: int | None = None  # decimal places of a DECIMAL column


@dataclass(frozen=True)
class TableSpec:
    name: RawTable
    key: str
    columns: tuple[ColumnSpec, ...]
    # The column that dates a record: the days an import touches, the quality windows.
    day_column: str = ""
    # Columns whose change on an existing customer rewrites history in the marts.
    history_columns: tuple[str, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def references_customers(self) -> bool:
        return self.name != "customers"

    @property
    def content_columns(self) -> tuple[str, ...]:
        """Everything but the key: two records equal on these are the same record twice."""
        return tuple(c for c in self.column_names if c != self.key)


# DECIMAL(10, 2) holds at most 99,999,999.99.
_MAX_DECIMAL_10_2 = 99_999_999.99

TABLES: dict[RawTable, TableSpec] = {
    "customers": TableSpec(
        name="customers",
        key="customer_id",
        columns=(
            ColumnSpec("customer_id", "uuid", required=True),
            ColumnSpec("created_at", "timestamp", required=True),
            ColumnSpec("age", "integer", minimum=18, maximum=120),
            ColumnSpec("gender", "text", choices=GENDERS, max_length=20),
            ColumnSpec("location", "text", max_length=100),
            ColumnSpec("account_type", "text", choices=ACCOUNT_TYPES, max_length=20),
            ColumnSpec("is_churned", "boolean"),
            ColumnSpec("churn_date", "timestamp"),
        ),
        day_column="created_at",
        history_columns=("created_at", "location", "account_type"),
    ),
    "network_events": TableSpec(
        name="network_events",
        key="event_id",
        columns=(
            ColumnSpec("event_id", "uuid"),
            ColumnSpec("customer_id", "uuid", required=True),
            ColumnSpec("event_timestamp", "timestamp", required=True),
            ColumnSpec("event_type", "text", required=True, choices=EVENT_TYPES, max_length=50),
            ColumnSpec("network_quality_score", "decimal", minimum=1.0, maximum=5.0, scale=2),
            ColumnSpec("duration_seconds", "integer", minimum=0, maximum=2_147_483_647),
            ColumnSpec("data_usage_mb", "decimal", minimum=0, maximum=_MAX_DECIMAL_10_2, scale=2),
        ),
        day_column="event_timestamp",
    ),
    "revenue": TableSpec(
        name="revenue",
        key="transaction_id",
        columns=(
            ColumnSpec("transaction_id", "uuid"),
            ColumnSpec("customer_id", "uuid", required=True),
            ColumnSpec("transaction_date", "timestamp", required=True),
            ColumnSpec("amount", "decimal", required=True, minimum=0, maximum=_MAX_DECIMAL_10_2, scale=2),
            ColumnSpec("service_type", "text", choices=SERVICE_TYPES, max_length=50),
            ColumnSpec("payment_method", "text", choices=PAYMENT_METHODS, max_length=50),
        ),
        day_column="transaction_date",
    ),
}
