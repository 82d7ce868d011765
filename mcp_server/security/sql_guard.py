"""Layer 1 of the `query_database` defences: decide whether an agent's SQL may run at all.

The other layers (read-only transaction, a SELECT-only role, timeouts, row caps) limit
the damage of a query that gets through; this one must stop its own class of attacks
without them, because any of the others can be misconfigured on some deployment.

The guard never passes the agent's text to PostgreSQL. It parses the text with sqlglot,
checks the tree, and renders the tree back to SQL; the rendered text is what runs. The
rendered text is parsed and checked a second time and must render to itself, so the
checks apply to exactly the statement PostgreSQL receives, not to an interpretation of
the input that PostgreSQL might not share (comments, quoting, dollar-quoting tricks).

Parameters are named in the input (`:name`, `%(name)s`) and become `$1..$n` in the
output, bound by the driver; values never become SQL text.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import math
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from mcp_server.security.function_policy import FunctionCall, FunctionPolicy, denied_category

__all__ = ["GuardedQuery", "SqlRejected", "guard_sql"]

_DIALECT = "postgres"

# Names sqlglot turns into its own typed expressions (`now()` into CURRENT_TIMESTAMP,
# `date_part` into EXTRACT, `ST_MakePoint` into ST_POINT...), which render back as a
# different function with other column names or types. Before parsing, such a name in
# call position is swapped for a marker sqlglot does not know, so the call stays an
# anonymous function with the agent's own name and arguments (`_parse_single`). The
# exceptions are SQL's keyword syntax inside parentheses, which needs sqlglot's own parser
# and renders back to the same function: CAST(x AS t), EXTRACT(f FROM x), POSITION(a IN b),
# SUBSTRING(s FROM i FOR n), TRIM(BOTH c FROM s), OVERLAY(s PLACING t FROM i FOR n).
# STRING_AGG too: sqlglot's own parser is the one that reads `DISTINCT x, sep ORDER BY x`.
_KEYWORD_SYNTAX = frozenset({"CAST", "EXTRACT", "POSITION", "SUBSTRING", "TRIM", "OVERLAY"})
_PARSER = sqlglot.Dialect.get_or_raise(_DIALECT).parser_class
_TYPED_NAMES = (
    (frozenset(_PARSER.FUNCTIONS) | frozenset(_PARSER.FUNCTION_PARSERS)) - _KEYWORD_SYNTAX - {"STRING_AGG"}
)
_MARKER = "telcopulse_fn_"
# Words sqlglot renders before a parenthesis that are syntax, not calls: the keyword
# syntax above, WITHIN GROUP (...), TABLESAMPLE BERNOULLI/SYSTEM (...) REPEATABLE (...).
_SYNTAX_WORDS = _KEYWORD_SYNTAX | {"GROUP", "BERNOULLI", "SYSTEM", "REPEATABLE", "MATERIALIZED", "STRING_AGG"}
# Token types a called function's name can have: names, quoted names, and the keywords
# that are also ordinary functions in PostgreSQL (left(s, n), replace(s, a, b)...).
_NAME_TOKENS = frozenset(
    {
        TokenType.VAR,
        TokenType.IDENTIFIER,
        TokenType.LEFT,
        TokenType.RIGHT,
        TokenType.REPLACE,
        TokenType.FORMAT,
    }
)

# Statement and clause nodes that have no place in a read-only query, wherever they stand
# (a data-modifying CTE is a DELETE inside a SELECT). Looked up by name so that a sqlglot
# release without one of them still imports this module.
_FORBIDDEN_NODE_NAMES = (
    "DML",  # Insert, Update, Delete, Merge, Copy
    "DDL",  # Create and friends
    "Drop",
    "Alter",
    "AlterColumn",
    "TruncateTable",
    "Set",
    "SetItem",
    "Command",  # whatever sqlglot could not parse: EXPLAIN, DO, VACUUM, SET ROLE, CALL...
    "Transaction",
    "Commit",
    "Rollback",
    "Grant",
    "Revoke",
    "Use",
    "Analyze",
    "Pragma",
    "Describe",
    "Kill",
    "LoadData",
    "Cache",
    "Uncache",
    "Refresh",
    "Show",
    "Returning",
    "Execute",
    "Summarize",
    "Declare",
    "Comment",
    "Attach",
    "Detach",
    "Export",
    "Install",
    "LockingStatement",
)
_FORBIDDEN_NODES: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name) for name in _FORBIDDEN_NODE_NAMES if isinstance(getattr(exp, name, None), type)
)

# The SQL keyword to name in a rejection, for node types whose class name is not one.
_STATEMENT_WORDS: dict[str, str] = {
    "Insert": "INSERT",
    "Update": "UPDATE",
    "Delete": "DELETE",
    "Merge": "MERGE",
    "Copy": "COPY",
    "Create": "CREATE",
    "Drop": "DROP",
    "Alter": "ALTER",
    "AlterColumn": "ALTER",
    "TruncateTable": "TRUNCATE",
    "Set": "SET",
    "SetItem": "SET",
    "Transaction": "BEGIN",
    "Commit": "COMMIT",
    "Rollback": "ROLLBACK",
    "Grant": "GRANT",
    "Revoke": "REVOKE",
    "Analyze": "ANALYZE",
    "Returning": "RETURNING",
    "Values": "VALUES",
}

_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_STRING_TOKENS = frozenset(
    getattr(TokenType, name)
    for name in (
        "STRING",
        "RAW_STRING",
        "HEREDOC_STRING",
        "BYTE_STRING",
        "NATIONAL_STRING",
        "UNICODE_STRING",
        "BIT_STRING",
        "HEX_STRING",
    )
    if hasattr(TokenType, name)
)
# Token types after which sqlglot's tokenizer reads the rest of the statement as one string.
_COMMAND_TOKENS = frozenset(sqlglot.Dialect.get_or_raise(_DIALECT).tokenizer_class.COMMANDS)
_ONE_STATEMENT = (
    "Send exactly one SQL statement; remove extra statements and semicolons "
    "(a single trailing semicolon is fine)."
)
_UNCHECKABLE = (
    "The query uses SQL syntax that cannot be checked reliably; rewrite it with plain SELECT syntax."
)
_COMMENTS = "Comments are not allowed in queries; remove every -- and /* */ comment."
_POSITIONAL_HINT = (
    "Positional parameters ($1, %s, ?) are not supported; use named parameters like :name or %(name)s."
)


class SqlRejected(Exception):
    """The query may not run; `reason` is written for the agent, so it says what to change."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class GuardedQuery:
    """What may run: execute `sql` with `args`, never the text the agent sent.

    `fingerprint` keys result caches (same canonical SQL and same values, same result);
    `tables` are the relations named in the query, for audit logs, not for access control.
    """

    sql: str
    args: tuple[object, ...]
    fingerprint: str
    tables: frozenset[str]


