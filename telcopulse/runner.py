"""What `telcopulse up`, `refresh`, `ui` and `docs` do: processes, environment and output.

This is the composition root, so it is the one place that writes environment variables:
child processes (Dagster's code server, dbt) learn the URLs of embedded services from
their environment, as they would in a container.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import typer

from telcopulse import processes
from telcopulse.console import UpConsole
from telcopulse.ports import PlannedPort, taken_port_messages
from telcopulse.state import InstanceLock, RunState, clear_state, read_state, state_path, write_state
from telcopulse.tracing import traced_refresh
from warehouse.settings import DBT_PROJECT_DIR, PROJECT_ROOT, Settings, get_settings

VENV_BIN = Path(sys.executable).parent
# `dagster dev` is what gives one shared code server to the webserver and the daemon;
# Dagster 1.13 marks it superseded by `dg dev`, which needs a `dg` project layout we
# do not use. The warning is about our choice of command, not a problem to act on.
_DAGSTER_DEV_WARNINGS = "ignore:Function `dev_command` is superseded"


def _say(message: str, *, err: bool = False) -> None:
    typer.echo(f"[telcopulse] {message}", err=err)


def _configure_dagster_home() -> Path:
    from orchestration.instance import prepare_dagster_home, psycopg2_url

    settings = get_settings()
    if settings.dagster_pg_url:
        os.environ["DAGSTER_PG_URL"] = psycopg2_url(settings.dagster_pg_url)
    home = settings.dagster_home.resolve()
    prepare_dagster_home(home, use_postgres=bool(settings.dagster_pg_url))
    os.environ["DAGSTER_HOME"] = str(home)
    return home


# --- refresh ---------------------------------------------------------------------------


def _refresh_report_lines(report: object, seconds: float) -> tuple[str, list[str]]:
    """The summary line and the lines on what went wrong, shared by `refresh` and `up`."""
    from orchestration.refresh import RefreshReport

    assert isinstance(report, RefreshReport)
    summary = (
        f"{len(report.materialized)} assets materialized, {len(report.checks_passed)} checks passed, "
        f"{len(report.checks_warned)} warned, {len(report.checks_failed)} failed, in {seconds:.0f}s"
    )
    problems: list[str] = []
    for name in report.checks_warned:
        problems.append(f"  check warned: {name}")
        problems.extend(f"    {line}" for line in report.details(name))
    for name in report.checks_failed:
        problems.append(f"  CHECK FAILED: {name}")
        problems.extend(f"    {line}" for line in report.details(name))
    for step in report.failed_steps:
        problems.append(f"  STEP FAILED: {step} (see the run's logs in the Dagster UI)")
    if any(name.endswith(":quality_gate") for name in report.checks_failed):
        problems.append(
            "  the raw data quality gate stopped the refresh: no mart was rebuilt, "
            "the data version is unchanged"
        )
    return summary, problems


def run_refresh() -> bool:
    """`telcopulse refresh`: full refresh with a printed summary; True when all passed."""
    import dagster as dg

    from orchestration.refresh import refresh_all
    from telcopulse.preflight import check_services

    check_services(get_settings())  # before a run exists: an outage is a message, not a failed run
    _configure_dagster_home()
    started = time.perf_counter()
    run_id = str(uuid.uuid4())
    with traced_refresh(run_id) as finished:
        report = finished(refresh_all(instance=dg.DagsterInstance.get(), run_id=run_id))
    summary, problems = _refresh_report_lines(report, time.perf_counter() - started)
    _say(f"refresh run {report.run_id}: {summary}")
    for line in problems:
        _say(line)
    return report.ok


def _refresh_with_progress(console: UpConsole) -> tuple[bool, str, list[str]]:
    import dagster as dg
    from dagster import DagsterEventType

    from orchestration.definitions import build_definitions
    from orchestration.refresh import refresh_all

    _configure_dagster_home()
    instance = dg.DagsterInstance.get()
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    total = len(graph.materializable_asset_keys) + len(graph.asset_check_keys)
    run_id = str(uuid.uuid4())
    counted = {DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_CHECK_EVALUATION}

    def done() -> int:
        return len(instance.all_logs(run_id, of_type=counted))

    started = time.perf_counter()
    with console.progress("refresh", total, done), traced_refresh(run_id) as finished:
        report = finished(refresh_all(defs, instance=instance, run_id=run_id))
    summary, problems = _refresh_report_lines(report, time.perf_counter() - started)
    return report.ok, summary, problems


# --- servers ---------------------------------------------------------------------------


def _dagster_command(host: str, port: int) -> list[str]:
    return [
        str(VENV_BIN / "dagster"),
        "dev",
        "-w",
        str(PROJECT_ROOT / "workspace.yaml"),
        "-h",
        host,
        "-p",
        str(port),
    ]


def _start_dagster_ui(host: str, port: int, output: IO[str] | None = None) -> processes.Child:
    home = _configure_dagster_home()
    # cwd = DAGSTER_HOME: `dagster dev` warns when the folder it starts in holds another
    # dagster.yaml (the repo's, for Postgres storage) than the one in DAGSTER_HOME.
    return processes.start(
        "Dagster UI",
        _dagster_command(host, port),
        cwd=home,
        output=output,
        env={**os.environ, "PYTHONWARNINGS": _DAGSTER_DEV_WARNINGS},
    )


def refuse_taken_ports(planned: list[PlannedPort]) -> bool:
    """Print one line per taken port; True when something is taken."""
    messages = taken_port_messages(planned)
    owner = _running_up_note(get_settings().data_dir)
    for message in messages:
        _say(f"error: {message}{owner}", err=True)
    return bool(messages)


def _running_up_note(data_dir: Path) -> str:
    from telcopulse.state import running_state

    state = running_state(data_dir)
    return f" (`telcopulse up`, pid {state.pid}, is running: `telcopulse status`)" if state else ""


def serve_dagster_ui(host: str | None = None, port: int | None = None) -> int:
    settings = get_settings()
    host, port = host or settings.dagster_host, port or settings.dagster_port
    if refuse_taken_ports([PlannedPort("Dagster UI", host, port, "TELCOPULSE_DAGSTER_PORT")]):
        return 1
    return _serve_until_stopped(_start_dagster_ui(host, port), host, port, timeout=180)


def _serve_until_stopped(child: processes.Child, host: str, port: int, *, timeout: float) -> int:
    """`ui` and `docs`: wait for the one server's port, then supervise it until Ctrl-C."""
    if not processes.wait_until_serving([(child, host, port)], timeout=timeout):
        _say(f"error: the {child.name} did not start on {host}:{port}; see its output above", err=True)
        processes.stop_all([child])
        return 1
    _say(f"{child.name}: http://{host}:{port}  (Ctrl-C stops it)")
    return processes.supervise([child], on_exit=_report_exit)


