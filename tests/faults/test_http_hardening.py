"""HTTP hardening of `telcopulse serve --transport http`: slow clients are cut off, one address
cannot hold every connection, and malformed requests get short, clean answers.

Per-client cap: a connection beyond `TELCOPULSE_HTTP_MAX_CONNECTIONS_PER_CLIENT` is accepted,
and its request answered 503 (JSON-RPC error, Retry-After: 1, Connection: close), which a
client can tell apart from an outage. Timing: deadlines are checked by "the server closed
the socket", with generous limits, never by how long it took.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.faults.http_clients import (
    MCP_ACCEPT,
    Served,
    closed_by_server,
    connect,
    read_answer,
    request_bytes,
    serve,
)
from tests.integration.mcp_helpers import INITIALIZE, error_text, keyed_client, structured

pytestmark = pytest.mark.integration

GENEROUS_S = 60  # how long the tests wait for the server to close a slow connection (2 s deadlines)
LEAKS = ("Traceback", "pydantic", "validation error", "line 1 column", "Expecting", "input_value", "errors.")


@pytest.fixture(scope="module")
def slow_cutoff(run_database_url, redis_url, tmp_path_factory) -> Iterator[Served]:
    with serve(
        run_database_url,
        redis_url,
        tmp_path_factory.mktemp("http-slow"),
        TELCOPULSE_HTTP_HEADER_TIMEOUT="2",
        TELCOPULSE_HTTP_BODY_TIMEOUT="2",
    ) as server:
        yield server


@pytest.fixture(scope="module")
def capped(run_database_url, redis_url, tmp_path_factory) -> Iterator[Served]:
    with serve(
        run_database_url,
        redis_url,
        tmp_path_factory.mktemp("http-capped"),
        TELCOPULSE_HTTP_MAX_CONNECTIONS_PER_CLIENT="3",
    ) as server:
        yield server


@pytest.fixture(scope="module")
def total_capped(run_database_url, redis_url, tmp_path_factory) -> Iterator[Served]:
    with serve(
        run_database_url,
        redis_url,
        tmp_path_factory.mktemp("http-total"),
        TELCOPULSE_HTTP_MAX_CONNECTIONS="4",
    ) as server:
        yield server


def _assert_clean(text: str) -> None:
    for leak in LEAKS:
        assert leak not in text, text


# --- slow clients -----------------------------------------------------------------------


def test_a_silent_connection_is_closed(slow_cutoff):
    sock = connect(slow_cutoff)
    try:
        closed, received = closed_by_server(sock, GENEROUS_S)
    finally:
        sock.close()
    assert closed
    assert received == b""  # nothing was asked, nothing is answered


def test_slow_headers_are_cut_off(slow_cutoff):
    """Slowloris: a header line every 0.5 s, never finishing; the server closes with 408."""
    sock = connect(slow_cutoff)
    received = b""
    closed = False
    try:
        sock.sendall(f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{slow_cutoff.port}\r\n".encode())
        deadline = time.monotonic() + GENEROUS_S
        index = 0
        while time.monotonic() < deadline:
            try:
                sock.sendall(f"X-Slow-{index}: a\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            index += 1
            closed, received = closed_by_server(sock, 0.5)
            if closed:
                break
    finally:
        sock.close()
    print("slow headers answered:", received[:40])
    assert closed
    if received:  # the 408 may be lost to a reset when the client was mid-write
        assert received.startswith(b"HTTP/1.1 408 ")


def test_a_slow_body_is_cut_off(slow_cutoff):
    body = json.dumps(INITIALIZE).encode()
    headers = {"Content-Type": "application/json", "Accept": MCP_ACCEPT}
    sock = connect(slow_cutoff)
    try:
        sock.sendall(request_bytes(slow_cutoff, body, headers=headers)[: -len(body) + 10])
        closed, received = closed_by_server(sock, GENEROUS_S)
    finally:
        sock.close()
    assert closed
    assert received.startswith(b"HTTP/1.1 408 ")
    answer = json.loads(received.split(b"\r\n\r\n", 1)[1])
    assert answer["error"]["message"] == "Request Timeout: the request body took too long"


def test_a_prompt_client_is_not_affected(slow_cutoff):
    """Deadlines apply to reading a request, not to a keep-alive connection's later requests."""
    with httpx.Client(timeout=30) as http:
        for _ in range(3):
            assert http.get(f"http://127.0.0.1:{slow_cutoff.port}/healthz").status_code == 200
    _assert_log_quiet(slow_cutoff)


# --- connection caps --------------------------------------------------------------------


