"""Opaque, stateless cursors: any replica can serve the next page.

A cursor names the query (fingerprint), the offset and the data version it was made
under. A refresh in between would shift rows between pages, so an old cursor is refused
with a clear message instead of silently skipping or repeating rows.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from mcp_server.errors import InputValidationError


@dataclass(frozen=True)
class Cursor:
    query: str
    offset: int
    version: str

    def encode(self) -> str:
        payload = json.dumps({"q": self.query, "o": self.offset, "v": self.version}, separators=(",", ":"))
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(token: str, *, query: str, version: str) -> int:
    """The offset the cursor points at, after checking it belongs to this query and data."""
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset = payload["o"]
        if not isinstance(offset, int) or isinstance(offset, bool):  # JSON allows 1.5, Infinity, true
            raise TypeError("offset is not an integer")
        cursor = Cursor(query=str(payload["q"]), offset=offset, version=str(payload["v"]))
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InputValidationError(
            "cursor is not valid", hint="pass next_cursor exactly as returned by the previous page"
        ) from None
    if cursor.query != query:
        raise InputValidationError(
            "cursor belongs to a different query", hint="send the same query and parameters with it"
        )
    if cursor.version != version:
        raise InputValidationError(
            "the data was refreshed since this cursor was issued",
            hint="run the query again without a cursor to page through the new data",
        )
    if cursor.offset < 0:
        raise InputValidationError("cursor is not valid")
    return cursor.offset
