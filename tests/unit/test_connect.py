"""The client commands and config snippets of telcopulse/connect.py, and `telcopulse connect`."""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from telcopulse import connect
from telcopulse.cli import app
from telcopulse.connect import (
    INSPECTOR_VERSION,
    NODE_MIN_VERSION,
    client_config,
    config_location,
    inspector_http_command,
    inspector_stdio_command,
    local_node_is_recent_enough,
    node_version_at_least,
)
from warehouse.settings import get_settings

BIN = Path("/opt/tp/.venv/bin/telcopulse")
DATA = Path("/opt/tp/.telcopulse")
URL = "http://127.0.0.1:8000/mcp"
URLS = {
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/telcopulse",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def test_pins() -> None:
    assert (INSPECTOR_VERSION, NODE_MIN_VERSION) == ("2.12.0", "22.19")
    assert connect.INSPECTOR_PACKAGE == "@modelcontextprotocol/inspector@2.12.0"


# ------------------------------------------------------------------ Inspector commands


def test_inspector_http_command() -> None:
    assert inspector_http_command(URL, "tp_abc_def") == (
        "npx -y @modelcontextprotocol/inspector@2.12.0 --cli http://127.0.0.1:8000/mcp "
        "--transport http --header 'X-API-Key: tp_abc_def' --method tools/list"
    )


def test_inspector_http_command_with_the_node_bridge() -> None:
    assert inspector_http_command(URL, "k", method="resources/list", node_bridge=True) == (
        "npx -y -p node@22 -p @modelcontextprotocol/inspector@2.12.0 mcp-inspector --cli "
        "http://127.0.0.1:8000/mcp --transport http --header 'X-API-Key: k' --method resources/list"
    )


def test_inspector_http_command_puts_the_url_before_the_variadic_header() -> None:
    argv = shlex.split(inspector_http_command(URL, "k"))
    assert argv.index(URL) < argv.index("--header")
    assert argv[argv.index("--header") + 2] == "--method"  # the header takes exactly one value


@pytest.mark.parametrize("key", ["a b", "it's", 'q"uote', "$HOME", "x;rm -rf /"])
def test_inspector_http_command_quotes_the_key_exactly(key: str) -> None:
    argv = shlex.split(inspector_http_command(URL, key))
    assert argv[argv.index("--header") + 1] == f"X-API-Key: {key}"


def test_inspector_stdio_command() -> None:
    command = inspector_stdio_command([str(BIN), "serve", "--transport", "stdio"], env=URLS)
    assert command == (
        "npx -y @modelcontextprotocol/inspector@2.12.0 --cli "
        "-e DATABASE_URL=postgresql://postgres@127.0.0.1:5432/telcopulse -e REDIS_URL=redis://127.0.0.1:6379/0 "
        "--method tools/list -- /opt/tp/.venv/bin/telcopulse serve --transport stdio"
    )


def test_inspector_stdio_command_keeps_every_inspector_flag_before_the_separator() -> None:
    argv = shlex.split(
        inspector_stdio_command(
            ["/a b/telcopulse", "serve", "--transport", "stdio"],
            method="prompts/list",
            env={"TELCOPULSE_DATA_DIR": "/d i r"},
            node_bridge=True,
        )
    )
    separator = argv.index("--")
    assert argv[separator + 1 :] == ["/a b/telcopulse", "serve", "--transport", "stdio"]
    before = argv[:separator]
    assert before[:7] == [
        "npx",
        "-y",
        "-p",
        "node@22",
        "-p",
        "@modelcontextprotocol/inspector@2.12.0",
        "mcp-inspector",
    ]
    assert before[7:] == ["--cli", "-e", "TELCOPULSE_DATA_DIR=/d i r", "--method", "prompts/list"]


def test_inspector_stdio_command_needs_a_server() -> None:
    with pytest.raises(ValueError, match="server_argv is empty"):
        inspector_stdio_command([])


# ------------------------------------------------------------------ local Node


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ("v20.20.2\n", False),
        ("v22.7.5", False),
        ("v22.18.9", False),
        ("v22.19.0", True),
        ("v22.23.3\n", True),
        ("v23.0.0", True),
        ("v100.1.0", True),
        ("", False),
        ("node: not a version", False),
    ],
)
def test_node_version_at_least(reported: str, expected: bool) -> None:
    assert node_version_at_least(reported, NODE_MIN_VERSION) is expected


