"""API keys in PostgreSQL (table ops.api_keys, migration 0005): the default store."""

from __future__ import annotations

import builtins
import contextlib
import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

from mcp_server.security.api_keys.cache import CACHE_TTL_S
from mcp_server.security.api_keys.records import KeyRecord, utcnow
from mcp_server.security.api_keys.store import OUTAGE_GRACE_S, KeyStore
from mcp_server.security.identity import is_key_id

log = logging.getLogger(__name__)

# A stalled PostgreSQL (accepting TCP, never answering) must not hold requests forever.
STORE_CONNECT_TIMEOUT_S = 5
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)

_COLUMNS = "key_id, name, role, salt, hash, created_at, revoked_at, expires_at, last_used_at"


class PostgresKeyStore(KeyStore):
    """Keys in ops.api_keys (migration 0005). Each uncached verification opens a short
    connection; with the 30 s cache that is rare, and it keeps this class pool-free."""

    def __init__(
        self,
        database_url: str,
        *,
        cache_ttl_s: float = CACHE_TTL_S,
        outage_grace_s: float = OUTAGE_GRACE_S,
    ) -> None:
        super().__init__(cache_ttl_s=cache_ttl_s, outage_grace_s=outage_grace_s)
        self._url = database_url

    def __repr__(self) -> str:  # the URL may carry a password
        return "PostgresKeyStore(<database>)"

    def _unavailable_errors(self) -> tuple[type[BaseException], ...]:
        # Connection refused/lost/timed out, server shutting down or starting up. Not
        # ProgrammingError (e.g. migrations not run): a configuration error to fix.
        import psycopg

        return (psycopg.OperationalError, psycopg.InterfaceError, OSError)

    @contextlib.contextmanager
    def _conn(self) -> Iterator[Any]:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        params: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in conninfo_to_dict(self._url):
            params["connect_timeout"] = STORE_CONNECT_TIMEOUT_S
        with psycopg.connect(self._url, **params) as conn:
            yield conn

    def _row_to_record(self, row: tuple[Any, ...]) -> KeyRecord:
        return KeyRecord(**dict(zip(_COLUMNS.split(", "), row, strict=True)))

    def _insert(self, record: KeyRecord) -> KeyRecord | None:
        with self._conn() as conn:
            row = conn.execute(
                f"INSERT INTO ops.api_keys (key_id, name, role, salt, hash, expires_at)"
                f" VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (key_id) DO NOTHING RETURNING {_COLUMNS}",
                (record.key_id, record.name, record.role, record.salt, record.hash, record.expires_at),
            ).fetchone()
        return None if row is None else self._row_to_record(row)

    def get(self, key_id: str) -> KeyRecord | None:
        if not is_key_id(key_id):
            return None
        with self._conn() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM ops.api_keys WHERE key_id = %s", (key_id,)).fetchone()
        return None if row is None else self._row_to_record(row)

    def list(self) -> builtins.list[KeyRecord]:
        with self._conn() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM ops.api_keys ORDER BY created_at, key_id").fetchall()
        return [self._row_to_record(row) for row in rows]

    def _mark_revoked(self, key_id: str) -> bool:
        with self._conn() as conn:
            row = conn.execute(
                "UPDATE ops.api_keys SET revoked_at = COALESCE(revoked_at, now())"
                " WHERE key_id = %s RETURNING key_id",
                (key_id,),
            ).fetchone()
        return row is not None

    def _touch(self, record: KeyRecord) -> None:
        """At most one write per key per minute (the WHERE clause also dedups across
        processes); a failure only costs an inaccurate "last used", never a request."""
        if record.last_used_at is not None and utcnow() - record.last_used_at < LAST_USED_RESOLUTION:
            return
        try:
            with self._conn() as conn:
                conn.execute(
                    "UPDATE ops.api_keys SET last_used_at = now() WHERE key_id = %s"
                    " AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
                    (record.key_id,),
                )
        except Exception as exc:  # read-only replica, transient outage, ...
            log.warning(
                "could not record last use of api key key_id=%s: %s", record.key_id, type(exc).__name__
            )
