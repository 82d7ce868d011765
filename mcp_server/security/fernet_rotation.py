"""Re-encrypt every stored session value under the newest Fernet key.

Why this exists: TELCOPULSE_FERNET_KEYS lists keys newest first, so after a new key is put
in front, the servers write with it but still read values written under the old one. The
old key can only be removed once nothing encrypted with it is left; this module gets there
by rotating (decrypt with any configured key, encrypt with the first, original timestamp
kept: `MultiFernet.rotate`) every value in both places session data lives:

* Redis `session:<id>:data:<name>` strings (live sessions), written back by a
  compare-and-set Lua script that keeps the key's TTL, so a value the server rewrote or
  that expired meanwhile is never clobbered or resurrected;
* the `data` JSON object of `ops.session_archive` rows (closed sessions), in one
  transaction per batch of rows locked FOR UPDATE, so a concurrent archive upsert waits.

Rotating twice is harmless (a value already under the newest key is simply re-encrypted
with it). A value no configured key decrypts is left untouched and reported by its key
name, never its content. Nothing here logs or reports key material or plaintext.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import redis
from cryptography.fernet import InvalidToken, MultiFernet
from psycopg.types.json import Jsonb

from mcp_server.security.crypto import KEYS_VARIABLE, load_fernet
from mcp_server.sessions.store import SESSION_ID_RE, data_prefix
from warehouse.db import connect
from warehouse.settings import Settings

log = logging.getLogger(__name__)

DATA_KEY_PATTERN = data_prefix("*") + "*"
SCAN_COUNT = 500
ARCHIVE_BATCH_ROWS = 500
# A value rewritten by a server between our read and our write is read and rotated again
# this often before it is counted as skipped (a busy key is written under the new key anyway
# once the servers have it first).
CAS_ATTEMPTS = 3
# Exactly the data keys of the session store (key layout and session id format taken from it),
# so another key that happens to match the glob (`session:index:<user with :data: in it>`)
# is never touched.
_DATA_KEY_RE = re.compile(f"^{data_prefix(SESSION_ID_RE.pattern)}.+$", re.DOTALL)

# Replace KEYS[1] with ARGV[2] only if it still holds ARGV[1], keeping its TTL.
# Returns 1 replaced, 0 gone (expired/deleted, or not a string), -1 changed since read.
_COMPARE_AND_SET = """
if redis.call('TYPE', KEYS[1]).ok ~= 'string' then
    return 0
end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
    return -1
