"""API keys for the MCP HTTP transport: hashed storage and verification.

One job per module, so each can be read (and reviewed) on its own:

* `records`: the stored record (`KeyRecord`) and the scrypt hashing of secrets;
* `cache`: the in-process cache of successful verifications (scrypt is too slow per request);
* `store`: the `KeyStore` interface (an abstract base class) with creation, rotation,
  verification and the outage policy written once, and the store errors;
* `file_store` / `postgres_store`: where records are kept (a JSON-lines file, ops.api_keys).

What a key looks like and who it makes the caller (`Principal`, `Role`) are identity facts,
in `mcp_server/security/identity.py`. This module only picks a store from the settings
(`open_key_store`), the one entry point the server, `telcopulse up` and the CLI need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp_server.security.api_keys.cache import CACHE_TTL_S
from mcp_server.security.api_keys.file_store import FileKeyStore
from mcp_server.security.api_keys.postgres_store import PostgresKeyStore
from mcp_server.security.api_keys.store import OUTAGE_GRACE_S, KeyStore

if TYPE_CHECKING:
    from warehouse.settings import Settings


def open_key_store(settings: Settings) -> KeyStore:
    """The file store when TELCOPULSE_API_KEYS_FILE is set, else the warehouse's table."""
    timing = {
        "cache_ttl_s": getattr(settings, "auth_cache_ttl", CACHE_TTL_S),
        "outage_grace_s": getattr(settings, "auth_outage_grace", OUTAGE_GRACE_S),
    }
    if settings.api_keys_file is not None:
        return FileKeyStore(settings.api_keys_file, **timing)
    return PostgresKeyStore(settings.require_database_url(), **timing)
