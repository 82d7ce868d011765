"""Check the ports a command will serve on before it starts anything.

A server that finds its port taken after the refresh ran, or after its siblings
started, leaves a half-running platform; asking the kernel first turns that into
one line naming the port and the setting that moves it.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class PlannedPort:
    """A port a command is about to listen on, and how a person would move it."""

    service: str  # "MCP server", "Dagster UI", "dbt docs"
    host: str
    port: int
    setting: str  # environment variable, e.g. TELCOPULSE_MCP_PORT
    option: str | None = "--port"  # the command's own flag, None when it has none


def port_is_free(host: str, port: int) -> bool:
    """True when a server could listen on host:port now.

    SO_REUSEADDR mirrors what uvicorn and http.server set, so a socket in TIME_WAIT from
    a previous run does not count as taken, while a live listener does.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def taken_port_messages(planned: list[PlannedPort]) -> list[str]:
    """One actionable line per port that is already taken (empty when all are free)."""
    messages = []
    for item in planned:
        if not port_is_free(item.host, item.port):
            flag = f" (or {item.option} <port>)" if item.option else ""
            messages.append(
                f"port {item.port} on {item.host} is already in use, so the {item.service} cannot start: "
                f"stop what listens there, or pick another port with {item.setting}=<port>{flag}"
            )
    return messages
