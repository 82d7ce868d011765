"""export_result: whole results as files behind exports://<id>, exactly, privately, for a while,
streamed rather than held in memory."""

from __future__ import annotations

import asyncio
import base64
import csv
import hashlib
import io
import tracemalloc
import zipfile

import pyarrow.parquet as pq
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from mcp_server.app import build_server
from mcp_server.security.identity import Principal
from tests.integration.mcp_helpers import (
    error_text,
    keyed_client,
    make_keys,
    mcp_settings,
    server_env,
    serving_http,
    structured,
)
from tests.private_services import PrivateS3
from warehouse.db import connect

pytestmark = pytest.mark.integration


ROWS = 200_000
QUERY = (
    "SELECT g AS n, md5(g::text) AS h, (g * 1.5)::numeric(12, 2) AS amount, DATE '2026-01-01' + g % 365 AS day "
    f"FROM generate_series(1, {ROWS}) AS g ORDER BY g"
)
ALICE = Principal(key_id="aaaaaaaaaaaa", name="alice", role="analyst")
BOB = Principal(key_id="bbbbbbbbbbbb", name="bob", role="analyst")


@pytest.fixture()
def settings(pipeline, redis_url, tmp_path):
    return mcp_settings(pipeline.database_url, redis_url, tmp_path)


async def _blob(client: Client, uri: str) -> bytes:
    return base64.b64decode((await client.read_resource(uri)).contents[0].blob)


def _direct(database_url: str) -> list[tuple[str, ...]]:
    with connect(database_url) as conn:
        rows = conn.execute(QUERY).fetchall()
    return [(str(n), h, str(amount), day.isoformat()) for n, h, amount, day in rows]


@pytest.mark.asyncio(loop_scope="session")
async def test_csv_and_parquet_exports_round_trip_exactly_without_holding_the_result(settings, pipeline):
    expected = _direct(pipeline.database_url)
    async with Client(build_server(settings, local=ALICE), read_timeout_seconds=300) as alice:
        tracemalloc.start()
        try:
            csv_export = await alice.call_tool("export_result", {"format": "csv", "query": QUERY})
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        parquet_export = await alice.call_tool("export_result", {"format": "parquet", "query": QUERY})
        as_csv = structured(csv_export)
        as_parquet = structured(parquet_export)
        csv_bytes = await _blob(alice, as_csv["uri"])
        parquet_bytes = await _blob(alice, as_parquet["uri"])
    link = next(block for block in csv_export.content if block.type == "resource_link")
    assert str(link.uri) == as_csv["uri"] and link.mime_type == "text/csv" and link.size == as_csv["bytes"]
    assert as_csv["rows"] == as_parquet["rows"] == ROWS
    assert hashlib.sha256(csv_bytes).hexdigest() == as_csv["sha256"] and len(csv_bytes) == as_csv["bytes"]
    assert hashlib.sha256(parquet_bytes).hexdigest() == as_parquet["sha256"]
    read_back = list(csv.reader(io.StringIO(csv_bytes.decode())))
    assert read_back[0] == ["n", "h", "amount", "day"]
    assert [tuple(row) for row in read_back[1:]] == expected
    table = pq.read_table(io.BytesIO(parquet_bytes))
    assert table.num_rows == ROWS and table.column_names == ["n", "h", "amount", "day"]
    parquet_rows = [
        (str(n), h, amount, day.isoformat())
        for n, h, amount, day in zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True)
    ]
    assert parquet_rows == expected
    # The whole result as Python rows would take far more (200,000 records of four values, and
    # the CSV text itself is ~12 MB): what was traced at once is a batch, not the result.
    assert len(csv_bytes) > 10_000_000 and peak < 12_000_000, peak


@pytest.mark.asyncio(loop_scope="session")
async def test_an_export_is_the_exporters_alone_and_expires(pipeline, redis_url, tmp_path):
    settings = mcp_settings(pipeline.database_url, redis_url, tmp_path, export_ttl=2)
    async with (
        Client(build_server(settings, local=ALICE)) as alice,
        Client(build_server(settings, local=BOB)) as bob,
    ):
        made = structured(
            await alice.call_tool(
                "export_result", {"format": "csv", "mart": "fct_arpu_monthly", "columns": ["month"]}
            )
        )
        assert (await _blob(alice, made["uri"])).startswith(b"month\r\n")
        with pytest.raises(MCPError, match="NotFound: no export"):
            await bob.read_resource(made["uri"])
        await asyncio.sleep(2.2)
        with pytest.raises(MCPError, match="NotFound: no export"):
            await alice.read_resource(made["uri"])
    assert not list((tmp_path / "exports").glob(f"{made['export_id']}*"))


