"""Import one file into a raw table: exactly once, in one transaction, bad records kept aside.

The order of work, and why:
1. The file's SHA-256 first: the same content for the same table is loaded at most once,
   so a retry, a re-drop into the landing folder or a second `telcopulse import` loads
   nothing and says so.
2. Header and mapping before any record: a file that cannot fit is refused whole.
3. Records in bounded chunks: each chunk is validated in pandas (vectorised), its good
   rows COPY'd into a temporary staging table and its bad records into
   ops.import_rejects. Memory holds one chunk, whatever the file's size.
4. Rules that need the warehouse run once in SQL on the staged rows: duplicate keys in the
   file, unknown customers (foreign key), events before signup or after churn.
5. The staged rows move into raw.<table> in the same transaction, with the import's
   ops.imports and ops.raw_loads rows: readers see all of the file or none of it, and a
   killed process leaves raw.* as it was (PostgreSQL rolls the transaction back).
Keys come from the file when it has them; otherwise a key is derived from the file's
checksum and the record's position, so even a file without keys never loads twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from warehouse.db import connect
from warehouse.generator.copy_loader import record_load
from warehouse.importing.mapping import ColumnPlan, check_mapping, load_mapping, mapping_summary, plan_columns
from warehouse.importing.source import RecordChunk, Source, UnusableFile, open_source
from warehouse.importing.validate import Reject, output_columns, validate_chunk
from warehouse.prefetch import prefetched
from warehouse.raw_schema import RAW_TABLE_NAMES, TABLES, TableSpec

DEFAULT_CHUNK_ROWS = 100_000
_IMPORT_LOCK_KEY = 7_418_342_011  # serialises imports (and their idempotency check)
_STAGE = "import_stage"
_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

# (connection, staging table, table spec) -> reasons to refuse the batch; empty = accept.
BatchGate = Callable[[psycopg.Connection, str, TableSpec], list[str]]


class ImportRefused(Exception):
    """The file was refused whole; nothing was written to raw.* (message: one line, actionable)."""


@dataclass
class ImportReport:
    table: str
    source_file: str
    sha256: str
    format: str = ""
    status: str = "loaded"  # loaded | already_imported | refused
    import_id: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    rows_updated: int = 0
    affected_days: list[str] = field(default_factory=list)
    history_changed: bool = False
    seconds: float = 0.0
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def import_file(
    database_url: str,
    path: Path,
    table: str,
    *,
    mapping_path: Path | None = None,
    fmt: str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    gate: BatchGate | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import `path` into raw.`table`. Raises ImportRefused (recorded in ops.imports) for an
    unusable file, MappingError for a bad mapping file; returns the report otherwise."""
    if table not in RAW_TABLE_NAMES:
        raise ValueError(f"table must be one of {', '.join(RAW_TABLE_NAMES)}, got {table!r}")
    spec = TABLES[table]  # type: ignore[index]
    mapping = load_mapping(mapping_path)
    check_mapping(spec, mapping)
    path = path.expanduser()
    if not path.is_file():
        raise ImportRefused(f"{path} does not exist or is not a file")
    started_wall = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    report = ImportReport(table=table, source_file=str(path.resolve()), sha256=file_sha256(path))

    previous = _loaded_import(database_url, table, report.sha256)
    if previous is not None:
        return _already(report, previous, started)
    try:
        source = open_source(path, fmt)
        report.format = source.format
        plan = plan_columns(source.header, spec, mapping)
    except UnusableFile as error:
        report.format = report.format or (fmt or path.suffix.lstrip(".").lower())
        _refuse(database_url, report, started_wall, mapping_summary(mapping), str(error))
        raise ImportRefused(str(error)) from None

    import_id = str(uuid.uuid4())
    try:
        with connect(database_url) as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_IMPORT_LOCK_KEY,))
            previous = _loaded_import_cur(cur, table, report.sha256)
            if previous is not None:
                return _already(report, previous, started)
            report.import_id = import_id
            _insert_import_row(cur, report, started_wall, mapping_summary(mapping))
            columns = output_columns(spec, plan)
            _create_stage(cur, spec, columns)
            for prepared in _prepared_chunks(source, spec, plan, columns, chunk_rows):
                report.rows_read += prepared.records
                _copy_stage(cur, prepared.csv_text, columns)
                _copy_rejects(cur, import_id, report, prepared.rejects)
                report.rows_rejected += len(prepared.rejects)
                if on_progress is not None:
                    on_progress(report.rows_read)
            report.rows_rejected += _reject_in_sql(cur, spec, import_id, report, columns)
            if gate is not None:
                problems = gate(conn, _STAGE, spec)
                if problems:
                    raise _GateRefused("; ".join(problems))
            _move(cur, spec, plan, columns, report)
            _finish_import_row(cur, report)
            record_load(
                cur,
                "import",
                {"import_id": import_id, "file": path.name, "sha256": report.sha256, "table": table},
                {table: report.rows_loaded},
            )
    except UnusableFile as error:
        report.import_id = None
        _refuse(database_url, report, started_wall, mapping_summary(mapping), str(error))
        raise ImportRefused(str(error)) from None
    except _GateRefused as error:
        report.import_id = None
        message = f"the batch failed data-quality checks: {error}"
        _refuse(database_url, report, started_wall, mapping_summary(mapping), message)
        raise ImportRefused(message) from None
    if report.rows_loaded or report.rows_updated:
        with connect(database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("ANALYZE raw.{}").format(sql.Identifier(table)))
    report.seconds = time.perf_counter() - started
    return report


