"""What `telcopulse up`, `refresh`, `ui` and `docs` do: processes, environment and output.

This is the composition root, so it is the one place that writes environment variables:
child processes (Dagster's code server, dbt) learn the URLs of embedded services from
their environment, as they would in a container.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import typer

from warehouse.settings import DBT_PROJECT_DIR, PROJECT_ROOT, Settings, get_settings

VENV_BIN = Path(sys.executable).parent


def _say(message: str) -> None:
    typer.echo(f"[telcopulse] {message}")


def _configure_dagster_home() -> None:
    from orchestration.instance import prepare_dagster_home, psycopg2_url

    settings = get_settings()
    if settings.dagster_pg_url:
        os.environ["DAGSTER_PG_URL"] = psycopg2_url(settings.dagster_pg_url)
    home = settings.dagster_home
    prepare_dagster_home(home, use_postgres=bool(settings.dagster_pg_url))
    os.environ["DAGSTER_HOME"] = str(home.resolve())


def run_refresh() -> bool:
    """Full refresh with a printed summary; True when every asset and check passed."""
    import dagster as dg

    from orchestration.refresh import refresh_all

    _configure_dagster_home()
    started = time.perf_counter()
    report = refresh_all(instance=dg.DagsterInstance.get())
    seconds = time.perf_counter() - started
    _say(
        f"refresh run {report.run_id}: {len(report.materialized)} assets materialized, "
        f"{len(report.checks_passed)} checks passed, {len(report.checks_warned)} warned, "
        f"{len(report.checks_failed)} failed, in {seconds:.0f}s"
    )
    for name in report.checks_warned:
        _say(f"  check warned: {name}")
        for line in report.details(name):
            _say(f"    {line}")
    for name in report.checks_failed:
        _say(f"  CHECK FAILED: {name}")
        for line in report.details(name):
            _say(f"    {line}")
    for step in report.failed_steps:
        _say(f"  STEP FAILED: {step} (see the run's logs in the Dagster UI)")
    if any(name.endswith(":quality_gate") for name in report.checks_failed):
        _say(
            "  the raw data quality gate stopped the refresh: no mart was rebuilt, "
            "the data version is unchanged"
        )
    return report.ok


def _wait_for_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.5)
    return False


def _start_dagster_ui(host: str, port: int) -> subprocess.Popen[bytes]:
    _configure_dagster_home()
    return subprocess.Popen(
        [
            str(VENV_BIN / "dagster"),
            "dev",
            "-w",
            str(PROJECT_ROOT / "workspace.yaml"),
            "-h",
            host,
            "-p",
            str(port),
        ],
        cwd=PROJECT_ROOT,
        start_new_session=True,
        preexec_fn=_default_signals_in_child,
    )


def serve_dagster_ui(host: str | None = None, port: int | None = None) -> int:
    settings = get_settings()
    host, port = host or settings.dagster_host, port or settings.dagster_port
    process = _start_dagster_ui(host, port)
    if _wait_for_port(host, port, timeout=120):
        _say(f"Dagster UI: http://{host}:{port}")
    return _supervise([process])


def _generate_dbt_docs() -> bool:
    env = {**os.environ, **get_settings().dbt_env()}
    result = subprocess.run(
        [
            str(VENV_BIN / "dbt"),
            "docs",
            "generate",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--quiet",
        ],
        env=env,
        cwd=DBT_PROJECT_DIR,
        check=False,
    )
    return result.returncode == 0


def _ensure_admin_key(settings: Settings) -> str | None:
    """First start: create a demo admin key and print it once (it is stored hashed only)."""
    from mcp_server.security.api_keys import open_key_store

    store = open_key_store(settings)
    if any(record.role == "admin" and record.is_active() for record in store.list()):
        _say("MCP API keys: use the one you were given; `telcopulse keys create --name N --role R` adds one")
        return None
    key, _record = store.create("demo-admin", "admin")
    _say(f"demo admin API key (shown once, stored hashed; `telcopulse keys list` shows its id): {key}")
    return key


def _start_mcp_server(host: str, port: int) -> subprocess.Popen[bytes]:
    """`telcopulse serve --transport http` as a child, so Ctrl-C stops it with the rest."""
    return subprocess.Popen(
        [str(VENV_BIN / "telcopulse"), "serve", "--transport", "http", "--host", host, "--port", str(port)],
        cwd=PROJECT_ROOT,
        start_new_session=True,
        preexec_fn=_default_signals_in_child,
    )


def _start_docs_server(port: int, host: str = "127.0.0.1") -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            host,
            "--directory",
            str(DBT_PROJECT_DIR / "target"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_default_signals_in_child,
    )


def serve_dbt_docs(port: int, host: str = "127.0.0.1") -> int:
    if not _generate_dbt_docs():
        _say("dbt docs generate failed (is DATABASE_URL reachable?)")
        return 1
    process = _start_docs_server(port, host)
    _say(f"dbt docs: http://{host}:{port}")
    return _supervise([process])


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _install_stop_handlers() -> None:
    """Ctrl-C and SIGTERM both stop `up` cleanly, also when it runs as a background job
    (where SIGINT starts out ignored) and after Dagster's in-process run changed them."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)


