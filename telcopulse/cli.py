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
    from telcopulse.db_cli import db_app
    from telcopulse.import_cli import register as register_import
    from telcopulse.keys_cli import keys_app

    register_import(app)

    app.add_typer(keys_app, name="keys", help="API keys and Fernet keys of the MCP server.")
    app.add_typer(db_app, name="db", help="Database roles: a least-privilege login for the MCP server.")


_add_sub_apps()


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
    port: Annotated[int, typer.Option(help="Port for the dbt docs site.")] = 8080,
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
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
) -> None:
    """Serve the MCP server: tools, resources and prompts over stdio or streamable HTTP at /mcp."""
    from mcp_server.http import serve_http, serve_stdio
    from mcp_server.observability.logging import configure_logging
    from warehouse.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_format)
    if transport == "stdio":
        serve_stdio(settings)
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
) -> None:
    """The main job: warehouse (embedded if no URLs), full refresh, then serve the UIs."""
    from telcopulse.runner import run_up

    raise typer.Exit(run_up(serve=serve))


if __name__ == "__main__":
    app()
