"""Analysis sessions: small, encrypted, expiring key/value workspaces kept in Redis.

An agent keeps intermediate results (query pages, model outputs) in a session between tool
calls. Redis holds live sessions so any server replica can serve any call; every value is
Fernet-encrypted before it leaves the process; closing can archive a session to PostgreSQL
(still encrypted) so nothing the agent saved is lost when it leaves Redis.

Redis layout (the contract other tools and operators rely on):

* `session:<id>` hash: session_id, created_at, expires_at, last_accessed (fixed-width UTC
  ISO-8601 with microseconds), status (active|closing|expired|closed), data_source,
  access_level (read|write), user_id ('' when none), metadata (JSON: data_keys first, a
  {name: true} map of stored keys, then ttl_seconds, then extra server info).
* `session:<id>:data:<name>`: Fernet token of the JSON value; TTL = the session's ttl.
* `session:index:<user_id or 'anonymous'>` set of the user's session ids.

The hash lives `grace_seconds` longer than its data so a late call learns the session
*expired* (and when) rather than that it never existed. Every check-then-write runs in one
Lua script (see scripts.py), so concurrent servers cannot corrupt a session.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

import asyncpg
import redis.asyncio as aioredis
from cryptography.fernet import MultiFernet
from pydantic import BaseModel
from redis.exceptions import RedisError

from mcp_server.dependencies import POSTGRES, REDIS, postgres_outage, redis_outage, redis_unavailable
from mcp_server.errors import Forbidden, InputValidationError, NotFound, SessionExpired, Unavailable
from mcp_server.security.crypto import (
    CryptoError,
    decrypt_json,
    dump_json,
    encrypt_bytes,
    load_fernet,
)
from mcp_server.sessions import scripts
from warehouse.settings import Settings

log = logging.getLogger(__name__)

KEY_PREFIX = "session"
ANONYMOUS = "anonymous"
DATA_KEY_RE = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
SESSION_ID_PATTERN = "[0-9a-f]{32}"  # a session id: 128 random bits in hex
SESSION_ID_RE = re.compile(SESSION_ID_PATTERN)
RESERVED_METADATA = frozenset({"data_keys", "ttl_seconds"})
MAX_DATA_SOURCE_CHARS = 200
MAX_USER_ID_CHARS = 200
MAX_METADATA_BYTES = 64 * 1024
# While a close archives the snapshot, data is kept at least this long even if the
# session's own ttl is shorter, so the archive cannot race Redis expiry.
CLOSE_HOLD_SECONDS = 600
# Encrypting/decrypting a few MiB takes tens of ms: larger payloads leave the event loop.
_THREAD_THRESHOLD_BYTES = 256 * 1024

Status = Literal["active", "closing", "expired", "closed"]


class SessionInfo(BaseModel):
    """What a tool may show about a session (never its data)."""

    session_id: str
    created_at: dt.datetime
    expires_at: dt.datetime
    last_accessed: dt.datetime
    # 'closing' only shows in listings: a close is running or was interrupted (retry it).
    status: Status
    data_source: str
    access_level: Literal["read", "write"]
    user_id: str | None
    data_keys: list[str]
    ttl_seconds: int
    metadata: dict[str, Any]  # extra server info given at creation (bookkeeping removed)


class SessionSnapshot(BaseModel):
    """Everything needed to archive a session; data values are still Fernet tokens."""

    session_id: str
    user_id: str | None
    data_source: str
    access_level: str
    created_at: dt.datetime
    last_accessed: dt.datetime
    closed_at: dt.datetime
    metadata: dict[str, Any]  # full metadata JSON as stored (data_keys, ttl_seconds, extras)
    data: dict[str, str]  # key name -> Fernet token


class ClosedSession(BaseModel):
    session_id: str
    closed_at: dt.datetime
    # None when the session had already been closed by an earlier call (outcome unknown here).
    archived: bool | None
    data_keys: list[str]
    already_closed: bool = False


Archiver = Callable[[SessionSnapshot], Awaitable[None]]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    """Fixed-width UTC text, so the Lua scripts can compare instants as strings."""
    if moment.tzinfo is None:
        raise ValueError("session clock must return timezone-aware datetimes")
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def hash_key(session_id: str) -> str:
    return f"{KEY_PREFIX}:{session_id}"


def data_prefix(session_id: str) -> str:
    return f"{KEY_PREFIX}:{session_id}:data:"


def index_key(user_id: str | None) -> str:
    return f"{KEY_PREFIX}:index:{user_id or ANONYMOUS}"


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _pairs(flat: list[Any]) -> dict[str, str]:
    items = [_text(item) for item in flat]
    return dict(zip(items[0::2], items[1::2], strict=True))


def _seconds_text(seconds: int) -> str:
    if seconds == 3600:
        return "an hour"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hours"
    if seconds % 60 == 0:
        return f"{seconds // 60} minutes"
    return f"{seconds} seconds"


def _shown(value: object, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class SessionStore:
    """Session operations the session_* tools (and save_as of query tools) call."""

    def __init__(
        self,
        redis: aioredis.Redis,
        fernet: MultiFernet,
        *,
        default_ttl: int,
        max_ttl: int,
        grace_seconds: int = 3600,
        clock: Callable[[], dt.datetime] | None = None,
        max_value_bytes: int = 8 * 1024 * 1024,
        max_keys: int = 1000,
        archiver: Archiver | None = None,
        archive_timeout: float = 30.0,
    ) -> None:
        if not 1 <= default_ttl <= max_ttl:
            raise ValueError(f"default_ttl ({default_ttl}) must be between 1 and max_ttl ({max_ttl})")
        if grace_seconds < 1 or max_value_bytes < 1 or max_keys < 1:
            raise ValueError("grace_seconds, max_value_bytes and max_keys must be positive")
        self._redis = redis
        self._fernet = fernet
        self.default_ttl = default_ttl
        self.max_ttl = max_ttl
        self.grace_seconds = grace_seconds
        self.max_value_bytes = max_value_bytes
        self.max_keys = max_keys
        self._clock = clock or utc_now
        self._archiver = archiver
        self._archive_timeout = archive_timeout
        self._create = redis.register_script(scripts.CREATE)
        self._touch = redis.register_script(scripts.TOUCH)
        self._write = redis.register_script(scripts.WRITE)
        self._close_begin = redis.register_script(scripts.CLOSE_BEGIN)
        self._close_abort = redis.register_script(scripts.CLOSE_ABORT)
        self._close_finish = redis.register_script(scripts.CLOSE_FINISH)

    @classmethod
    def from_settings(
        cls, redis: aioredis.Redis, settings: Settings, *, archiver: Archiver | None = None
    ) -> SessionStore:
        return cls(
            redis,
            load_fernet(settings),
            default_ttl=min(settings.session_default_ttl, settings.session_max_ttl),
            max_ttl=settings.session_max_ttl,
            archiver=archiver,
        )

    # ------------------------------------------------------------------ public API

    async def create(
        self,
        *,
        data_source: str,
        access_level: str = "read",
        ttl_seconds: int | None = None,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> SessionInfo:
        if not isinstance(data_source, str) or not data_source.strip():
            raise InputValidationError("data_source must be a non-empty string (e.g. 'marts')")
        if len(data_source) > MAX_DATA_SOURCE_CHARS:
            raise InputValidationError(f"data_source must be at most {MAX_DATA_SOURCE_CHARS} characters")
        if access_level not in ("read", "write"):
            raise InputValidationError(
                f"access_level must be 'read' or 'write', not {_shown(access_level)!r}",
                hint="use 'write' to store results in the session",
            )
        ttl = self.default_ttl if ttl_seconds is None else ttl_seconds
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= self.max_ttl:
            raise InputValidationError(
                f"ttl_seconds must be an integer from 1 to {self.max_ttl}, not {_shown(ttl)}"
            )
        user = user_id or None
        if user is not None and (not isinstance(user, str) or len(user) > MAX_USER_ID_CHARS):
            raise InputValidationError(f"user_id must be a string of at most {MAX_USER_ID_CHARS} characters")
        extra = dict(metadata or {})
        reserved = RESERVED_METADATA.intersection(extra)
        if reserved:
            raise InputValidationError(f"metadata may not set {sorted(reserved)}; the server manages them")
        try:
            # data_keys first: the Lua scripts splice that object in place (see scripts.py).
            metadata_text = dump_json({"data_keys": {}, "ttl_seconds": ttl, **extra}).decode("utf-8")
        except (TypeError, ValueError):
            raise InputValidationError("metadata must be a JSON object") from None
        if len(metadata_text) > MAX_METADATA_BYTES:
            raise InputValidationError(f"metadata must be at most {MAX_METADATA_BYTES} bytes of JSON")

        session_id = uuid.uuid4().hex
        now = self._now()
        fields = {
            "session_id": session_id,
            "created_at": iso(now),
            "expires_at": iso(now + dt.timedelta(seconds=ttl)),
            "last_accessed": iso(now),
            "status": "active",
            "data_source": data_source,
            "access_level": access_level,
            "user_id": user or "",
            "metadata": metadata_text,
        }
        flat = [item for pair in fields.items() for item in pair]
        reply = await self._call(
            self._create,
            [hash_key(session_id), index_key(user)],
            [ttl + self.grace_seconds, session_id, *flat],
        )
        if _text(reply[0]) != "ok":  # a uuid4 collision: astronomically unlikely
            raise Unavailable("could not allocate a session id; retry session_create")
        return self._info(fields)

    async def get(self, session_id: str) -> SessionInfo:
        """The session's description; counts as use (slides its expiry)."""
        reply = await self._touch_call(session_id, "")
        return self._info(_pairs(reply[1]))

    touch = get

    async def read(self, session_id: str, key: str) -> Any:
        value, _ = await self.read_with_info(session_id, key)
        return value

    async def read_with_info(self, session_id: str, key: str) -> tuple[Any, SessionInfo]:
        """The value and the session as touched by the same atomic step (one round trip)."""
        self._check_key(key)
        reply = await self._touch_call(session_id, key)
        info = self._info(_pairs(reply[1]))
        if int(reply[2]) != 1:
            raise NotFound(f"session {session_id} has no key {key!r}; {self._keys_text(info.data_keys)}")
        return await self._decrypt(session_id, key, _text(reply[3])), info

    async def write(self, session_id: str, key: str, value: Any) -> SessionInfo:
        """Store any JSON value under `key` (replacing it); counts as use."""
        self._check_key(key)
        try:
            plaintext = dump_json(value)
        except (TypeError, ValueError):
            raise InputValidationError(
                f"the value for key {key!r} is not JSON (numbers must be finite; use lists, "
                "objects, strings, numbers, booleans or null)"
            ) from None
        if len(plaintext) > self.max_value_bytes:
            raise InputValidationError(
                f"the value for key {key!r} is {len(plaintext)} bytes of JSON; the limit is "
                f"{self.max_value_bytes} bytes",
                hint="store it in smaller pieces under several keys",
            )
        ttl, user = await self._immutable(session_id)
        token = await self._offload(len(plaintext), encrypt_bytes, self._fernet, plaintext)
        now = self._now()
        reply = await self._call(
            self._write,
            [hash_key(session_id), index_key(user), data_prefix(session_id) + key],
            [*self._time_args(now, ttl), data_prefix(session_id), key, token, self.max_keys],
        )
        self._raise_for(session_id, reply)
        return self._info(_pairs(reply[1]))

    async def close(
        self, session_id: str, *, archive: bool = True, archiver: Archiver | None = None
    ) -> ClosedSession:
        """End a session, archiving it first; safe to retry after any failure.

        A: the session turns 'closing' (writes refused) and its data is snapshotted.
        B: the snapshot is archived (idempotent upsert); on failure A is undone.
        C: data deleted, status 'closed', id leaves the user's index.
        """
        archive_to = archiver or self._archiver
        if archive and archive_to is None:
            raise Unavailable(
                "archiving is not configured on this server", hint="close with archive=false instead"
            )
        ttl, user = await self._immutable(session_id)
        now = self._now()
        keys = [hash_key(session_id), index_key(user)]
        prefix = data_prefix(session_id)
        reply = await self._call(
            self._close_begin, keys, [*self._time_args(now, ttl), prefix, CLOSE_HOLD_SECONDS]
        )
        if _text(reply[0]) == "closed":
            return ClosedSession(
                session_id=session_id,
                closed_at=dt.datetime.fromisoformat(_text(reply[1])),
                archived=None,
                data_keys=[],
                already_closed=True,
            )
        self._raise_for(session_id, reply)
        fields = _pairs(reply[1])
        snapshot = self._snapshot(fields, _pairs(reply[2]), closed_at=now)

        if archive:
            assert archive_to is not None
            try:
                await asyncio.wait_for(archive_to(snapshot), timeout=self._archive_timeout)
            except Exception as exc:
                outage = postgres_outage(exc)
                if outage is not None:  # counted by the health tracker, no traceback per call
                    POSTGRES.failed(outage)
                    log.info("archiving session %s failed (PostgreSQL: %s); reopening it", session_id, outage)
                else:
                    log.warning("archiving session %s failed; reopening it", session_id, exc_info=exc)
                await self._abort_close(session_id, ttl, user)
                raise Unavailable(
                    f"could not archive session {session_id}; nothing was deleted, retry session_close"
                ) from exc

        try:
            done = await self._finish_close(session_id, user, now)
        except RedisError as exc:
            log.warning("finishing the close of session %s failed", session_id, exc_info=exc)
            raise Unavailable(
                f"session {session_id} was {'archived' if archive else 'snapshotted'} but could not be "
                "removed from the session store; retry session_close"
            ) from exc
        state = _text(done[0])
        if state not in ("ok", "closed"):
            # Another caller reopened it (its archive failed) between our steps.
            raise Unavailable(f"session {session_id} changed while closing; retry session_close")
        return ClosedSession(
            session_id=session_id,
            closed_at=dt.datetime.fromisoformat(_text(done[1])),
            archived=archive,
            data_keys=sorted(snapshot.data),
        )

    async def count_open(self) -> int:
        """Sessions open now, for the metrics scrape: one SCAN over the session hashes.

        Expired sessions are gone from Redis (their TTL), closed ones removed. SCAN walks the
        whole keyspace in steps of 1,000 without blocking Redis; callers cache the answer.
        """
        count = 0
        async for key in self._redis.scan_iter(match=f"{KEY_PREFIX}:*", count=1000, _type="HASH"):
            if SESSION_ID_RE.fullmatch(_text(key)[len(KEY_PREFIX) + 1 :]):
                count += 1
        return count

    async def list_for_user(self, user_id: str | None) -> list[SessionInfo]:
        """The user's sessions (newest first) without touching them; prunes vanished ids."""
        index = index_key(user_id or None)
        try:
            members = sorted(_text(member) for member in await self._redis.smembers(index))
            async with self._redis.pipeline(transaction=False) as pipe:
                for session_id in members:
                    pipe.hgetall(hash_key(session_id))
                hashes = await pipe.execute()
            # Ids are never reused, so an id whose hash is gone can be dropped without a race.
            gone = [sid for sid, fields in zip(members, hashes, strict=True) if not fields]
            if gone:
                await self._redis.srem(index, *gone)
        except RedisError as exc:
            raise self._unreachable(exc) from exc
        now = iso(self._now())
        infos = []
        for fields in hashes:
            if not fields:
                continue
            try:
                info = self._info(_pairs([item for pair in fields.items() for item in pair]))
            except (ValueError, KeyError):
                continue  # a damaged hash is not listed; using it answers a clear error
            if info.status in ("active", "closing") and iso(info.expires_at) <= now:
                info = info.model_copy(update={"status": "expired"})
            infos.append(info)
        return sorted(infos, key=lambda info: info.created_at, reverse=True)

    # ------------------------------------------------------------------ steps & helpers

    async def _finish_close(self, session_id: str, user_id: str | None, now: dt.datetime) -> list[Any]:
        """Step C, separate so tests can make it fail once."""
        return await self._close_finish(
            keys=[hash_key(session_id), index_key(user_id)],
            args=[iso(now), self.grace_seconds, data_prefix(session_id), session_id],
        )

    async def _abort_close(self, session_id: str, ttl: int, user_id: str | None) -> None:
        try:
            await self._close_abort(
                keys=[hash_key(session_id), index_key(user_id)],
                args=[*self._time_args(self._now(), ttl), data_prefix(session_id)],
            )
        except RedisError:
            # Still 'closing': the next session_close continues from step A.
            log.warning("could not reopen session %s after a failed archive", session_id, exc_info=True)

    async def _touch_call(self, session_id: str, read_key: str) -> list[Any]:
        ttl, user = await self._immutable(session_id)
        reply = await self._call(
            self._touch,
            [hash_key(session_id), index_key(user)],
            [*self._time_args(self._now(), ttl), data_prefix(session_id), read_key],
        )
        self._raise_for(session_id, reply)
        return reply

    async def _immutable(self, session_id: str) -> tuple[int, str | None]:
        """ttl_seconds and user_id, which never change, so the scripts can be given them."""
        self._check_session_id(session_id)
        try:
            metadata, user = await self._redis.hmget(hash_key(session_id), ["metadata", "user_id"])
        except RedisError as exc:
            raise self._unreachable(exc) from exc
        REDIS.succeeded()
        if metadata is None:
            raise self._not_found(session_id)
        try:
            ttl = int(json.loads(metadata)["ttl_seconds"])
        except (ValueError, KeyError, TypeError):
            raise self._damaged(session_id) from None
        return ttl, (_text(user) if user else None)

    def _time_args(self, now: dt.datetime, ttl: int) -> list[Any]:
        return [iso(now), iso(now + dt.timedelta(seconds=ttl)), ttl, self.grace_seconds]

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> list[Any]:
        try:
            reply = await script(keys=keys, args=args)
        except RedisError as exc:
            raise self._unreachable(exc) from exc
        REDIS.succeeded()
        return reply

    def _raise_for(self, session_id: str, reply: list[Any]) -> None:
        state = _text(reply[0])
        if state == "ok":
            return
        if state == "missing":
            raise self._not_found(session_id)
        if state == "expired":
            raise SessionExpired(
                f"session {session_id} expired at {_text(reply[1])}; create a new one with session_create"
            )
        if state == "closed":
            raise SessionExpired(
                f"session {session_id} was closed at {_text(reply[1])}; create a new one with session_create"
            )
        if state == "closing":
            raise SessionExpired(
                f"session {session_id} is being closed (a session_close is running or was interrupted)",
                hint="call session_close again to finish it, or create a new one with session_create",
            )
        if state == "readonly":
            raise Forbidden(f"session {session_id} is read-only; create one with access_level='write'")
        if state == "toomany":
            raise InputValidationError(
                f"session {session_id} already holds {_text(reply[1])} keys",
                hint="overwrite an existing key or create a new session",
            )
        raise self._damaged(session_id)

    def _not_found(self, session_id: str) -> NotFound:
        return NotFound(
            f"no session {session_id}; it may have expired more than "
            f"{_seconds_text(self.grace_seconds)} ago or never existed",
            hint="create one with session_create",
        )

    def _damaged(self, session_id: str) -> Unavailable:
        return Unavailable(f"session {session_id} is damaged and cannot be used; create a new one")

    @staticmethod
    def _unreachable(exc: Exception) -> Unavailable:
        """Redis could not be reached: counted by the health tracker (one log line per outage)."""
        reason = redis_outage(exc) or type(exc).__name__
        REDIS.failed(reason)
        return redis_unavailable(reason)

    @staticmethod
    def _check_session_id(session_id: str) -> None:
        if not isinstance(session_id, str) or not SESSION_ID_RE.fullmatch(session_id):
            raise InputValidationError(
                f"session_id {_shown(session_id)!r} is malformed; pass the 32-character id "
                "session_create returned"
            )

    @staticmethod
    def _check_key(key: str) -> None:
        if not isinstance(key, str) or not DATA_KEY_RE.fullmatch(key):
            raise InputValidationError(
                f"key {_shown(key)!r} is invalid; use 1-128 characters from A-Z a-z 0-9 _ . : -"
            )

    @staticmethod
    def _keys_text(names: list[str], limit: int = 50) -> str:
        if not names:
            return "it holds no keys yet (store one with session_update)"
        shown = ", ".join(names[:limit])
        more = f" and {len(names) - limit} more" if len(names) > limit else ""
        return f"available keys: {shown}{more}"

    async def _decrypt(self, session_id: str, key: str, token: str) -> Any:
        try:
            return await self._offload(len(token), decrypt_json, self._fernet, token)
        except CryptoError:
            log.error(
                "session %s key %s cannot be decrypted with the configured Fernet keys", session_id, key
            )
            raise Unavailable(
                f"the value of key {key!r} in session {session_id} cannot be decrypted with the "
                "server's current keys",
                hint="write the key again, or ask the operator to restore the previous Fernet key",
            ) from None

    @staticmethod
    async def _offload(size: int, func: Callable[..., Any], *args: Any) -> Any:
        if size > _THREAD_THRESHOLD_BYTES:
            return await asyncio.to_thread(func, *args)
        return func(*args)

    def _now(self) -> dt.datetime:
        return self._clock().astimezone(dt.UTC)

    @staticmethod
    def _meta(fields: Mapping[str, str]) -> dict[str, Any]:
        meta = json.loads(fields["metadata"])
        if not isinstance(meta, dict):
            raise ValueError("metadata is not an object")
        return meta

    def _info(self, fields: Mapping[str, str]) -> SessionInfo:
        meta = self._meta(fields)
        return SessionInfo(
            session_id=fields["session_id"],
            created_at=dt.datetime.fromisoformat(fields["created_at"]),
            expires_at=dt.datetime.fromisoformat(fields["expires_at"]),
            last_accessed=dt.datetime.fromisoformat(fields["last_accessed"]),
            status=fields["status"],
            data_source=fields["data_source"],
            access_level=fields["access_level"],
            user_id=fields["user_id"] or None,
            data_keys=sorted(meta.get("data_keys") or {}),
            ttl_seconds=int(meta["ttl_seconds"]),
            metadata={k: v for k, v in meta.items() if k not in RESERVED_METADATA},
        )

    def _snapshot(
        self, fields: Mapping[str, str], data: dict[str, str], *, closed_at: dt.datetime
    ) -> SessionSnapshot:
        return SessionSnapshot(
            session_id=fields["session_id"],
            user_id=fields["user_id"] or None,
            data_source=fields["data_source"],
            access_level=fields["access_level"],
            created_at=dt.datetime.fromisoformat(fields["created_at"]),
            last_accessed=dt.datetime.fromisoformat(fields["last_accessed"]),
            closed_at=closed_at,
            metadata=self._meta(fields),
            data=data,
        )