def _default_signals_in_child() -> None:
    """Children start with default SIGINT/SIGTERM, whatever this process inherited or set."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    """Signal a child's whole process group: `dagster dev` runs a webserver, a daemon and
    code servers of its own, which must not outlive `up`. SIGINT first, because that is
    what `dagster dev` shuts down cleanly on; escalate when it is ignored (background jobs)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _supervise(processes: list[subprocess.Popen[bytes]]) -> int:
    """Wait until a child exits, Ctrl-C or SIGTERM (docker stop, kill), then stop them all."""

    _install_stop_handlers()
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(1)
    except KeyboardInterrupt:
        _say("stopping")
    for process in processes:
        _signal_group(process, signal.SIGINT)
    for process in processes:
        for follow_up in (signal.SIGTERM, signal.SIGKILL):
            try:
                process.wait(timeout=15)
                break
            except subprocess.TimeoutExpired:
                _signal_group(process, follow_up)
        _signal_group(process, signal.SIGKILL)  # grandchildren a child left behind
    return 0


def run_up(*, serve: bool = True, docs_port: int = 8080) -> int:
    from warehouse.embedded import start_embedded
    from warehouse.migrate import migrate

    settings = get_settings()
    embedded = None
    if not settings.database_url or not settings.redis_url:
        _say(f"starting embedded services under {settings.data_dir}")
        embedded = start_embedded(
            settings.data_dir, need_postgres=not settings.database_url, need_redis=not settings.redis_url
        )
        if embedded.database_url:
            os.environ["DATABASE_URL"] = embedded.database_url
        if embedded.redis_url:
            os.environ["REDIS_URL"] = embedded.redis_url
        get_settings.cache_clear()
        settings = get_settings()
    _say(f"DATABASE_URL={settings.database_url}")
    _say(f"REDIS_URL={settings.redis_url}")
    applied = migrate(settings.require_database_url())
    _say("schema: " + (", ".join(applied) if applied else "up to date"))
    if not run_refresh():
        _say("refresh failed: fix the failures above, then run `make up` again")
        return 1
    if not serve:
        return 0
    _install_stop_handlers()
    processes = [_start_dagster_ui(settings.dagster_host, settings.dagster_port)]
    if _generate_dbt_docs():
        processes.append(_start_docs_server(docs_port))
        _say(f"dbt docs (data dictionary): http://127.0.0.1:{docs_port}")
        if (DBT_PROJECT_DIR / "target" / "gx_docs" / "index.html").is_file():
            _say(f"data-quality docs (Great Expectations): http://127.0.0.1:{docs_port}/gx_docs/index.html")
    demo_key = _ensure_admin_key(settings)
    processes.append(_start_mcp_server(settings.mcp_host, settings.mcp_port))
    if _wait_for_port(settings.mcp_host, settings.mcp_port, timeout=60):
        _say(f"MCP server (streamable HTTP): http://{settings.mcp_host}:{settings.mcp_port}/mcp")
        _say(
            "  try: npx @modelcontextprotocol/inspector --cli "
            f"http://{settings.mcp_host}:{settings.mcp_port}/mcp --transport http "
            f'--header "X-API-Key: {demo_key or "<your key>"}" --method tools/list'
        )
    else:
        _say("MCP server did not come up within 60 s; see its output above")
    if _wait_for_port(settings.dagster_host, settings.dagster_port, timeout=120):
        _say(f"Dagster UI: http://{settings.dagster_host}:{settings.dagster_port}  (Ctrl-C stops everything)")
    else:
        _say("Dagster UI did not come up within 120 s; see its output above")
    code = _supervise(processes)
    del embedded  # embedded Redis stops with its handle; embedded PostgreSQL keeps its data
    return code
