"""mask_pii and redact_sql: what is hidden, and what must survive untouched."""

from __future__ import annotations

import re
import time

import pytest

from mcp_server.observability import redact
from mcp_server.observability.redact import (
    mask_pii,
    query_shape_hash,
    redact_sql,
    redact_sql_fallback,
    shape_hash,
)

FERNET = "gAAAAABn" + "Q3x9_-aZ" * 10 + "=="
API_KEY = "tp_0123456789ab_Zk3-q_9sLmN0pQrStUvWxYz0123456789AbCdEfGhIj"

MASKED = [
    # e-mail: first character and domain kept
    ("contact john.doe@example.com today", "contact j***@example.com today"),
    ("a+tag@mail.example.co.uk", "a***@mail.example.co.uk"),
    # phones, international / North American / UK shapes
    ("call +44 7911 123456 now", "call <phone> now"),
    ("+14155552671", "<phone>"),
    ("+1 (415) 555-2671", "<phone>"),
    ("+49-30-1234567", "<phone>"),
    ("(555) 123-4567", "<phone>"),
    ("555-123-4567", "<phone>"),
    ("1-800-555-1234", "<phone>"),
    ("020 7946 0958", "<phone>"),
    ("07911 123456", "<phone>"),
    ("07911123456", "<phone>"),
    ("0161-496-0000", "<phone>"),
    ("msisdn='+447911123456'", "msisdn='<phone>'"),
    # UUIDs and 32-hex ids (session ids are uuid4().hex)
    ("session 3f2a9c1e-1234-4abc-8def-0123456789ab closed", "session 3f2a9c1e… closed"),
    ("session 3f2a9c1e12344abc8def0123456789ab closed", "session 3f2a9c1e… closed"),
    ("3F2A9C1E-1234-4ABC-8DEF-0123456789AB", "3F2A9C1E…"),
    # API keys: the 12-hex key id is public, the secret is not
    (f"key {API_KEY} rejected", "key tp_0123456789ab_*** rejected"),
    # Fernet tokens (session data at rest)
    (f"value={FERNET};", "value=<fernet>;"),
    # credentials in headers, header dicts, URLs and conninfo strings
    ("Authorization: Bearer eyJhbGciOi.abc.def", "Authorization: Bearer ***"),
    ("authorization: Basic dXNlcjpwdw==", "authorization: Basic ***"),
    ("X-API-Key: abc123secret", "X-API-Key: ***"),
    (
        "{'x-api-key': 'whatever', 'authorization': 'Bearer zzz'}",
        "{'x-api-key': '***', 'authorization': 'Bearer ***'}",
    ),
    ("postgresql://app:s3cr3t@db.internal:5432/tp", "postgresql://app:***@db.internal:5432/tp"),
    ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
    ("host=db user=app password=s3cr3t dbname=tp", "host=db user=app password=*** dbname=tp"),
]

SURVIVES = [
    "2026-10-31",
    "12:30:00",
    "1234",
    "year 2026, 1234 rows in 12 ms",
    "2026-10-31 12:30:00",
    "2026-10-31T12:30:00.123456+00:00",
    "between 2026-01-01 and 2026-10-31",
    "epoch 1730000000 and 1730000000123",
    "count 123456789012",
    "range 10-20, ids 100 200",
    "ip 10.0.0.1 port 5432",
    "pi 3.14159265358979",
    "incident 0123456789ab",  # 12-hex incident ids are meant to be quoted back
    "query hash 6581bcf1f08d4326",
    "sha256 " + "ab" * 32,
    "marts.customer_360 has 800 rows",
    "tp_0123456789ab",  # a key id alone is public
    "",
]