class _GateRefused(Exception):
    pass


def _already(report: ImportReport, previous: str, started: float) -> ImportReport:
    report.status = "already_imported"
    report.import_id = previous
    report.seconds = time.perf_counter() - started
    return report


def _loaded_import(database_url: str, table: str, sha256: str) -> str | None:
    with connect(database_url) as conn, conn.cursor() as cur:
        return _loaded_import_cur(cur, table, sha256)


def _loaded_import_cur(cur: psycopg.Cursor, table: str, sha256: str) -> str | None:
    cur.execute(
        "SELECT import_id::text FROM ops.imports WHERE table_name = %s AND sha256 = %s AND status = 'loaded'",
        (table, sha256),
    )
    row = cur.fetchone()
    return row[0] if row else None


@dataclass
class _Prepared:
    """One chunk validated and formatted for COPY (done in the prefetch thread)."""

    records: int
    csv_text: str
    rejects: list[Reject]


def _prepared_chunks(
    source: Source, spec: TableSpec, plan: ColumnPlan, columns: list[str], rows: int
) -> Iterator[_Prepared]:
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)

    def prepare(chunk: RecordChunk) -> _Prepared:
        validated = validate_chunk(chunk, spec, plan, now)
        text = ""
        if not validated.rows.empty:
            text = validated.rows[[*columns, "_index", "_label"]].to_csv(
                header=False, index=False, date_format=_TIMESTAMP_FORMAT
            )
        return _Prepared(len(validated.rows) + len(validated.rejects), text, validated.rejects)

    return prefetched(source.chunks(rows), prepare)


def _insert_import_row(
    cur: psycopg.Cursor, report: ImportReport, started: dt.datetime, mapping: dict[str, object]
) -> None:
    cur.execute(
        "INSERT INTO ops.imports (import_id, table_name, source_file, sha256, format, status, started_at,"
        " mapping) VALUES (%s, %s, %s, %s, %s, 'loaded', %s, %s)",
        (
            report.import_id,
            report.table,
            report.source_file,
            report.sha256,
            report.format,
            started,
            Jsonb(mapping),
        ),
    )


def _finish_import_row(cur: psycopg.Cursor, report: ImportReport) -> None:
    cur.execute(
        # clock_timestamp, not now(): now() is when the transaction began, and a build that
        # started meanwhile must not count this import as already included.
        "UPDATE ops.imports SET rows_read = %s, rows_loaded = %s, rows_rejected = %s, rows_duplicate = %s,"
        " rows_updated = %s, affected_days = %s::date[], history_changed = %s,"
        " finished_at = clock_timestamp()"
        " WHERE import_id = %s",
        (
            report.rows_read,
            report.rows_loaded,
            report.rows_rejected,
            report.rows_duplicate,
            report.rows_updated,
            report.affected_days,
            report.history_changed,
            report.import_id,
        ),
    )


def _refuse(
    database_url: str, report: ImportReport, started: dt.datetime, mapping: dict[str, object], error: str
) -> None:
    """Record the refusal (a person sees it next to the loaded imports); nothing else is written."""
    report.status = "refused"
    report.error = error
    with connect(database_url) as conn:
        conn.execute(
            "INSERT INTO ops.imports (import_id, table_name, source_file, sha256, format, status, started_at,"
            " error, mapping) VALUES (%s, %s, %s, %s, %s, 'refused', %s, %s, %s)",
            (
                str(uuid.uuid4()),
                report.table,
                report.source_file,
                report.sha256,
                report.format or "unknown",
                started,
                error,
                Jsonb(mapping),
            ),
        )