end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
"""


class RotationError(RuntimeError):
    """Rotation cannot start (keys not configured as the procedure requires)."""


@dataclass
class RotationReport:
    """Outcome of one pass over the Redis session values."""

    rotated: int = 0
    # Vanished (expired, deleted, session closed) or kept changing under us: nothing to do.
    skipped: int = 0
    # No configured key decrypts the value (or it is not a Fernet token); left untouched.
    failed: int = 0
    failed_keys: list[str] = field(default_factory=list)

    def fail(self, name: str) -> None:
        self.failed += 1
        self.failed_keys.append(name)
        log.warning("session value %s cannot be decrypted with any configured Fernet key", name)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def count_keys(text: str) -> int:
    """How many keys a TELCOPULSE_FERNET_KEYS value / key file holds (same split as parse_keys)."""
    return len([part for part in text.replace("\n", ",").split(",") if part.strip()])


def load_rotation_keys(settings: Settings) -> tuple[MultiFernet, int]:
    """The configured keys and how many there are, without ever generating a key file.

    `load_fernet` creates a key file when nothing is configured, which is right for a
    server's first start but wrong for a rotation: it would invent a key nothing was
    written with. So an absent configuration is an error here.
    """
    secret = settings.fernet_keys.get_secret_value() if settings.fernet_keys is not None else ""
    if secret.strip():
        return load_fernet(settings), count_keys(secret)
    path = settings.fernet_key_file
    if not path.exists():
        raise RotationError(
            f"no Fernet keys are configured: {KEYS_VARIABLE} is unset and {path} does not exist"
        )
    fernet = load_fernet(settings)  # checks the file's permissions and every key first
    return fernet, count_keys(path.read_text(encoding="ascii", errors="replace"))


def _scan_batches(client: redis.Redis, match: str) -> Iterator[list[Any]]:
    """SCAN in pages (never KEYS: a large keyspace must not block Redis)."""
    cursor: int | bytes | str = 0
    while True:
        cursor, keys = client.scan(cursor=cursor, match=match, count=SCAN_COUNT)
        if keys:
            yield keys
        if int(cursor) == 0:
            return


def rotate_session_data(
    redis_client: redis.Redis, fernet: MultiFernet, *, match: str = DATA_KEY_PATTERN
) -> RotationReport:
    """Rotate every `session:<id>:data:<name>` value in Redis to the first key of `fernet`.

    Per SCAN page: one pipelined GET, then one pipelined compare-and-set per value (a
    value changed in between is re-read and retried alone). SCAN may return a key twice;
    that only rotates it twice. `match` narrows the glob (tests use a unique id prefix).
    """
    cas = redis_client.register_script(_COMPARE_AND_SET)
    report = RotationReport()
    for page in _scan_batches(redis_client, match):
        keys = [key for key in page if _DATA_KEY_RE.match(_text(key))]
        if not keys:
            continue
        with redis_client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.get(key)
            values = pipe.execute(raise_on_error=False)
        pending: list[tuple[Any, bytes | str, bytes]] = []
        for key, value in zip(keys, values, strict=True):
            if value is None or isinstance(value, Exception):  # gone, or not a string
                report.skipped += 1
                continue
            new = _rotated(fernet, value)
            if new is None:
                report.fail(_text(key))
            else:
                pending.append((key, value, new))
        if not pending:
            continue
        with redis_client.pipeline(transaction=False) as pipe:
            for key, value, new in pending:
                cas(keys=[key], args=[value, new], client=pipe)
            outcomes = pipe.execute()
        for (key, _value, _new), outcome in zip(pending, outcomes, strict=True):
            if int(outcome) == 1:
                report.rotated += 1
            elif int(outcome) == 0:
                report.skipped += 1
            else:
                _retry(redis_client, cas, fernet, key, report)
    return report


def _rotated(fernet: MultiFernet, token: bytes | str) -> bytes | None:
    try:
        return fernet.rotate(token)
    except (InvalidToken, TypeError, ValueError):
        return None


def _retry(client: redis.Redis, cas: Any, fernet: MultiFernet, key: Any, report: RotationReport) -> None:
    """A server rewrote the value after our read: read and rotate it again, alone."""
    for _ in range(CAS_ATTEMPTS):
        try:
            value = client.get(key)
        except redis.ResponseError:  # replaced by a non-string meanwhile
            value = None
        if value is None:
            report.skipped += 1
            return
        new = _rotated(fernet, value)
        if new is None:
            report.fail(_text(key))
            return
        outcome = int(cas(keys=[key], args=[value, new]))
        if outcome == 1:
            report.rotated += 1
            return
        if outcome == 0:
            report.skipped += 1
            return
    report.skipped += 1
    log.warning("session value %s kept changing during rotation; skipped", _text(key))


def rotate_archive(
    database_url: str,
    fernet: MultiFernet,
    *,
    failed: list[str] | None = None,
    batch_size: int = ARCHIVE_BATCH_ROWS,
) -> int:
    """Rotate every value in `ops.session_archive.data`; return how many values were rotated.

    Rows are walked in session_id order, `batch_size` at a time, each batch in its own
    transaction holding the rows FOR UPDATE, so locks are short and a crash loses at most
    one batch of (idempotent) work. A value that cannot be decrypted stays as it is and is
    appended to `failed` as "<session_id>/<name>" (the other values of its row still rotate).
    """
    rotated = 0
    last: str | None = None
    with connect(database_url, autocommit=True) as conn:
        while True:
            with conn.transaction():
                rows = conn.execute(
                    "SELECT session_id, data FROM ops.session_archive"
                    " WHERE %(last)s::text IS NULL OR session_id > %(last)s::text"
                    " ORDER BY session_id LIMIT %(limit)s FOR UPDATE",
                    {"last": last, "limit": batch_size},
                ).fetchall()
                updates: list[tuple[Jsonb, str]] = []
                for session_id, data in rows:
                    new_data, count = _rotate_archived(fernet, session_id, data, failed)
                    if count:
                        rotated += count
                        updates.append((Jsonb(new_data), session_id))
                if updates:
                    with conn.cursor() as cur:
                        cur.executemany(
                            "UPDATE ops.session_archive SET data = %s WHERE session_id = %s", updates
                        )
            if len(rows) < batch_size:
                return rotated
            last = rows[-1][0]


def _rotate_archived(
    fernet: MultiFernet, session_id: str, data: Any, failed: list[str] | None
) -> tuple[dict[str, Any], int]:
    def fail(name: str) -> None:
        log.warning("archived session value %s cannot be decrypted with any configured Fernet key", name)
        if failed is not None:
            failed.append(name)

    if not isinstance(data, dict):
        fail(f"{session_id}/(data is not a JSON object)")
        return {}, 0
    new_data: dict[str, Any] = {}
    count = 0
    for name, token in data.items():
        new = _rotated(fernet, token) if isinstance(token, str) else None
        if new is None:
            fail(f"{session_id}/{name}")
            new_data[name] = token
        else:
            new_data[name] = new.decode("ascii")
            count += 1
    return new_data, count
