"""Who a caller is: every identity fact of the MCP server, written once.

Before this module the role names, the API-key format and the session access rule were each
spelled out in several places (and two session rules disagreed), so a change to one copy
silently left the others behind. Here are:

* `Role` / `ROLES`, re-exported from `warehouse.caller_roles` (defined there because the
  settings, the lowest layer, type `TELCOPULSE_STDIO_ROLE` with it and must not import
  `mcp_server`);
* `Principal`, the identity every request acts as (from an API key, or the local stdio user);
* the API key format: `tp_<key_id>_<secret>`, parsed, recognised and built only here;
* the session access rule: who may read or change which session.

Not here: the session id format. A session id names a resource, not a caller; it belongs to
the session store (`mcp_server.sessions.store.SESSION_ID_RE`).

A key looks like `tp_<key_id>_<secret>`. The 12-hex `key_id` is public (it names the key in
logs, the CLI and lookups); the secret (`secrets.token_urlsafe(32)`, 43 characters) is shown
once, at creation, and never stored (see `mcp_server.security.api_keys`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from warehouse.caller_roles import ROLES, Role

__all__ = [
    "KEY_ID_HEX_CHARS",
    "KEY_ID_PATTERN",
    "KEY_PREFIX",
    "MAX_KEY_LENGTH",
    "ROLES",
    "SECRET_BYTES",
    "SECRET_CHARS",
    "Principal",
    "Role",
    "SessionAccess",
    "format_key",
    "is_key_id",
    "key_id_of",
    "new_key_material",
    "parse_key",
    "session_access",
]

KEY_PREFIX = "tp_"
KEY_ID_HEX_CHARS = 12
SECRET_BYTES = 32
# token_urlsafe(32) is exactly 43 characters of the URL-safe base64 alphabet (which includes
# "_", so the secret is delimited by its length, not by splitting on "_").
SECRET_CHARS = 43
MAX_KEY_LENGTH = 256
# Unanchored; callers anchor it (pydantic field patterns, fullmatch).
KEY_ID_PATTERN = f"[0-9a-f]{{{KEY_ID_HEX_CHARS}}}"

_KEY_ID_RE = re.compile(KEY_ID_PATTERN)
_KEY_RE = re.compile(rf"{KEY_PREFIX}({KEY_ID_PATTERN})_([A-Za-z0-9_-]{{{SECRET_CHARS}}})")
# Just the public part at the start: enough to name a presented key in a log line even when
# its secret is malformed.
_KEY_ID_PREFIX_RE = re.compile(rf"{KEY_PREFIX}({KEY_ID_PATTERN})_")


class Principal(BaseModel):
    """Who a verified request acts as; the only thing verification hands to the server."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    name: str
    role: Role


# --------------------------------------------------------------------------- API key format


def parse_key(presented: object) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed key, else None — before any hashing, and without
    saying which part is wrong (a caller echoing the reason would help probing)."""
    if not isinstance(presented, str) or len(presented) > MAX_KEY_LENGTH:
        return None
    match = _KEY_RE.fullmatch(presented)
    if match is None:
        return None
    return match.group(1), match.group(2)


def is_key_id(value: str) -> bool:
    """True for a syntactically valid key id; lets callers skip lookups of garbage."""
    return isinstance(value, str) and _KEY_ID_RE.fullmatch(value) is not None


def key_id_of(presented: str) -> str | None:
    """The key id at the start of a presented key, for logs; None if it does not start like a key.

    Looser than `parse_key` on purpose: a rejected key with a mistyped secret is still
    named by its (public) id, so an operator can tell which client is misconfigured.
    """
    match = _KEY_ID_PREFIX_RE.match(presented)
    return match.group(1) if match else None


def new_key_material() -> tuple[str, str]:
    """A fresh (key_id, secret) pair from the OS CSPRNG, in the shapes `parse_key` accepts."""
    return secrets.token_hex(KEY_ID_HEX_CHARS // 2), secrets.token_urlsafe(SECRET_BYTES)


def format_key(key_id: str, secret: str) -> str:
    return f"{KEY_PREFIX}{key_id}_{secret}"


# --------------------------------------------------------------------------- session access

SessionAccess = Literal["write", "read", "none"]


def session_access(principal: Principal, owner: str | None, shared_with: Iterable[str]) -> SessionAccess:
    """The one session access rule: what `principal` may do with a session.

    Owners and admins may do everything (admins run maintenance on every session); users the
    session was shared with may read it, never change it (sharing is how an analyst hands
    results to a viewer, not how the viewer edits them). Everyone else: nothing. The answer
    is a level rather than a bool so a refusal can say "shared with you read-only".
    """
    if principal.role == "admin" or (owner is not None and owner == principal.name):
        return "write"
    if principal.name in shared_with:
        return "read"
    return "none"
