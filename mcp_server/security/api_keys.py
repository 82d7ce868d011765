"""API keys for the MCP HTTP transport: creation, hashed storage, verification.

A key looks like `tp_<key_id>_<secret>`. The 12-hex `key_id` is public (it names the key
in logs, the CLI and lookups); the `secret` (`secrets.token_urlsafe(32)`, 43 characters)
is shown exactly once, at creation, and is never stored, logged or put in an error: the
store keeps a random 16-byte salt and `scrypt(secret, salt)`, so a leaked store does not
let anyone authenticate, and brute force costs a memory-hard hash per guess.

scrypt is deliberately slow (tens of milliseconds), too slow to pay per request, so each
store keeps a small in-process cache of successful verifications (sha256 of the presented
key -> Principal, 30 s, `TELCOPULSE_AUTH_CACHE_TTL`). Consequence, by design: a revocation
takes effect immediately in the process that revoked (its cache is purged) and within the
cache TTL everywhere else. Failed verifications are not cached; rate limiting sits in front.

Store outages (stale-while-unavailable): when the store cannot answer (PostgreSQL down or
unreachable, key file unreadable; not a misconfiguration such as an unsafe file
mode, which keeps raising `KeyStoreError`), a key this process verified within the last
`outage_grace_s` seconds (`TELCOPULSE_AUTH_OUTAGE_GRACE`, default 1 h) is still accepted
from memory, so an outage of the key store does not lock out the callers that were
working (their Redis-only tools keep answering). A key not verified recently raises
`KeyStoreUnavailable` (the HTTP layer answers 503 with a retry time), never "invalid":
the store could not say. After a failure the store is left alone for `STORE_RETRY_S`
(memory answers meanwhile), then asked again; as soon as it answers, its answer wins, so
a revocation is honoured within the cache TTL of the store being back. Any negative
answer drops the key from memory, so a key found revoked is never served stale later.

Two stores share one interface (`KeyStore`): `PostgresKeyStore` (table ops.api_keys, the
default) and `FileKeyStore` (a JSON-lines file, for deployments without a database of
their own); `open_key_store` picks one from the settings.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import math
import os
import re
import secrets
import stat
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args, runtime_checkable

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    from warehouse.settings import Settings

log = logging.getLogger(__name__)

Role = Literal["admin", "analyst", "viewer"]
ROLES: tuple[Role, ...] = get_args(Role)

KEY_PREFIX = "tp_"
KEY_ID_HEX_CHARS = 12
SECRET_BYTES = 32
MAX_KEY_LENGTH = 256
MAX_NAME_LENGTH = 200
CACHE_TTL_S = 30.0
CACHE_MAX_ENTRIES = 10_000
OUTAGE_GRACE_S = 3600.0
# After the store failed: how long memory answers alone before the store is asked again.
STORE_RETRY_S = 5.0
# A stalled PostgreSQL (accepting TCP, never answering) must not hold requests forever.
STORE_CONNECT_TIMEOUT_S = 5
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)

# scrypt cost: N=2^14, r=8 -> 16 MiB and ~30-50 ms per hash (OWASP's floor for scrypt).
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_DKLEN = 32
SALT_BYTES = 16

_KEY_ID_RE = re.compile(r"[0-9a-f]{12}")
# token_urlsafe(32) is exactly 43 characters of the URL-safe base64 alphabet (which
# includes "_", so the secret is delimited by length, not by splitting on "_").
_KEY_RE = re.compile(r"tp_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
# Unknown key ids are still hashed once, against this salt, so response time does not
# tell an attacker whether a key id exists.
_DUMMY_SALT = bytes(SALT_BYTES)
_DUMMY_HASH = bytes(SCRYPT_DKLEN)


class KeyStoreError(RuntimeError):
    """The key store cannot be used as configured (unsafe file mode, damaged file, ...)."""


class KeyStoreUnavailable(KeyStoreError):
    """The store cannot answer and this key was not verified recently: an outage, not a 401."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(
            f"cannot check API keys right now (the key store is unreachable); retry in {self.retry_after} s"
        )


class UnknownKeyError(LookupError):
    """No key with this id (raised where a bool/None answer would be ambiguous, e.g. rotate)."""


class Principal(BaseModel):
    """Who a verified request acts as; the only thing verification hands to the server."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    name: str
    role: Role


class KeyRecord(BaseModel):
    """One stored key. Holds the salt and hash, never the key; salt/hash stay out of repr."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str = Field(pattern=r"^[0-9a-f]{12}$")
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    role: Role
    salt: str = Field(pattern=r"^[0-9a-f]{32}$", repr=False)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$", repr=False)
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None
    last_used_at: AwareDatetime | None = None

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or _utcnow())

    def is_active(self, now: dt.datetime | None = None) -> bool:
        return self.revoked_at is None and not self.is_expired(now)

    @property
    def principal(self) -> Principal:
        return Principal(key_id=self.key_id, name=self.name, role=self.role)


