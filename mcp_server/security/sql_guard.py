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
import fnmatch
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

__all__ = ["GuardedQuery", "SqlRejected", "guard_sql"]

_DIALECT = "postgres"

# Function names (lower-case, schema stripped) an agent may not call, as fnmatch patterns,
# each with the category named in the rejection. Reasons for listing a function: it
# touches the server's files or other processes, reads configuration or secrets, writes
# state even inside a read-only transaction (sequences, advisory locks, notifications,
# xid assignment), blocks the connection pool (sleep, locks), or executes a SQL string the
# guard never saw (query_to_xml, ts_stat, dblink...). Matching is deliberately broad: a
# false rejection costs the agent a rewrite, a false acceptance costs the server.
_DENIED_FUNCTIONS: tuple[tuple[str, str], ...] = (
    # Server file system (pg_read_file & co. bypass table privileges for privileged roles).
    ("pg_read_file", "file access"),
    ("pg_read_binary_file", "file access"),
    ("pg_ls_*", "file access"),  # pg_ls_dir, pg_ls_logdir, pg_ls_waldir, pg_ls_tmpdir...
    ("pg_stat_file", "file access"),
    ("pg_file_*", "file access"),  # adminpack: pg_file_write, pg_file_rename, pg_file_unlink...
    ("pg_logdir_ls", "file access"),
    ("pg_current_logfile", "file access"),
    # Large objects: lo_import/lo_export read and write server files, the rest write data.
    ("lo_*", "large objects"),
    ("loread", "large objects"),
    ("lowrite", "large objects"),
    # Connections to other servers, where none of our layers apply.
    ("dblink*", "remote access"),
    # Settings: set_config can switch role or turn off transaction_read_only; reading
    # settings discloses paths and configuration.
    ("set_config", "settings"),
    ("current_setting", "settings"),
    # Backend and server control.
    ("pg_terminate_backend", "server control"),
    ("pg_cancel_backend", "server control"),
    ("pg_reload_conf", "server control"),
    ("pg_rotate_logfile*", "server control"),
    ("pg_promote", "server control"),
    ("pg_switch_wal", "server control"),
    ("pg_switch_xlog", "server control"),
    ("pg_create_restore_point", "server control"),
    ("pg_backup_*", "server control"),
    ("pg_start_backup", "server control"),
    ("pg_stop_backup", "server control"),
    ("pg_logical_*", "server control"),
    ("pg_replication_*", "server control"),
    ("pg_drop_replication_slot", "server control"),
    ("pg_create_*_replication_slot", "server control"),
    ("pg_copy_*_replication_slot", "server control"),
    ("pg_sync_replication_slots", "server control"),
    ("pg_import_system_collations", "server control"),
    ("pg_wal_replay_*", "server control"),
    ("pg_xlog_replay_*", "server control"),
    ("pg_log_*", "server control"),  # pg_log_backend_memory_contexts, pg_log_standby_snapshot
    ("pg_stat_reset*", "statistics reset"),
    ("pg_stat_statements_reset", "statistics reset"),
    # Advisory locks outlive the statement and can block other sessions.
    ("pg_advisory_*", "advisory locks"),
    ("pg_try_advisory_*", "advisory locks"),
    # Sequences: nextval/setval write even in a read-only transaction.
    ("nextval", "sequences"),
    ("setval", "sequences"),
    ("currval", "sequences"),
    ("lastval", "sequences"),
    # Sleeping holds a pooled connection for nothing.
    ("pg_sleep*", "sleep"),
    # Notifications reach other sessions.
    ("pg_notify", "notifications"),
    # Functions that run a SQL string (or a cursor) the guard has not checked.
    ("query_to_xml*", "executes SQL text"),
    ("query_to_xmlschema", "executes SQL text"),
    ("cursor_to_xml*", "executes SQL text"),
    ("table_to_xml*", "executes SQL text"),
    ("schema_to_xml*", "executes SQL text"),
    ("database_to_xml*", "executes SQL text"),
    ("ts_stat", "executes SQL text"),
    ("ts_rewrite", "executes SQL text"),
    # Transaction ids and snapshots: assigning an xid is a write.
    ("txid_current", "transaction ids"),
    ("pg_current_xact_id", "transaction ids"),
    ("pg_export_snapshot", "transaction ids"),
    # Internal functions of pg_upgrade.
    ("binary_upgrade_*", "binary upgrade internals"),
)

# Schemas a function call may be qualified with. A call qualified with anything else is an
# extension or user function whose behaviour the deny list cannot vouch for.
_ALLOWED_FUNCTION_SCHEMAS = frozenset({"pg_catalog", "public"})

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
_COMMENTS = "Comments are not allowed in queries; remove -- and /* */ comments."
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


