"""The named errors every tool answers with.

An agent reads the error text and decides what to do next, so each error starts with a
stable name (`QueryError: ...`) and says what to change. Nothing from the driver, the
traceback or the server's internals goes into the message: tools raise these on purpose,
and anything else is reported by the SDK as a bare "Error executing tool <name>".
"""

from __future__ import annotations

from typing import ClassVar

from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError


class TelcopulseError(ToolError):
    """Base of the anticipated failures; `code` is the name the client sees first."""

    code: ClassVar[str] = "Error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        text = f"{self.code}: {message}"
        if hint:
            text += f" Hint: {hint}"
        super().__init__(text)


class InputValidationError(TelcopulseError):
    """Arguments are well-typed JSON but do not make sense (unknown column, bad cursor...)."""

    code = "ValidationError"


class QueryError(TelcopulseError):
    """The SQL was refused by the guard or failed in the database."""

    code = "QueryError"


class QueryTimeout(TelcopulseError):
    code = "TimeoutError"


class AuthError(TelcopulseError):
    code = "AuthError"


class Forbidden(TelcopulseError):
    code = "Forbidden"


class NotFound(TelcopulseError):
    code = "NotFound"


class SessionExpired(TelcopulseError):
    code = "SessionExpired"


class RateLimited(TelcopulseError):
    code = "RateLimited"


class NoData(TelcopulseError):
    """The warehouse has no rows yet for what was asked (a raw table not imported yet).

    Not a bad request and not an outage: the agent should tell the person which table to load.
    """

    code = "NoData"


class Unavailable(TelcopulseError):
    """A backing service (PostgreSQL, Redis) cannot be reached; retrying later may work."""

    code = "Unavailable"


class ResourceLookupError(ResourceNotFoundError):
    """A resource URI names something that does not exist (answered as invalid params)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"NotFound: {message}")


class ResourceUnavailable(ResourceError):
    def __init__(self, message: str) -> None:
        super().__init__(f"Unavailable: {message}")


def error_names() -> frozenset[str]:
    """Every `code` a tool call can fail with: the closed set metrics label outcomes from."""
    names: set[str] = set()
    pending: list[type[TelcopulseError]] = [TelcopulseError]
    while pending:
        kind = pending.pop()
        names.add(kind.code)
        pending.extend(kind.__subclasses__())
    return frozenset(names)
