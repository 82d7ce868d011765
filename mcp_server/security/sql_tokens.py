"""The SQL guard's first look at the agent's text: sqlglot's tokens, and what they alone refuse.

Everything here works on the token stream, before any parse: some inputs must be refused
before sqlglot's parser sees them, because the parser would quietly read them as another
query (`EXPLAIN ...` swallowed as text, `U&"x"` read as `U & "x"`, `0x1F` as a bit string,
comments it drops). Keeping these rules apart from parsing makes it plain which checks look
at characters and which at the tree.

This module is the bottom of the guard's modules (`sql_guard` imports the others, and each
of them imports from here), so it also holds what they share: the dialect, the internal
`Rejection`, and the refusal messages more than one module gives.
"""

from __future__ import annotations

import itertools

import sqlglot
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

DIALECT = "postgres"

# Token types a called function's name can have: names, quoted names, and the keywords
# that are also ordinary functions in PostgreSQL (left(s, n), replace(s, a, b)...).
NAME_TOKENS = frozenset(
    {
        TokenType.VAR,
        TokenType.IDENTIFIER,
        TokenType.LEFT,
        TokenType.RIGHT,
        TokenType.REPLACE,
        TokenType.FORMAT,
    }
)
# Token types after which sqlglot's tokenizer reads the rest of the statement as one string.
_COMMAND_TOKENS = frozenset(sqlglot.Dialect.get_or_raise(DIALECT).tokenizer_class.COMMANDS)

ONE_STATEMENT = (
    "Send exactly one SQL statement; remove extra statements and semicolons "
    "(a single trailing semicolon is fine)."
)
UNCHECKABLE = (
    "The query uses SQL syntax that cannot be checked reliably; rewrite it with plain SELECT syntax."
)
COMMENTS = "Comments are not allowed in queries; remove every -- and /* */ comment."


class Rejection(Exception):
    """Raised inside the analysis; turned into a cached result so repeats stay cheap."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def tokenize(query: str) -> list[Token]:
    """sqlglot's tokens for `query`; an unclosed quote or comment is refused with where it starts."""
    try:
        return sqlglot.tokenize(query, read=DIALECT)
    except TokenError as error:
        position = getattr(error, "end", None)
        where = ""
        if isinstance(position, int):
            line, column = _line_column(query, min(position, len(query) - 1))
            where = f" near line {line}, column {column}"
        raise Rejection(
            f"Could not parse the SQL{where}: a quoted string, quoted identifier, dollar-quoted "
            "string or comment is not closed."
        ) from None


def reject_leading_commands(tokens: list[Token]) -> None:
    """EXPLAIN, DO, VACUUM, SHOW... at the start of a statement: sqlglot swallows the rest as text."""
    for index, token in enumerate(tokens):
        if token.token_type not in _COMMAND_TOKENS:
            continue
        if index == 0:
            raise Rejection(f"Only SELECT queries are allowed; found {token.text.upper()}.")
        if tokens[index - 1].token_type == TokenType.SEMICOLON:
            raise Rejection(ONE_STATEMENT)


def _line_column(text: str, offset: int) -> tuple[int, int]:
    before = text[: offset + 1]
    line = before.count("\n") + 1
    column = offset + 1 - (before.rfind("\n") + 1)
    return line, column


def reject_comments_and_stray_text(query: str, tokens: list[Token]) -> None:
    """Every non-blank character must belong to a token; the rest are comments (or worse).

    sqlglot attaches most comments to a neighbouring token but drops some (a query that is
    only a comment); looking at the gaps between token spans catches both.
    """
    if any(token.comments for token in tokens):
        raise Rejection(COMMENTS)
    position = 0
    for token in [*tokens, None]:
        end = token.start if token is not None else len(query)
        gap = query[position:end]
        if gap.strip():
            if "--" in gap or "/*" in gap:
                raise Rejection(COMMENTS)
            raise Rejection(UNCHECKABLE)
        if token is not None:
            position = token.end + 1


def reject_unicode_identifiers(tokens: list[Token]) -> None:
    # sqlglot reads U&"..." (a Unicode-escaped identifier) as `U & "..."`, a different query.
    for first, amp, third in zip(tokens, tokens[1:], tokens[2:], strict=False):
        if (
            first.text.lower() == "u"
            and amp.token_type == TokenType.AMP
            and third.token_type == TokenType.IDENTIFIER
            and first.end + 1 == amp.start
            and amp.end + 1 == third.start
        ):
            raise Rejection(
                'Unicode-escaped identifiers (U&"...") are not supported; write the identifier plainly.'
            )


def reject_unfaithful_tokens(query: str, tokens: list[Token]) -> None:
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
            raise Rejection(  # sqlglot renders interval(2) as INTERVAL 2
                "Interval precision (interval(n)) cannot be passed on unchanged: drop the (n), or "
                "round with date_trunc."
            )
        if token.text == "!" and following is not None and following.text == "!":
            raise Rejection(
                "The !! operator (tsquery negation) cannot be passed on unchanged; write "
                "tsquery_not(q) instead of !! q."
            )
        if token.token_type in (TokenType.HEX_STRING, TokenType.BIT_STRING) and query[token.start] == "0":
            raise Rejection(
                f"Write the number {query[token.start : token.end + 1]} in decimal; PostgreSQL 15 does "
                "not read 0x/0b literals (for a bit string write x'1F' or b'101')."
            )
        if (
            token.token_type == TokenType.NUMBER
            and following is not None
            and following.start == token.end + 1
            and following.token_type in (TokenType.VAR, TokenType.IDENTIFIER)
        ):
            raise Rejection(
                f"A number runs into a name ({query[token.start : following.end + 1]}); write numbers "
                "in plain decimal without underscores and separate them from names with a space."
            )


def without_comments(query: str, tokens: list[Token]) -> str:
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


def parameter_numbers(tokens: list[Token]) -> list[int]:
    """The n of each $n, in the order they appear (the guard numbers parameters left to right)."""
    numbers = []
    for token, following in itertools.pairwise(tokens):
        if token.token_type == TokenType.PARAMETER and following.token_type == TokenType.NUMBER:
            numbers.append(int(following.text))
    return numbers
