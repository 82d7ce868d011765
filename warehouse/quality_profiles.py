"""SQL that condenses a raw table (or one import's staged batch) into small quality *profiles*.

The data-quality suites (package `quality`) never see raw rows: ten million events would
not fit in pandas, and the questions they ask ("is this day's volume, null share or mean
data usage like the previous four weeks?") only need per-day aggregates. PostgreSQL
computes those here, one row per calendar day, and the suites judge them.

What a profile is judged *against* (allowed values, plausible ranges) belongs to the
suites, so the callers pass the value sets and ranges in; this module only knows the
tables' structure: which column dates a row, what identifies it, which measures are
profiled on which rows. `quality` does not import `warehouse` and this module does not
import `quality`; the Dagster checks (and the import gate) glue the two together.

Daily profile columns (one row per day in [start, end], days without rows included):

* ``day``, ``rows``
* ``nulls__<col>``: NULLs in each nullable column
* ``out_of_set__<col>`` / ``out_of_set_sample__<col>``: rows whose value is outside the
  allowed set, and up to three of those values (for the explanation)
* ``out_of_range__<col>``: rows outside the plausible [low, high] range
* ``content_duplicates``: rows that repeat another row's content (same customer,
  timestamp, type and values) under a different key; ``key_duplicates``: repeated keys
  (only computed on request: raw tables have a primary key, a staged batch does not)
* ``orphans``: rows whose customer_id is not in the customers relation;
  ``before_signup`` / ``after_churn``: rows dated before the customer's created_at /
  after their churn_date; ``churn_before_signup`` (customers): churn_date < created_at
* ``<metric>__n``, ``__mean``, ``__p50``, ``__p95`` for each profiled measure

A summary profile (one row) adds the newest timestamp and rows dated in the future.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
import psycopg
from psycopg import sql

from warehouse.frames import normalize_frame
from warehouse.raw_schema import TABLES, RawTable

# Rows dated this far after the reference day are "in the future": one day of slack for
# clocks and time zones, so data generated up to the end of today is never flagged.
FUTURE_SLACK_DAYS = 2


@dataclass(frozen=True)
class Metric:
    """A measure profiled per day: its column, and which rows it is meaningful for."""

    column: str
    where: str | None = None  # SQL condition on the row (constant text, never user input)


@dataclass(frozen=True)
class ProfiledTable:
    """How a raw table is profiled; its structure (key, dating column, columns) comes from
    `warehouse.raw_schema`, the one statement of the raw tables' rules in Python."""

    name: RawTable
    nullable: tuple[str, ...]
    metrics: Mapping[str, Metric]

    @property
    def timestamp(self) -> str:
        return TABLES[self.name].day_column

    @property
    def key(self) -> str:
        return TABLES[self.name].key

    @property
    def content(self) -> tuple[str, ...]:
        """A row without its key: two rows equal on these are content duplicates."""
        return TABLES[self.name].content_columns

    @property
    def references_customers(self) -> bool:
        return TABLES[self.name].references_customers


PROFILED_TABLES: dict[str, ProfiledTable] = {
    "customers": ProfiledTable(
        name="customers",
        nullable=("age", "gender", "location", "account_type", "is_churned"),
        metrics={},
    ),
    "network_events": ProfiledTable(
        name="network_events",
        nullable=("customer_id", "event_type", "network_quality_score", "duration_seconds", "data_usage_mb"),
        metrics={
            "network_quality_score": Metric("network_quality_score"),
            # Data volume only means something on data sessions, call length on calls.
            "data_usage_mb": Metric("data_usage_mb", "event_type = 'data'"),
            "duration_seconds": Metric("duration_seconds", "event_type = 'call'"),
        },
    ),
    "revenue": ProfiledTable(
        name="revenue",
        nullable=("customer_id", "amount", "service_type", "payment_method"),
        # Subscriptions and usage bills differ ~10× in size and are billed on different days
        # (the 1st, month end): profiled apart, a billing day never looks like a unit error.
        metrics={
            "subscription_amount": Metric("amount", "service_type = 'subscription'"),
            "usage_amount": Metric("amount", "service_type IN ('voice', 'sms', 'data')"),
        },
    ),
}