class _Rejection(Exception):
    """Raised inside the analysis; turned into a cached result so repeats stay cheap."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def guard_sql(
    query: str, parameters: Mapping[str, object] | None = None, *, max_length: int = 20_000
) -> GuardedQuery:
    """Check `query` and bind `parameters`; raise SqlRejected with an actionable reason."""
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
    if isinstance(analysis, str):
        raise SqlRejected(analysis)
    args = _bind(analysis.names, parameters)
    payload = json.dumps(list(args), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    fingerprint = hashlib.sha256(f"{analysis.sql}\x00{payload}".encode()).hexdigest()
    return GuardedQuery(sql=analysis.sql, args=args, fingerprint=fingerprint, tables=analysis.tables)


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
    tree = _parse_single(query, tokens)
    _check_top_level(tree, tokens)
    tables = _table_names(tree)
    placeholders = _check_tree(tree, numbered=0)

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

    _verify_rendering(sql, len(names))
    return _Template(sql=sql, names=names, tables=tables)


def _positional(number: int) -> exp.Parameter:
    return exp.Parameter(this=exp.Literal.number(number))


def _render(tree: exp.Expression) -> str:
    # normalize_functions=False: sqlglot upper-cases function names otherwise, and for a
    # quoted (case-sensitive) name such as "MyFunc"(...) that changes which function runs.
    return tree.sql(dialect=_DIALECT, normalize_functions=False)


def _verify_rendering(sql: str, parameter_count: int) -> None:
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
    tree = _parse_single(sql, tokens)
    _check_top_level(tree, tokens)
    _check_tree(tree, numbered=parameter_count)
    _reject_denied_call_tokens(tokens, tree)
    if _render(tree) != sql:
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


def _parse_single(query: str, tokens: list[Token]) -> exp.Expression:
    try:
        statements = (
            sqlglot.Dialect.get_or_raise(_DIALECT).parser(error_level=ErrorLevel.RAISE).parse(tokens, query)
        )
    except ParseError as error:
        raise _Rejection(_parse_error_reason(error)) from None
    if len(statements) != 1 or statements[0] is None:
        raise _Rejection(_ONE_STATEMENT)
    return statements[0]


def _parse_error_reason(error: ParseError) -> str:
    details = error.errors[0] if error.errors else {}
    line, column = details.get("line"), details.get("col")
    description = str(details.get("description") or "unexpected syntax")
    # Some sqlglot messages name its internal classes; those mean nothing to an agent.
    if "<class" in description or "Required keyword" in description or len(description) > 120:
        description = "incomplete or unexpected syntax"
    highlight = str(details.get("highlight") or "").strip()
    near = f" ({highlight!r})" if highlight and len(highlight) <= 40 else ""
    if line and column:
        return f"Could not parse the SQL near line {line}, column {column}{near}: {description}."
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


def _check_tree(tree: exp.Expression, *, numbered: int) -> list[exp.Placeholder]:
    """Walk every node; return the named placeholders (when `numbered` is 0).

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
        if isinstance(node, exp.Func):
            _check_function(node)
        elif isinstance(node, exp.Dot) and not isinstance(node.expression, exp.Func):
            # (expr).f is PostgreSQL's attribute notation for f(expr): it calls functions.
            _check_function_name(node.expression.name)
        elif isinstance(node, exp.Column) and node.args.get("table") is not None:
            _check_function_name(node.name)
    return placeholders


def _check_function(node: exp.Func) -> None:
    if isinstance(node, exp.Anonymous):
        _check_function_name(node.name)
    else:
        _check_function_name(node.sql_name())
    parent = node.parent
    qualifier: exp.Expression | None = None
    if isinstance(parent, exp.Dot) and parent.expression is node:
        qualifier = parent.this
    elif isinstance(parent, exp.Table) and parent.this is node:
        qualifier = parent.args.get("db")
    if qualifier is not None:
        schema = qualifier.sql(dialect=_DIALECT).strip('"').lower()
        if schema not in _ALLOWED_FUNCTION_SCHEMAS:
            raise _Rejection(
                f"Function calls qualified with schema {schema!r} are not allowed; call built-in "
                "functions without a schema (or with pg_catalog)."
            )


def _denied_category(name: str) -> str | None:
    lowered = name.lower()
    for pattern, category in _DENIED_FUNCTIONS:
        if fnmatch.fnmatchcase(lowered, pattern):
            return category
    return None


def _check_function_name(name: str) -> None:
    category = _denied_category(name)
    if category is not None:
        raise _Rejection(f"Function {name.lower()} is not allowed ({category}).")


def _reject_denied_call_tokens(tokens: list[Token], tree: exp.Expression) -> None:
    """Belt and braces on the rendered text: every `name(` is checked, whatever node it came from.

    Typed sqlglot functions render under names the tree does not show. Names the query
    itself defines with a column list (`WITH lo_usage(x) AS`, `AS g(m)`) are skipped: they
    are not calls, and any real call has already been checked in the tree.
    """
    defined = {alias.name.lower() for alias in tree.find_all(exp.TableAlias) if alias.name}
    for token, following in itertools.pairwise(tokens):
        if (
            following.token_type == TokenType.L_PAREN
            and token.token_type not in _STRING_TOKENS
            and token.text.lower() not in defined
        ):
            _check_function_name(token.text)


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
