"""HTTPS: `telcopulse serve --transport http --ssl-certfile/--ssl-keyfile` with a self-signed
certificate. A client that trusts the certificate gets the MCP surface; plain HTTP to the same
port and a client that does not trust it get nothing."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.integration.conftest import TELCOPULSE
from tests.integration.mcp_helpers import (
    INITIALIZE,
    MCP_HEADERS,
    free_port,
    keyed_client,
    make_keys,
    running_server,
    server_env,
    structured,
)

INIT = INITIALIZE
HEADERS = MCP_HEADERS


def write_self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1; the key file is private (0600)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


@dataclass
class TlsServer:
    port: int
    key: str
    cert_path: Path
    key_path: Path
    context: ssl.SSLContext

    def url(self, host: str = "127.0.0.1", scheme: str = "https", path: str = "/mcp") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


@pytest.fixture(scope="module")
def tls_server(pipeline, redis_url, tmp_path_factory) -> Iterator[TlsServer]:
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = write_self_signed(directory)
    keys_file = directory / "api_keys.jsonl"
    keys, _ = make_keys(keys_file, {"tls-alice": "analyst"})
    env = server_env(pipeline.database_url, redis_url, directory, TELCOPULSE_API_KEYS_FILE=str(keys_file))
    port = free_port()
    args = [
        TELCOPULSE,
        "serve",
        "--transport",
        "http",
        "--port",
        str(port),
        "--ssl-certfile",
        str(cert_path),
        "--ssl-keyfile",
        str(key_path),
    ]
    context = ssl.create_default_context(cafile=str(cert_path))
    server = TlsServer(port, keys["tls-alice"], cert_path, key_path, context)
    with running_server(args, env, server.url(path="/healthz"), verify=context):
        yield server


def test_the_private_key_file_is_private(tls_server):
    assert stat.S_IMODE(tls_server.key_path.stat().st_mode) == 0o600


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_health_over_https_with_the_certificate_trusted(tls_server, host):
    response = httpx.get(tls_server.url(host, path="/healthz"), verify=tls_server.context, timeout=10)
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert response.url.scheme == "https"


async def test_mcp_client_over_https(tls_server):
    # The client's own HTTP client, closed afterwards: a TLS connection left open would keep
    # the server's graceful shutdown waiting.
    headers = {"X-API-Key": tls_server.key}
    async with (
        httpx2.AsyncClient(headers=headers, verify=tls_server.context, timeout=30) as http,
        Client(streamable_http_client(tls_server.url(), http_client=http), read_timeout_seconds=60) as client,
    ):
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert {"list_marts", "query_mart", "query_database"} <= tools
        marts = structured(await client.call_tool("list_marts", {}))["marts"]
    assert "dim_customers" in {mart["name"] for mart in marts}


def test_https_still_demands_an_api_key(tls_server):
    response = httpx.post(tls_server.url(), headers=HEADERS, json=INIT, verify=tls_server.context, timeout=10)
    assert response.status_code == 401 and response.json()["error"]["data"] == {"error": "AuthError"}
    ok = httpx.post(
        tls_server.url(),
        headers={**HEADERS, "X-API-Key": tls_server.key},
        json=INIT,
        verify=tls_server.context,
        timeout=10,
    )
    assert ok.status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/mcp"])
def test_plain_http_to_the_tls_port_gets_no_answer(tls_server, path):
    with pytest.raises(httpx.HTTPError):
        response = httpx.post(
            tls_server.url(scheme="http", path=path),
            headers={**HEADERS, "X-API-Key": tls_server.key},
            json=INIT,
            timeout=10,
        )
        pytest.fail(f"plain HTTP was answered: {response.status_code} {response.text[:200]!r}")


def _chain(error: BaseException) -> str:
    """The text of an error, its causes and (for exception groups) its members."""
    parts, seen, todo = [], set(), [error]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {current}")
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
        todo += list(getattr(current, "exceptions", ()))
    return "\n".join(parts)


def test_a_client_without_the_certificate_is_refused(tls_server):
    with pytest.raises(httpx.ConnectError) as caught:
        httpx.get(tls_server.url(path="/healthz"), verify=True, timeout=10)
    assert "CERTIFICATE_VERIFY_FAILED" in _chain(caught.value)


async def test_an_mcp_client_without_the_certificate_is_refused(tls_server):
    with pytest.raises(BaseException) as caught:  # the transport wraps the TLS error
        async with keyed_client(tls_server.url(), tls_server.key, read_timeout_seconds=10) as client:
            await client.list_tools()
    assert "CERTIFICATE_VERIFY_FAILED" in _chain(caught.value), _chain(caught.value)


def test_a_certificate_for_another_name_is_refused(tls_server):
    # Trusting the certificate is not enough: it must name the host asked for.
    with (
        httpx.Client(verify=tls_server.context, timeout=10) as client,
        pytest.raises(httpx.ConnectError) as caught,
    ):
        client.get(tls_server.url(path="/healthz"), extensions={"sni_hostname": "mcp.example.com"})
    text = _chain(caught.value)
    assert "CERTIFICATE_VERIFY_FAILED" in text and "mismatch" in text.lower(), text
