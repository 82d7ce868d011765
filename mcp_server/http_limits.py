"""HTTP hardening for `telcopulse serve --transport http`.

Two layers, each doing what only it can:

* `guarded_protocol(settings)`: a uvicorn (httptools) protocol that closes connections whose
  request headers do not arrive within `http_header_timeout` (slowloris), whose body does
  not arrive within `http_body_timeout`, or whose headers exceed 64 KiB (431), and that
  answers 503 (JSON-RPC error, Retry-After: 1, Connection: close) to the requests of
  connections beyond `http_max_connections_per_client` from one address or
  `http_max_connections` in total. uvicorn itself only times out idle keep-alive
  connections; header and body reads have no limit there.
* `McpRequestGuard`: ASGI middleware on /mcp. POST bodies are read and checked before the
  SDK sees them, so a wrong Content-Type is answered 415 (the SDK says 400), and bad JSON,
  batches and non-JSON-RPC bodies get a short JSON-RPC error instead of the SDK's parser
  and pydantic text. It also owns the request's `receive`, so it notices a client that
  disconnects mid-call and fires the request's `ClientLink` (see `mcp_server.abandon`).
  The SDK already answers 406 for an unacceptable Accept header with a clean message.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from functools import partial
from typing import Any, ClassVar

from mcp.server.transport_security import (
    DEFAULT_MAX_REQUEST_BODY_SIZE,
    TransportSecurityMiddleware,
    TransportSecuritySettings,
)
from mcp_types import jsonrpc_message_adapter
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mcp_server.abandon import ClientLink, current_link
from warehouse.settings import Settings

logger = logging.getLogger("telcopulse.http")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
SERVER_BUSY = -32000
MAX_HEADER_BYTES = 64 * 1024
JSON_CONTENT_TYPE = "application/json"
UNSUPPORTED_MEDIA_TYPE = "Unsupported Media Type: Content-Type must be application/json"


def jsonrpc_error_body(code: int, message: str) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}).encode()


def _raw_response(status: int, reason: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n{extra}\r\n"
    ).encode() + body


# --- connection layer -------------------------------------------------------------------


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """httptools protocol with header/body read deadlines and a per-address connection cap.

    Subclassed per server by `guarded_protocol` (class attributes hold the settings).
    """

    header_timeout: ClassVar[float] = 10.0
    body_timeout: ClassVar[float] = 30.0
    per_client: ClassVar[int | None] = None
    max_total: ClassVar[int | None] = None
    open_by_client: ClassVar[Counter[str]] = Counter()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._peer: str | None = None
        self._reading_headers = True
        self._header_bytes = 0
        self._over_cap: str | None = None  # why this connection's requests are refused

    # deadlines
    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, what, seconds)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, what: str, seconds: float) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        logger.info("closed a slow HTTP connection: %s not received within %g s", what, seconds)
        started = self.cycle is not None and self.cycle.response_started
        if (what == "request body" or self._header_bytes) and not started:
            body = jsonrpc_error_body(INVALID_REQUEST, f"Request Timeout: the {what} took too long")
            self.transport.write(_raw_response(408, "Request Timeout", body))
        self.transport.close()

    def _reject(self, status: int, reason: str, message: str) -> None:
        self._disarm()
        logger.info("rejected an HTTP request: %s", message)
        self.transport.write(_raw_response(status, reason, jsonrpc_error_body(INVALID_REQUEST, message)))
        self.transport.close()

    # asyncio.Protocol
    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._peer = self.client[0] if self.client else None
        if self._peer is not None:
            self.open_by_client[self._peer] += 1
            if self.per_client is not None and self.open_by_client[self._peer] > self.per_client:
                self._over_cap = "from your address"
        if self.max_total is not None and len(self.connections) > self.max_total:
            self._over_cap = "on the server"
        self._arm(self.header_timeout, "request headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._peer is not None:
            self.open_by_client[self._peer] -= 1
            if self.open_by_client[self._peer] <= 0:
                del self.open_by_client[self._peer]
            self._peer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._reading_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if (
            self._reading_headers
            and self._header_bytes > MAX_HEADER_BYTES
            and not self.transport.is_closing()
        ):
            self._reject(431, "Request Header Fields Too Large", "the request headers are too large")

    # httptools callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_headers = True
        self._header_bytes = 0
        if self._deadline is None:  # a keep-alive connection's next request
            self._arm(self.header_timeout, "request headers")

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._arm(self.body_timeout, "request body")
        if not self._over_cap:
            super().on_headers_complete()
            return
        logger.info("refused an HTTP request: too many open connections %s", self._over_cap)
        app, self.app = self.app, _too_many_connections(self._over_cap)
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()


def _too_many_connections(where: str) -> ASGIApp:
    message = f"Service Unavailable: too many open connections {where}; retry shortly"
    return partial(_service_unavailable, jsonrpc_error_body(SERVER_BUSY, message))


async def _service_unavailable(body: bytes, scope: Scope, receive: Receive, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"1"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def guarded_protocol(settings: Settings) -> type[GuardedHttpToolsProtocol]:
    """The protocol class for `uvicorn.run(http=...)`, configured from settings."""
    return type(
        "TelcopulseHttpProtocol",
        (GuardedHttpToolsProtocol,),
        {
            "header_timeout": float(settings.http_header_timeout),
            "body_timeout": float(settings.http_body_timeout),
            "per_client": settings.http_max_connections_per_client,
            "max_total": settings.http_max_connections,
            "open_by_client": Counter(),
        },
    )


# --- request layer ----------------------------------------------------------------------


class McpRequestGuard:
    """Checks POST /mcp bodies before the SDK and links the request to its client's presence."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        security: TransportSecuritySettings | None = None,
        path: str = "/mcp",
        max_body: int = DEFAULT_MAX_REQUEST_BODY_SIZE,
    ):
        self.app = app
        self.security = TransportSecurityMiddleware(security)
        self.path = path.rstrip("/")
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "POST":
            checked = await self._checked_body(scope, receive, send)
            if checked is None:
                return
            first: Message = {"type": "http.request", "body": checked, "more_body": False}
        else:
            # GET (the standalone SSE stream a 2025-era client opens for server-initiated
            # notifications) and DELETE carry no body, but the app still reads the request
            # message first: without it the SDK never answers, and the stream never opens.
            first = {"type": "http.request", "body": b"", "more_body": False}
        await self._run_linked(scope, receive, send, first)

    async def _checked_body(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body if it is one JSON-RPC message; otherwise answered here, and None.

        Host and Origin are checked first, as the SDK does (DNS-rebinding protection: 421/403).
        """
        refused = await self.security.validate_request(Request(scope), is_post=False)
        if refused is not None:
            await refused(scope, receive, send)
            return None
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
        if content_type != JSON_CONTENT_TYPE:
            await _answer(
                send, 415, INVALID_REQUEST, "Unsupported Media Type: Content-Type must be application/json"
            )
            return None
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the client left before its body arrived
            body += message.get("body", b"")
            if len(body) > self.max_body:
                await _answer(
                    send, 413, INVALID_REQUEST, f"Payload Too Large: the body exceeds {self.max_body} bytes"
                )
                return None
            if not message.get("more_body", False):
                break
        problem = _jsonrpc_problem(bytes(body))
        if problem is not None:
            code, text = problem
            await _answer(send, 400, code, text)
            return None
        return bytes(body)

    async def _run_linked(self, scope: Scope, receive: Receive, send: Send, first: Message | None) -> None:
        """Run the app with a ClientLink that fires if the client leaves before the answer ends."""
        link = ClientLink()
        finished = False

        async def tracked_send(message: Message) -> None:
            nonlocal finished
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = True
            await send(message)

        async def app_receive() -> Message:
            nonlocal first
            if first is not None:
                message, first = first, None
                return message
            await link.wait()
            return {"type": "http.disconnect"}

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    if not finished and link.fire():
                        logger.info("HTTP client disconnected before its answer; its tool call was stopped")
                    elif not finished:
                        logger.debug("HTTP client disconnected before the end of its response")
                    return

        token = current_link.set(link)
        watcher = asyncio.ensure_future(watch())
        try:
            await self.app(scope, app_receive, tracked_send)
        finally:
            finished = True
            current_link.reset(token)
            watcher.cancel()


async def _answer(send: Send, status: int, code: int, message: str) -> None:
    body = jsonrpc_error_body(code, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _jsonrpc_problem(body: bytes) -> tuple[int, str] | None:
    """(JSON-RPC code, message) for a body that is not one JSON-RPC message; None if it is."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return PARSE_ERROR, "Parse error: the request body is not valid JSON"
    if isinstance(value, list):
        return INVALID_REQUEST, (
            "Invalid Request: JSON-RPC batches are not supported; send one JSON-RPC message per POST"
        )
    if not isinstance(value, dict):
        return INVALID_REQUEST, "Invalid Request: the body must be a JSON-RPC 2.0 object"
    try:
        jsonrpc_message_adapter.validate_python(value, by_name=False)
    except ValidationError:
        return INVALID_REQUEST, (
            "Invalid Request: not a JSON-RPC 2.0 request, notification or response "
            '(needs "jsonrpc": "2.0" and a "method", or an "id" with a "result" or "error")'
        )
    return None