@pytest.mark.parametrize(("text", "expected"), MASKED)
def test_mask_pii_masks(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


@pytest.mark.parametrize("text", SURVIVES)
def test_mask_pii_leaves_ordinary_text_alone(text: str) -> None:
    assert mask_pii(text) == text


def test_mask_pii_is_idempotent() -> None:
    for text, _ in MASKED:
        once = mask_pii(text)
        assert mask_pii(once) == once


def test_mask_pii_many_kinds_in_one_line() -> None:
    line = f"user jane@corp.example key {API_KEY} sid 3f2a9c1e12344abc8def0123456789ab phone +44 20 7946 0958"
    masked = mask_pii(line)
    assert masked == "user j***@corp.example key tp_0123456789ab_*** sid 3f2a9c1e… phone <phone>"


# --------------------------------------------------------------------------- SQL

# (query, literal values that must not appear, text that must appear in the shape)
SQL_CASES = [
    (
        "SELECT * FROM marts.customer_360 WHERE email = 'o''brien@example.com'",
        ["o'brien", "brien@example.com", "o''brien"],
        "WHERE email = '?'",
    ),
    (
        "select customer_id from marts.customer_360 where msisdn = '+447911123456' and arpu > 42.5",
        ["447911123456", "42.5"],
        "msisdn = '?' AND arpu > ?",
    ),
    (
        "SELECT $$dollar secret$$ AS a, $tag$tagged secret$tag$ AS b, E'esc\\'aped secret' AS c",
        ["dollar secret", "tagged secret", "aped secret"],
        "SELECT '?' AS a, '?' AS b, '?' AS c",
    ),
    (
        "SELECT * FROM t WHERE region IN ('north', 'south', 'east') AND plan_id IN (101, 202, 303)",
        ["north", "south", "east", "101", "202", "303"],
        "region IN ('?', ...) AND plan_id IN (?, ...)",
    ),
    ("SELECT * FROM t WHERE id = $1 AND plan = $2 LIMIT 50", ["50"], "id = $1 AND plan = $2 LIMIT ?"),
    ("SELECT * FROM t WHERE id = :customer_id AND x > 7", ["7"], "id = :customer_id AND x > ?"),
    (
        "SELECT count(*) FROM t -- customer 98765 asked\nWHERE a = 1 /* jane@example.com */",
        ["98765", "jane@example.com", "asked"],
        "WHERE a = ?",
    ),
    (
        "SELECT DATE '2026-10-31', INTERVAL '3 days', -17, 1.5e3 FROM t OFFSET 20",
        ["2026-10-31", "3 days", "17", "1.5e3", "20"],
        "OFFSET ?",
    ),
    (
        "select t1.col2 from schema1.t1 join t2 on t1.k = t2.k where t1.v like '%4471%'",
        ["4471"],
        "t1.col2",
    ),
    (
        "SELECT \"Weird 'Col' 9\" FROM t WHERE x = 'a'; SELECT 2",
        ["'a'", "SELECT 2"],
        "\"Weird 'Col' 9\"",
    ),
    (
        "SELECT payload->>'email' FROM ops.x WHERE payload->>'name' = 'Jane Doe'",
        ["Jane Doe"],
        "'?'",
    ),
]


@pytest.mark.parametrize(("sql", "hidden", "kept"), SQL_CASES)
def test_redact_sql_hides_every_literal(sql: str, hidden: list[str], kept: str) -> None:
    shape = redact_sql(sql)
    for value in hidden:
        assert value not in shape, (value, shape)
    assert kept in shape, shape
    assert "--" not in shape and "/*" not in shape


def test_redact_sql_uses_sqlglot_when_it_parses() -> None:
    # sqlglot renders keywords upper-case and normalises spacing: equal shapes compare equal
    a = redact_sql("select   a from t where b = 1")
    b = redact_sql("SELECT a\nFROM t\nWHERE b = 99 -- note")
    assert a == b == "SELECT a FROM t WHERE b = ?"
    assert query_shape_hash("select a from t where b = 1") == query_shape_hash("SELECT a FROM t WHERE b = 2")
    assert query_shape_hash("SELECT a FROM t WHERE b = 1") != query_shape_hash("SELECT a FROM t WHERE c = 1")
    assert re.fullmatch(r"[0-9a-f]{16}", query_shape_hash("SELECT 1"))
    assert shape_hash(redact_sql("SELECT 1")) == query_shape_hash("SELECT 1")


def test_in_lists_of_any_length_share_a_shape() -> None:
    assert redact_sql("SELECT 1 FROM t WHERE x IN (1)") == redact_sql(
        "SELECT 1 FROM t WHERE x IN (1, 2, 3, 4)"
    )
    # a list with a column reference is not all constants: kept element by element
    assert redact_sql("SELECT 1 FROM t WHERE x IN (a, 5)") == "SELECT ? FROM t WHERE x IN (a, ?)"


UNPARSABLE = [
    ("SELEC name FRM customers WHERE email = 'jane@example.com' AND id = 4242", ["jane@example.com", "4242"]),
    ("SELECT 'unterminated jane@example.com", ["jane@example.com", "unterminated"]),
    ("VACUUM customers 'secret' 99", ["secret", "99"]),
    ("SELECT $$open dollar secret", ["open dollar secret"]),
    ("SELECT ((((( 'x' 5551234", ["5551234", "'x'"]),
]


@pytest.mark.parametrize(("sql", "hidden"), UNPARSABLE)
def test_unparsable_sql_falls_back_and_still_hides_literals(sql: str, hidden: list[str]) -> None:
    assert redact._redact_with_sqlglot(sql) is None  # really the fallback path
    shape = redact_sql(sql)
    for value in hidden:
        assert value not in shape, (value, shape)
    assert shape == redact_sql_fallback(sql)


def test_fallback_regex_directly() -> None:
    sql = "select \"id 1\", t2.c3, $1, :p, E'a\\'b', x'1F', $q$ 42 $q$, 3.5e2, .5 from t2 -- 77\n/* 88 */"
    assert redact_sql_fallback(sql) == "select \"id 1\", t2.c3, $1, :p, '?', '?', '?', ?, ? from t2"


def test_shape_is_stable_under_a_second_redaction() -> None:
    for sql, _, _ in SQL_CASES:
        shape = redact_sql(sql)
        assert redact_sql_fallback(shape) == shape


def test_sqlglot_warnings_with_sql_text_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("DEBUG"):
        redact_sql("VACUUM customers_secret_table")
    assert "customers_secret_table" not in caplog.text


def test_redaction_never_raises_on_odd_input() -> None:
    for text in ["", " ", "'", "$$", "\x00", "é" * 10, "(" * 5000, "SELECT " + "1+" * 3000 + "1"]:
        assert isinstance(redact_sql(text), str)
        assert isinstance(mask_pii(text), str)


@pytest.mark.parametrize(
    "text", ["a." * 20_000, "a-" * 20_000, "a" * 100 + "@" + "b." * 10_000, "x://" * 10_000]
)
def test_mask_pii_stays_linear_on_pathological_text(text: str) -> None:
    # Runs on every log line: an unbounded repeat here once took seconds per line.
    started = time.perf_counter()
    mask_pii(text)
    assert time.perf_counter() - started < 1.0