def _fake_node(
    monkeypatch: pytest.MonkeyPatch, *, stdout: str = "", returncode: int = 0, error: Exception | None = None
):
    calls: list[list[str]] = []

    def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        if error is not None:
            raise error
        return subprocess.CompletedProcess(argv, returncode, stdout=stdout, stderr="")

    monkeypatch.setattr(connect.subprocess, "run", run)
    return calls


def test_local_node_is_recent_enough_asks_node(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_node(monkeypatch, stdout="v22.19.1\n")
    assert local_node_is_recent_enough() is True
    assert calls == [["node", "--version"]]


@pytest.mark.parametrize(
    ("stdout", "returncode", "error"),
    [
        ("v20.20.2\n", 0, None),
        ("v22.23.3\n", 1, None),
        ("", 0, FileNotFoundError("node")),
        ("", 0, subprocess.TimeoutExpired(["node"], 15)),
    ],
)
def test_local_node_is_not_recent_enough(
    monkeypatch: pytest.MonkeyPatch, stdout: str, returncode: int, error: Exception | None
) -> None:
    _fake_node(monkeypatch, stdout=stdout, returncode=returncode, error=error)
    assert local_node_is_recent_enough() is False


# ------------------------------------------------------------------ client snippets


def test_claude_desktop_stdio_with_urls() -> None:
    snippet = client_config("claude-desktop", telcopulse_bin=BIN, data_dir=DATA, env=URLS)
    assert json.loads(snippet) == {
        "mcpServers": {
            "telcopulse": {
                "command": "/opt/tp/.venv/bin/telcopulse",
                "args": ["serve", "--transport", "stdio"],
                "env": {
                    "TELCOPULSE_DATA_DIR": "/opt/tp/.telcopulse",
                    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/telcopulse",
                    "REDIS_URL": "redis://127.0.0.1:6379/0",
                },
            }
        }
    }


def test_stdio_env_has_the_data_dir_always_and_urls_only_when_given() -> None:
    snippet = client_config("cursor", telcopulse_bin=BIN, data_dir=DATA, env={"REDIS_URL": "redis://r:1/0"})
    server = json.loads(snippet)["mcpServers"]["telcopulse"]
    assert server["env"] == {"TELCOPULSE_DATA_DIR": "/opt/tp/.telcopulse", "REDIS_URL": "redis://r:1/0"}
    empty = client_config("cursor", telcopulse_bin=BIN, data_dir=DATA, env={"DATABASE_URL": ""})
    assert json.loads(empty)["mcpServers"]["telcopulse"]["env"] == {
        "TELCOPULSE_DATA_DIR": "/opt/tp/.telcopulse"
    }


def test_cursor_stdio_and_http() -> None:
    stdio = json.loads(client_config("cursor", telcopulse_bin=BIN, data_dir=DATA, env={}))
    assert stdio == {
        "mcpServers": {
            "telcopulse": {
                "command": "/opt/tp/.venv/bin/telcopulse",
                "args": ["serve", "--transport", "stdio"],
                "env": {"TELCOPULSE_DATA_DIR": "/opt/tp/.telcopulse"},
            }
        }
    }
    http = json.loads(
        client_config(
            "cursor", telcopulse_bin=BIN, data_dir=DATA, env={}, transport="http", url=URL, api_key="k1"
        )
    )
    assert http == {"mcpServers": {"telcopulse": {"url": URL, "headers": {"X-API-Key": "k1"}}}}


def test_claude_code_stdio_command() -> None:
    command = client_config("code", telcopulse_bin=BIN, data_dir=DATA, env=URLS)
    assert command == (
        "claude mcp add telcopulse -e TELCOPULSE_DATA_DIR=/opt/tp/.telcopulse "
        "-e DATABASE_URL=postgresql://postgres@127.0.0.1:5432/telcopulse -e REDIS_URL=redis://127.0.0.1:6379/0 "
        "-- /opt/tp/.venv/bin/telcopulse serve --transport stdio"
    )
    argv = shlex.split(command)
    # -e takes several values: the server name must come before the first -e, the command after --
    assert argv.index("telcopulse") < argv.index("-e") < argv.index("--")


def test_claude_code_stdio_command_quotes_paths_with_spaces() -> None:
    command = client_config(
        "code",
        telcopulse_bin=Path("/My Drive/tp/.venv/bin/telcopulse"),
        data_dir=Path("/My Drive/tp/.tp"),
        env={},
    )
    assert shlex.split(command) == [
        "claude",
        "mcp",
        "add",
        "telcopulse",
        "-e",
        "TELCOPULSE_DATA_DIR=/My Drive/tp/.tp",
        "--",
        "/My Drive/tp/.venv/bin/telcopulse",
        "serve",
        "--transport",
        "stdio",
    ]


def test_claude_code_http_command() -> None:
    command = client_config(
        "code", telcopulse_bin=BIN, data_dir=DATA, env={}, transport="http", url=URL, api_key="k 2"
    )
    assert (
        command
        == "claude mcp add --transport http telcopulse http://127.0.0.1:8000/mcp --header 'X-API-Key: k 2'"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"client": "claude-desktop", "transport": "http", "url": URL, "api_key": "k"}, "local servers only"),
        (
            {"client": "cursor", "transport": "http", "url": URL, "api_key": None},
            "needs the server URL and an API key",
        ),
        (
            {"client": "code", "transport": "http", "url": None, "api_key": "k"},
            "needs the server URL and an API key",
        ),
        ({"client": "vscode"}, "client must be one of claude-desktop, cursor, code"),
        ({"client": "cursor", "transport": "sse"}, "transport must be stdio or http"),
        (
            {"client": "cursor", "telcopulse_bin": Path(".venv/bin/telcopulse")},
            "telcopulse_bin must be an absolute",
        ),
        ({"client": "code", "data_dir": Path(".telcopulse")}, "data_dir must be an absolute"),
        ({"client": "cursor", "env": {"PGPASSWORD": "x"}}, "not PGPASSWORD"),
    ],
)
def test_client_config_refuses(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"telcopulse_bin": BIN, "data_dir": DATA, "env": {}, **kwargs}
    with pytest.raises(ValueError, match=message):
        client_config(**arguments)  # type: ignore[arg-type]


