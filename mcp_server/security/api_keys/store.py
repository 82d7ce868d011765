"""The key store interface, and the behaviour every store shares, written once.

`KeyStore` is an abstract base class rather than a Protocol: creation, rotation,
verification and the outage policy below are the same for every store, so they live here
and a store only says how records are kept (`FileKeyStore`, `PostgresKeyStore`).

Store outages (stale-while-unavailable): when the store cannot answer (PostgreSQL down or
unreachable, key file unreadable; not a misconfiguration such as an unsafe file mode,
which keeps raising `KeyStoreError`), a key this process verified within the last
`outage_grace_s` seconds (`TELCOPULSE_AUTH_OUTAGE_GRACE`, default 1 h) is still accepted
from memory, so an outage of the key store does not lock out the callers that were
working (their Redis-only tools keep answering). A key not verified recently raises
`KeyStoreUnavailable` (the HTTP layer answers 503 with a retry time), never "invalid":
the store could not say. After a failure the store is left alone for `STORE_RETRY_S`
(memory answers meanwhile), then asked again; as soon as it answers, its answer wins, so
a revocation is honoured within the cache TTL of the store being back. Any negative
answer drops the key from memory, so a key found revoked is never served stale later.
"""

from __future__ import annotations

import asyncio
import builtins
import datetime as dt
import hmac
import logging
import math
import secrets
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import partial

from mcp_server.security.api_keys.cache import CACHE_TTL_S, VerificationCache
from mcp_server.security.api_keys.records import (
    DUMMY_HASH,
    DUMMY_SALT,
    SALT_BYTES,
    KeyRecord,
    check_create_arguments,
    hash_secret,
    lifetime_after_rotation,
    utcnow,
)
from mcp_server.security.identity import Principal, Role, format_key, is_key_id, new_key_material, parse_key

log = logging.getLogger(__name__)

OUTAGE_GRACE_S = 3600.0
# After the store failed: how long memory answers alone before the store is asked again.
STORE_RETRY_S = 5.0


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


@dataclass(frozen=True, slots=True)
class _Presented:
    """A well-formed key that memory could not answer for: the store must be asked."""

    key_id: str
    secret: str
    digest: bytes


class KeyStore(ABC):
    """What the CLI and the HTTP server need from a key store, whatever holds the keys.

    Creation, rotation and verification are written here once; subclasses only store records.
    """

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
    def list(self) -> builtins.list[KeyRecord]:
        """Every stored record, revoked or not, oldest first."""

    @abstractmethod
    def _mark_revoked(self, key_id: str) -> bool:
        """Set revoked_at (keeping an earlier one); False if the key id is unknown."""

    def _touch(self, record: KeyRecord) -> None:
        """Record use of a key (best effort, throttled); a no-op where writes are unwanted."""
        return None

    # -- public API
    def create(self, name: str, role: Role, expires_at: dt.datetime | None = None) -> tuple[str, KeyRecord]:
        """Make a key; the returned plaintext is the only copy that will ever exist."""
        name = check_create_arguments(name, role, expires_at)
        for _ in range(self._CREATE_ATTEMPTS):
            key_id, secret = new_key_material()
            salt = secrets.token_bytes(SALT_BYTES)
            record = KeyRecord(
                key_id=key_id,
                name=name,
                role=role,
                salt=salt.hex(),
                hash=hash_secret(secret, salt).hex(),
                created_at=utcnow(),
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
        plaintext, record = self.create(old.name, old.role, lifetime_after_rotation(old))
        log.info("api key rotated old_key_id=%s new_key_id=%s", key_id, record.key_id)
        return plaintext, record

    def verify(self, presented: str) -> Principal | None:
        """The principal of a valid key, else None — never an exception for bad input.

        When the store cannot answer (database down, unusable file), a key verified within
        the outage grace is answered from memory; any other key raises `KeyStoreUnavailable`
        (an outage to report as 503, not a 401). Other store errors propagate.
        """
        presented_key = self._answer_from_memory(presented)
        if not isinstance(presented_key, _Presented):
            return presented_key
        try:
            principal = self._verify_uncached(presented_key)
        except self._unavailable_errors() as exc:
            return self._store_failed(presented_key.digest, exc)
        return self._store_answered(presented_key.digest, principal)

    async def averify(self, presented: str) -> Principal | None:
        """`verify` for the event loop: cache hits answer inline, scrypt + I/O run in a thread."""
        presented_key = self._answer_from_memory(presented)
        if not isinstance(presented_key, _Presented):
            return presented_key
        digest = presented_key.digest
        # One scrypt per key, not one per request: when a busy key's cache entry expires,
        # 200 concurrent requests once queued 200 scrypts on the thread pool (seconds at p99).
        pending = self._verifying.get(digest)
        if pending is None or pending.get_loop() is not asyncio.get_running_loop():
            pending = asyncio.ensure_future(self._verify_once(presented_key))
            self._verifying[digest] = pending
            pending.add_done_callback(partial(self._verified, digest))
        # Shielded: one caller's cancellation (its client left) does not fail the others.
        return await asyncio.shield(pending)

    async def _verify_once(self, presented: _Presented) -> Principal | None:
        try:
            principal = await asyncio.to_thread(self._verify_uncached, presented)
        except self._unavailable_errors() as exc:
            return self._store_failed(presented.digest, exc)
        return self._store_answered(presented.digest, principal)

    def _answer_from_memory(self, presented: str) -> Principal | _Presented | None:
        """The answer that needs neither the store nor scrypt, if there is one.

        None for a malformed key, the principal of a fresh cache entry, the memory's answer
        while the store rests after a failure; otherwise the parsed key, for the store.
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
        return _Presented(parsed[0], parsed[1], digest)

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

    def _verify_uncached(self, presented: _Presented) -> Principal | None:
        key_id = presented.key_id
        record = self.get(key_id)
        salt, expected = DUMMY_SALT, DUMMY_HASH
        if record is not None:
            try:
                salt, expected = bytes.fromhex(record.salt), bytes.fromhex(record.hash)
            except ValueError:  # validated on load; belt and braces for a hand-edited row
                log.error("api key record is damaged key_id=%s", key_id)
                record = None
        # Always exactly one scrypt and one constant-time compare, whatever the outcome.
        matches = hmac.compare_digest(hash_secret(presented.secret, salt), expected)
        if record is None or not matches:
            log.debug(
                "api key rejected key_id=%s reason=%s", key_id, "unknown" if record is None else "secret"
            )
            return None
        now = utcnow()
        if record.revoked_at is not None:
            log.info("api key rejected key_id=%s reason=revoked", key_id)
            return None
        if record.is_expired(now):
            log.info("api key rejected key_id=%s reason=expired", key_id)
            return None
        ttl = None if record.expires_at is None else (record.expires_at - now).total_seconds()
        principal = record.principal
        self.cache.put(presented.digest, principal, ttl)
        self._touch(record)
        return principal
