"""Errors a command reports as one line: a named kind and a message a person can act on.

`telcopulse.cli.main` turns them into `Unavailable: …` on stderr and a non-zero exit,
so no traceback reaches the terminal for a problem the person can fix.
"""

from __future__ import annotations


class CommandError(Exception):
    """Base: `kind` names the problem the way the MCP tools name theirs."""

    kind = "Error"
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


class Unavailable(CommandError):
    """A service the command needs (PostgreSQL, Redis) is not there or not answering."""

    kind = "Unavailable"


class NotRunning(CommandError):
    """The command acts on a running `telcopulse up`, and none runs."""

    kind = "NotRunning"
    exit_code = 3