def _create_stage(cur: psycopg.Cursor, spec: TableSpec, columns: list[str]) -> None:
    """A temporary table with the raw types (no constraints) plus the record's position and label."""
    cur.execute(
        sql.SQL(
            "CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {cols} FROM raw.{table} WITH NO DATA"
        ).format(
            stage=sql.Identifier(_STAGE),
            cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
            table=sql.Identifier(spec.name),
        )
    )
    cur.execute(
        sql.SQL("ALTER TABLE {} ADD COLUMN _index BIGINT, ADD COLUMN _label TEXT").format(
            sql.Identifier(_STAGE)
        )
    )


def _copy_stage(cur: psycopg.Cursor, text: str, columns: list[str]) -> None:
    if not text:
        return
    names = sql.SQL(", ").join(map(sql.Identifier, [*columns, "_index", "_label"]))
    with cur.copy(
        sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(sql.Identifier(_STAGE), names)
    ) as copy:
        copy.write(text)


def _copy_rejects(cur: psycopg.Cursor, import_id: str, report: ImportReport, rejects: list[Reject]) -> None:
    if not rejects:
        return
    statement = (
        "COPY ops.import_rejects (import_id, table_name, source_file, record_number, record_index, reason,"
        " rules, record) FROM STDIN"
    )
    with cur.copy(statement) as copy:
        for reject in rejects:
            copy.write_row(
                (
                    import_id,
                    report.table,
                    report.source_file,
                    reject.label,
                    reject.index,
                    reject.reason,
                    reject.rules,
                    reject.record,
                )
            )


def _reject_in_sql(
    cur: psycopg.Cursor, spec: TableSpec, import_id: str, report: ImportReport, columns: list[str]
) -> int:
    """Rules that need the warehouse, once over all staged rows: one reject per record."""
    checks: list[tuple[str, str]] = []  # (reason SQL, rule)
    if spec.key in columns:
        checks.append(
            (
                f"CASE WHEN d.copy_no > 1 THEN format("
                f"'{spec.key}: duplicate key %s in this file (first at %s)',"
                f" s.{spec.key}, d.first_label) END",
                f"{spec.key}:duplicate_in_file",
            )
        )
    join = ""
    if spec.references_customers:
        join = "LEFT JOIN raw.customers c ON c.customer_id = s.customer_id"
        checks.append(
            (
                "CASE WHEN s.customer_id IS NOT NULL AND c.customer_id IS NULL"
                " THEN format('customer_id: unknown"
                " customer %s (not in raw.customers; import the customers first)', s.customer_id) END",
                "customer_id:foreign_key",
            )
        )
        day = spec.day_column
        if spec.name == "network_events":
            checks.append(
                (
                    f"CASE WHEN s.{day} < c.created_at"
                    f" THEN format('{day}: before the customer signed up on %s,"
                    f" got %s', c.created_at, s.{day}) END",
                    f"{day}:before_signup",
                )
            )
            checks.append(
                (
                    f"CASE WHEN s.{day} > c.churn_date THEN format('{day}: after the customer churned on %s,"
                    f" got %s', c.churn_date, s.{day}) END",
                    f"{day}:after_churn",
                )
            )
    if not checks:
        return 0
    ranked = (
        f"(SELECT _index, row_number() OVER w AS copy_no, first_value(_label) OVER w AS first_label"
        f" FROM {_STAGE} WINDOW w AS (PARTITION BY {spec.key} ORDER BY _index)) d"
        if spec.key in columns
        else "(SELECT _index, 1 AS copy_no, NULL::text AS first_label FROM import_stage) d"
    )
    reasons = ", ".join(reason for reason, _ in checks)
    rules = ", ".join(f"CASE WHEN ({reason}) IS NOT NULL THEN '{rule}' END" for reason, rule in checks)
    cur.execute(
        f"CREATE TEMP TABLE import_verdict ON COMMIT DROP AS"
        f" SELECT * FROM (SELECT s._index, concat_ws('; ', {reasons}) AS reason,"
        f" array_remove(ARRAY[{rules}]::text[], NULL) AS rules"
        f" FROM {_STAGE} s JOIN {ranked} USING (_index) {join}) v WHERE v.reason <> ''"
    )
    cur.execute(
        f"INSERT INTO ops.import_rejects (import_id, table_name, source_file, record_number, record_index,"
        f" reason, rules, record)"
        f" SELECT %s, %s, %s, s._label, s._index, v.reason, v.rules, to_jsonb(s) - '_index' - '_label'"
        f" FROM import_verdict v JOIN {_STAGE} s USING (_index)",
        (import_id, report.table, report.source_file),
    )
    rejected = cur.rowcount
    if rejected:
        cur.execute(f"DELETE FROM {_STAGE} s USING import_verdict v WHERE s._index = v._index")
    return rejected