@dataclass(frozen=True)
class _Template:
    """What the cached text analysis yields; parameter values are bound per call."""

    sql: str
    names: tuple[str, ...]  # parameter name of $1, $2, ...
    tables: frozenset[str]
    calls: tuple[FunctionCall, ...]  # every function called by name, for the policy


class _Rejection(Exception):
    """Raised inside the analysis; turned into a cached result so repeats stay cheap."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def guard_sql(
    query: str,
    parameters: Mapping[str, object] | None = None,
    *,
    policy: FunctionPolicy,
    max_length: int = 20_000,
) -> GuardedQuery:
    """Check `query` and bind `parameters`; raise SqlRejected with an actionable reason.

    `policy` is the function allow list (read from the catalog at start-up); the text
    analysis is cached per query text, the policy is applied per call.
    """
    if not isinstance(query, str):
        raise SqlRejected("The query must be a string of SQL.")
    if not query.strip():
        raise SqlRejected("The query is empty; send one SELECT statement.")
    if len(query) > max_length:
        raise SqlRejected(
            f"The query is {len(query):,} characters long, over the {max_length:,} limit; shorten it."
        )
    if "\x00" in query:
        # The wire protocol ends the query text at a NUL, so the server would run a prefix.
        raise SqlRejected("The query contains a NUL character; remove it.")
    analysis = _analyze(query)
    if analysis == _COMMENTS:
        raise SqlRejected(_comments_reason(query, policy))
    if isinstance(analysis, str):
        raise SqlRejected(analysis)
    refusal = policy.refusal(analysis.calls)
    if refusal is not None:
        raise SqlRejected(refusal)
    args = _bind(analysis.names, parameters)
    payload = json.dumps(list(args), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    fingerprint = hashlib.sha256(f"{analysis.sql}\x00{payload}".encode()).hexdigest()
    return GuardedQuery(sql=analysis.sql, args=args, fingerprint=fingerprint, tables=analysis.tables)


def _comments_reason(query: str, policy: FunctionPolicy) -> str:
    """The comment refusal, saying whether removing the comments is all the agent must do.

    The query is checked again without its comments (never run): an agent told "only the
    comments" fixes the query in one try, and one told what else is wrong fixes both.
    """
    try:
        stripped = _without_comments(query, _tokenize(query))
    except _Rejection:
        return _COMMENTS
    if not stripped.strip() or stripped == query:
        return _COMMENTS
    try:
        guard_sql(stripped, policy=policy)
    except SqlRejected as rejection:
        if rejection.reason.startswith("No value was supplied"):  # parameters are not checked here
            return f"{_COMMENTS} Removing them is all that is needed."
        return f"{_COMMENTS} Without them the query is still refused: {rejection.reason}"
    return f"{_COMMENTS} Removing them is all that is needed."


def _without_comments(query: str, tokens: list[Token]) -> str:
    """`query` with every stretch between two tokens that holds a comment made one space."""
    parts: list[str] = []
    position = 0
    for token in tokens:
        gap = query[position : token.start]
        parts.append(" " if ("--" in gap or "/*" in gap) else gap)
        parts.append(query[token.start : token.end + 1])
        position = token.end + 1
    tail = query[position:]
    parts.append("" if ("--" in tail or "/*" in tail) else tail)
    return "".join(parts)


# --------------------------------------------------------------------------- parameters


def _bind(names: tuple[str, ...], parameters: Mapping[str, object] | None) -> tuple[object, ...]:
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, Mapping):
        raise SqlRejected("Parameters must be an object mapping names to values.")
    for key in parameters:
        if not isinstance(key, str) or not _PARAM_NAME.match(key):
            raise SqlRejected(
                f"Parameter name {key!r} is invalid; use letters, digits and underscores, "
                "starting with a letter or underscore (at most 63 characters)."
            )
    wanted = set(names)
    missing = [name for name in names if name not in parameters]
    if missing:
        listed = ", ".join(f":{name}" for name in missing)
        raise SqlRejected(f"No value was supplied for parameter(s) {listed}; add them to the parameters.")
    unused = sorted(key for key in parameters if key not in wanted)
    if unused:
        listed = ", ".join(unused)
        raise SqlRejected(
            f"Parameter(s) {listed} were supplied but the query does not use them; "
            "check the names for typos or remove them."
        )
    return tuple(_checked_value(name, parameters[name]) for name in names)


def _checked_value(name: str, value: object) -> object:
    if isinstance(value, list | tuple):
        items = [_checked_scalar(name, item) for item in value]
        kinds = {_kind(item) for item in items if item is not None}
        if len(kinds) > 1:
            raise SqlRejected(
                f"The list for parameter {name} mixes value types ({', '.join(sorted(kinds))}); "
                "use one type per list."
            )
        return items  # a copy: later changes to the caller's list cannot diverge from the fingerprint
    return _checked_scalar(name, value)


def _checked_scalar(name: str, value: object) -> object:
    if isinstance(value, str) and "\x00" in value:
        raise SqlRejected(f"Parameter {name} contains a NUL character, which PostgreSQL text cannot hold.")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SqlRejected(f"Parameter {name} is {value}; only finite numbers are allowed.")
        return value
    raise SqlRejected(
        f"Parameter {name} has a value of type {type(value).__name__}; use a string, number, "
        "boolean, null, or a list of those."
    )


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


# --------------------------------------------------------------------------- analysis


@lru_cache(maxsize=1024)
def _analyze(query: str) -> _Template | str:
    """Everything that depends only on the text; a str result is a rejection reason."""
    try:
        with _quiet_sqlglot():
            return _analyze_uncached(query)
    except _Rejection as rejection:
        return rejection.reason
    except RecursionError:
        return "The query is nested too deeply to check; simplify it (for example with CTEs)."
    except Exception:
        # Fail closed: a sqlglot error (or bug) on odd input must not let the query through.
        return _UNCHECKABLE


def _analyze_uncached(query: str) -> _Template:
    tokens = _tokenize(query)
    _reject_leading_commands(tokens)
    _reject_comments_and_stray_text(query, tokens)
    _reject_unicode_identifiers(tokens)
    _reject_unfaithful_tokens(query, tokens)
    tree = _parse_single(query, tokens)
    _check_top_level(tree, tokens)
    tables = _table_names(tree)
    calls: list[FunctionCall] = []
    placeholders = _check_tree(tree, numbered=0, calls=calls)

    # Named placeholders become $n. Numbers are first handed out in tree order, then
    # renumbered in the order they appear in the rendered text, so $1 is the leftmost.
    order: dict[str, int] = {}
    for node in placeholders:
        number = order.setdefault(node.name, len(order) + 1)
        node.replace(_positional(number))
    sql = _render(tree)
    if order:
        appearance = _parameter_numbers(_tokenize(sql + " "))
        renumber = {old: new for new, old in enumerate(dict.fromkeys(appearance), start=1)}
        if sorted(renumber) != list(range(1, len(order) + 1)):
            raise _Rejection(_UNCHECKABLE)
        for node in list(tree.find_all(exp.Parameter)):
            node.replace(_positional(renumber[int(node.this.name)]))
        sql = _render(tree)
        names_by_old = {number: name for name, number in order.items()}
        names = tuple(names_by_old[old] for old in sorted(renumber, key=renumber.__getitem__))
    else:
        names = ()

    sql = _verify_rendering(sql, len(names), calls)
    return _Template(sql=sql, names=names, tables=tables, calls=tuple(dict.fromkeys(calls)))


def _positional(number: int) -> exp.Parameter:
    return exp.Parameter(this=exp.Literal.number(number))


def _render(tree: exp.Expression) -> str:
    # normalize_functions=False: sqlglot upper-cases function names otherwise, and for a
    # quoted (case-sensitive) name such as "MyFunc"(...) that changes which function runs.
    copy = tree.copy()
    # Children before parents, so a rewritten node is built from rewritten children.
    for node in reversed(list(copy.walk())):
        replacement = _as_written(node)
        if replacement is not node:
            if node is copy:
                copy = replacement
            else:
                node.replace(replacement)
    return copy.sql(dialect=_DIALECT, normalize_functions=False)


# SQL's value keywords, which sqlglot would render as calls (CURRENT_TIME() is a syntax error).
_VALUE_KEYWORDS: dict[type[exp.Expression], str] = {
    exp.CurrentDate: "CURRENT_DATE",
    exp.CurrentTime: "CURRENT_TIME",
    exp.CurrentTimestamp: "CURRENT_TIMESTAMP",
    exp.Localtime: "LOCALTIME",
    exp.Localtimestamp: "LOCALTIMESTAMP",
    exp.CurrentUser: "CURRENT_USER",
    exp.CurrentRole: "CURRENT_ROLE",
    exp.SessionUser: "SESSION_USER",
    exp.CurrentCatalog: "CURRENT_CATALOG",
    exp.CurrentSchema: "CURRENT_SCHEMA",
}

# Typed sqlglot nodes that render back to the agent's syntax unchanged (with _as_written).
_FAITHFUL_SYNTAX: frozenset[type[exp.Expression]] = frozenset(
    {
        *_VALUE_KEYWORDS,
        exp.And,
        exp.Or,
        exp.Case,
        exp.If,  # a CASE branch
        exp.Cast,
        exp.Extract,
        exp.Exists,
        exp.Pow,
        exp.RegexpLike,
        exp.RegexpILike,
        exp.Array,  # ARRAY[...] and ARRAY(subquery)
        exp.ArrayContainsAll,  # @>
        exp.ArrayContainedBy,  # <@
        exp.ArrayOverlaps,  # &&
        exp.Unnest,
        exp.Explode,  # unnest(...) in the select list
        exp.Trim,
        exp.Substring,
        exp.StrPosition,  # POSITION(a IN b)
        exp.Overlay,
        exp.Collate,
        exp.StartsWith,  # ^@
        exp.MatchAgainst,  # @@
        exp.JSONExtract,  # ->, #>
        exp.JSONExtractScalar,  # ->>, #>>
        exp.JSONBExtract,
        exp.JSONBExtractScalar,
        exp.JSONBContains,
        exp.JSONBContainsTopKey,  # ?
        exp.JSONBContainsAnyTopKeys,  # ?|
        exp.JSONBContainsAllTopKeys,  # ?&
        exp.Date,  # date('...'), a function-style cast
        exp.JSONBDeleteAtPath,  # #-
        exp.GroupConcat,  # STRING_AGG(...)
        exp.Concat,  # 'a' 'b' across lines, rendered as one constant (_as_written)
    }
)


def _as_written(node: exp.Expression) -> exp.Expression:
    """Undo sqlglot's rewrites of syntax whose rendering would change a result.

    Function calls by name never reach here as typed nodes (`_parse_single`); what is left
    is operator and keyword syntax:
    * unquoted function names are written in lower case, as PostgreSQL folds them (one
      canonical text, one cache key, for `COUNT(*)` and `count(*)`);
    * value keywords (CURRENT_TIME, LOCALTIMESTAMP(3)...) keep their keyword form, so the
      result column keeps its name;
    * `a ^ b` and `a ^@ b` stay operators (sqlglot writes POWER(a, b), STARTS_WITH(a, b):
      same value, but the column would be named `power` instead of `?column?`), as
      OPERATOR(^) in parentheses, which PostgreSQL resolves exactly as `^`;
    * `interval '2' day` becomes CAST('2 DAY' AS INTERVAL), the same constant.
    """
    if isinstance(node, exp.Anonymous) and isinstance(node.this, str):
        node.set("this", node.this.lower())  # PostgreSQL folds an unquoted name: same function
        return node
    keyword = _VALUE_KEYWORDS.get(type(node))
    if keyword is not None:
        precision = node.args.get("this")
        if precision is None:
            return exp.Var(this=keyword)
        return exp.Anonymous(this=keyword, expressions=[precision])
    if isinstance(node, exp.Concat) and all(
        isinstance(part, exp.Literal) and part.is_string for part in node.expressions
    ):
        return exp.Literal.string("".join(part.this for part in node.expressions))
    if isinstance(node, exp.Trim) and node.args.get("position") and node.args.get("expression") is None:
        # TRIM(LEADING FROM s): sqlglot writes LTRIM(s); the default characters keep the form.
        node.set("expression", exp.Literal.string(" "))
        return node
    operator = _OPERATORS_AS_WRITTEN.get(type(node))
    if operator is not None:
        return exp.Paren(this=exp.Operator(this=node.this, operator=operator, expression=node.expression))
    if isinstance(node, exp.Interval) and isinstance(node.args.get("unit"), exp.Var):  # _check_interval
        text = f"{node.this.this.strip()} {node.args['unit'].name.upper()}"
        return exp.Cast(this=exp.Literal.string(text), to=exp.DataType.build("interval"))
    return node


# Operators sqlglot turns into function calls (another column name): kept as operators.
_OPERATORS_AS_WRITTEN: dict[type[exp.Expression], str] = {exp.Pow: "^", exp.StartsWith: "^@"}


def _verify_rendering(
    sql: str, parameter_count: int, calls: list[FunctionCall], *, settle: bool = True
) -> str:
    """Check the text that will run, so that a rendering surprise cannot slip past the checks.

    The rendered SQL is tokenized, parsed and checked again (this time the only parameters
    allowed are our own $1..$n), and must render to itself.
    """
    # A trailing space: sqlglot's tokenizer fails on `$1 ... ''` at the very end of the input
    # (a false "unclosed string"); whitespace changes nothing else.
    tokens = _tokenize(sql + " ")
    _reject_comments_and_stray_text(sql, tokens)
    if any(token.token_type == TokenType.SEMICOLON for token in tokens):
        raise _Rejection(_UNCHECKABLE)
    tree = _parse_single(sql, tokens, as_sent=False)
    _check_top_level(tree, tokens)
    rendered_calls: list[FunctionCall] = []
    _check_tree(tree, numbered=parameter_count, calls=rendered_calls)
    if set(rendered_calls) != set(calls):
        raise _Rejection(_UNCHECKABLE)
    _check_call_tokens(tokens, tree, calls)
    again = _render(tree)
    if again == sql:
        return sql
    # Some syntax settles in one more round (SOME (subquery) becomes ANY(...), then
    # ANY (...)): the settled text is what runs, so it is checked in full once more.
    if settle:
        return _verify_rendering(again, parameter_count, calls, settle=False)
    raise _Rejection(_UNCHECKABLE)


def _tokenize(query: str) -> list[Token]:
    try:
        return sqlglot.tokenize(query, read=_DIALECT)
    except TokenError as error:
        position = getattr(error, "end", None)
        where = ""
        if isinstance(position, int):
            line, column = _line_column(query, min(position, len(query) - 1))
            where = f" near line {line}, column {column}"
        raise _Rejection(
            f"Could not parse the SQL{where}: a quoted string, quoted identifier, dollar-quoted "
            "string or comment is not closed."
        ) from None


def _reject_leading_commands(tokens: list[Token]) -> None:
    """EXPLAIN, DO, VACUUM, SHOW... at the start of a statement: sqlglot swallows the rest as text."""
    for index, token in enumerate(tokens):
        if token.token_type not in _COMMAND_TOKENS:
            continue
        if index == 0:
            raise _Rejection(f"Only SELECT queries are allowed; found {token.text.upper()}.")
        if tokens[index - 1].token_type == TokenType.SEMICOLON:
            raise _Rejection(_ONE_STATEMENT)


def _line_column(text: str, offset: int) -> tuple[int, int]:
    before = text[: offset + 1]
    line = before.count("\n") + 1
    column = offset + 1 - (before.rfind("\n") + 1)
    return line, column


def _reject_comments_and_stray_text(query: str, tokens: list[Token]) -> None:
    """Every non-blank character must belong to a token; the rest are comments (or worse).

    sqlglot attaches most comments to a neighbouring token but drops some (a query that is
    only a comment); looking at the gaps between token spans catches both.
    """
    if any(token.comments for token in tokens):
        raise _Rejection(_COMMENTS)
    position = 0
    for token in [*tokens, None]:
        end = token.start if token is not None else len(query)
        gap = query[position:end]
        if gap.strip():
            if "--" in gap or "/*" in gap:
                raise _Rejection(_COMMENTS)
            raise _Rejection(_UNCHECKABLE)
        if token is not None:
            position = token.end + 1


def _reject_unicode_identifiers(tokens: list[Token]) -> None:
    # sqlglot reads U&"..." (a Unicode-escaped identifier) as `U & "..."`, a different query.
    for first, amp, third in zip(tokens, tokens[1:], tokens[2:], strict=False):
        if (
            first.text.lower() == "u"
            and amp.token_type == TokenType.AMP
            and third.token_type == TokenType.IDENTIFIER
            and first.end + 1 == amp.start
            and amp.end + 1 == third.start
        ):
            raise _Rejection(
                'Unicode-escaped identifiers (U&"...") are not supported; write the identifier plainly.'
            )


def _reject_unfaithful_tokens(query: str, tokens: list[Token]) -> None:
    """Tokens sqlglot would quietly turn into something else: numbers PostgreSQL 15 refuses,
    `!!`, interval precision.

    sqlglot reads `0x1F` as the bit string x'1F' and `1_000` as `1 AS _000`; PostgreSQL 15
    rejects both ("trailing junk after numeric literal").
    """
    for token, following in itertools.pairwise([*tokens, None]):
        if (
            token.token_type == TokenType.INTERVAL
            and following is not None
            and following.token_type == TokenType.L_PAREN
        ):
            raise _Rejection(  # sqlglot renders interval(2) as INTERVAL 2
                "Interval precision (interval(n)) cannot be passed on unchanged: drop the (n), or "
                "round with date_trunc."
            )
        if token.text == "!" and following is not None and following.text == "!":
            raise _Rejection(
                "The !! operator (tsquery negation) cannot be passed on unchanged; write "
                "tsquery_not(q) instead of !! q."
            )
        if token.token_type in (TokenType.HEX_STRING, TokenType.BIT_STRING) and query[token.start] == "0":
            raise _Rejection(
                f"Write the number {query[token.start : token.end + 1]} in decimal; PostgreSQL 15 does "
                "not read 0x/0b literals (for a bit string write x'1F' or b'101')."
            )
        if (
            token.token_type == TokenType.NUMBER
            and following is not None
            and following.start == token.end + 1
            and following.token_type in (TokenType.VAR, TokenType.IDENTIFIER)
        ):
            raise _Rejection(
                f"A number runs into a name ({query[token.start : following.end + 1]}); write numbers "
                "in plain decimal without underscores and separate them from names with a space."
            )


def _parse_single(query: str, tokens: list[Token], *, as_sent: bool = True) -> exp.Expression:
    """Parse one statement, function calls kept as written (see _TYPED_NAMES).

    `as_sent`: the text is the agent's own, so a parse error may point at a line and column.
    """
    sent = query
    query, tokens = _typed_literals_as_casts(query, tokens)
    tokens, originals = _with_markers(query, tokens)
    try:
        statements = (
            sqlglot.Dialect.get_or_raise(_DIALECT).parser(error_level=ErrorLevel.RAISE).parse(tokens, query)
        )
    except ParseError as error:
        hint = _syntax_hint(tokens)
        reason = _parse_error_reason(error, where=as_sent and query == sent)
        raise _Rejection(reason + (f" {hint}" if hint else "")) from None
    if len(statements) != 1 or statements[0] is None:
        raise _Rejection(_ONE_STATEMENT)
    tree = statements[0]
    if originals:
        for node in tree.walk():
            for key, value in node.args.items():
                if isinstance(value, str) and value in originals:
                    node.set(key, originals[value])
        if any(marker in _render(tree) for marker in originals):
            raise _Rejection(_UNCHECKABLE)  # a marker survived somewhere we did not restore
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
_INTERVAL_FIELDS = frozenset({"YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND"})


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
            if following is not None and following.text.upper() in _INTERVAL_FIELDS:
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
    return rewritten, _tokenize(rewritten)


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
            and token.token_type in _NAME_TOKENS
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


def _check_top_level(tree: exp.Expression, tokens: list[Token]) -> None:
    node = tree
    while isinstance(node, exp.Subquery):  # (SELECT ...), ((SELECT ...))
        node = node.this
    if isinstance(node, exp.Select | exp.SetOperation):
        return
    word = _statement_word(node)
    if word is None:
        word = tokens[0].text.upper() if tokens else "nothing"
    raise _Rejection(f"Only SELECT queries are allowed; found {word}.")


def _statement_word(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Command):
        return str(node.name).upper() or None
    if isinstance(node, exp.Create):
        kind = node.args.get("kind")
        return f"CREATE {kind}".upper() if kind else "CREATE"
    return _STATEMENT_WORDS.get(type(node).__name__)


def _check_tree(tree: exp.Expression, *, numbered: int, calls: list[FunctionCall]) -> list[exp.Placeholder]:
    """Walk every node; return the named placeholders (when `numbered` is 0) and append
    every function called by name to `calls`.

    `numbered` > 0 is the second pass over our own rendering, where $1..$numbered are the
    only parameters allowed and named placeholders cannot occur.
    """
    placeholders: list[exp.Placeholder] = []
    for node in tree.walk():
        if node.comments:
            raise _Rejection(_COMMENTS)
        if isinstance(node, exp.Into):
            raise _Rejection("SELECT ... INTO creates a table and is not allowed; remove the INTO clause.")
        if isinstance(node, exp.Lock):
            raise _Rejection(
                "Row-locking clauses (FOR UPDATE, FOR NO KEY UPDATE, FOR SHARE, FOR KEY SHARE) are "
                "not allowed; remove the FOR ... clause."
            )
        if isinstance(node, exp.Hint):
            raise _Rejection(_COMMENTS)
        if isinstance(node, _FORBIDDEN_NODES):
            word = _statement_word(node) or type(node).__name__.upper()
            raise _Rejection(
                f"Only SELECT queries are allowed; found {word} inside the query "
                "(data-modifying CTEs and subqueries are not allowed)."
            )
        if isinstance(node, exp.Parameter):
            literal = node.this
            if (
                numbered
                and isinstance(literal, exp.Literal)
                and not literal.is_string
                and literal.name.isdigit()
                and 1 <= int(literal.name) <= numbered
            ):
                continue
            raise _Rejection(_POSITIONAL_HINT)
        if isinstance(node, exp.Placeholder):
            if numbered or not node.this:
                raise _Rejection(_POSITIONAL_HINT)
            if not _PARAM_NAME.match(node.name):
                raise _Rejection(
                    f"Parameter name {node.name!r} is invalid; use letters, digits and underscores, "
                    "starting with a letter or underscore (at most 63 characters)."
                )
            placeholders.append(node)
            continue
        if isinstance(node, exp.Operator):
            _check_operator(node)
        elif isinstance(node, exp.Interval):
            _check_interval(node)
        elif isinstance(node, exp.Is) and not isinstance(node.expression, exp.Null | exp.Boolean):
            raise _Rejection(
                "Only IS [NOT] NULL / TRUE / FALSE / UNKNOWN tests can be passed on unchanged; for "
                "IS NORMALIZED compare with normalize(x), for IS JSON use a CASE over jsonb_typeof."
            )
        elif isinstance(node, exp.Anonymous):
            calls.append(_function_call(node))
        elif isinstance(node, exp.Func):
            _check_syntax_node(node)
        elif isinstance(node, exp.Dot) and not isinstance(node.expression, exp.Func):
            # (expr).f is PostgreSQL's attribute notation for f(expr): it calls functions.
            _check_function_name(node.expression.name)
        elif isinstance(node, exp.Column) and node.args.get("table") is not None:
            _check_function_name(node.name)
    return placeholders


def _function_call(node: exp.Anonymous) -> FunctionCall:
    """The function an anonymous call names, as PostgreSQL resolves it (case, schema)."""
    name = _resolved_name(node.this)
    parent = node.parent
    qualifier: exp.Expression | None = None
    if isinstance(parent, exp.Dot) and parent.expression is node:
        qualifier = parent.this
    elif isinstance(parent, exp.Table) and parent.this is node:
        if parent.args.get("catalog") is not None:
            raise _Rejection(_QUALIFIED_CALL)
        qualifier = parent.args.get("db")
    if qualifier is None:
        return FunctionCall(name=name)
    if not isinstance(qualifier, exp.Identifier):
        raise _Rejection(_QUALIFIED_CALL)  # db.schema.f(...) or an expression
    return FunctionCall(name=name, schema=_resolved_name(qualifier))


def _resolved_name(name: object) -> str:
    if isinstance(name, exp.Identifier):
        return name.name if name.quoted else name.name.lower()
    return str(name).lower()


_QUALIFIED_CALL = (
    "A function may be qualified with a schema name only (schema.function(...)); "
    "call built-in functions without a schema."
)


_INTERVAL_NUMBER = re.compile(r"^\s*[+-]?\d+(\.\d+)?\s*$")


def _check_interval(node: exp.Interval) -> None:
    """`interval '2' day` passes (rendered as CAST('2 DAY' AS INTERVAL), the same value); other
    forms with a field after the constant would be read differently by sqlglot."""
    value, unit = node.this, node.args.get("unit")
    if isinstance(unit, exp.IntervalSpan) and isinstance(value, exp.Literal) and value.is_string:
        fields = (unit.this, unit.expression)
        if all(isinstance(field, exp.Var) and field.name.upper() in _INTERVAL_FIELDS for field in fields):
            return  # interval '1-2' year to month: sqlglot renders it unchanged
    if not (
        isinstance(value, exp.Literal)
        and value.is_string
        and _INTERVAL_NUMBER.match(value.this)
        and isinstance(unit, exp.Var)
        and unit.name.upper() in _INTERVAL_FIELDS
    ):
        raise _Rejection(
            "Write intervals with the unit inside the quotes, e.g. interval '1 day 2 hours' "
            "(a field after the constant, as in interval '1' day to hour, cannot be passed on unchanged)."
        )


def _check_operator(node: exp.Operator) -> None:
    """`a OPERATOR(schema.op) b` may name PostgreSQL's own operators only."""
    operator = str(node.args.get("operator") or "")
    schema, _, _ = operator.rpartition(".")
    if schema and schema.strip('"').lower() != "pg_catalog":
        raise _Rejection(
            f"OPERATOR({operator}) names schema {schema!r}; only PostgreSQL's own operators "
            "(unqualified or pg_catalog) are allowed."
        )


