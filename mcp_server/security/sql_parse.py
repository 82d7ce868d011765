"""The SQL guard's parse: one statement, with every function call kept as the agent wrote it.

sqlglot's parser retypes many calls (`now()` into CURRENT_TIMESTAMP, `date_part` into
EXTRACT) and misreads some typed constants (`interval '1 week ago'`); either would make the
re-rendered query mean something else. So the text is rewritten before parsing (typed
constants as CASTs, retyped function names as markers) and the markers are restored after.
When the parser fails, the refusal says where and, for valid PostgreSQL it cannot read,
what to write instead.
"""

from __future__ import annotations

import itertools

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError
from sqlglot.tokens import Token, TokenType

from mcp_server.security.sql_render import render
from mcp_server.security.sql_tokens import (
    DIALECT,
    NAME_TOKENS,
    ONE_STATEMENT,
    UNCHECKABLE,
    Rejection,
    tokenize,
)

# Names sqlglot turns into its own typed expressions (`now()` into CURRENT_TIMESTAMP,
# `date_part` into EXTRACT, `ST_MakePoint` into ST_POINT...), which render back as a
# different function with other column names or types. Before parsing, such a name in
# call position is swapped for a marker sqlglot does not know, so the call stays an
# anonymous function with the agent's own name and arguments (`parse_single`). The
# exceptions are SQL's keyword syntax inside parentheses, which needs sqlglot's own parser
# and renders back to the same function: CAST(x AS t), EXTRACT(f FROM x), POSITION(a IN b),
# SUBSTRING(s FROM i FOR n), TRIM(BOTH c FROM s), OVERLAY(s PLACING t FROM i FOR n).
# STRING_AGG too: sqlglot's own parser is the one that reads `DISTINCT x, sep ORDER BY x`.
KEYWORD_SYNTAX = frozenset({"CAST", "EXTRACT", "POSITION", "SUBSTRING", "TRIM", "OVERLAY"})
_PARSER = sqlglot.Dialect.get_or_raise(DIALECT).parser_class
_TYPED_NAMES = (
    (frozenset(_PARSER.FUNCTIONS) | frozenset(_PARSER.FUNCTION_PARSERS)) - KEYWORD_SYNTAX - {"STRING_AGG"}
)
_MARKER = "telcopulse_fn_"


def parse_single(query: str, tokens: list[Token], *, as_sent: bool = True) -> exp.Expression:
    """Parse one statement, function calls kept as written (see _TYPED_NAMES).

    `as_sent`: the text is the agent's own, so a parse error may point at a line and column.
    """
    sent = query
    query, tokens = _typed_literals_as_casts(query, tokens)
    tokens, originals = _with_markers(query, tokens)
    try:
        statements = (
            sqlglot.Dialect.get_or_raise(DIALECT).parser(error_level=ErrorLevel.RAISE).parse(tokens, query)
        )
    except ParseError as error:
        hint = _syntax_hint(tokens)
        reason = _parse_error_reason(error, where=as_sent and query == sent)
        raise Rejection(reason + (f" {hint}" if hint else "")) from None
    if len(statements) != 1 or statements[0] is None:
        raise Rejection(ONE_STATEMENT)
    tree = statements[0]
    if originals:
        for node in tree.walk():
            for key, value in node.args.items():
                if isinstance(value, str) and value in originals:
                    node.set(key, originals[value])
        if any(marker in render(tree) for marker in originals):
            raise Rejection(UNCHECKABLE)  # a marker survived somewhere we did not restore
    return tree


# Type names that may prefix a string constant (`date '2024-01-01'`, `interval '1 week ago'`).
_LITERAL_TYPES = frozenset(
    [
        "date",
        "time",
        "timestamp",
        "timestamptz",
        "timetz",
        "interval",
        "numeric",
        "decimal",
        "int",
        "int2",
        "int4",
        "int8",
        "integer",
        "smallint",
        "bigint",
        "real",
        "float",
        "float4",
        "float8",
        "text",
        "varchar",
        "char",
        "bpchar",
        "bool",
        "boolean",
        "json",
        "jsonb",
        "uuid",
        "inet",
        "cidr",
        "macaddr",
        "macaddr8",
        "tsvector",
        "tsquery",
        "point",
        "line",
        "lseg",
        "box",
        "path",
        "polygon",
        "circle",
        "money",
        "bytea",
        "oid",
        "regclass",
        "regtype",
        "int4range",
        "int8range",
        "numrange",
        "daterange",
        "tsrange",
        "tstzrange",
        "xml",
        "bit",
        "varbit",
    ]
)
INTERVAL_FIELDS = frozenset({"YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND"})


