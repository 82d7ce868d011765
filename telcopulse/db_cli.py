"""`telcopulse db ...`: database administration for running the MCP server with least privilege.

`db grant` gives the server its own login (member of telcopulse_mcp, migration 0007) so it
need not connect as the warehouse owner. The password is read from an environment variable
named on the command line, never from argv itself, where `ps`, shell history and CI logs
would keep it. Heavy imports happen inside the command so `--help` stays instant.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

db_app = typer.Typer(
    help="Warehouse database administration: least-privilege logins for the MCP server.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold passwords or URLs with passwords
)


@db_app.callback()
def _group() -> None:
    """Warehouse database administration: least-privilege logins for the MCP server."""
    # A callback keeps `db` a command group even while it has a single command.


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def server_url_shape(database_url: str, login: str, *, with_password: bool) -> str:
    """The URL the server should use: same host, port and database, as `login`.

    A placeholder stands where the password goes; the password itself is never printed.
    """
    from urllib.parse import quote

    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from warehouse.db import as_url

    params = {k: v for k, v in conninfo_to_dict(database_url).items() if k not in ("password", "passfile")}
    params["user"] = login
    url = as_url(make_conninfo(**params))
    if with_password:
        user = quote(login, safe="")
        url = url.replace(f"://{user}@", f"://{user}:<password>@", 1)
    return url


@db_app.command("grant")
def grant(
    login: Annotated[str, typer.Option("--login", help="Name of the login role to create or reset.")],
    password_env: Annotated[
        str | None,
        typer.Option(
            "--password-env",
            metavar="VAR",
            help="Name of the environment variable holding the password (never the password "
            "itself). Omit for trust/peer/certificate authentication.",
        ),
    ] = None,
) -> None:
    """Create (or reset) a LOGIN role for the MCP server holding only telcopulse_mcp's privileges.

    Migrates first (the group role comes from migration 0007), then makes LOGIN a member of telcopulse_mcp and nothing else, with CONNECT on this database.

    Run it with DATABASE_URL pointing at the warehouse as its owner (a superuser or a role with CREATEROLE), then start the server with the DATABASE_URL printed at the end.
    """  # noqa: E501
    import psycopg

    from warehouse.migrate import migrate
    from warehouse.roles import RoleError, check_login_name, grant_login
    from warehouse.settings import get_settings

    password: str | None = None
    if password_env is not None:
        password = os.environ.get(password_env)
        if not password:
            raise _fail(f"environment variable {password_env} is unset or empty")
    try:
        check_login_name(login)
        database_url = get_settings().require_database_url()
        migrate(database_url)
        grant_login(database_url, login, password)
    except (RoleError, RuntimeError) as exc:
        raise _fail(str(exc)) from None
    except psycopg.Error as exc:
        raise _fail(f"PostgreSQL: {type(exc).__name__}: {exc}") from None

    typer.echo(f"Login role {login!r} is a member of telcopulse_mcp (and nothing else).", err=True)
    shape = server_url_shape(database_url, login, with_password=password is not None)
    if password is not None:
        typer.echo(
            f"Run the MCP server with this DATABASE_URL, <password> replaced by ${password_env} "
            "(percent-encoded):",
            err=True,
        )
    else:
        typer.echo("Run the MCP server with this DATABASE_URL:", err=True)
    typer.echo(f"DATABASE_URL={shape}")