def relation_identifier(relation: str) -> sql.Composable:
    """`raw.network_events` → "raw"."network_events"; a bare name (a temp table) stays bare."""
    return sql.Identifier(*relation.split("."))


def default_relation(table: str) -> str:
    return f"raw.{_table(table).name}"


def _table(table: str) -> ProfiledTable:
    try:
        return PROFILED_TABLES[table]
    except KeyError:
        raise ValueError(f"unknown raw table {table!r}; expected one of {sorted(PROFILED_TABLES)}") from None


def newest_day(
    conn: psycopg.Connection, table: str, *, as_of: dt.date, relation: str | None = None
) -> dt.date | None:
    """The newest day with rows, ignoring rows dated in the future (they are reported apart).

    An index range scan on the timestamp column: cheap at any size.
    """
    spec = _table(table)
    query = sql.SQL("SELECT max({ts})::date FROM {rel} WHERE {ts} < %s").format(
        ts=sql.Identifier(spec.timestamp), rel=relation_identifier(relation or default_relation(table))
    )
    row = conn.execute(query, (_future_cutoff(as_of),)).fetchone()
    return row[0] if row else None


def day_span(conn: psycopg.Connection, table: str, *, relation: str) -> tuple[dt.date, dt.date] | None:
    """First and last day of a relation's rows (an import batch: the days it touches)."""
    spec = _table(table)
    query = sql.SQL("SELECT min({ts})::date, max({ts})::date FROM {rel}").format(
        ts=sql.Identifier(spec.timestamp), rel=relation_identifier(relation)
    )
    row = conn.execute(query).fetchone()
    if not row or row[0] is None:
        return None
    return row[0], row[1]


def summary_profile(
    conn: psycopg.Connection, table: str, *, as_of: dt.date, relation: str | None = None
) -> pd.DataFrame:
    """One row: the newest timestamp not in the future, and the rows dated in the future."""
    spec = _table(table)
    query = sql.SQL(
        "SELECT max({ts}) FILTER (WHERE {ts} < %(cutoff)s) AS newest_ts,"
        " count(*) FILTER (WHERE {ts} >= %(cutoff)s) AS future_rows,"
        " max({ts}) FILTER (WHERE {ts} >= %(cutoff)s) AS future_newest_ts"
        " FROM {rel} WHERE {ts} >= %(since)s"
    ).format(ts=sql.Identifier(spec.timestamp), rel=relation_identifier(relation or default_relation(table)))
    # Only the recent end of the table matters; the range keeps it an index scan.
    newest = newest_day(conn, table, as_of=as_of, relation=relation)
    since = newest or as_of
    cur = conn.execute(query, {"cutoff": _future_cutoff(as_of), "since": since})
    rows = cur.fetchall()
    frame = pd.DataFrame(rows, columns=[c.name for c in cur.description])
    if newest is None:
        frame["newest_ts"] = pd.NaT
    return normalize_frame(frame)