def _generate_dbt_docs(output: IO[str] | None = None) -> bool:
    import subprocess

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
        stdout=output,
        stderr=output,
    )
    return result.returncode == 0


def _start_docs_server(port: int, host: str = "127.0.0.1") -> processes.Child:
    return processes.start(
        "dbt docs server",
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
        cwd=PROJECT_ROOT,
        output=processes.DEVNULL,
    )


def serve_dbt_docs(port: int | None = None, host: str | None = None) -> int:
    settings = get_settings()
    host, port = host or settings.docs_host, port or settings.docs_port
    if refuse_taken_ports([PlannedPort("dbt docs", host, port, "TELCOPULSE_DOCS_PORT")]):
        return 1
    if not _generate_dbt_docs():
        _say("error: dbt docs generate failed (is DATABASE_URL reachable? see dbt's output above)", err=True)
        return 1
    return _serve_until_stopped(_start_docs_server(port, host), host, port, timeout=30)


def _report_exit(child: processes.Child, code: int) -> None:
    _say(f"error: the {child.name} stopped unexpectedly (exit code {code}); stopping the rest", err=True)


def _ensure_admin_key(settings: Settings) -> str | None:
    """First start: create a demo admin key to print once (it is stored hashed only)."""
    from mcp_server.security.api_keys import open_key_store

    store = open_key_store(settings)
    if any(record.role == "admin" and record.is_active() for record in store.list()):
        return None
    key, _record = store.create("demo-admin", "admin")
    return key


def _start_mcp_server(host: str, port: int, output: IO[str] | None = None) -> processes.Child:
    """`telcopulse serve --transport http` as a child, so Ctrl-C stops it with the rest."""
    return processes.start(
        "MCP server",
        [str(VENV_BIN / "telcopulse"), "serve", "--transport", "http", "--host", host, "--port", str(port)],
        cwd=PROJECT_ROOT,
        output=output,
    )


# --- up --------------------------------------------------------------------------------


def planned_up_ports(settings: Settings) -> list[PlannedPort]:
    return [
        PlannedPort("MCP server", settings.mcp_host, settings.mcp_port, "TELCOPULSE_MCP_PORT", None),
        PlannedPort(
            "Dagster UI", settings.dagster_host, settings.dagster_port, "TELCOPULSE_DAGSTER_PORT", None
        ),
        PlannedPort("dbt docs", settings.docs_host, settings.docs_port, "TELCOPULSE_DOCS_PORT", None),
    ]


