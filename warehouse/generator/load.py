"""The two public entry points: a full history load and a one-day append.

Both stream block by block (bounded memory regardless of size) inside a single
transaction, and record themselves in ops.raw_loads in that same transaction, so the
record and the data can never disagree. One worker thread generates and formats the
next block while the connection streams the current one: on two cores that overlaps
numpy/pandas work with PostgreSQL's COPY work instead of alternating them.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd
import psycopg
from tqdm import tqdm

from warehouse.db import connect
from warehouse.generator import profiles as p
from warehouse.generator import synth
from warehouse.generator.copy_loader import (
    RAW_TABLES,
    CsvChunk,
    bulk_load_mode,
    copy_chunk,
    record_load,
    truncate_raw,
)
from warehouse.generator.ids import uuid_bytes_from, uuid_strings
from warehouse.generator.traits import customer_traits
from warehouse.generator.window import Window
from warehouse.prefetch import prefetched

GENERATOR_VERSION = 1  # bump when the same parameters would produce different data

_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True)
class LoadReport:
    """Rows written by one load (customers is 0 for append_day) and its wall time."""

    customers: int
    network_events: int
    revenue: int
    seconds: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "customers": self.customers,
            "network_events": self.network_events,
            "revenue": self.revenue,
            "seconds": self.seconds,
        }


def generate(
    database_url: str,
    *,
    customers: int,
    seed: int,
    end_date: dt.date,
    history_months: int = 13,
    progress: bool = True,
) -> LoadReport:
    """Replace raw.* with a fresh synthetic data set, in ONE transaction.

    TRUNCATE and all COPYs share the transaction: readers never see a half-written load,
    and on any error nothing changes. Same (customers, seed, end_date, history_months)
    gives byte-identical tables.
    """
    if customers < 1:
        raise ValueError(f"customers must be >= 1, got {customers}")
    if history_months < 1:
        raise ValueError(f"history_months must be >= 1, got {history_months}")
    _check_seed(seed)
    started = time.perf_counter()
    window = Window.history(end_date, history_months)
    counts = dict.fromkeys(RAW_TABLES, 0)

    def prepare(job: tuple[int, int]) -> tuple[int, list[CsvChunk]]:
        index, size = job
        block = synth.generate_block(seed, index, size, window)
        # Customers first: events and revenue reference them.
        return size, [CsvChunk.of(table, getattr(block, table)) for table in RAW_TABLES]

    with (
        connect(database_url) as conn,
        conn.transaction(),
        conn.cursor() as cur,
        tqdm(total=customers, unit="customer", disable=not progress, desc="generate") as bar,
    ):
        truncate_raw(cur)
        with bulk_load_mode(cur):
            for size, chunks in prefetched(enumerate(synth.block_sizes(customers)), prepare):
                for chunk in chunks:
                    counts[chunk.table] += copy_chunk(cur, chunk)
                bar.update(size)
        parameters = {
            "customers": customers,
            "seed": seed,
            "end_date": end_date.isoformat(),
            "history_months": history_months,
            "window_start": str(np.datetime64(window.start, "s").astype("datetime64[D]")),
            "generator_version": GENERATOR_VERSION,
        }
        record_load(cur, "synthetic", parameters, counts)
    _analyze_raw(database_url)
    return LoadReport(**counts, seconds=time.perf_counter() - started)


def _analyze_raw(database_url: str) -> None:
    """Fresh planner statistics: right after a bulk load autovacuum has not sampled the new
    rows, and PostgreSQL then picks very bad plans for the marts' big aggregations."""
    with connect(database_url, autocommit=True) as conn:
        for table in RAW_TABLES:
            conn.execute(f"ANALYZE raw.{table}")