# ---------------------------------------------------------------------- PostgreSQL archive

_ARCHIVE_SQL = """
INSERT INTO ops.session_archive
    (session_id, user_id, data_source, access_level, created_at, last_accessed, closed_at, metadata, data)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb)
ON CONFLICT (session_id) DO UPDATE SET
    user_id = EXCLUDED.user_id,
    data_source = EXCLUDED.data_source,
    access_level = EXCLUDED.access_level,
    created_at = EXCLUDED.created_at,
    last_accessed = EXCLUDED.last_accessed,
    closed_at = EXCLUDED.closed_at,
    metadata = EXCLUDED.metadata,
    data = EXCLUDED.data
"""


class PostgresArchiver:
    """Archiver writing ops.session_archive; an upsert, so a retried close never duplicates."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def __call__(self, snapshot: SessionSnapshot) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                _ARCHIVE_SQL,
                snapshot.session_id,
                snapshot.user_id,
                snapshot.data_source,
                snapshot.access_level,
                snapshot.created_at,
                snapshot.last_accessed,
                snapshot.closed_at,
                json.dumps(snapshot.metadata),
                json.dumps(snapshot.data),
            )


async def load_archived(pool: asyncpg.Pool, session_id: str, fernet: MultiFernet) -> dict[str, Any] | None:
    """An archived session with its data decrypted (inspection, tests, restores)."""
    row = await pool.fetchrow("SELECT * FROM ops.session_archive WHERE session_id = $1", session_id)
    if row is None:
        return None
    archived = dict(row)
    archived["metadata"] = json.loads(archived["metadata"])
    tokens: dict[str, str] = json.loads(archived["data"])
    archived["data"] = {name: decrypt_json(fernet, token) for name, token in tokens.items()}
    return archived
