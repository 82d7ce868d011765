"""API-key authentication for the HTTP transport, as pure ASGI (safe for SSE streams).

Runs before the MCP layer sees a byte: no key or a bad key ends the request with 401 and
a JSON body saying what to send. Keys are accepted in `X-API-Key` or `Authorization:
Bearer`, never in the URL (URLs end up in proxy and access logs). Every attempt is logged
with the key id (the public part of a key), never the key.

The body is a JSON-RPC error (the shape the MCP SDK's own transport uses for its 4xx answers):
the official Python client reads a JSON-RPC error from a non-2xx body and raises it as
`MCPError(message)`; any other body becomes "Server returned an error response".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from mcp_types import INVALID_REQUEST

from mcp_server.security.api_keys.store import KeyStoreError, KeyStoreUnavailable
from mcp_server.security.identity import Principal, key_id_of

logger = logging.getLogger("telcopulse.auth")

Verify = Callable[[str], Awaitable[Principal | None]]
MAX_HEADER_CHARS = 512
UNAVAILABLE_RETRY_AFTER_S = 5


async def _reject(
    send: Callable[[dict[str, Any]], Awaitable[None]],
    message: str,
    *,
    status: int = 401,
    error: str = "AuthError",
    bearer_error: str = "invalid_token",
    retry_after: int | None = None,
) -> None:
    body = json.dumps(error_body(message, error)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", challenge(bearer_error, message)))
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def error_body(message: str, error: str) -> dict[str, Any]:
    """`{"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": ..., "data": {"error": ...}}}`.

    `id` is null: the request was refused before its body was read.
    """
    return {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": INVALID_REQUEST, "message": message, "data": {"error": error}},
    }


def challenge(bearer_error: str, description: str) -> bytes:
    """An RFC 6750 challenge whose error_description carries the same words as the JSON body.

    Clients that never show a 401's body (an OAuth-minded client reads only this header)
    still get a message a person can act on.
    """
    quoted = description.replace("\\", "\\\\").replace('"', '\\"')
    value = f'Bearer realm="telcopulse", error="{bearer_error}", error_description="{quoted}"'
    return value.encode("ascii", "replace")


def presented_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The key from X-API-Key, else from a Bearer Authorization header (names case-insensitive)."""
    api_key = bearer = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"x-api-key":
            api_key = value
        elif lowered == b"authorization" and value[:7].lower() == b"bearer ":
            bearer = value[7:]
    raw = api_key if api_key is not None else bearer
    if raw is None:
        return None
    return raw.decode("latin-1").strip()


class ApiKeyMiddleware:
    def __init__(
        self,
        app: Any,
        verify: Verify,
        *,
        exempt_paths: tuple[str, ...] = ("/healthz",),
        exempt_prefixes: tuple[str, ...] = (),
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.app = app
        self.verify = verify
        # Told the reason of each refusal (missing_key, invalid_key, store_unavailable): metrics.
        self.on_failure = on_failure or (lambda _reason: None)
        self.exempt_paths = exempt_paths
        # Paths that carry their own proof instead of a key (signed export links).
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in self.exempt_paths or path.startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        key = presented_key(scope.get("headers", []))
        if not key:
            logger.info("auth rejected: no key", extra={"outcome": "AuthError"})
            self.on_failure("missing_key")
            await _reject(
                send,
                "missing API key: send it in the X-API-Key header (or Authorization: Bearer)",
                bearer_error="invalid_request",
            )
            return
        try:
            principal = await self.verify(key) if len(key) <= MAX_HEADER_CHARS else None
        except KeyStoreUnavailable as exc:
            # The store is down and this key was not verified recently (recent ones are
            # answered from memory): the key may well be valid, so 503 + Retry-After, not 401.
            logger.info(
                "auth deferred: key store unavailable",
                extra={"outcome": "Unavailable", "key_id": key_id_of(key)},
            )
            self.on_failure("store_unavailable")
            await _reject(send, str(exc), status=503, error="Unavailable", retry_after=exc.retry_after)
            return
        except Exception as exc:  # a broken key store is an outage, not a bad key
            # KeyStoreError messages are written to be loggable (no keys, hashes or lines).
            detail = f": {exc}" if isinstance(exc, KeyStoreError) else ""
            logger.error("key store unusable: %s%s", type(exc).__name__, detail)
            self.on_failure("store_unavailable")
            await _reject(
                send,
                f"cannot check API keys right now; retry in {UNAVAILABLE_RETRY_AFTER_S} s",
                status=503,
                error="Unavailable",
                retry_after=UNAVAILABLE_RETRY_AFTER_S,
            )
            return
        if principal is None:
            logger.info(
                "auth rejected: invalid key", extra={"outcome": "AuthError", "key_id": key_id_of(key)}
            )
            self.on_failure("invalid_key")
            await _reject(send, "invalid, expired or revoked API key; ask an admin for a new one")
            return
        # Successes are logged per tool call (with the key id) and audited; a line per HTTP
        # request here cost ~30% of throughput under load, so it is DEBUG.
        logger.debug("auth ok", extra={"outcome": "ok", "key_id": principal.key_id, "role": principal.role})
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
