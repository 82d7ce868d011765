"""`telcopulse import FILE --table T` and `telcopulse imports`: a team's own files into raw.*.

Exit codes say what happened, so scripts and the landing-folder sensor can act on them:
0 the file was processed (even with rejects) or was already imported; 1 the file was
refused whole and nothing was written (the reason is one line); 2 the command was used
wrongly (unknown table, bad mapping file). Never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from warehouse.raw_schema import RAW_TABLE_NAMES

FORMAT_HELP = "csv, tsv, parquet or pdf (default: from the file's extension)."


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def import_command(
    file: Annotated[Path, typer.Argument(help="The file to import (CSV, TSV, Parquet or a text PDF).")],
    table: Annotated[str, typer.Option("--table", help="customers, network_events or revenue.")],
    mapping: Annotated[
        Path | None, typer.Option("--mapping", help="YAML mapping: renames, constants, value maps, dates.")
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", help=FORMAT_HELP)] = None,
    chunk_rows: Annotated[
        int, typer.Option("--chunk-rows", min=1, help="Records validated and loaded per chunk (memory).")
    ] = 100_000,
    verbose: Annotated[bool, typer.Option("--verbose", help="Print a line per chunk on stderr.")] = False,
) -> None:
    """Import a file into a raw table: once, in one transaction, bad records kept aside with reasons."""
    from orchestration.defs.quality.evaluate import import_batch_gate
    from warehouse.importing.loader import ImportRefused, import_file, reject_summary
    from warehouse.importing.mapping import MappingError
    from warehouse.importing.source import FORMATS

    if table not in RAW_TABLE_NAMES:
        raise _fail(f"ValidationError: --table must be one of {', '.join(RAW_TABLE_NAMES)}, got {table!r}", 2)
    if fmt is not None and fmt.lower() not in FORMATS:
        raise _fail(f"ValidationError: --format must be one of {', '.join(FORMATS)}, got {fmt!r}", 2)
    url = _database_url()
    try:
        report = import_file(
            url,
            file,
            table,
            mapping_path=mapping,
            fmt=fmt.lower() if fmt else None,
            chunk_rows=chunk_rows,
            gate=import_batch_gate,
            on_progress=_chunk_printer() if verbose else None,
        )
    except MappingError as error:
        raise _fail(f"ValidationError: {error}", 2) from None
    except ImportRefused as error:
        raise _fail(f"Refused: {file.name}: {error}. Nothing was written.") from None
    except Exception as error:  # the person gets a named error, never a traceback
        raise _fail(_unexpected(error)) from None

    if report.status == "already_imported":
        typer.echo(
            f"{file.name} was already imported into raw.{table} (import {report.import_id}); nothing loaded."
        )
        return
    rate = report.rows_read / report.seconds if report.seconds else 0.0
    typer.echo(
        f"imported {file.name} into raw.{table}: {report.rows_loaded:,} loaded, "
        f"{report.rows_rejected:,} rejected, {report.rows_duplicate:,} duplicate"
        + (f", {report.rows_updated:,} updated" if table == "customers" else "")
        + f" of {report.rows_read:,} records in {report.seconds:.1f}s"
        + (f" ({rate:,.0f} records/s)" if report.rows_read >= 10_000 else "")
    )
    typer.echo(f"import id: {report.import_id}")
    if report.rows_rejected:
        rules = reject_summary(url, str(report.import_id))
        top = ", ".join(f"{rule} ×{n}" for rule, n in rules[:6])
        typer.echo(f"rejects ({top}): telcopulse imports --rejects {report.import_id}")
    if report.affected_days and len(report.affected_days) <= 5:
        typer.echo(f"days touched: {', '.join(report.affected_days)}")
    elif report.affected_days:
        typer.echo(
            f"days touched: {len(report.affected_days)} from {report.affected_days[0]} "
            f"to {report.affected_days[-1]}"
        )
    typer.echo("run `telcopulse refresh` to rebuild the marts with it")


def imports_command(
    rejects: Annotated[
        str | None, typer.Option("--rejects", help="Show the rejected records of this import id.")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many imports or rejects to show.")] = 20,
) -> None:
    """List recent imports, or one import's rejected records with their reasons."""
    from warehouse.db import connect
    from warehouse.importing.loader import recent_imports

    url = _database_url()
    try:
        if rejects is None:
            rows = recent_imports(url, limit)
            if not rows:
                typer.echo("no imports yet: telcopulse import FILE --table customers|network_events|revenue")
            for row in rows:
                counts = (
                    f"{row['rows_loaded']:,} loaded, {row['rows_rejected']:,} rejected, "
                    f"{row['rows_duplicate']:,} duplicate"
                )
                detail = counts if row["status"] == "loaded" else str(row["error"])
                typer.echo(
                    f"{row['finished_at']:%Y-%m-%d %H:%M} {row['import_id']} {row['table_name']:<14} "
                    f"{row['status']:<8} {Path(str(row['source_file'])).name}: {detail}"
                )
            return
        with connect(url) as conn:
            found = conn.execute(
                "SELECT record_number, reason FROM ops.import_rejects WHERE import_id::text = %s"
                " ORDER BY record_index LIMIT %s",
                (rejects, limit),
            ).fetchall()
    except Exception as error:
        raise _fail(_unexpected(error)) from None
    if not found:
        raise _fail(f"NotFound: no rejects for import {rejects}", 1)
    for record_number, reason in found:
        typer.echo(f"{record_number}: {reason}")


def _chunk_printer() -> Callable[[int], None]:
    def say(records: int) -> None:
        typer.echo(f"{records:,} records read", err=True)

    return say


def _database_url() -> str:
    from warehouse.migrate import migrate
    from warehouse.settings import ConfigurationError, get_settings

    try:
        url = get_settings().require_database_url()
        migrate(url)
    except ConfigurationError as error:
        raise _fail(f"NotConfigured: {error}") from None
    except Exception as error:
        raise _fail(_unexpected(error)) from None
    return url


def _unexpected(error: Exception) -> str:
    import psycopg

    if isinstance(error, psycopg.OperationalError):
        return "Unavailable: cannot reach the warehouse PostgreSQL (check DATABASE_URL and that it runs)"
    first_line = (str(error).strip().splitlines() or [""])[0][:200]
    name = type(error).__name__
    return f"Error: the import failed unexpectedly ({name}: {first_line}); nothing was written"


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)
    app.command("imports")(imports_command)
