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

The steps live in their own modules, in the order they depend on each other:
`sql_tokens` (tokenizing, token-level refusals), `sql_render` (the tree back to SQL as
written), `sql_parse` (one statement, calls kept as written), `sql_tree_checks` (what a
query may contain). This module is the flow through them (over the agent's text, then
again over the rendering that will run), the cache over that flow, the silencing of
sqlglot's warnings while it runs, parameter binding, and the public API.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from sqlglot import exp
from sqlglot.tokens import TokenType

from mcp_server.security.function_policy import FunctionCall, FunctionPolicy

# The steps are bound to this module's private names, so the flow below reads as one
# piece, and tests reach (and monkeypatch, e.g. `_render`) each step as `sql_guard._name`.
from mcp_server.security.sql_parse import parse_single as _parse_single
from mcp_server.security.sql_render import render as _render
from mcp_server.security.sql_tokens import COMMENTS as _COMMENTS
from mcp_server.security.sql_tokens import UNCHECKABLE as _UNCHECKABLE
from mcp_server.security.sql_tokens import Rejection as _Rejection
from mcp_server.security.sql_tokens import parameter_numbers as _parameter_numbers
from mcp_server.security.sql_tokens import reject_comments_and_stray_text as _reject_comments_and_stray_text
from mcp_server.security.sql_tokens import reject_leading_commands as _reject_leading_commands
from mcp_server.security.sql_tokens import reject_unfaithful_tokens as _reject_unfaithful_tokens
from mcp_server.security.sql_tokens import reject_unicode_identifiers as _reject_unicode_identifiers
from mcp_server.security.sql_tokens import tokenize as _tokenize
from mcp_server.security.sql_tokens import without_comments as _without_comments
from mcp_server.security.sql_tree_checks import PARAM_NAME as _PARAM_NAME
from mcp_server.security.sql_tree_checks import check_call_tokens as _check_call_tokens
from mcp_server.security.sql_tree_checks import check_top_level as _check_top_level
from mcp_server.security.sql_tree_checks import check_tree as _check_tree
from mcp_server.security.sql_tree_checks import table_names as _table_names

__all__ = ["GuardedQuery", "SqlRejected", "guard_sql"]


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