@runtime_checkable
class KeyStore(Protocol):
    """What the CLI and the HTTP server need from a key store, whatever holds the keys."""

    def create(
        self, name: str, role: Role, expires_at: dt.datetime | None = None
    ) -> tuple[str, KeyRecord]: ...

    def get(self, key_id: str) -> KeyRecord | None: ...

    def revoke(self, key_id: str) -> bool: ...

    def rotate(self, key_id: str) -> tuple[str, KeyRecord]: ...

    def verify(self, presented: str) -> Principal | None: ...

    async def averify(self, presented: str) -> Principal | None: ...

    def list(self) -> builtins.list[KeyRecord]: ...


# --------------------------------------------------------------------------- primitives


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def hash_secret(secret: str, salt: bytes) -> bytes:
    """scrypt of the secret; looked up through `hashlib` at call time so tests can spy on it."""
    return hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=SCRYPT_DKLEN
    )


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


def new_key_material() -> tuple[str, str]:
    """A fresh (key_id, secret) pair from the OS CSPRNG."""
    return secrets.token_hex(KEY_ID_HEX_CHARS // 2), secrets.token_urlsafe(SECRET_BYTES)


def format_key(key_id: str, secret: str) -> str:
    return f"{KEY_PREFIX}{key_id}_{secret}"


def _check_create_arguments(name: str, role: str, expires_at: dt.datetime | None) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise ValueError(
            f"key name must be 1-{MAX_NAME_LENGTH} printable characters, no tabs or newlines "
            "(it appears in logs and tables)"
        )
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware (UTC)")
        if expires_at <= _utcnow():
            raise ValueError("expires_at is in the past: the key would never be valid")
    return name


def _lifetime_after_rotation(old: KeyRecord) -> dt.datetime | None:
    """A rotated key keeps its predecessor's lifetime policy (not its deadline)."""
    if old.expires_at is None:
        return None
    return _utcnow() + max(old.expires_at - old.created_at, dt.timedelta(minutes=1))


# --------------------------------------------------------------------------- cache


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    fresh_until: float  # monotonic; until then the entry answers without asking the store
    usable_until: float  # monotonic; until then it may answer while the store is unreachable


class VerificationCache:
    """Successful verifications, keyed by sha256 of the presented key (never the key itself).

    An entry is *fresh* for `ttl_s` (answers without asking the store) and then *stale*
    until `grace_s` after that verification (answers only while the store cannot be
    reached: `get_stale`). Neither outlives the key's own expiry. Bounded (LRU eviction)
    and thread-safe: `averify` fills it from worker threads.
    """

    def __init__(
        self, ttl_s: float = CACHE_TTL_S, max_entries: int = CACHE_MAX_ENTRIES, grace_s: float = 0.0
    ) -> None:
        if ttl_s < 0 or grace_s < 0:
            raise ValueError("cache TTL and outage grace must be >= 0 seconds")
        self.ttl_s = ttl_s
        self.grace_s = grace_s
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def digest(presented: str) -> bytes:
        return hashlib.sha256(presented.encode("utf-8")).digest()

    def _lookup(self, digest: bytes, until: Callable[[_Entry], float]) -> Principal | None:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if entry.usable_until <= now:
                del self._entries[digest]
                return None
            if until(entry) <= now:
                return None
            self._entries.move_to_end(digest)
            return entry.principal

    def get(self, digest: bytes) -> Principal | None:
        """The principal of a fresh entry (verified less than `ttl_s` ago), else None."""
        return self._lookup(digest, lambda entry: entry.fresh_until)

    def get_stale(self, digest: bytes) -> Principal | None:
        """The principal of a fresh or stale entry: only for when the store cannot answer."""
        return self._lookup(digest, lambda entry: entry.usable_until)

    def put(self, digest: bytes, principal: Principal, ttl_s: float | None = None) -> None:
        """Remember a verification; `ttl_s` is the key's remaining lifetime (None: no expiry)."""
        lifetime = math.inf if ttl_s is None else ttl_s
        fresh = min(lifetime, self.ttl_s)
        if fresh <= 0:
            self.discard(digest)
            return
        usable = max(fresh, min(lifetime, self.grace_s))
        now = time.monotonic()
        with self._lock:
            self._entries[digest] = _Entry(principal, now + fresh, now + usable)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def discard(self, digest: bytes) -> None:
        with self._lock:
            self._entries.pop(digest, None)

    def discard_key(self, key_id: str) -> None:
        with self._lock:
            for digest in [d for d, e in self._entries.items() if e.principal.key_id == key_id]:
                del self._entries[digest]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


# --------------------------------------------------------------------------- shared logic


class _BaseKeyStore(ABC):
    """Creation, rotation and verification, written once; subclasses only store records."""

    _CREATE_ATTEMPTS = 5  # 48-bit ids: a collision is astronomically rare, but never fatal

    def __init__(self, *, cache_ttl_s: float = CACHE_TTL_S, outage_grace_s: float = OUTAGE_GRACE_S) -> None:
        self.cache = VerificationCache(cache_ttl_s, grace_s=outage_grace_s)
        # Monotonic time before which the store is not asked again after a failure.
        self._store_down_until = -math.inf
        self._last_outage_log = -math.inf
        # Verifications in flight, by digest: concurrent requests with one key share one.
        self._verifying: dict[bytes, asyncio.Future[Principal | None]] = {}

    def _unavailable_errors(self) -> tuple[type[BaseException], ...]:
        """Exceptions meaning "the store cannot answer now" (served from memory if possible).

        Not `KeyStoreError` (unsafe file mode, damaged file): that is a configuration
        error to fix, and it keeps propagating with its own message.
        """
        return (OSError,)

    # -- storage hooks
    @abstractmethod
    def _insert(self, record: KeyRecord) -> KeyRecord | None:
        """Store a new record; None if the key id is taken. Returns the record as stored."""

    @abstractmethod
    def get(self, key_id: str) -> KeyRecord | None:
        """The stored record of `key_id`, revoked or not; None if unknown."""

    @abstractmethod
    def _mark_revoked(self, key_id: str) -> bool:
        """Set revoked_at (keeping an earlier one); False if the key id is unknown."""

    def _touch(self, record: KeyRecord) -> None:
        """Record use of a key (best effort, throttled); a no-op where writes are unwanted."""
        return None

    # -- public API
    def create(self, name: str, role: Role, expires_at: dt.datetime | None = None) -> tuple[str, KeyRecord]:
        """Make a key; the returned plaintext is the only copy that will ever exist."""
        name = _check_create_arguments(name, role, expires_at)
        for _ in range(self._CREATE_ATTEMPTS):
            key_id, secret = new_key_material()
            salt = secrets.token_bytes(SALT_BYTES)
            record = KeyRecord(
                key_id=key_id,
                name=name,
                role=role,
                salt=salt.hex(),
                hash=hash_secret(secret, salt).hex(),
                created_at=_utcnow(),
                expires_at=expires_at,
            )
            stored = self._insert(record)
            if stored is not None:
                log.info("api key created key_id=%s role=%s", key_id, role)
                return format_key(key_id, secret), stored
        raise KeyStoreError("could not allocate an unused key id; try again")

    def revoke(self, key_id: str) -> bool:
        """Revoke now (idempotent: an earlier revocation time is kept); False for unknown ids."""
        if not is_key_id(key_id):
            return False
        try:
            found = self._mark_revoked(key_id)
        finally:
            # Purge even if the store write raced or failed: this process must stop accepting it now.
            self.cache.discard_key(key_id)
        if found:
            log.info("api key revoked key_id=%s", key_id)
        return found

    def rotate(self, key_id: str) -> tuple[str, KeyRecord]:
        """A new key with the same name, role and lifetime; the old key stays valid until
        revoked, so clients can switch over without downtime."""
        old = self.get(key_id) if is_key_id(key_id) else None
        if old is None:
            raise UnknownKeyError("no API key with this id")
        if old.revoked_at is not None:
            raise KeyStoreError(f"API key {key_id} is revoked; create a new key instead of rotating it")
        plaintext, record = self.create(old.name, old.role, _lifetime_after_rotation(old))
        log.info("api key rotated old_key_id=%s new_key_id=%s", key_id, record.key_id)
        return plaintext, record

    def verify(self, presented: str) -> Principal | None:
        """The principal of a valid key, else None — never an exception for bad input.

        When the store cannot answer (database down, unusable file), a key verified within
        the outage grace is answered from memory; any other key raises `KeyStoreUnavailable`
        (an outage to report as 503, not a 401). Other store errors propagate.
        """
        parsed = parse_key(presented)
        if parsed is None:
            return None
        digest = VerificationCache.digest(presented)
        cached = self.cache.get(digest)
        if cached is not None:
            return cached
        if self._store_resting():
            return self._from_memory(digest, None)
        try:
            principal = self._verify_uncached(parsed[0], parsed[1], digest)
        except self._unavailable_errors() as exc:
            return self._store_failed(digest, exc)
        return self._store_answered(digest, principal)

    async def averify(self, presented: str) -> Principal | None:
        """`verify` for the event loop: cache hits answer inline, scrypt + I/O run in a thread."""
        parsed = parse_key(presented)
        if parsed is None:
            return None
        digest = VerificationCache.digest(presented)
        cached = self.cache.get(digest)
        if cached is not None:
            return cached
        if self._store_resting():
            return self._from_memory(digest, None)
        # One scrypt per key, not one per request: when a busy key's cache entry expires,
        # 200 concurrent requests once queued 200 scrypts on the thread pool (seconds at p99).
        pending = self._verifying.get(digest)
        if pending is None or pending.get_loop() is not asyncio.get_running_loop():
            pending = asyncio.ensure_future(self._verify_once(parsed[0], parsed[1], digest))
            self._verifying[digest] = pending
            pending.add_done_callback(partial(self._verified, digest))
        # Shielded: one caller's cancellation (its client left) does not fail the others.
        return await asyncio.shield(pending)

    async def _verify_once(self, key_id: str, secret: str, digest: bytes) -> Principal | None:
        try:
            principal = await asyncio.to_thread(self._verify_uncached, key_id, secret, digest)
        except self._unavailable_errors() as exc:
            return self._store_failed(digest, exc)
        return self._store_answered(digest, principal)

    def _verified(self, digest: bytes, done: asyncio.Future[Principal | None]) -> None:
        if self._verifying.get(digest) is done:
            del self._verifying[digest]
        if not done.cancelled():
            done.exception()  # retrieved here too: every caller may have gone

    # -- store outages
    def _store_resting(self) -> bool:
        """True shortly after a store failure: memory answers without asking the store."""
        return time.monotonic() < self._store_down_until

    def _store_answered(self, digest: bytes, principal: Principal | None) -> Principal | None:
        if self._store_down_until != -math.inf:
            self._store_down_until = -math.inf
            log.warning("api key store answers again; keys are checked against it again")
        if principal is None:
            # Revoked, expired or deleted: never serve it from memory in a later outage.
            self.cache.discard(digest)
        return principal

    def _store_failed(self, digest: bytes, exc: BaseException) -> Principal:
        now = time.monotonic()
        self._store_down_until = now + min(STORE_RETRY_S, max(self.cache.ttl_s, 1.0))
        if now - self._last_outage_log >= 30.0:  # an outage hits every uncached request
            self._last_outage_log = now
            log.error(
                "api key store unavailable (%s); keys verified in the last %.0f s are accepted "
                "from memory until it answers again",
                type(exc).__name__,
                self.cache.grace_s,
            )
        return self._from_memory(digest, exc)

    def _from_memory(self, digest: bytes, exc: BaseException | None) -> Principal:
        principal = self.cache.get_stale(digest)
        if principal is not None:
            log.debug("api key accepted from memory key_id=%s (store unavailable)", principal.key_id)
            return principal
        raise KeyStoreUnavailable(self._store_down_until - time.monotonic()) from exc

    def _verify_uncached(self, key_id: str, secret: str, digest: bytes) -> Principal | None:
        record = self.get(key_id)
        salt, expected = _DUMMY_SALT, _DUMMY_HASH
        if record is not None:
            try:
                salt, expected = bytes.fromhex(record.salt), bytes.fromhex(record.hash)
            except ValueError:  # validated on load; belt and braces for a hand-edited row
                log.error("api key record is damaged key_id=%s", key_id)
                record = None
        # Always exactly one scrypt and one constant-time compare, whatever the outcome.
        matches = hmac.compare_digest(hash_secret(secret, salt), expected)
        if record is None or not matches:
            log.debug(
                "api key rejected key_id=%s reason=%s", key_id, "unknown" if record is None else "secret"
            )
            return None
        now = _utcnow()
        if record.revoked_at is not None:
            log.info("api key rejected key_id=%s reason=revoked", key_id)
            return None
        if record.is_expired(now):
            log.info("api key rejected key_id=%s reason=expired", key_id)
            return None
        ttl = None if record.expires_at is None else (record.expires_at - now).total_seconds()
        principal = record.principal
        self.cache.put(digest, principal, ttl)
        self._touch(record)
        return principal


# --------------------------------------------------------------------------- PostgreSQL

_COLUMNS = "key_id, name, role, salt, hash, created_at, revoked_at, expires_at, last_used_at"


class PostgresKeyStore(_BaseKeyStore):
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
        if record.last_used_at is not None and _utcnow() - record.last_used_at < LAST_USED_RESOLUTION:
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


# --------------------------------------------------------------------------- JSON-lines file


class FileKeyStore(_BaseKeyStore):
    """Keys in a JSON-lines file (one record per line), for deployments without PostgreSQL.

    The file is written atomically (temp file + os.replace) with mode 0600 and re-read
    when it changes, so a key created or revoked by the CLI reaches a running server
    without a restart. It refuses to read a file group/others can access. Usage time
    (last_used_at) is not recorded: the file is often a read-only mounted secret, and
    several server processes rewriting it would race.
    """

    def __init__(
        self, path: Path | str, *, cache_ttl_s: float = CACHE_TTL_S, outage_grace_s: float = OUTAGE_GRACE_S
    ) -> None:
        super().__init__(cache_ttl_s=cache_ttl_s, outage_grace_s=outage_grace_s)
        self.path = Path(path)
        self._lock = threading.Lock()
        self._loaded_signature: tuple[int, int, int] | None = None
        self._records: dict[str, KeyRecord] = {}

    def __repr__(self) -> str:
        return f"FileKeyStore({str(self.path)!r})"

    # -- reading
    def _load(self) -> dict[str, KeyRecord]:
        """Current records, re-parsed only when the file's inode/size/mtime changed."""
        with self._lock:
            try:
                fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:
                self._loaded_signature, self._records = None, {}
                return {}
            with os.fdopen(fd, "rb") as handle:
                info = os.fstat(handle.fileno())
                if os.name == "posix" and info.st_mode & 0o077:
                    raise KeyStoreError(
                        f"API key file {self.path} is accessible by group/others "
                        f"(mode {stat.filemode(info.st_mode)}); restrict it with: chmod 600 {self.path}"
                    )
                signature = (info.st_ino, info.st_size, info.st_mtime_ns)
                if signature != self._loaded_signature:
                    self._records = self._parse(handle.read())
                    self._loaded_signature = signature
            return dict(self._records)

    def _parse(self, raw: bytes) -> dict[str, KeyRecord]:
        records: dict[str, KeyRecord] = {}
        for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = KeyRecord.model_validate_json(line)
            except ValidationError:
                # No line content in the message: it holds hashes, and the error may end up in logs.
                raise KeyStoreError(
                    f"API key file {self.path}: line {number} is not a valid key record"
                ) from None
            if record.key_id in records:
                raise KeyStoreError(f"API key file {self.path}: key id {record.key_id} appears twice")
            records[record.key_id] = record
        return records

    def get(self, key_id: str) -> KeyRecord | None:
        if not is_key_id(key_id):
            return None
        return self._load().get(key_id)

    def list(self) -> builtins.list[KeyRecord]:
        return sorted(self._load().values(), key=lambda r: (r.created_at, r.key_id))

    # -- writing
    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Serialise read-modify-write cycles of concurrent CLI runs (POSIX advisory lock)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            import fcntl
        except ImportError:  # not POSIX: single-writer assumption
            yield
            return
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _write(self, records: dict[str, KeyRecord]) -> None:
        payload = "".join(
            json.dumps(record.model_dump(mode="json"), separators=(",", ":")) + "\n"
            for record in sorted(records.values(), key=lambda r: (r.created_at, r.key_id))
        ).encode("utf-8")
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        with contextlib.suppress(OSError):  # durability of the rename; not possible everywhere
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def _insert(self, record: KeyRecord) -> KeyRecord | None:
        with self._exclusive():
            records = self._load()
            if record.key_id in records:
                return None
            records[record.key_id] = record
            self._write(records)
        return record

    def _mark_revoked(self, key_id: str) -> bool:
        with self._exclusive():
            records = self._load()
            record = records.get(key_id)
            if record is None:
                return False
            if record.revoked_at is None:
                records[key_id] = record.model_copy(update={"revoked_at": _utcnow()})
                self._write(records)
        return True


# --------------------------------------------------------------------------- factory


def open_key_store(settings: Settings) -> KeyStore:
    """The file store when TELCOPULSE_API_KEYS_FILE is set, else the warehouse's table."""
    timing = {
        "cache_ttl_s": getattr(settings, "auth_cache_ttl", CACHE_TTL_S),
        "outage_grace_s": getattr(settings, "auth_outage_grace", OUTAGE_GRACE_S),
    }
    if settings.api_keys_file is not None:
        return FileKeyStore(settings.api_keys_file, **timing)
    return PostgresKeyStore(settings.require_database_url(), **timing)
