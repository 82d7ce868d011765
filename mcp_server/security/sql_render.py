"""The SQL guard's rendering: a checked tree back to SQL that means what the agent wrote.

The rendered text, never the agent's, is what runs, so rendering decides the result as
much as the checks do. sqlglot on its own renders for portability (`now()` as
CURRENT_TIMESTAMP, `a ^ b` as POWER(a, b), CURRENT_TIME as CURRENT_TIME()), which changes
column names, types or validity; `render` undoes those rewrites, and `FAITHFUL_SYNTAX` is
the list of typed nodes verified to come back unchanged, which the tree checks
(`sql_tree_checks`) hold every query to. Verifying the rendered text is the guard's own
flow (`sql_guard`), since it runs every other step again.
"""

from __future__ import annotations

from sqlglot import exp

from mcp_server.security.sql_tokens import DIALECT


def render(tree: exp.Expression) -> str:
    """`tree` as the SQL text that runs, each node written as the agent wrote it (`_as_written`)."""
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
    return copy.sql(dialect=DIALECT, normalize_functions=False)


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
FAITHFUL_SYNTAX: frozenset[type[exp.Expression]] = frozenset(
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

    Function calls by name never reach here as typed nodes (`sql_parse.parse_single`); what
    is left is operator and keyword syntax:
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
    # Only the form sql_tree_checks._check_interval lets through: a number and one field.
    if isinstance(node, exp.Interval) and isinstance(node.args.get("unit"), exp.Var):
        text = f"{node.this.this.strip()} {node.args['unit'].name.upper()}"
        return exp.Cast(this=exp.Literal.string(text), to=exp.DataType.build("interval"))
    return node


# Operators sqlglot turns into function calls (another column name): kept as operators.
_OPERATORS_AS_WRITTEN: dict[type[exp.Expression], str] = {exp.Pow: "^", exp.StartsWith: "^@"}