# What to write instead of operator syntax sqlglot cannot pass on unchanged.
_WRITE_INSTEAD: dict[type[exp.Expression], str] = {
    exp.Sqrt: "write sqrt(x) instead of |/ x",
    exp.Cbrt: "write cbrt(x) instead of ||/ x",
}


def _check_syntax_node(node: exp.Func) -> None:
    """Typed nodes come only from SQL syntax here (operators, CAST, EXTRACT, CASE...).

    Each class below renders back to what the agent wrote (tests/sql_fidelity_corpus.py
    runs both and compares); any other class means sqlglot read the text as a construct we
    have not verified, and running its rendering could mean something else.
    """
    if type(node) not in _FAITHFUL_SYNTAX:
        instead = _WRITE_INSTEAD.get(type(node))
        if instead is not None:
            raise _Rejection(f"That operator cannot be passed on unchanged; {instead}.")
        raise _Rejection(
            "The query uses syntax that cannot be passed on unchanged "
            f"({type(node).__name__}); write it as plain function calls and operators."
        )


def _check_function_name(name: str) -> None:
    category = denied_category(name)
    if category is not None:
        raise _Rejection(f"Function {name.lower()} is not allowed ({category}).")


def _check_call_tokens(tokens: list[Token], tree: exp.Expression, calls: list[FunctionCall]) -> None:
    """Belt and braces on the rendered text: every `name(` is a call the policy will see.

    A name followed by a parenthesis is either a function call found in the tree, a name
    the query itself defines with a column list (`WITH months(m) AS`, `AS g(n)`), or SQL
    keyword syntax (tokenized as keywords, not names); anything else would be a call the
    allow list never judged.
    """
    defined = {alias.name for alias in tree.find_all(exp.TableAlias) if alias.name}
    called = {call.name for call in calls}
    for token, following in itertools.pairwise(tokens):
        if following.token_type != TokenType.L_PAREN:
            continue
        if token.token_type not in _NAME_TOKENS:
            if token.token_type not in _STRING_TOKENS:
                _check_function_name(token.text)
            continue
        name = token.text if token.token_type == TokenType.IDENTIFIER else token.text.lower()
        if token.text in defined or name in defined:
            continue
        _check_function_name(token.text)
        if name in called:
            continue
        if token.token_type == TokenType.VAR and token.text in _SYNTAX_WORDS:
            continue  # sqlglot writes syntax in capitals; a call named so is in `called`
        raise _Rejection(_UNCHECKABLE)