def test_config_locations() -> None:
    assert "~/.config/Claude/claude_desktop_config.json" in config_location("claude-desktop", macos=False)
    assert "~/Library/Application Support/Claude/claude_desktop_config.json" in config_location(
        "claude-desktop", macos=True
    )
    cursor = config_location("cursor", macos=False)
    assert ".cursor/mcp.json" in cursor and "~/.cursor/mcp.json" in cursor
    assert "claude mcp add --scope user" in config_location("code", macos=True)


# ------------------------------------------------------------------ `telcopulse connect`


@pytest.fixture()
def settings_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    get_settings.cache_clear()
    yield {
        "DATABASE_URL": "",
        "TELCOPULSE_DATABASE_URL": "",
        "REDIS_URL": "",
        "TELCOPULSE_REDIS_URL": "",
        "TELCOPULSE_DATA_DIR": str(tmp_path / "data"),
        "TELCOPULSE_MCP_HOST": "127.0.0.1",
        "TELCOPULSE_MCP_PORT": "8111",
    }
    get_settings.cache_clear()


def _connect(args: list[str], env: dict[str, str]):
    get_settings.cache_clear()
    return CliRunner().invoke(app, ["connect", *args], env=env)


def _venv_telcopulse() -> str:
    import sys

    return str(Path(sys.executable).parent.absolute() / "telcopulse")