def daily_profile(
    conn: psycopg.Connection,
    table: str,
    *,
    start: dt.date,
    end: dt.date,
    relation: str | None = None,
    customers_relation: str = "raw.customers",
    value_sets: Mapping[str, Sequence[str]] | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    key_duplicates: bool = False,
) -> pd.DataFrame:
    """One row per calendar day in [start, end] (inclusive) of `relation` (default raw.<table>).

    The rows of the window are read once (a materialized CTE) and aggregated three ways:
    plain per-day counts and statistics, content duplicates, and the join to the customers
    for referential integrity. Days without rows appear with rows = 0, so a missing day is
    visible to the volume check.
    """
    spec = _table(table)
    rel = relation_identifier(relation or default_relation(table))
    ts = sql.Identifier(spec.timestamp)
    value_sets = value_sets or {}
    ranges = ranges or {}
    params: dict[str, object] = {"start": start, "end": end, "end_excl": end + dt.timedelta(days=1)}

    window_columns = sorted(
        {spec.key, spec.timestamp, *spec.nullable, *spec.content, *value_sets, *ranges}
        | ({"customer_id"} if spec.references_customers else set())
        | {m.column for m in spec.metrics.values()}
    )
    aggregates: list[sql.Composable] = [sql.SQL("count(*) AS rows")]
    for column in spec.nullable:
        aggregates.append(
            sql.SQL("count(*) FILTER (WHERE {c} IS NULL) AS {a}").format(
                c=sql.Identifier(column), a=sql.Identifier(f"nulls__{column}")
            )
        )
    for i, (column, allowed) in enumerate(sorted(value_sets.items())):
        params[f"set_{i}"] = list(allowed)
        outside = sql.SQL("{c} IS NOT NULL AND NOT ({c} = ANY(%({p})s::text[]))").format(
            c=sql.Identifier(column), p=sql.SQL(f"set_{i}")
        )
        aggregates.append(
            sql.SQL("count(*) FILTER (WHERE {w}) AS {a}").format(
                w=outside, a=sql.Identifier(f"out_of_set__{column}")
            )
        )
        aggregates.append(
            sql.SQL("(array_agg(DISTINCT {c}::text) FILTER (WHERE {w}))[1:3] AS {a}").format(
                c=sql.Identifier(column), w=outside, a=sql.Identifier(f"out_of_set_sample__{column}")
            )
        )
    for i, (column, (low, high)) in enumerate(sorted(ranges.items())):
        params[f"low_{i}"], params[f"high_{i}"] = low, high
        aggregates.append(
            sql.SQL("count(*) FILTER (WHERE {c} < %({lo})s OR {c} > %({hi})s) AS {a}").format(
                c=sql.Identifier(column),
                lo=sql.SQL(f"low_{i}"),
                hi=sql.SQL(f"high_{i}"),
                a=sql.Identifier(f"out_of_range__{column}"),
            )
        )
    for name, metric in spec.metrics.items():
        value = sql.SQL("{c}::float8").format(c=sql.Identifier(metric.column))
        condition = sql.SQL(metric.where) if metric.where else sql.SQL("TRUE")
        aggregates.extend(
            [
                sql.SQL("count({v}) FILTER (WHERE {w}) AS {a}").format(
                    v=value, w=condition, a=sql.Identifier(f"{name}__n")
                ),
                sql.SQL("avg({v}) FILTER (WHERE {w}) AS {a}").format(
                    v=value, w=condition, a=sql.Identifier(f"{name}__mean")
                ),
                sql.SQL(
                    "percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY {v}) FILTER (WHERE {w}) AS {a}"
                ).format(v=value, w=condition, a=sql.Identifier(f"{name}__quantiles")),
            ]
        )
    present = _columns_of(conn, rel)
    if key_duplicates:
        # A batch without keys gets them derived on load: nothing to repeat yet.
        counted = sql.SQL("count(*) - count(DISTINCT {k})").format(k=sql.Identifier(spec.key))
        aggregates.append(
            sql.SQL("{v} AS key_duplicates").format(v=counted if spec.key in present else sql.SQL("0"))
        )
    if spec.name == "customers":
        aggregates.append(sql.SQL("count(*) FILTER (WHERE churn_date < created_at) AS churn_before_signup"))

    content = sql.SQL(", ").join(sql.Identifier(c) for c in spec.content)
    parts = [
        sql.SQL(
            "WITH w AS MATERIALIZED ("
            "SELECT {cols} FROM {rel} WHERE {ts} >= %(start)s AND {ts} < %(end_excl)s),"
        ).format(cols=_select_list(conn, spec, window_columns, present), rel=rel, ts=ts),
        sql.SQL(
            " days AS (SELECT d::date AS day FROM generate_series(%(start)s::date, %(end)s::date,"
            " interval '1 day') AS d),"
        ),
        sql.SQL(" base AS (SELECT {ts}::date AS day, {aggs} FROM w GROUP BY 1),").format(
            ts=ts, aggs=sql.SQL(", ").join(aggregates)
        ),
        sql.SQL(
            " dup AS (SELECT day, sum(n - 1) AS content_duplicates FROM ("
            " SELECT min({ts})::date AS day, count(*) AS n FROM w GROUP BY {content} HAVING count(*) > 1"
            " ) AS g GROUP BY day)"
        ).format(ts=ts, content=content),
    ]
    joins = [sql.SQL(" LEFT JOIN base USING (day) LEFT JOIN dup USING (day)")]
    ref_columns: list[str] = []
    if spec.references_customers:
        ref_columns = ["orphans", "before_signup"] + (
            ["after_churn"] if spec.name == "network_events" else []
        )
        after_churn = (
            sql.SQL(", count(*) FILTER (WHERE w.{ts} > c.churn_date) AS after_churn").format(ts=ts)
            if spec.name == "network_events"
            else sql.SQL("")
        )
        parts.append(
            sql.SQL(
                ", ref AS (SELECT w.{ts}::date AS day,"
                " count(*) FILTER (WHERE w.customer_id IS NOT NULL AND c.customer_id IS NULL) AS orphans,"
                " count(*) FILTER (WHERE w.{ts} < c.created_at) AS before_signup{after_churn}"
                " FROM w LEFT JOIN {customers} AS c ON c.customer_id = w.customer_id GROUP BY 1)"
            ).format(ts=ts, after_churn=after_churn, customers=relation_identifier(customers_relation))
        )
        joins.append(sql.SQL(" LEFT JOIN ref USING (day)"))
    query = sql.Composed([*parts, sql.SQL(" SELECT * FROM days"), *joins, sql.SQL(" ORDER BY day")])
    cur = conn.execute(query, params)
    frame = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
    return _tidy_daily(frame, spec, ref_columns, value_sets)


