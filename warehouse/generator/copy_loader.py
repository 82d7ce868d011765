"""Getting frames into PostgreSQL: CSV text through COPY, inside one transaction.

COPY is the only bulk path fast enough for ~10M rows; row INSERTs would be two orders
of magnitude slower. The caller holds the transaction open across all blocks, so a
failure anywhere (generation, COPY, a CHECK constraint) rolls everything back and
readers keep seeing the previous load.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd
import psycopg

from warehouse.raw_schema import RAW_TABLE_NAMES

RAW_TABLES = RAW_TABLE_NAMES  # customers first: events and bills reference them
_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


def to_csv_text(frame: pd.DataFrame) -> str:
    """CSV as COPY reads it: no header, empty field = NULL.

    Floats are already rounded to two decimals by the generator, so their shortest repr
    (pandas' default, and faster than a float_format) is exactly the DECIMAL(_, 2) value.
    """
    return frame.to_csv(header=False, index=False, date_format=_TIMESTAMP_FORMAT)


@dataclass(frozen=True)
class CsvChunk:
    """One table's rows of one block, already formatted (off the connection's thread)."""

    table: str
    columns: tuple[str, ...]
    rows: int
    text: str

    @classmethod
    def of(cls, table: str, frame: pd.DataFrame) -> CsvChunk:
        return cls(table, tuple(frame.columns), len(frame), to_csv_text(frame) if len(frame) else "")


def copy_chunk(cur: psycopg.Cursor, chunk: CsvChunk) -> int:
    """COPY the chunk into raw.<table> (columns by name); return the rows written."""
    if not chunk.rows:
        return 0
    columns = ", ".join(chunk.columns)  # our own fixed column names, never user input
    with cur.copy(f"COPY raw.{chunk.table} ({columns}) FROM STDIN (FORMAT csv)") as copy:
        copy.write(chunk.text)
    return chunk.rows


def truncate_raw(cur: psycopg.Cursor) -> None:
    """Empty the raw tables inside the caller's transaction.

    TRUNCATE takes an ACCESS EXCLUSIVE lock until commit: concurrent readers wait for
    the new load instead of seeing a half-written one (or an empty warehouse).
    """
    cur.execute("TRUNCATE raw.revenue, raw.network_events, raw.customers")


@contextmanager
def bulk_load_mode(cur: psycopg.Cursor) -> Iterator[None]:
    """Drop the raw tables' keys, foreign keys and indexes for the load; recreate them after.

    Per-row foreign-key checks and B-tree maintenance (random UUID keys touch a random
    index page per row) make COPY several times slower, and superlinearly so once the
    indexes outgrow shared_buffers. Rebuilding each index with one sort and validating
    each foreign key with one join is much cheaper. Nothing is skipped: duplicates or
    orphans fail when the constraint is re-added, and CHECKs stay on throughout. Must
    run inside the load's transaction, after TRUNCATE holds ACCESS EXCLUSIVE locks; on
    error the rollback restores the original definitions, so the schema never changes.
    """
    tables = [f"raw.{table}" for table in RAW_TABLES]
    # Keys before foreign keys on the way back (a foreign key needs its referenced key).
    cur.execute(
        "SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid)"
        " FROM pg_constraint WHERE contype IN ('p', 'u', 'f') AND conrelid = ANY(%s::regclass[])"
        " ORDER BY contype = 'f', 1, 2",
        (tables,),
    )
    constraints = cur.fetchall()
    cur.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " WHERE i.indrelid = ANY(%s::regclass[])"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
        " ORDER BY 1",
        (tables,),
    )
    indexes = cur.fetchall()
    for name, _ in indexes:
        cur.execute(f"DROP INDEX {name}")
    for table, name, _ in reversed(constraints):
        cur.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    yield
    for table, name, definition in constraints:
        cur.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    for _, definition in indexes:
        cur.execute(definition)


def record_load(
    cur: psycopg.Cursor, kind: str, parameters: Mapping[str, object], row_counts: Mapping[str, int]
) -> None:
    """Note the load in ops.raw_loads, so a person can tell what raw.* currently holds."""
    cur.execute(
        "INSERT INTO ops.raw_loads (kind, parameters, row_counts) VALUES (%s, %s::jsonb, %s::jsonb)",
        (kind, json.dumps(dict(parameters), sort_keys=True), json.dumps(dict(row_counts), sort_keys=True)),
    )
