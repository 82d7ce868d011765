"""Cursors come back from agents: anything but our own token is a named ValidationError."""

from __future__ import annotations

import base64
import json

import pytest

from mcp_server.errors import InputValidationError
from mcp_server.query.pagination import Cursor, decode_cursor


def token(payload: str) -> str:
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def test_a_cursor_round_trips() -> None:
    issued = Cursor(query="q1", offset=40, version="b:1").encode()
    assert decode_cursor(issued, query="q1", version="b:1") == 40


@pytest.mark.parametrize("offset", ["Infinity", "-Infinity", "NaN", "1.5", "true", '"40"', "null", "1e400"])
def test_offsets_that_are_not_integers_are_invalid(offset: str) -> None:
    bad = token(f'{{"q":"q1","o":{offset},"v":"b:1"}}')
    with pytest.raises(InputValidationError, match="cursor is not valid"):
        decode_cursor(bad, query="q1", version="b:1")


def test_a_negative_offset_is_invalid() -> None:
    bad = token(json.dumps({"q": "q1", "o": -1, "v": "b:1"}))
    with pytest.raises(InputValidationError, match="cursor is not valid"):
        decode_cursor(bad, query="q1", version="b:1")