def describe_running_up(state: RunState | None, data_dir: Path) -> list[str]:
    """What a second `up` tells the person: who runs, where, and the two commands that help."""
    if state is None:
        return [
            f"error: `telcopulse up` is already running for {data_dir} (it is still starting); "
            "`telcopulse status` shows it, `telcopulse stop` stops it"
        ]
    lines = [
        f"error: `telcopulse up` is already running for {state.data_dir} "
        f"(pid {state.pid}, started {state.started_at}, {state.stage}); nothing was changed."
    ]
    lines += [f"  {_URL_LABELS.get(name, name)}: {url}" for name, url in state.urls.items()]
    lines.append("  `telcopulse status` shows it, `telcopulse stop` stops it.")
    return lines


_URL_LABELS = {
    "mcp": "MCP server",
    "dagster": "Dagster UI",
    "docs": "dbt docs",
    "gx_docs": "data-quality docs",
}


def run_up(*, serve: bool = True, verbose: bool = False) -> int:
    settings = get_settings()
    data_dir = settings.data_dir
    lock = InstanceLock(data_dir)
    if not lock.acquire():
        for line in describe_running_up(read_state(data_dir), data_dir):
            _say(line, err=True)
        return 1
    try:
        if serve and refuse_taken_ports(planned_up_ports(settings)):
            return 1
        log_file = data_dir / "logs" / "up.log"
        with UpConsole(log_file, verbose=verbose) as console:
            return _Up(settings, console, log_file).run(serve=serve)
    finally:
        lock.release()