def _move(
    cur: psycopg.Cursor, spec: TableSpec, plan: ColumnPlan, columns: list[str], report: ImportReport
) -> None:
    """Staged rows into raw.<table>: customers are upserted, events and bills never overwritten."""
    cur.execute(f"SELECT count(*) FROM {_STAGE}")
    staged = int(cur.fetchone()[0])
    target = [*columns] if spec.key in columns else [spec.key, *columns]
    values = [
        sql.Identifier(c)
        if c in columns
        else sql.SQL("md5({} || ':' || _index)::uuid").format(sql.Literal(report.sha256))
        for c in target
    ]
    insert = sql.SQL("INSERT INTO raw.{table} AS t ({cols}) SELECT {values} FROM {stage}").format(
        table=sql.Identifier(spec.name),
        cols=sql.SQL(", ").join(map(sql.Identifier, target)),
        values=sql.SQL(", ").join(values),
        stage=sql.Identifier(_STAGE),
    )
    if spec.name == "customers":
        history = [c for c in spec.history_columns if c in columns]
        if history:
            cur.execute(
                sql.SQL(
                    "SELECT EXISTS (SELECT 1 FROM {stage} s JOIN raw.customers c USING (customer_id)"
                    " WHERE ({new}) IS DISTINCT FROM ({old}))"
                ).format(
                    stage=sql.Identifier(_STAGE),
                    new=sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c)) for c in history),
                    old=sql.SQL(", ").join(sql.SQL("c.{}").format(sql.Identifier(c)) for c in history),
                )
            )
            report.history_changed = bool(cur.fetchone()[0])
        updatable = [c for c in columns if c != spec.key]
        if updatable:
            conflict = sql.SQL(
                " ON CONFLICT (customer_id) DO UPDATE SET {sets} WHERE ({old}) IS DISTINCT FROM ({new})"
            ).format(
                sets=sql.SQL(", ").join(
                    sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in updatable
                ),
                old=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in updatable),
                new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in updatable),
            )
        else:
            conflict = sql.SQL(" ON CONFLICT (customer_id) DO NOTHING")
        cur.execute(
            sql.SQL(
                "WITH moved AS ({insert}{conflict} RETURNING (xmax = 0) AS inserted)"
                " SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),"
                " '{{}}'::text[] FROM moved"
            ).format(insert=insert, conflict=conflict)
        )
        inserted, updated, days = cur.fetchone()
    else:
        # Events and bills are never overwritten: rows whose key is already in raw are dropped
        # first (one index probe each), so the move is a plain INSERT - ON CONFLICT's
        # speculative insertion costs about half as much again per row. Imports are
        # serialised by the advisory lock, so no other import can add a key in between.
        # Derived keys (from this file's checksum) cannot be in raw yet: nothing to probe.
        if spec.key in columns:
            cur.execute(
                sql.SQL("DELETE FROM {stage} s USING raw.{table} t WHERE t.{key} = s.{key}").format(
                    stage=sql.Identifier(_STAGE),
                    table=sql.Identifier(spec.name),
                    key=sql.Identifier(spec.key),
                )
            )
        day = sql.Identifier(spec.day_column or spec.key)
        cur.execute(
            sql.SQL(
                "SELECT coalesce(array_agg(DISTINCT {day}::date::text ORDER BY {day}::date::text), '{{}}')"
                " FROM {stage}"
            ).format(day=day, stage=sql.Identifier(_STAGE))
        )
        days = cur.fetchone()[0]
        cur.execute(insert)
        inserted, updated = cur.rowcount, 0
    report.rows_loaded = int(inserted)
    report.rows_updated = int(updated)
    report.rows_duplicate = staged - report.rows_loaded - report.rows_updated
    report.affected_days = list(days or [])


def recent_imports(database_url: str, limit: int = 20) -> list[dict[str, object]]:
    """The newest imports, for the CLI's `import --list` and tests."""
    with connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT import_id::text, table_name, source_file, status, rows_read, rows_loaded, rows_rejected,"
            " rows_duplicate, rows_updated, finished_at, error FROM ops.imports"
            " ORDER BY finished_at DESC LIMIT %s",
            (limit,),
        )
        names = [d.name for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def reject_summary(database_url: str, import_id: str) -> list[tuple[str, int]]:
    """Rules broken by an import's rejects, most frequent first."""
    with connect(database_url) as conn:
        rows = conn.execute(
            "SELECT rule, count(*) FROM ops.import_rejects, unnest(rules) AS rule WHERE import_id = %s"
            " GROUP BY rule ORDER BY count(*) DESC, rule",
            (import_id,),
        ).fetchall()
    return [(str(rule), int(n)) for rule, n in rows]
