"""Pure redaction helpers: what may leave the process in a log line or an audit row.

Two different jobs:

* `mask_pii` scrubs free text (log messages, error strings, tracebacks). It is pattern
  based and deliberately conservative about numbers: dates, times, counts and ids without
  a phone-like shape survive, because a log full of `<phone>` where a row count was is
  useless for debugging.
* `redact_sql` turns a query into its *shape*: the same statement with every literal
  replaced, comments dropped and whitespace normalised, so operators can see (and group by
  `query_shape_hash`) who ran what kind of query without the values an agent put in it
  (customer ids, e-mail addresses, MSISDNs in WHERE clauses).

Neither function raises on any input: both run inside logging and auditing, which must
never make a tool call fail.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable
from functools import lru_cache

import sqlglot
from sqlglot import exp

from mcp_server.security.identity import KEY_ID_PATTERN, KEY_PREFIX

__all__ = ["mask_pii", "query_shape_hash", "redact_sql", "redact_sql_fallback", "shape_hash"]

# --------------------------------------------------------------------------- free text

# Order matters: longer / more specific secrets go first so a later, looser pattern (the
# e-mail or phone one) never sees half of a token.
_FERNET = re.compile(r"gAAAAA[A-Za-z0-9_\-]{60,}={0,2}")
_API_KEY = re.compile(rf"\b({re.escape(KEY_PREFIX)}{KEY_ID_PATTERN}_)[A-Za-z0-9_\-]+")
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]{0,31}://[^\s:/?#@]{0,256}):([^\s@/]{0,512})@")
_CONNINFO_PASSWORD = re.compile(r"(?i)\b(password|passwd|pwd)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&]+)")
# A header line (`Authorization: Bearer x`) and the repr of a header dict
# (`'x-api-key': 'x'`) both end up in logs; the optional scheme word is kept.
_AUTH_HEADER = re.compile(
    r"(?i)\b(proxy-authorization|authorization|x-api-key|api[-_]key)"
    r"([\"']?\s*[:=]\s*[\"']?)"
    r"(?!(?:(?:bearer|basic|token)\s+)?\*\*\*)"  # already masked: idempotent
    r"(?:(bearer|basic|token)(\s+))?"
    r"([^\s\"',;}\]]+)"
)
# Bounded repeats (RFC 5321 limits) keep the scan linear on long dotted or dashed text.
_EMAIL = re.compile(
    r"\b([A-Za-z0-9])[A-Za-z0-9._%+\-]{0,63}@((?:[A-Za-z0-9\-]{1,63}\.){1,8}[A-Za-z]{2,24})\b"
)
_UUID = re.compile(
    r"\b([0-9a-fA-F]{8})(?:-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{24})\b"
)
# Phone shapes, each bounded so it cannot start or end inside a longer number, word, date
# or time: international (+CC ...), North American ((555) 123-4567, 555-123-4567, with an
# optional leading 1) and UK national (020 7946 0958, 07911 123456, 0161-496-0000). A bare
# run of digits counts only with a leading + or a leading 0 trunk prefix, so counts, ids
# and epoch timestamps are left alone.
_PHONE = re.compile(
    r"(?<![\w+:/.\-])(?:"
    r"\+\d{1,3}(?:[ \-]?\(\d{1,4}\))?(?:[ \-]?\d{1,5}){2,6}"  # international
    r"|(?:1[ \-])?(?:\(\d{3}\)\s?|\d{3}[ \-])\d{3}[ \-]\d{4}"  # North American
    r"|\(?0\d{2,4}\)?[ \-]?\d{3,4}[ \-]?\d{3,4}"  # UK national, 10-11 digits
    r")(?![\w:/]|[.\-]\d)"
)


def _mask_email(match: re.Match[str]) -> str:
    return f"{match.group(1)}***@{match.group(2)}"


def _mask_phone(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group(0))
    return "<phone>" if 9 <= digits <= 15 else match.group(0)


def _mask_header(match: re.Match[str]) -> str:
    scheme = f"{match.group(3)}{match.group(4)}" if match.group(3) else ""
    return f"{match.group(1)}{match.group(2)}{scheme}***"


_TEXT_RULES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (_FERNET, "<fernet>"),
    (_API_KEY, r"\1***"),
    (_URL_PASSWORD, r"\1:***@"),
    (_CONNINFO_PASSWORD, r"\1\2***"),
    (_AUTH_HEADER, _mask_header),
    (_EMAIL, _mask_email),
    (_UUID, "\\1…"),
    (_PHONE, _mask_phone),
)


def mask_pii(text: str) -> str:
    """`text` with secrets and personal data masked; everything else untouched.

    Masks: e-mail addresses (`j***@example.com`), phone numbers (`<phone>`), UUIDs and
    32-hex ids such as session ids (first 8 hex + `…`), API keys (`tp_<id>_***`, the id is
    public), Fernet tokens (`<fernet>`), Authorization / X-API-Key header values (`***`),
    passwords in URLs and conninfo strings (`user:***@host`, `password=***`).
    """
    if not text:
        return text
    if len(text) <= _REMEMBERED_CHARS:
        return _mask_short(text)
    return _mask(text)


def _mask(text: str) -> str:
    for pattern, replacement in _TEXT_RULES:
        text = pattern.sub(replacement, text)
    return text


# Log lines repeat short values (tool names, roles, outcomes, key ids, messages) on every
# call; each is masked once. A pure function of its input, so remembering changes nothing.
_REMEMBERED_CHARS = 200
_mask_short = lru_cache(maxsize=4096)(_mask)


# --------------------------------------------------------------------------- SQL shapes

# One left-to-right tokenizer, so a quote inside a comment or an identifier never starts a
# string, and digits inside identifiers (`t1`, `col$2`) or parameters (`$1`) are not values.
_SQL_TOKENS = re.compile(
    r"""
    (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
    |(?P<ident>"(?:[^"]|"")*(?:"|\Z))
    |(?P<dollar>\$\$.*?(?:\$\$|\Z)|\$(?P<tag>[A-Za-z_][A-Za-z_0-9]*)\$.*?(?:\$(?P=tag)\$|\Z))
    |(?P<estr>(?<![\w$])[eE]'(?:[^'\\]|\\.|'')*(?:'|\Z))
    |(?P<str>(?:(?<![\w$])(?:[bBxXnN]|[uU]&))?'(?:[^']|'')*(?:'|\Z))
    |(?P<param>\$\d+|(?<!:):[A-Za-z_]\w*|%\(\w+\)s|%s)
    |(?P<word>[A-Za-z_][\w$]*)
    |(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+\-]?\d+)?)
    |(?P<ws>\s+)
    """,
    re.VERBOSE | re.DOTALL,
)

_STRING_KINDS = frozenset({"dollar", "estr", "str"})
_KEEP_KINDS = frozenset({"ident", "param", "word"})


def _sql_token(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "tag":  # the inner group of a $tag$ string reports itself last
        kind = "dollar"
    if kind in _STRING_KINDS:
        return "'?'"
    if kind == "num":
        return "?"
    if kind in ("comment", "ws"):
        return " "
    return match.group(0)


def redact_sql_fallback(sql: str) -> str:
    """Regex-only shape: strings → `'?'`, numbers → `?`, comments dropped, whitespace collapsed.

    Used when sqlglot cannot parse the text, and as a final pass over sqlglot's output so a
    literal sqlglot keeps in an unexpected node (a JSON path, a type argument) still goes.
    An unterminated string or comment blanks everything after it: failing closed.
    """
    return _SQL_TOKENS.sub(_sql_token, sql).strip()


# sqlglot warns (with the SQL text in the message) when it falls back to exp.Command; the
# filter drops those records only in the thread currently inside redact_sql.
_quiet = threading.local()


class _QuietWhileRedacting(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_quiet, "active", False)


logging.getLogger("sqlglot").addFilter(_QuietWhileRedacting())

_STRING_NODES = (
    exp.RawString,
    exp.ByteString,
    exp.HexString,
    exp.BitString,
    exp.National,
    exp.UnicodeString,
)
_MAX_PARSE_CHARS = 20_000  # bigger texts go straight to the regex: parsing cost grows fast


def _is_constant(node: exp.Expression) -> bool:
    if isinstance(node, exp.Neg):
        node = node.this
    return isinstance(node, (exp.Literal, *_STRING_NODES))


def _placeholder_for(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Neg):
        node = node.this
    if isinstance(node, _STRING_NODES) or (isinstance(node, exp.Literal) and node.is_string):
        return exp.Literal.string("?")
    return exp.Var(this="?")


def _redact_node(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.In):
        values = node.expressions
        if values and all(_is_constant(value) for value in values):
            # One shape however long the list is: `IN (?, ...)`.
            first = _placeholder_for(values[0]).sql(dialect="postgres")
            node.set("expressions", [exp.Var(this=f"{first}, ...")])
        return node
    if isinstance(node, exp.Parameter):
        return node  # `$1` keeps its number: it is a position, not a value
    if isinstance(node, exp.Placeholder):
        name = node.name
        return exp.Var(this=f":{name}") if name and name != "?" else node
    if _is_constant(node) and not isinstance(node.parent, exp.Parameter):
        return _placeholder_for(node)
    return node


def _redact_with_sqlglot(sql: str) -> str | None:
    _quiet.active = True
    try:
        statements = sqlglot.parse(sql, read="postgres")
    except Exception:
        return None
    finally:
        _quiet.active = False
    rendered = []
    for tree in statements:
        if tree is None:
            continue
        if isinstance(tree, exp.Command) or tree.find(exp.Command) is not None:
            return None  # unparsed tail kept verbatim by sqlglot: not a shape
        rendered.append(tree.transform(_redact_node, copy=True).sql(dialect="postgres", comments=False))
    return "; ".join(rendered)


def redact_sql(sql: str) -> str:
    """The query shape of `sql`: every literal replaced, placeholders (`$1`, `:name`) kept.

    Strings become `'?'`, numbers `?`, all-constant IN lists `IN (?, ...)`; comments go
    (they are free text an agent may have put data in). sqlglot normalises keywords and
    spacing so equal shapes compare equal; text it cannot parse uses the regex fallback,
    which hides literals just as well but keeps the original spelling.
    """
    if not sql:
        return ""
    try:
        shaped = _redact_with_sqlglot(sql) if len(sql) <= _MAX_PARSE_CHARS else None
    except Exception:
        shaped = None
    return redact_sql_fallback(shaped if shaped is not None else sql)


def query_shape_hash(sql: str) -> str:
    """16 hex chars of sha256 over `redact_sql(sql)`: a stable key to group equal shapes."""
    return shape_hash(redact_sql(sql))


def shape_hash(shape: str) -> str:
    """The hash of an already redacted shape (saves a second parse when both are needed)."""
    return hashlib.sha256(shape.encode("utf-8", "replace")).hexdigest()[:16]