def _tidy_daily(
    frame: pd.DataFrame, spec: ProfiledTable, ref_columns: list[str], value_sets: Mapping[str, Sequence[str]]
) -> pd.DataFrame:
    """Counts of empty days are 0 (not NULL); quantile arrays become p50/p95 columns."""
    counts = [
        c
        for c in frame.columns
        if c in {"rows", "content_duplicates", "key_duplicates", "churn_before_signup", *ref_columns}
        or c.startswith(("nulls__", "out_of_set__", "out_of_range__"))
        or c.endswith("__n")
    ]
    for column in counts:
        frame[column] = pd.to_numeric(frame[column]).fillna(0).astype("int64")
    for name in spec.metrics:
        quantiles = frame.pop(f"{name}__quantiles")
        frame[f"{name}__mean"] = pd.to_numeric(frame[f"{name}__mean"], errors="coerce").astype("float64")
        frame[f"{name}__p50"] = [q[0] if q else float("nan") for q in quantiles]
        frame[f"{name}__p95"] = [q[1] if q else float("nan") for q in quantiles]
    for column in value_sets:
        name = f"out_of_set_sample__{column}"
        frame[name] = [list(v) if v else [] for v in frame[name]]
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    return frame


def _columns_of(conn: psycopg.Connection, rel: sql.Composable) -> set[str]:
    cur = conn.execute(sql.SQL("SELECT * FROM {} LIMIT 0").format(rel))
    return {c.name for c in cur.description}


def _select_list(
    conn: psycopg.Connection, spec: ProfiledTable, columns: list[str], present: set[str]
) -> sql.Composable:
    """The window's columns; one a batch does not provide is NULL of the raw column's type,
    exactly what the load would store (so a column the file lacks shows as a null flood)."""
    missing = [c for c in columns if c not in present]
    types: dict[str, str] = {}
    if missing:
        rows = conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = %s::regclass AND attname = ANY(%s) AND NOT attisdropped",
            (f"raw.{spec.name}", missing),
        ).fetchall()
        types = dict(rows)
    parts = [
        sql.Identifier(c)
        if c in present
        else sql.SQL("CAST(NULL AS {t}) AS {c}").format(t=sql.SQL(types[c]), c=sql.Identifier(c))
        for c in columns
    ]
    return sql.SQL(", ").join(parts)


def _future_cutoff(as_of: dt.date) -> dt.date:
    return as_of + dt.timedelta(days=FUTURE_SLACK_DAYS)