@pytest.mark.asyncio(loop_scope="session")
async def test_marts_and_session_tables_export_to_xlsx_and_bad_input_is_named(settings, pipeline):
    async with Client(build_server(settings, local=ALICE), read_timeout_seconds=120) as alice:
        mart = structured(
            await alice.call_tool(
                "export_result",
                {
                    "format": "xlsx",
                    "mart": "fct_arpu_monthly",
                    "columns": ["account_type", "sum(revenue)"],
                    "group_by": ["account_type"],
                },
            )
        )
        sheet = await _blob(alice, mart["uri"])
        session = structured(
            await alice.call_tool("session_create", {"data_source": "warehouse", "access_level": "write"})
        )
        await alice.call_tool(
            "query_mart",
            {"mart": "dim_customers", "limit": 7, "session_id": session["session_id"], "save_as": "some"},
        )
        saved = structured(
            await alice.call_tool(
                "export_result", {"format": "csv", "session_id": session["session_id"], "key": "some"}
            )
        )
        nothing = await alice.call_tool("export_result", {"format": "csv"})
        refused = await alice.call_tool(
            "export_result", {"format": "csv", "query": "DELETE FROM marts.dim_customers"}
        )
        queried = await alice.call_tool("query_database", {"query": "DELETE FROM marts.dim_customers"})
    with connect(pipeline.database_url) as conn:
        account_types = conn.execute(
            "SELECT count(DISTINCT account_type) FROM marts.fct_arpu_monthly"
        ).fetchone()[0]
    assert mart["rows"] == account_types and sheet.startswith(b"PK")
    with zipfile.ZipFile(io.BytesIO(sheet)) as book:
        assert book.read("xl/worksheets/sheet1.xml").count(b"<row ") == account_types + 1
    assert saved["rows"] == 7
    assert nothing.is_error and error_text(nothing).startswith("ValidationError: say what to export")
    assert refused.is_error and error_text(refused) == error_text(queried)


@pytest.mark.asyncio(loop_scope="session")
async def test_an_export_over_the_row_limit_is_refused_and_leaves_no_file(pipeline, redis_url, tmp_path):
    settings = mcp_settings(pipeline.database_url, redis_url, tmp_path, export_max_rows=100)
    async with Client(build_server(settings, local=ALICE)) as alice:
        over = await alice.call_tool("export_result", {"format": "parquet", "query": QUERY})
    assert over.is_error and "more than 100 rows" in error_text(over)
    assert [p.name for p in (tmp_path / "exports").iterdir()] == []


@pytest.mark.asyncio(loop_scope="session")
async def test_over_http_a_signed_link_downloads_the_file_without_a_key_until_it_expires(
    pipeline, redis_url, tmp_path
):
    import httpx

    keys_file = tmp_path / "api_keys.jsonl"
    keys, _ = make_keys(keys_file, {"alice": "analyst", "bob": "analyst"})
    env = server_env(
        pipeline.database_url,
        redis_url,
        tmp_path,
        TELCOPULSE_API_KEYS_FILE=str(keys_file),
        TELCOPULSE_EXPORT_TTL="4",
    )
    with serving_http(env) as base:
        url = f"{base}/mcp"
        async with keyed_client(url, keys["alice"]) as alice, keyed_client(url, keys["bob"]) as bob:
            made = structured(
                await alice.call_tool("export_result", {"format": "csv", "mart": "fct_arpu_monthly"})
            )
            other = structured(
                await bob.call_tool("export_result", {"format": "csv", "mart": "dim_customers"})
            )
        link = made["download_url"]
        assert link.startswith(f"{base}/exports/{made['export_id']}?token=")
        async with httpx.AsyncClient(timeout=30) as http:  # no API key at all
            got = await http.get(link)
            assert got.status_code == 200, got.text
            assert hashlib.sha256(got.content).hexdigest() == made["sha256"]
            assert got.headers["content-type"].startswith("text/csv")
            assert f'filename="export-{made["export_id"]}.csv"' in got.headers["content-disposition"]
            # The token is for that export alone: not another's file, and not altered.
            token = link.split("token=", 1)[1]
            bent = await http.get(f"{base}/exports/{other['export_id']}?token={token}")
            assert bent.status_code == 404 and bent.json()["error"] == "NotFound"
            forged = await http.get(link[:-6] + ("AAAAAA" if not link.endswith("AAAAAA") else "BBBBBB"))
            assert forged.status_code == 404
            # The rest of the server still wants a key.
            assert (await http.post(url, json={})).status_code == 401
            await asyncio.sleep(4.5)
            assert (await http.get(link)).status_code == 404


