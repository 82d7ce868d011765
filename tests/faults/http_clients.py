"""Raw-socket HTTP helpers for the HTTP-hardening and abandoned-query fault tests.

The clients here misbehave on purpose (stall mid-header, drop the connection mid-call), which
is why they speak HTTP/1.1 over a plain socket instead of through an HTTP library.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.conftest import TELCOPULSE
from tests.integration.mcp_helpers import (
    INITIALIZE,
    free_port,
    make_keys,
    running_server,
    server_env,
)


@dataclass
class Served:
    host: str
    port: int
    key: str
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/mcp"


@contextmanager
def serve(database_url: str, redis_url: str, data_dir: Path, **extra_env: str) -> Iterator[Served]:
    """`telcopulse serve --transport http` with one analyst key and the given TELCOPULSE_* settings."""
    keys_file = data_dir / "api_keys.jsonl"
    keys, _ids = make_keys(keys_file, {"alice": "analyst"})
    env = server_env(database_url, redis_url, data_dir, TELCOPULSE_API_KEYS_FILE=str(keys_file), **extra_env)
    port = free_port()
    log_path = data_dir / "server.log"
    args = [TELCOPULSE, "serve", "--transport", "http", "--port", str(port)]
    with running_server(args, env, f"http://127.0.0.1:{port}/healthz", log_path=log_path):
        yield Served("127.0.0.1", port, keys["alice"], log_path)


def request_bytes(
    served: Served,
    body: bytes | None,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    path: str = "/mcp",
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {served.host}:{served.port}", f"X-API-Key: {served.key}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def connect(served: Served, timeout: float = 30) -> socket.socket:
    sock = socket.create_connection((served.host, served.port), timeout=timeout)
    return sock


def closed_by_server(sock: socket.socket, within: float) -> tuple[bool, bytes]:
    """Read until EOF (or reset); (True, bytes read) if the server closed within `within` seconds."""
    sock.settimeout(0.5)
    received = b""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True, received
        if not chunk:
            return True, received
        received += chunk
    return False, received


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def read_answer(sock: socket.socket, timeout: float = 30) -> HttpAnswer:
    """One HTTP/1.1 response with a Content-Length (or ended by the connection closing)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    return HttpAnswer(status, headers, rest)


MCP_ACCEPT = "application/json, text/event-stream"


def open_session(served: Served) -> str:
    """initialize + notifications/initialized over raw HTTP; returns the Mcp-Session-Id."""
    import httpx

    headers = {"Content-Type": "application/json", "Accept": MCP_ACCEPT, "X-API-Key": served.key}
    with httpx.Client(timeout=30) as http:
        response = http.post(served.url, headers=headers, json=INITIALIZE)
        assert response.status_code == 200, response.text
        session = response.headers.get("mcp-session-id", "")
        headers |= {"Mcp-Protocol-Version": INITIALIZE["params"]["protocolVersion"]}
        if session:
            headers["Mcp-Session-Id"] = session
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert http.post(served.url, headers=headers, json=note).status_code == 202
    return session


def session_headers(session: str) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "Accept": MCP_ACCEPT,
        "Mcp-Protocol-Version": INITIALIZE["params"]["protocolVersion"],
    }
    if session:
        headers["Mcp-Session-Id"] = session
    return headers