def test_connections_beyond_the_per_client_cap_get_503(capped):
    held = [connect(capped) for _ in range(3)]
    try:
        for sock in held:  # each holds its connection open, mid-request
            sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{capped.port}\r\n".encode())
        time.sleep(0.2)  # let the server accept them (the count is taken at accept)
        extra = connect(capped)
        try:
            extra.sendall(request_bytes(capped, None, method="GET", path="/healthz"))
            answer = read_answer(extra)
        finally:
            extra.close()
        assert answer.status == 503
        assert answer.headers["retry-after"] == "1"
        assert answer.headers["connection"] == "close"
        assert answer.json()["error"] == {
            "code": -32000,
            "message": "Service Unavailable: too many open connections from your address; retry shortly",
        }
    finally:
        for sock in held:
            sock.close()
    # Once they are closed, the same address is served again.
    deadline = time.monotonic() + GENEROUS_S
    while True:
        status = httpx.get(f"http://127.0.0.1:{capped.port}/healthz", timeout=30).status_code
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == 200


def test_connections_beyond_the_total_cap_get_503(total_capped):
    held = [connect(total_capped) for _ in range(4)]
    try:
        for sock in held:
            sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{total_capped.port}\r\n".encode())
        time.sleep(0.2)
        extra = connect(total_capped)
        try:
            extra.sendall(request_bytes(total_capped, None, method="GET", path="/healthz"))
            answer = read_answer(extra)
        finally:
            extra.close()
        assert answer.status == 503
        assert answer.json()["error"]["message"] == (
            "Service Unavailable: too many open connections on the server; retry shortly"
        )
    finally:
        for sock in held:
            sock.close()


async def test_a_real_mcp_client_works_through_the_guards(capped):
    async with keyed_client(capped.url, capped.key) as client:
        assert (await client.list_tools()).tools
        result = structured(await client.call_tool("query_database", {"query": "SELECT 1 AS one"}))
        assert result["rows"] == [{"one": 1}]
        bad = await client.call_tool("query_database", {"query": "SELECT pg_sleep(1)"})
        assert bad.is_error and error_text(bad).startswith("QueryError: ")


# --- malformed requests -----------------------------------------------------------------


def _post(server: Served, content: bytes, **headers: str) -> httpx.Response:
    base = {"Content-Type": "application/json", "Accept": MCP_ACCEPT, "X-API-Key": server.key}
    return httpx.post(server.url, content=content, headers=base | headers, timeout=30)


def _error(response: httpx.Response) -> dict:
    assert response.headers["content-type"].startswith("application/json")
    _assert_clean(response.text)
    answer = response.json()
    assert answer["jsonrpc"] == "2.0" and answer["id"] is None
    return answer["error"]


def test_a_wrong_content_type_is_415(capped):
    response = _post(capped, json.dumps(INITIALIZE).encode(), **{"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert _error(response)["message"] == "Unsupported Media Type: Content-Type must be application/json"


def test_a_missing_accept_is_406(capped):
    response = _post(capped, json.dumps(INITIALIZE).encode(), Accept="text/html")
    assert response.status_code == 406
    assert _error(response)["message"].startswith("Not Acceptable: Client must accept")


def test_bad_json_is_a_clean_parse_error(capped):
    response = _post(capped, b'{"jsonrpc": "2.0", "id": 1, "method": ')
    assert response.status_code == 400
    error = _error(response)
    assert error == {"code": -32700, "message": "Parse error: the request body is not valid JSON"}


def test_a_batch_is_refused_cleanly(capped):
    response = _post(capped, json.dumps([INITIALIZE, INITIALIZE]).encode())
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == -32600
    assert error["message"].startswith("Invalid Request: JSON-RPC batches are not supported")


@pytest.mark.parametrize(
    "body", [b'{"hello": "world"}', b'"just a string"', b'{"jsonrpc": "1.0", "id": 1, "method": "x"}']
)
def test_a_non_jsonrpc_body_is_refused_cleanly(capped, body):
    response = _post(capped, body)
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == -32600
    assert error["message"].startswith("Invalid Request: ")


def test_checks_come_after_authentication(capped):
    response = httpx.post(
        capped.url, content=b"{", headers={"Content-Type": "text/plain", "Accept": MCP_ACCEPT}, timeout=30
    )
    assert response.status_code == 401


def test_oversized_headers_are_431(capped):
    sock = connect(capped)
    try:
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{capped.port}\r\n".encode())
        try:
            for index in range(200):
                sock.sendall(f"X-Big-{index}: {'a' * 1000}\r\n".encode())
        except (BrokenPipeError, ConnectionResetError):
            pass
        closed, received = closed_by_server(sock, GENEROUS_S)
    except (OSError, BrokenPipeError, ConnectionResetError):
        closed, received = True, b""
    finally:
        sock.close()
    print("big headers answered:", received[:40])
    assert closed
    if received:
        assert received.startswith(b"HTTP/1.1 431 ")
    _assert_log_quiet(capped)


def _assert_log_quiet(server: Served) -> None:
    lines = server.log_path.read_text().splitlines()
    assert not [line for line in lines if "Traceback" in line or '"level": "ERROR"' in line], lines[-20:]