@pytest.mark.asyncio(loop_scope="session")
async def test_over_stdio_there_is_no_download_link(settings):
    async with Client(build_server(settings, local=ALICE)) as alice:
        made = structured(
            await alice.call_tool("export_result", {"format": "csv", "mart": "fct_arpu_monthly"})
        )
    assert made.get("download_url") is None and made["uri"].startswith("exports://")


@pytest.fixture()
def s3():
    endpoint = PrivateS3()
    endpoint.start()
    try:
        yield endpoint
    finally:
        endpoint.stop()


@pytest.mark.asyncio(loop_scope="session")
async def test_a_bucket_serves_every_export_from_every_replica_and_its_outage_is_named(
    pipeline, redis_url, tmp_path, s3
):
    import httpx

    s3.client().create_bucket(Bucket="team-exports")
    keys_file = tmp_path / "api_keys.jsonl"
    keys, _ = make_keys(keys_file, {"alice": "analyst", "bob": "analyst"})
    env = server_env(
        pipeline.database_url,
        redis_url,
        tmp_path / "one",
        TELCOPULSE_API_KEYS_FILE=str(keys_file),
        TELCOPULSE_EXPORT_TTL="6",
        TELCOPULSE_EXPORT_BUCKET="s3://team-exports/telcopulse/",
        **s3.env,
    )
    with (
        serving_http(env) as one,
        # Another replica with a data folder of its own: only the bucket is shared.
        serving_http({**env, "TELCOPULSE_DATA_DIR": str(tmp_path / "two")}) as two,
    ):
        urls = [f"{one}/mcp", f"{two}/mcp"]
        async with (
            keyed_client(urls[0], keys["alice"], read_timeout_seconds=300) as alice,
            keyed_client(urls[1], keys["alice"]) as alice_elsewhere,
            keyed_client(urls[1], keys["bob"]) as bob,
        ):
            made = structured(await alice.call_tool("export_result", {"format": "csv", "query": QUERY}))
            stored = {item["Key"] for item in s3.client().list_objects_v2(Bucket="team-exports")["Contents"]}
            assert stored == {f"telcopulse/{made['export_id']}.csv", f"telcopulse/{made['export_id']}.json"}
            assert not [
                p for p in (tmp_path / "one").rglob("*") if p.is_file() and made["export_id"] in p.name
            ]
            body = await _blob(alice_elsewhere, made["uri"])
            assert hashlib.sha256(body).hexdigest() == made["sha256"] and made["rows"] == ROWS
            with pytest.raises(MCPError, match="NotFound: no export"):
                await bob.read_resource(made["uri"])
            async with httpx.AsyncClient(timeout=60) as http:  # the link, on the other replica, without a key
                link = made["download_url"].replace(one, two)
                redirect = await http.get(link)
                assert redirect.status_code == 303 and redirect.headers["location"].startswith(s3.url)
                downloaded = await http.get(redirect.headers["location"])
                assert downloaded.status_code == 200 and downloaded.content == body
            await asyncio.sleep(6.5)
            with pytest.raises(MCPError, match="NotFound: no export"):
                await alice_elsewhere.read_resource(made["uri"])
            assert "Contents" not in s3.client().list_objects_v2(Bucket="team-exports")
            s3.stop()
            refused = await alice.call_tool("export_result", {"format": "csv", "mart": "fct_arpu_monthly"})
            assert refused.is_error
            assert error_text(refused).startswith(
                "Unavailable: the export bucket 'team-exports' cannot be reached"
            )
    assert not list((tmp_path / "one").rglob("*.partial"))
