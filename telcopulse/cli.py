"""`telcopulse` command line. Heavy imports happen inside commands so `--help` is instant."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="telcopulse: telecom analytics warehouse, dbt marts, Dagster pipeline and MCP query surface.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold URLs with passwords
)


def _add_sub_apps() -> None:
    from telcopulse.connect_cli import register as register_connect
    from telcopulse.db_cli import db_app
    from telcopulse.import_cli import register as register_import
    from telcopulse.keys_cli import keys_app

    register_import(app)
    register_connect(app)

    app.add_typer(keys_app, name="keys", help="API keys and Fernet keys of the MCP server.")
    app.add_typer(db_app, name="db", help="Database roles: a least-privilege login for the MCP server.")


_add_sub_apps()

# Commands that talk to PostgreSQL/Redis, and so look for a running `up` when no URL is set.
_NEEDS_SERVICES = {"migrate", "generate", "refresh", "ui", "docs", "serve", "import", "imports", "keys", "db"}


@app.callback()
def _find_running_services(ctx: typer.Context) -> None:
    """Beside a running `make up`, use its embedded services when no URL is exported."""
    if ctx.invoked_subcommand not in _NEEDS_SERVICES or ctx.resilient_parsing or "--help" in sys.argv:
        return
    from telcopulse.running_services import adopt_running_services
    from warehouse.settings import get_settings

    note = adopt_running_services(get_settings())
    if note:
        typer.echo(f"[telcopulse] {note}", err=True)


def _connection_error_message(error: BaseException) -> str | None:
    """One line for a database/Redis connection failure, None for anything else."""
    import psycopg
    import redis

    if isinstance(error, psycopg.OperationalError):
        first = (str(error).strip().splitlines() or ["connection failed"])[0]
        return f"Unavailable: PostgreSQL does not answer ({first}); start it or check DATABASE_URL"
    if isinstance(error, redis.ConnectionError):
        return f"Unavailable: Redis does not answer ({error}); start it or check REDIS_URL"
    return None


def main() -> None:
    """The `telcopulse` entry point: a problem the person can fix is one line and exit 1+."""
    from telcopulse.errors import CommandError
    from warehouse.settings import ConfigurationError
    from warehouse.tracing import TracingConfigError

    try:
        app()
    except CommandError as error:
        typer.echo(f"[telcopulse] {error}", err=True)
        sys.exit(error.exit_code)
    except TracingConfigError as error:
        typer.echo(f"[telcopulse] ValidationError: {error}", err=True)
        sys.exit(1)
    except ConfigurationError as error:
        typer.echo(f"[telcopulse] NotConfigured: {error}", err=True)
        sys.exit(1)
    except Exception as error:
        message = _connection_error_message(error)
        if message is None:
            raise
        typer.echo(f"[telcopulse] {message}", err=True)
        sys.exit(1)


@app.command()
def migrate() -> None:
    """Create or upgrade the warehouse schema (idempotent)."""
    from warehouse.migrate import migrate as run_migrations
    from warehouse.settings import get_settings

    applied = run_migrations(get_settings().require_database_url())
    typer.echo("applied: " + ", ".join(applied) if applied else "schema is up to date")


@app.command()
def generate(
    customers: Annotated[int | None, typer.Option(help="Customers to create (default 10,000).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed; same seed, same data.")] = None,
    end_date: Annotated[str | None, typer.Option(help="Last day of history, YYYY-MM-DD (today).")] = None,
    months: Annotated[int | None, typer.Option(help="Months of history (default 13).")] = None,
) -> None:
    """Replace the raw tables with a deterministic synthetic data set (COPY, one transaction)."""
    from warehouse.generator import generate as run_generator
    from warehouse.migrate import migrate as run_migrations
    from warehouse.settings import get_settings

    settings = get_settings()
    url = settings.require_database_url()
    run_migrations(url)
    report = run_generator(
        url,
        customers=customers or settings.customers,
        seed=settings.seed if seed is None else seed,
        end_date=dt.date.fromisoformat(end_date) if end_date else settings.history_end(),
        history_months=months or settings.history_months,
        progress=sys.stderr.isatty(),
    )
    typer.echo(
        f"loaded {report.customers:,} customers, {report.network_events:,} network events, "
        f"{report.revenue:,} revenue rows in {report.seconds:.1f}s"
    )


@app.command()
def refresh() -> None:
    """Materialize every asset in dependency order with its checks; non-zero exit on any failure."""
    from telcopulse.runner import run_refresh

    raise typer.Exit(0 if run_refresh() else 1)


@app.command()
def ui(
    host: Annotated[str | None, typer.Option(help="Bind address (default TELCOPULSE_DAGSTER_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default TELCOPULSE_DAGSTER_PORT).")] = None,
) -> None:
    """Serve the Dagster UI (webserver + daemon for schedules) for this code location."""
    from telcopulse.runner import serve_dagster_ui

    raise typer.Exit(serve_dagster_ui(host=host, port=port))


@app.command()
def docs(
    port: Annotated[int | None, typer.Option(help="Port (default TELCOPULSE_DOCS_PORT, 8080).")] = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default TELCOPULSE_DOCS_HOST).")] = None,
) -> None:
    """Generate and serve the dbt docs (the data dictionary)."""
    from telcopulse.runner import serve_dbt_docs

    raise typer.Exit(serve_dbt_docs(port=port, host=host))


@app.command()
def serve(
    transport: Annotated[
        str, typer.Option(help="stdio (for Claude Desktop) or http (streamable HTTP).")
    ] = "stdio",
    host: Annotated[str | None, typer.Option(help="HTTP bind address (default TELCOPULSE_MCP_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (default TELCOPULSE_MCP_PORT).")] = None,
    ssl_certfile: Annotated[Path | None, typer.Option(help="TLS certificate (PEM): serve HTTPS.")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="stdio only: also serve /metrics and /readyz on 127.0.0.1:<port>, without a key "
            "(loopback only). Over HTTP they are on the server's own port.",
        ),
    ] = None,
) -> None:
    """Serve the MCP server: tools, resources and prompts over stdio or streamable HTTP at /mcp."""
    from mcp_server.http import serve_http, serve_stdio
    from mcp_server.observability.logging import configure_logging
    from mcp_server.observability.tracing import configure_server_tracing
    from warehouse.settings import get_settings

    if metrics_port is not None and transport != "stdio":
        typer.echo(
            "[telcopulse] ValidationError: --metrics-port is for stdio only; over HTTP, /metrics and /readyz "
            "are served on the server's own port",
            err=True,
        )
        raise typer.Exit(1)
    settings = get_settings()
    configure_logging(settings.log_format, background=transport == "http")
    configure_server_tracing()
    if transport == "http":
        from telcopulse.ports import PlannedPort
        from telcopulse.runner import refuse_taken_ports

        bind_host, bind_port = host or settings.mcp_host, port or settings.mcp_port
        if refuse_taken_ports([PlannedPort("MCP server", bind_host, bind_port, "TELCOPULSE_MCP_PORT")]):
            raise typer.Exit(1)
    if transport == "stdio" and metrics_port is not None:
        from mcp_server.observability.metrics_port import LOOPBACK
        from telcopulse.ports import PlannedPort
        from telcopulse.runner import refuse_taken_ports

        if refuse_taken_ports([PlannedPort("metrics port", LOOPBACK, metrics_port, "--metrics-port", None)]):
            raise typer.Exit(1)
    if transport == "stdio":
        serve_stdio(settings, metrics_port=metrics_port)
    elif transport == "http":
        serve_http(
            settings,
            host=host or settings.mcp_host,
            port=port or settings.mcp_port,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
        )
    else:
        raise typer.BadParameter("transport must be stdio or http", param_hint="--transport")


@app.command()
def up(
    serve: Annotated[bool, typer.Option(help="Keep serving after the refresh (--no-serve exits).")] = True,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show Dagster, dbt and server logs on the terminal.")
    ] = False,
) -> None:
    """The main job: warehouse (embedded if no URLs), full refresh, then serve the UIs.

    One `up` runs per data dir; logs go to <data_dir>/logs/up.log unless --verbose."""
    from telcopulse.runner import run_up

    raise typer.Exit(run_up(serve=serve, verbose=verbose))


@app.command()
def status() -> None:
    """What `telcopulse up` runs now: pids, URLs, data version and age (exit 3 if nothing runs)."""
    from telcopulse.lifecycle import status_lines
    from warehouse.settings import get_settings

    settings = get_settings()
    for line in status_lines(settings.data_dir, database_url=settings.database_url):
        typer.echo(line)


@app.command()
def stop() -> None:
    """Stop what `telcopulse up` started, the embedded PostgreSQL and Redis included."""
    from telcopulse.lifecycle import stop as stop_everything
    from warehouse.settings import get_settings

    for line in stop_everything(get_settings().data_dir):
        typer.echo(f"[telcopulse] {line}")


if __name__ == "__main__":
    main()
