"""The SQL guard's tree checks: what a parsed query may contain.

A read-only SELECT with named parameters, no statement or clause that writes, locks or
changes the session, no syntax outside the verified list (`sql_render.FAITHFUL_SYNTAX`),
and every function it calls by name collected for the allow list (`function_policy`)
or refused outright when it falls in a denied category. The same checks run on the agent's
query and again on the rendered text that will run (`sql_guard`), the second time with
only the guard's own $1..$n parameters allowed; `check_call_tokens` is the backstop on that
text's tokens, so a `name(` the tree does not show as a call is refused, not run unjudged.
"""

from __future__ import annotations

import itertools
import re

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from mcp_server.security.function_policy import FunctionCall, denied_category
from mcp_server.security.sql_parse import INTERVAL_FIELDS, KEYWORD_SYNTAX
from mcp_server.security.sql_render import FAITHFUL_SYNTAX
from mcp_server.security.sql_tokens import COMMENTS, NAME_TOKENS, UNCHECKABLE, Rejection

# Words sqlglot renders before a parenthesis that are syntax, not calls: the keyword
# syntax (sql_parse.KEYWORD_SYNTAX), WITHIN GROUP (...), TABLESAMPLE BERNOULLI/SYSTEM (...) REPEATABLE (...).
_SYNTAX_WORDS = KEYWORD_SYNTAX | {"GROUP", "BERNOULLI", "SYSTEM", "REPEATABLE", "MATERIALIZED", "STRING_AGG"}


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

PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
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
_POSITIONAL_HINT = (
    "Positional parameters ($1, %s, ?) are not supported; use named parameters like :name or %(name)s."
)


def check_top_level(tree: exp.Expression, tokens: list[Token]) -> None:
    """The statement itself is a SELECT (or a set operation of them), however parenthesized."""
    node = tree
    while isinstance(node, exp.Subquery):  # (SELECT ...), ((SELECT ...))
        node = node.this
    if isinstance(node, exp.Select | exp.SetOperation):
        return
    word = _statement_word(node)
    if word is None:
        word = tokens[0].text.upper() if tokens else "nothing"
    raise Rejection(f"Only SELECT queries are allowed; found {word}.")


def _statement_word(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Command):
        return str(node.name).upper() or None
    if isinstance(node, exp.Create):
        kind = node.args.get("kind")
        return f"CREATE {kind}".upper() if kind else "CREATE"
    return _STATEMENT_WORDS.get(type(node).__name__)


def check_tree(tree: exp.Expression, *, numbered: int, calls: list[FunctionCall]) -> list[exp.Placeholder]:
    """Walk every node; return the named placeholders (when `numbered` is 0) and append
    every function called by name to `calls`.

    `numbered` > 0 is the second pass over our own rendering, where $1..$numbered are the
    only parameters allowed and named placeholders cannot occur.
    """
    placeholders: list[exp.Placeholder] = []
    for node in tree.walk():
        if node.comments:
            raise Rejection(COMMENTS)
        if isinstance(node, exp.Into):
            raise Rejection("SELECT ... INTO creates a table and is not allowed; remove the INTO clause.")
        if isinstance(node, exp.Lock):
            raise Rejection(
                "Row-locking clauses (FOR UPDATE, FOR NO KEY UPDATE, FOR SHARE, FOR KEY SHARE) are "
                "not allowed; remove the FOR ... clause."
            )
        if isinstance(node, exp.Hint):
            raise Rejection(COMMENTS)
        if isinstance(node, _FORBIDDEN_NODES):
            word = _statement_word(node) or type(node).__name__.upper()
            raise Rejection(
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
            raise Rejection(_POSITIONAL_HINT)
        if isinstance(node, exp.Placeholder):
            if numbered or not node.this:
                raise Rejection(_POSITIONAL_HINT)
            if not PARAM_NAME.match(node.name):
                raise Rejection(
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
            raise Rejection(
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
            raise Rejection(_QUALIFIED_CALL)
        qualifier = parent.args.get("db")
    if qualifier is None:
        return FunctionCall(name=name)
    if not isinstance(qualifier, exp.Identifier):
        raise Rejection(_QUALIFIED_CALL)  # db.schema.f(...) or an expression
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
        if all(isinstance(field, exp.Var) and field.name.upper() in INTERVAL_FIELDS for field in fields):
            return  # interval '1-2' year to month: sqlglot renders it unchanged
    if not (
        isinstance(value, exp.Literal)
        and value.is_string
        and _INTERVAL_NUMBER.match(value.this)
        and isinstance(unit, exp.Var)
        and unit.name.upper() in INTERVAL_FIELDS
    ):
        raise Rejection(
            "Write intervals with the unit inside the quotes, e.g. interval '1 day 2 hours' "
            "(a field after the constant, as in interval '1' day to hour, cannot be passed on unchanged)."
        )


def _check_operator(node: exp.Operator) -> None:
    """`a OPERATOR(schema.op) b` may name PostgreSQL's own operators only."""
    operator = str(node.args.get("operator") or "")
    schema, _, _ = operator.rpartition(".")
    if schema and schema.strip('"').lower() != "pg_catalog":
        raise Rejection(
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

    Each class in FAITHFUL_SYNTAX (sql_render) renders back to what the agent wrote
    (tests/sql_fidelity_corpus.py runs both and compares); any other class means sqlglot
    read the text as a construct we have not verified, and running its rendering could mean
    something else.
    """
    if type(node) not in FAITHFUL_SYNTAX:
        instead = _WRITE_INSTEAD.get(type(node))
        if instead is not None:
            raise Rejection(f"That operator cannot be passed on unchanged; {instead}.")
        raise Rejection(
            "The query uses syntax that cannot be passed on unchanged "
            f"({type(node).__name__}); write it as plain function calls and operators."
        )


def _check_function_name(name: str) -> None:
    category = denied_category(name)
    if category is not None:
        raise Rejection(f"Function {name.lower()} is not allowed ({category}).")


def check_call_tokens(tokens: list[Token], tree: exp.Expression, calls: list[FunctionCall]) -> None:
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
        if token.token_type not in NAME_TOKENS:
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
        raise Rejection(UNCHECKABLE)


def table_names(tree: exp.Expression) -> frozenset[str]:
    """The relations the query reads, lower-cased and qualified as written (CTEs excluded)."""
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