def _parameter_numbers(tokens: list[Token]) -> list[int]:
    numbers = []
    for token, following in itertools.pairwise(tokens):
        if token.token_type == TokenType.PARAMETER and following.token_type == TokenType.NUMBER:
            numbers.append(int(following.text))
    return numbers


def _table_names(tree: exp.Expression) -> frozenset[str]:
    cte_names = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    names = set()
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # a table function such as generate_series(...)
        parts = [part.name.lower() for part in table.parts]
        if len(parts) == 1 and parts[0] in cte_names:
            continue
        names.add(".".join(parts))
    return frozenset(names)


# --------------------------------------------------------------------------- logging

# sqlglot logs a warning each time it falls back to exp.Command ("contains unsupported
# syntax"); for the guard that is an expected rejection, not news. The filter only drops
# records emitted by the thread currently inside guard_sql, and is attached only while some
# thread is, so other users of sqlglot in the process keep their warnings.
_SQLGLOT_LOGGER = logging.getLogger("sqlglot")
_quiet_state = threading.local()
_quiet_lock = threading.Lock()
_quiet_users = 0


class _QuietInGuard(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_quiet_state, "active", False)


_QUIET_FILTER = _QuietInGuard()


@contextlib.contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    global _quiet_users
    with _quiet_lock:
        if _quiet_users == 0:
            _SQLGLOT_LOGGER.addFilter(_QUIET_FILTER)
        _quiet_users += 1
    _quiet_state.active = True
    try:
        yield
    finally:
        _quiet_state.active = False
        with _quiet_lock:
            _quiet_users -= 1
            if _quiet_users == 0:
                _SQLGLOT_LOGGER.removeFilter(_QUIET_FILTER)