def _typed_literals_as_casts(query: str, tokens: list[Token]) -> tuple[str, list[Token]]:
    """`type 'text'` rewritten as `CAST('text' AS type)`, which PostgreSQL reads the same way.

    sqlglot reads some typed constants itself and loses part of them (`interval '1 week ago'`
    became INTERVAL '1 WEEK', `interval '3 days 04:05:06'` became INTERVAL '3 DAYS'), reads
    `time '10:00'::interval` as a cast of the string, and cannot parse others (`cidr '…'`).
    As a CAST each is the same constant with the same column name. An interval with a field
    (`interval '1' day`) keeps sqlglot's reading, which renders it unchanged.
    """
    spans: list[tuple[int, int, str, str]] = []
    for index, (token, constant) in enumerate(itertools.pairwise(tokens)):
        if (
            constant.token_type == TokenType.STRING
            and token.text.lower() in _LITERAL_TYPES
            and token.token_type != TokenType.STRING
            and query[constant.start] == "'"  # a plain '...' constant (not E'...' or $$...$$)
            and not (index and tokens[index - 1].token_type == TokenType.DOT)
        ):
            following = tokens[index + 2] if index + 2 < len(tokens) else None
            if following is not None and following.text.upper() in INTERVAL_FIELDS:
                continue
            spans.append((token.start, constant.end, query[constant.start : constant.end + 1], token.text))
    if not spans:
        return query, tokens
    parts, position = [], 0
    for start, end, constant_text, type_name in spans:
        parts.append(query[position:start])
        parts.append(f"CAST({constant_text} AS {type_name})")
        position = end + 1
    parts.append(query[position:])
    rewritten = "".join(parts)
    return rewritten, tokenize(rewritten)


def _with_markers(query: str, tokens: list[Token]) -> tuple[list[Token], dict[str, str]]:
    """`tokens` with each function name sqlglot would retype replaced by a unique marker,
    and the original text of each marker. Markers never occur in the query itself."""
    prefix = _MARKER
    while prefix in query.lower():
        prefix += "x"
    originals: dict[str, str] = {}
    marked = list(tokens)
    for index, (token, following) in enumerate(itertools.pairwise(tokens)):
        if (
            following.token_type == TokenType.L_PAREN
            and token.token_type in NAME_TOKENS
            and token.text.upper() in _TYPED_NAMES
        ):
            marker = f"{prefix}{len(originals)}"
            originals[marker] = token.text
            marked[index] = Token(
                token.token_type, marker, token.line, token.col, token.start, token.end, token.comments
            )
    return marked, originals


def _syntax_hint(tokens: list[Token]) -> str | None:
    """What to write instead of valid PostgreSQL the guard's parser cannot read."""
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        adjacent = following is not None and following.start == token.end + 1
        if token.token_type == TokenType.PARAMETER and token.text == "@":
            return "The prefix operator @ is not supported: write abs(x) instead of @ x."
        if token.token_type == TokenType.RLIKE and adjacent and following.token_type == TokenType.EQ:
            return "The ~= operator is not supported: compare with = (or box_same(a, b), point_eq(a, b))."
        if token.token_type in (TokenType.GT, TokenType.LT) and adjacent and following.text in (">=", "<="):
            return (
                "The >>= and <<= operators are not supported: write inet_supeq(a, b) for a >>= b "
                "and inet_subeq(a, b) for a <<= b."
            )
        if token.token_type == TokenType.USING and following is not None and following.text in ("<", ">"):
            return "ORDER BY ... USING is not supported: write ASC for USING < and DESC for USING >."
        if (
            token.token_type == TokenType.DCOLON
            and following is not None
            and index + 2 < len(tokens)
            and tokens[index + 2].token_type == TokenType.L_PAREN
        ):
            return f"Write the cast as CAST(x AS {following.text}(...)) instead of x::{following.text}(...)."
        if token.text.lower() == "similar" and any(t.text.lower() == "substring" for t in tokens[:index]):
            return "substring(s SIMILAR p ESCAPE e) is not supported: use substring(s FROM 'regex')."
    return None


def _parse_error_reason(error: ParseError, *, where: bool = True) -> str:
    details = error.errors[0] if error.errors else {}
    line, column = details.get("line"), details.get("col")
    description = str(details.get("description") or "unexpected syntax")
    # Some sqlglot messages name its internal classes; those mean nothing to an agent.
    if "<class" in description or "Required keyword" in description or len(description) > 120:
        description = "incomplete or unexpected syntax"
    highlight = str(details.get("highlight") or "").strip()
    near = f" ({highlight!r})" if highlight and len(highlight) <= 40 else ""
    if line and column and where:
        return f"Could not parse the SQL near line {line}, column {column}{near}: {description}."
    if not where:  # the position would point into a rewritten text, not the agent's
        return f"Could not parse the SQL: {description}."
    return f"Could not parse the SQL: {description}."