def append_day(database_url: str, *, day: dt.date, seed: int, progress: bool = False) -> LoadReport:
    """Add one more day of network_events (and that day's revenue) for customers active on `day`.

    Meant for the day after the newest loaded data, to benchmark an incremental refresh.
    Deterministic for (seed, day) on the same base load. Refuses a day that already has
    events, so it never mixes into generated history or doubles a day. Revenue: plan
    charges when `day` is the 1st of a month, usage charges when it is the last day.
    """
    _check_seed(seed)
    started = time.perf_counter()
    counts = dict.fromkeys(RAW_TABLES, 0)
    with connect(database_url) as conn, conn.transaction(), conn.cursor() as cur:
        # Serialise with other appends and full loads; plain readers are not blocked.
        cur.execute("LOCK TABLE raw.network_events IN SHARE ROW EXCLUSIVE MODE")
        if _has_events_on(cur, day):
            raise ValueError(f"raw.network_events already has events on {day}; append_day only adds new days")
        active = _active_customers(cur, day)
        window = Window.single_day(day)
        prior = _month_usage_before(cur, day, active) if window.end == window.month_starts[1] else None
        with tqdm(total=len(active), unit="customer", disable=not progress, desc=f"append {day}") as bar:
            for index, lo in enumerate(range(0, len(active), synth.BLOCK_SIZE)):
                rows = active.iloc[lo : lo + synth.BLOCK_SIZE]
                block_prior = prior[lo : lo + synth.BLOCK_SIZE] if prior is not None else None
                block = synth.generate_day_block(seed, day, index, _population(rows), block_prior)
                for table in ("network_events", "revenue"):
                    counts[table] += copy_chunk(cur, CsvChunk.of(table, getattr(block, table)))
                bar.update(len(rows))
        parameters = {
            "day": day.isoformat(),
            "seed": seed,
            "active_customers": len(active),
            "generator_version": GENERATOR_VERSION,
        }
        record_load(cur, "append_day", parameters, counts)
    return LoadReport(**counts, seconds=time.perf_counter() - started)


def _check_seed(seed: int) -> None:
    if seed < 0:
        raise ValueError(f"seed must be >= 0 (numpy SeedSequence), got {seed}")


def _has_events_on(cur: psycopg.Cursor, day: dt.date) -> bool:
    cur.execute(
        "SELECT EXISTS (SELECT 1 FROM raw.network_events"
        " WHERE event_timestamp >= %s AND event_timestamp < %s)",
        (day, day + dt.timedelta(days=1)),
    )
    return bool(cur.fetchone()[0])


def _active_customers(cur: psycopg.Cursor, day: dt.date) -> pd.DataFrame:
    """Customers who exist by the end of `day` and have not left before it, in a stable order."""
    cur.execute(
        "SELECT customer_id, created_at, age, location, account_type, churn_date FROM raw.customers"
        " WHERE created_at < %s AND (churn_date IS NULL OR churn_date > %s) ORDER BY customer_id",
        (day + dt.timedelta(days=1), day),
    )
    columns = ["customer_id", "created_at", "age", "location", "account_type", "churn_date"]
    return pd.DataFrame(cur.fetchall(), columns=columns)


def _month_usage_before(cur: psycopg.Cursor, day: dt.date, active: pd.DataFrame) -> np.ndarray:
    """This month's usage before `day` as (customers, 1, event type, [count, seconds, MB])."""
    cur.execute(
        "SELECT customer_id, event_type, count(*), sum(duration_seconds), sum(data_usage_mb)::float8"
        " FROM raw.network_events WHERE event_timestamp >= %s AND event_timestamp < %s"
        " GROUP BY customer_id, event_type",
        (day.replace(day=1), day),
    )
    usage = np.zeros((len(active), 1, 3, 3))
    position = {cid: i for i, cid in enumerate(active["customer_id"])}
    for customer_id, event_type, n, seconds, mb in cur:
        i = position.get(customer_id)
        if i is not None:
            usage[i, 0, p.EVENT_TYPES.index(event_type)] = (n, seconds or 0, mb or 0)
    return usage


def _seconds(values: pd.Series) -> np.ndarray:
    stamps = pd.to_datetime(values).to_numpy(dtype="datetime64[s]")
    return np.where(np.isnat(stamps), synth.NO_CHURN, stamps.astype(np.int64))


def _population(rows: pd.DataFrame) -> synth.Population:
    """Rebuild a block's Population from stored columns; traits follow from customer_id."""
    raw_ids = uuid_bytes_from(list(rows["customer_id"]))
    age = rows["age"].to_numpy(dtype=np.int64)
    account = np.array([p.ACCOUNT_TYPES.index(a) for a in rows["account_type"]], dtype=np.int64)
    location = np.array([p.LOCATIONS.index(x) for x in rows["location"]], dtype=np.int64)
    return synth.Population(
        raw_ids=raw_ids,
        ids=uuid_strings(raw_ids),
        created_at=_seconds(rows["created_at"]),
        age=age,
        account=account,
        location=location,
        churn_at=_seconds(rows["churn_date"]),
        traits=customer_traits(raw_ids, age, account, location),
    )