def test_connect_claude_desktop(settings_env: dict[str, str], tmp_path: Path) -> None:
    result = _connect(["--client", "claude-desktop"], settings_env)
    assert result.exit_code == 0, result.output
    server = json.loads(result.stdout)["mcpServers"]["telcopulse"]
    assert server == {
        "command": _venv_telcopulse(),
        "args": ["serve", "--transport", "stdio"],
        "env": {"TELCOPULSE_DATA_DIR": str((tmp_path / "data").resolve())},
    }
    assert Path(server["command"]).is_absolute() and Path(server["command"]).exists()
    assert "claude_desktop_config.json" in result.stderr and "mcpServers" in result.stderr


def test_connect_passes_the_configured_urls(settings_env: dict[str, str], tmp_path: Path) -> None:
    env = {**settings_env, "DATABASE_URL": "postgresql://u@db:5432/w", "REDIS_URL": "redis://cache:6379/1"}
    result = _connect(["--client", "cursor"], env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["mcpServers"]["telcopulse"]["env"] == {
        "TELCOPULSE_DATA_DIR": str((tmp_path / "data").resolve()),
        "DATABASE_URL": "postgresql://u@db:5432/w",
        "REDIS_URL": "redis://cache:6379/1",
    }
    assert ".cursor/mcp.json" in result.stderr


def test_connect_relative_data_dir_becomes_absolute(settings_env: dict[str, str], tmp_path: Path) -> None:
    result = _connect(["--client", "code"], {**settings_env, "TELCOPULSE_DATA_DIR": "rel/data"})
    assert result.exit_code == 0, result.output
    argv = shlex.split(result.stdout)
    assert argv[:6] == [
        "claude",
        "mcp",
        "add",
        "telcopulse",
        "-e",
        f"TELCOPULSE_DATA_DIR={Path('rel/data').resolve()}",
    ]
    assert argv[6:] == ["--", _venv_telcopulse(), "serve", "--transport", "stdio"]
    assert "claude mcp list" in result.stderr


def test_connect_http(settings_env: dict[str, str]) -> None:
    cursor = _connect(["--client", "cursor", "--transport", "http", "--key", "tp_k"], settings_env)
    assert cursor.exit_code == 0, cursor.output
    assert json.loads(cursor.stdout) == {
        "mcpServers": {"telcopulse": {"url": "http://127.0.0.1:8111/mcp", "headers": {"X-API-Key": "tp_k"}}}
    }
    code = _connect(
        ["--client", "code", "--transport", "http", "--key", "tp_k", "--url", "https://mcp.example.com/mcp"],
        settings_env,
    )
    assert code.exit_code == 0, code.output
    assert code.stdout == (
        "claude mcp add --transport http telcopulse https://mcp.example.com/mcp --header 'X-API-Key: tp_k'\n"
    )


def test_connect_http_on_every_address_uses_loopback(settings_env: dict[str, str]) -> None:
    env = {**settings_env, "TELCOPULSE_MCP_HOST": "0.0.0.0"}
    result = _connect(["--client", "cursor", "--transport", "http", "--key", "k"], env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["mcpServers"]["telcopulse"]["url"] == "http://127.0.0.1:8111/mcp"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--client", "vscode"], "must be one of claude-desktop, cursor, code, got 'vscode'"),
        (["--client", "cursor", "--transport", "sse"], "must be stdio or http, got 'sse'"),
        (["--client", "cursor", "--transport", "http"], "--transport http needs an API key"),
        (["--client", "claude-desktop", "--transport", "http", "--key", "k"], "local servers only"),
        ([], "Missing option '--client'"),
    ],
)
def test_connect_refuses_bad_input(settings_env: dict[str, str], args: list[str], message: str) -> None:
    result = _connect(args, settings_env)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert message in " ".join(result.stderr.replace("│", " ").split())
    assert "Traceback" not in result.output
