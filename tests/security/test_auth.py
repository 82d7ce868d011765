"""Who gets in over HTTP: only holders of a valid, unrevoked key, sent in a header."""

from __future__ import annotations

import hmac

import httpx
import pytest
from mcp import MCPError
from mcp_types import INVALID_REQUEST

from mcp_server.security.api_keys import store as api_keys
from mcp_server.security.api_keys.file_store import FileKeyStore
from tests.integration.mcp_helpers import INITIALIZE, MCP_HEADERS, keyed_client, structured

INIT = INITIALIZE
HEADERS = MCP_HEADERS
MISSING = "missing API key: send it in the X-API-Key header (or Authorization: Bearer)"
INVALID = "invalid, expired or revoked API key; ask an admin for a new one"


def _refusal(message: str) -> dict:
    """The 401 body: a JSON-RPC error, the one non-2xx body the MCP SDK clients read."""
    return {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": INVALID_REQUEST, "message": message, "data": {"error": "AuthError"}},
    }


def _post(url: str, headers: dict[str, str], *, params: dict | None = None) -> httpx.Response:
    return httpx.post(url, headers={**HEADERS, **headers}, params=params, json=INIT, timeout=10)


def test_no_key_is_401_with_a_clear_message(mcp_http):
    response = _post(mcp_http.url, {})
    assert response.status_code == 401
    assert response.json() == _refusal(MISSING)
    assert response.headers["www-authenticate"] == (
        'Bearer realm="telcopulse", error="invalid_request", error_description="missing API key:'
        ' send it in the X-API-Key header (or Authorization: Bearer)"'
    )


@pytest.mark.parametrize(
    "key",
    [
        "nonsense",
        "tp_000000000000_" + "x" * 43,  # well-formed, unknown id
        "tp_" + "0" * 12,
        "x" * 10_000,  # very long
        "tp_abc_def",
    ],
)
def test_wrong_keys_are_401(mcp_http, key):
    response = _post(mcp_http.url, {"X-API-Key": key})
    assert response.status_code == 401 and response.json() == _refusal(INVALID)
    # Clients that show only the challenge (OAuth-minded ones) still get the person's words.
    assert response.headers["www-authenticate"] == (
        'Bearer realm="telcopulse", error="invalid_token",'
        ' error_description="invalid, expired or revoked API key; ask an admin for a new one"'
    )


@pytest.mark.parametrize(("key", "reason"), [("tp_000000000000_" + "x" * 43, INVALID), (None, MISSING)])
async def test_the_python_sdk_raises_the_servers_reason(mcp_http, key, reason):
    """The official client, used directly: a refusal is an MCPError whose message is the reason.

    mcp 2.3.0 (mcp/client/streamable_http.py, _handle_post_request) turns a non-2xx answer into
    the JSON-RPC error in its body if there is one, else into "Server returned an error response";
    the error comes out of the SDK's task groups wrapped in ExceptionGroups.
    """
    refused = pytest.RaisesExc(
        MCPError, check=lambda e: e.message == reason and e.data == {"error": "AuthError"}
    )
    with pytest.RaisesGroup(refused, flatten_subgroups=True):
        async with keyed_client(mcp_http.url, key) as client:
            await client.list_tools()


def test_a_valid_key_with_a_wrong_secret_is_401(mcp_http):
    key = mcp_http.keys["alice"]
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert _post(mcp_http.url, {"X-API-Key": tampered}).status_code == 401


def test_key_in_the_query_string_is_not_accepted(mcp_http):
    key = mcp_http.keys["alice"]
    for name in ("api_key", "key", "apikey", "X-API-Key"):
        assert _post(mcp_http.url, {}, params={name: key}).status_code == 401


@pytest.mark.parametrize("header", ["X-API-Key", "x-api-key", "X-Api-Key", "X-API-KEY"])
def test_header_name_case_does_not_matter(mcp_http, header):
    assert _post(mcp_http.url, {header: mcp_http.keys["alice"]}).status_code == 200


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_authorization_bearer_is_accepted(mcp_http, scheme):
    assert _post(mcp_http.url, {"Authorization": f"{scheme} {mcp_http.keys['alice']}"}).status_code == 200


def test_other_authorization_schemes_are_not(mcp_http):
    assert _post(mcp_http.url, {"Authorization": f"Basic {mcp_http.keys['alice']}"}).status_code == 401


def test_health_needs_no_key(mcp_http):
    assert httpx.get(mcp_http.url.replace("/mcp", "/healthz"), timeout=5).status_code == 200


async def test_revoked_key_is_refused(mcp_http):
    store = FileKeyStore(mcp_http.keys_file)
    key, record = store.create("temp-analyst", "analyst")
    async with keyed_client(mcp_http.url, key) as client:
        assert structured(await client.call_tool("list_marts", {}))["marts"]
    revoked, revoked_record = store.create("temp-analyst-2", "analyst")
    store.revoke(revoked_record.key_id)
    # The server re-reads the key file when it changes; a success is cached for at most 30 s,
    # so a key revoked before its first use is refused at once.
    assert _post(mcp_http.url, {"X-API-Key": revoked}).status_code == 401
    store.revoke(record.key_id)


def test_verification_uses_a_constant_time_compare(tmp_path, monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(api_keys.hmac, "compare_digest", spy)
    store = FileKeyStore(tmp_path / "keys.jsonl")
    key, _ = store.create("someone", "viewer")
    assert store.verify(key) is not None
    assert store.verify(key[:-2] + "zz") is None
    assert len(calls) >= 2


def test_keys_are_stored_hashed(mcp_http):
    text = mcp_http.keys_file.read_text()
    for key in mcp_http.keys.values():
        secret = key.split("_", 2)[2]
        assert secret not in text and key not in text