@dataclass
class _Up:
    settings: Settings
    console: UpConsole
    log_file: Path

    def __post_init__(self) -> None:
        self.data_dir = self.settings.data_dir
        self.state = RunState.new(self.data_dir, self.log_file)
        self.children: list[processes.Child] = []
        self.embedded: object | None = None
        self.started = time.perf_counter()

    def _stage(self, number: int, total: int, text: str, since: float) -> None:
        self.console.say(f"[{number}/{total}] {text} ({time.perf_counter() - since:.1f}s)")

    def _save(self, stage: str) -> None:
        self.state.stage = stage
        write_state(self.data_dir, self.state)

    def run(self, *, serve: bool) -> int:
        stages = 4 if serve else 3
        processes.install_stop_handlers()  # `telcopulse stop` (SIGTERM) at any stage cleans up
        self._save("starting services")
        try:
            self._services(stages)
            self._schema(stages)
            if not self._refresh(stages):
                return 1
            if not serve:
                self.console.say(
                    f"done in {time.perf_counter() - self.started:.0f}s; full log: {self.log_file}"
                )
                return 0
            return self._serve(stages)
        except KeyboardInterrupt:
            self.console.say("stopped before start-up finished")
            return 130
        except Exception as error:
            self.console.log_exception(error)
            self.console.error(f"error: {_one_line(error)}")
            self.console.error(f"the full log is {self.log_file}")
            return 1
        finally:
            processes.stop_all(self.children)
            if self.embedded is not None:
                self.embedded.stop()  # type: ignore[attr-defined]
            clear_state(self.data_dir)

    def _services(self, stages: int) -> None:
        from warehouse.db import redacted_url
        from warehouse.embedded import start_embedded

        since = time.perf_counter()
        settings = self.settings
        need_postgres, need_redis = not settings.database_url, not settings.redis_url
        if need_postgres or need_redis:
            embedded = start_embedded(self.data_dir, need_postgres=need_postgres, need_redis=need_redis)
            self.embedded = embedded
            if embedded.database_url:
                os.environ["DATABASE_URL"] = embedded.database_url
                self.state.embedded.append("postgres")
                self.state.postgres_pid = embedded.postgres_pid
            if embedded.redis_url:
                os.environ["REDIS_URL"] = embedded.redis_url
                self.state.embedded.append("redis")
                self.state.redis_pid = embedded.redis_pid
            get_settings.cache_clear()
            self.settings = settings = get_settings()
        self.state.database_url = settings.database_url
        self.state.redis_url = settings.redis_url
        self._save("migrating")
        kinds = {True: "embedded", False: "external"}
        self._stage(
            1,
            stages,
            f"PostgreSQL ({kinds[need_postgres]}) {redacted_url(settings.require_database_url())}, "
            f"Redis ({kinds[need_redis]}) {redacted_url(settings.redis_url or '')}",
            since,
        )

    def _schema(self, stages: int) -> None:
        from warehouse.migrate import migrate

        since = time.perf_counter()
        applied = migrate(self.settings.require_database_url())
        text = f"schema: applied {len(applied)} migrations ({applied[0]} … {applied[-1]})" if applied else ""
        self._stage(2, stages, text or "schema: up to date", since)

    def _refresh(self, stages: int) -> bool:
        since = time.perf_counter()
        self._save("refreshing")
        ok, summary, problems = _refresh_with_progress(self.console)
        if ok:
            self._stage(3, stages, f"refresh: {summary.rsplit(', in ', 1)[0]}", since)
            for line in problems:  # warnings only, when the run passed
                self.console.say(line)
            return True
        self.console.error(f"[3/{stages}] refresh FAILED: {summary}")
        for line in problems:
            self.console.error(line)
        self.console.error(
            f"fix the failures above, then run `make up` again; the full log is {self.log_file}"
        )
        return False

    def _serve(self, stages: int) -> int:
        since = time.perf_counter()
        settings = self.settings
        self._save("starting servers")
        output = self.console.child_output
        docs_ok = _generate_dbt_docs(output)
        demo_key = _ensure_admin_key(settings)
        mcp = _start_mcp_server(settings.mcp_host, settings.mcp_port, output)
        dagster = _start_dagster_ui(settings.dagster_host, settings.dagster_port, output)
        self.children += [mcp, dagster]
        waits = [
            (mcp, settings.mcp_host, settings.mcp_port),
            (dagster, settings.dagster_host, settings.dagster_port),
        ]
        if docs_ok:
            docs = _start_docs_server(settings.docs_port, settings.docs_host)
            self.children.append(docs)
            waits.append((docs, settings.docs_host, settings.docs_port))
        self.state.child_pids = [child.pid for child in self.children]
        self._save("starting servers")
        if not processes.wait_until_serving(waits, timeout=180):
            for child in self.children:
                if child.returncode is not None:
                    self.console.error(
                        f"error: the {child.name} exited with code {child.returncode} at start-up"
                    )
            self.console.error(f"error: the servers did not all come up; their output is in {self.log_file}")
            return 1
        self.state.urls = {
            "mcp": f"http://{settings.mcp_host}:{settings.mcp_port}/mcp",
            "dagster": f"http://{settings.dagster_host}:{settings.dagster_port}",
        }
        if docs_ok:
            docs_url = f"http://{settings.docs_host}:{settings.docs_port}"
            self.state.urls["docs"] = docs_url
            if (DBT_PROJECT_DIR / "target" / "gx_docs" / "index.html").is_file():
                self.state.urls["gx_docs"] = f"{docs_url}/gx_docs/index.html"
        self._save("serving")
        self._stage(4, stages, f"servers: {len(self.children)} started", since)
        if not docs_ok:
            self.console.error(
                f"warning: `dbt docs generate` failed, so the dbt docs are not served; see {self.log_file}"
            )
        self._banner(demo_key)
        return processes.supervise(self.children, on_exit=self._child_died)

    def _child_died(self, child: processes.Child, code: int) -> None:
        self.console.error(
            f"error: the {child.name} stopped unexpectedly (exit code {code}); stopping everything. "
            f"Its output is in {self.log_file}"
        )

    def _banner(self, demo_key: str | None) -> None:
        from telcopulse.connect import inspector_http_command, local_node_is_recent_enough

        urls = self.state.urls
        key = demo_key or "<your key>"
        rows = [("MCP server (streamable HTTP)", urls["mcp"])]
        if demo_key:
            rows.append(("demo admin API key", f"{demo_key}  (shown once; stored hashed)"))
        else:
            rows.append(
                (
                    "API key",
                    "the one you were given; `telcopulse keys create --name me --role admin` adds one",
                )
            )
        rows.append(("Dagster UI (lineage, runs)", urls["dagster"]))
        if "docs" in urls:
            rows.append(("dbt docs (data dictionary)", urls["docs"]))
        if "gx_docs" in urls:
            rows.append(("data-quality docs", urls["gx_docs"]))
        rows.append(("state (URLs, pids)", str(state_path(self.data_dir))))
        rows.append(("full log", str(self.log_file)))
        width = max(len(label) for label, _ in rows)
        seconds = time.perf_counter() - self.started
        lines = [f"ready in {seconds:.0f}s. Ctrl-C or `telcopulse stop` stops everything.", ""]
        lines += [f"  {label.ljust(width)}  {value}" for label, value in rows]
        bridge = not local_node_is_recent_enough()
        lines += [
            "",
            "  try it (needs npm" + ("; fetches Node 22 for the Inspector):" if bridge else "):"),
            "    " + inspector_http_command(urls["mcp"], key, node_bridge=bridge),
            "  connect Claude Desktop:  telcopulse connect --client claude-desktop",
            "  what runs:               telcopulse status",
        ]
        self.console.say("\n".join(lines))


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
