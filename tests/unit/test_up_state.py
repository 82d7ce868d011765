"""The pieces `up`, `status`, `stop` and the other commands agree on: lock, state, ports."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import dagster as dg
import pytest

from orchestration.instance import prepare_dagster_home
from telcopulse.ports import PlannedPort, port_is_free, taken_port_messages
from telcopulse.runner import describe_running_up
from telcopulse.running_services import adopt_running_services
from telcopulse.state import InstanceLock, RunState, is_locked, read_state, running_state, write_state
from warehouse.db import redacted_url
from warehouse.settings import Settings, get_settings


def test_state_round_trips_with_mode_0600(tmp_path: Path) -> None:
    state = RunState.new(tmp_path, tmp_path / "logs" / "up.log")
    state.database_url = "postgresql://u:secret@h/db"
    state.urls = {"mcp": "http://127.0.0.1:8000/mcp"}
    write_state(tmp_path, state)
    path = tmp_path / "state.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_state(tmp_path) == state
    path.write_text("{not json")
    assert read_state(tmp_path) is None


def test_one_lock_per_data_dir(tmp_path: Path) -> None:
    first, second = InstanceLock(tmp_path), InstanceLock(tmp_path)
    assert not is_locked(tmp_path)
    assert first.acquire()
    assert is_locked(tmp_path)
    assert not second.acquire()
    first.release()
    assert not is_locked(tmp_path)
    assert second.acquire()
    second.release()


def test_a_state_file_without_its_lock_is_stale(tmp_path: Path) -> None:
    write_state(tmp_path, RunState.new(tmp_path, tmp_path / "up.log"))
    assert running_state(tmp_path) is None  # `up` was killed: the kernel dropped its lock
    lock = InstanceLock(tmp_path)
    assert lock.acquire()
    try:
        running = running_state(tmp_path)
        assert running is not None and running.pid == os.getpid()
    finally:
        lock.release()


def test_commands_use_a_running_up_only_for_urls_not_exported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = RunState.new(tmp_path, tmp_path / "up.log")
    state.database_url, state.redis_url = (
        "postgresql://postgres:@/telcopulse?host=/x/pg",
        "unix:///x/redis.sock",
    )
    write_state(tmp_path, state)
    for name in ("DATABASE_URL", "REDIS_URL"):
        # setenv first, so the URLs adopt_running_services exports are undone after the test
        # even where the variable was unset (delenv of an unset variable records nothing).
        monkeypatch.setenv(name, "unset")
        monkeypatch.delenv(name)
    assert adopt_running_services(Settings(data_dir=tmp_path)) is None  # not locked: nothing runs
    lock = InstanceLock(tmp_path)
    assert lock.acquire()
    try:
        note = adopt_running_services(Settings(data_dir=tmp_path, redis_url="redis://elsewhere:6379/0"))
        assert note == (
            f"using the PostgreSQL of the running `telcopulse up` (pid {os.getpid()}), from {tmp_path}/state.json"
        )
        assert os.environ["DATABASE_URL"] == state.database_url
        assert "REDIS_URL" not in os.environ  # the exported one wins
    finally:
        lock.release()
        monkeypatch.delenv("DATABASE_URL", raising=False)
        get_settings.cache_clear()


def test_taken_port_is_one_line_with_the_setting() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not port_is_free("127.0.0.1", port)
        messages = taken_port_messages(
            [
                PlannedPort("MCP server", "127.0.0.1", port, "TELCOPULSE_MCP_PORT"),
                PlannedPort("dbt docs", "127.0.0.1", port, "TELCOPULSE_DOCS_PORT", None),
            ]
        )
    assert messages == [
        f"port {port} on 127.0.0.1 is already in use, so the MCP server cannot start: stop what listens "
        "there, or pick another port with TELCOPULSE_MCP_PORT=<port> (or --port <port>)",
        f"port {port} on 127.0.0.1 is already in use, so the dbt docs cannot start: stop what listens "
        "there, or pick another port with TELCOPULSE_DOCS_PORT=<port>",
    ]
    assert port_is_free("127.0.0.1", port)


def test_second_up_message_names_pid_urls_and_next_commands(tmp_path: Path) -> None:
    state = RunState.new(tmp_path, tmp_path / "up.log")
    state.stage = "serving"
    state.urls = {"mcp": "http://127.0.0.1:8000/mcp", "dagster": "http://127.0.0.1:3000"}
    lines = describe_running_up(state, tmp_path)
    assert lines[0].startswith(
        f"error: `telcopulse up` is already running for {tmp_path.resolve()} (pid {os.getpid()}"
    )
    assert lines[1:] == [
        "  MCP server: http://127.0.0.1:8000/mcp",
        "  Dagster UI: http://127.0.0.1:3000",
        "  `telcopulse status` shows it, `telcopulse stop` stops it.",
    ]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:s3cret@db:5432/telcopulse", "postgresql://app:***@db:5432/telcopulse"),
        ("postgresql://postgres:@/telcopulse?host=/x/pg", "postgresql://postgres:@/telcopulse?host=/x/pg"),
        ("redis://:pw@cache:6379/0", "redis://:***@cache:6379/0"),
        ("unix:///x/redis.sock", "unix:///x/redis.sock"),
    ],
)
def test_urls_shown_to_people_hide_passwords(url: str, shown: str) -> None:
    assert redacted_url(url) == shown


@pytest.mark.parametrize("use_postgres", [False, True])
def test_dagster_instance_has_no_telemetry_and_no_community_pop_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_postgres: bool
) -> None:
    home = prepare_dagster_home(tmp_path, use_postgres=use_postgres)
    if use_postgres:
        monkeypatch.setenv("DAGSTER_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:9/none")
        import yaml

        settings = yaml.safe_load((home / "dagster.yaml").read_text())
        assert settings["nux"] == {"enabled": False} and settings["telemetry"] == {"enabled": False}
        return
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert instance.nux_enabled is False
        assert instance.telemetry_enabled is False
    finally:
        instance.dispose()
