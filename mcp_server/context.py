"""Long-lived state the tools share: pools, caches, the session store.

Built once per process by the server's lifespan (once for the HTTP app, once per stdio
run), never at import. Tools reach it through `app_context(ctx)`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from mcp.server.mcpserver import Context

from mcp_server.cache import QUERY_CACHE_PREFIX, DataVersion, QueryCache
from mcp_server.catalog import Manifest, Mart, load_marts
from mcp_server.dependencies import LOOKUP_TIMEOUT, postgres_connection, quiet_driver_logs
from mcp_server.errors import InputValidationError, Unavailable
from mcp_server.exports.links import DownloadLinks
from mcp_server.exports.store import ExportStore, open_export_store
from mcp_server.freshness import FreshnessSource
from mcp_server.observability.audit import AuditLog
from mcp_server.observability.metrics import ServerMetrics
from mcp_server.query.executor import (
    QUERY_LOCK_TIMEOUT_MS,
    ExecutorConnection,
    ReadOnlyExecutor,
    pool_reset,
    query_session_settings,
)
from mcp_server.query.service import QueryService
from mcp_server.security.crypto import load_fernet
from mcp_server.security.function_policy import FunctionPolicy, load_function_policy
from mcp_server.security.rate_limit import RateLimiter
from mcp_server.sessions.store import PostgresArchiver, SessionStore
from warehouse.db import as_url, warehouse_id
from warehouse.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class AppContext:
    settings: Settings
    pool: asyncpg.Pool
    redis: aioredis.Redis
    query_pool: asyncpg.Pool
    executor: ReadOnlyExecutor
    function_policy: FunctionPolicy
    cache: QueryCache
    version: DataVersion
    sessions: SessionStore
    archiver: PostgresArchiver
    manifest: Manifest
    # Where export files live: the export folder, or a bucket (TELCOPULSE_EXPORT_BUCKET).
    exports: ExportStore
    # Signed export download URLs (HTTP); made with the session data's Fernet keys.
    export_links: DownloadLinks
    limiter: RateLimiter | None = None
    audit: AuditLog | None = None
    # The server's Prometheus metrics (None for contexts opened outside a server).
    metrics: ServerMetrics | None = None
    # Every tool's paged, cached read; built from the fields above (`__post_init__`).
    queries: QueryService = field(init=False)
    # How fresh and well-tested the data behind an answer is (every warehouse answer carries it).
    freshness: FreshnessSource = field(init=False)
    # search_catalog's index, keyed by (data version, manifest fingerprint).
    catalog_index: tuple[tuple[str, float], Any] | None = None
    _marts: tuple[str, dict[str, Mart]] | None = None
    _marts_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        # Derived here, not passed in, so the service cannot read through a different
        # executor, cache or data version than the rest of the server (analyses, cache_clear).
        self.queries = QueryService(
            executor=self.executor,
            cache=self.cache,
            version=self.version,
            on_cache_lookup=self.metrics.query_cache_seen if self.metrics is not None else None,
        )
        self.freshness = FreshnessSource(
            self.pool,
            self.version,
            stale_after=self.settings.stale_after,
            acquire_timeout=self.settings.db_pool_acquire_timeout,
        )

    def postgres(self, *, lookup: bool = False) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A pooled connection whose outages and pool exhaustion answer `Unavailable`.

        `lookup`: the server's own quick read, so a timeout inside it means PostgreSQL stalled.
        """
        return postgres_connection(
            self.pool, acquire_timeout=self.settings.db_pool_acquire_timeout, timeouts_mean_down=lookup
        )

    async def marts(self) -> dict[str, Mart]:
        """The live marts, re-read when the data version changes (a build may add columns).

        Only a successful read replaces the cached catalog, so an outage cannot wedge it.
        """
        version = await self.version.current()
        if self._marts is None or self._marts[0] != version:
            async with self._marts_lock:
                if self._marts is None or self._marts[0] != version:
                    async with self.postgres(lookup=True) as conn:
                        marts = await load_marts(conn, self.manifest, timeout=LOOKUP_TIMEOUT)
                    self._marts = (version, marts)
        return self._marts[1]

    async def mart(self, name: str | None) -> Mart:
        """One live mart by name; a name that is not one is a ValidationError listing the marts."""
        marts = await self.marts()
        if name not in marts:
            raise InputValidationError(
                f"unknown mart {name!r}", hint=f"marts are: {', '.join(sorted(marts)) or 'none built yet'}"
            )
        return marts[name]


# Sent at connection start-up, so it is the session default: the pool's RESET ALL on
# release keeps it (a `SET application_name` in `init` was reset after the first use).
_SERVER_SETTINGS = {"application_name": "telcopulse-mcp"}


@asynccontextmanager
async def open_app_context(
    settings: Settings, metrics: ServerMetrics | None = None
) -> AsyncIterator[AppContext]:
    database_url = settings.require_database_url()
    quiet_driver_logs()
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set; the MCP server keeps sessions and caches in Redis.")
    common = {
        "connection_class": ExecutorConnection,
        "reset": pool_reset,
        "command_timeout": settings.query_timeout_max + 10,
        "timeout": settings.db_connect_timeout,
        "max_size": settings.db_pool_max,
    }
    try:
        # The server's own work: audit rows, sessions, versions, the catalog, imports.
        pool = await asyncpg.create_pool(
            as_url(database_url),
            min_size=min(2, settings.db_pool_min, settings.db_pool_max),
            server_settings=_SERVER_SETTINGS,
            **common,
        )
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise RuntimeError(
            f"cannot connect to the warehouse ({type(exc).__name__}); check DATABASE_URL"
        ) from exc
    try:
        # Agents' SQL: connections that log in as the query role (mcp_server.query.executor).
        query_pool = await asyncpg.create_pool(
            as_url(database_url),
            min_size=min(settings.db_pool_min, settings.db_pool_max),
            server_settings=query_session_settings(
                settings.query_role,
                statement_timeout_s=settings.query_timeout_max,
                lock_timeout_ms=QUERY_LOCK_TIMEOUT_MS,
                application_name=_SERVER_SETTINGS["application_name"],
            ),
            **common,
        )
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        await pool.close()
        raise RuntimeError(
            f"cannot open query connections as role {settings.query_role} ({type(exc).__name__}); "
            "run `telcopulse migrate` (it creates the role) and check that the login may use it"
        ) from exc
    try:
        # The function allow list, from the catalog as it is now (an extension installed
        # later stays refused until a restart and, outside pg_catalog, a setting).
        async with query_pool.acquire(timeout=settings.db_pool_acquire_timeout) as conn:
            function_policy = await load_function_policy(conn, settings.query_function_schemas)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        await query_pool.close()
        await pool.close()
        raise RuntimeError(
            f"cannot read the function catalog ({type(exc).__name__}); check DATABASE_URL"
        ) from exc
    cache_prefix = f"{QUERY_CACHE_PREFIX}:{warehouse_id(database_url)}"
    # A blocking pool: under a burst, callers wait briefly for a connection instead of failing.
    redis = aioredis.Redis(
        connection_pool=aioredis.BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=settings.redis_max_connections,
            timeout=10,
            health_check_interval=30,
            # Explicit, so a stalled Redis costs a call at most this long whatever the
            # library's defaults are.
            socket_connect_timeout=settings.redis_connect_timeout,
            socket_timeout=settings.redis_socket_timeout,
        )
    )
    try:
        context = AppContext(
            settings=settings,
            pool=pool,
            redis=redis,
            query_pool=query_pool,
            function_policy=function_policy,
            executor=ReadOnlyExecutor(
                pool,
                query_pool=query_pool,
                role=settings.query_role,
                readable_schemas=settings.query_schemas,
                max_rows=settings.query_max_rows,
                max_bytes=settings.query_max_bytes,
                acquire_timeout=settings.db_pool_acquire_timeout,
                lock_timeout_ms=QUERY_LOCK_TIMEOUT_MS,
            ),
            cache=QueryCache(
                redis,
                ttl_seconds=settings.query_cache_ttl,
                prefix=cache_prefix,
                local_max_bytes=settings.query_cache_local_mb * 2**20,
            ),
            version=DataVersion(pool, acquire_timeout=settings.db_pool_acquire_timeout),
            sessions=SessionStore.from_settings(redis, settings),
            archiver=PostgresArchiver(pool),
            manifest=Manifest(settings.manifest_path),
            limiter=RateLimiter(
                redis, limits_per_minute=settings.rate_limits, lease_max=settings.rate_limit_lease
            ),
            audit=AuditLog(pool),
            export_links=DownloadLinks(load_fernet(settings)),
            exports=open_export_store(settings),
            metrics=metrics,
        )
        context.audit.start()
        try:
            yield context
        finally:
            await context.audit.close()
    finally:
        await redis.aclose()
        await redis.connection_pool.disconnect()
        await query_pool.close()
        await pool.close()


class SharedAppContext:
    """One AppContext per server object, however many connections enter its lifespan.

    Stdio and HTTP enter the lifespan once; in-memory clients (tests) enter it per
    connection, and static resources cannot receive a request context at all, so they
    read it here. The first entrant opens the pools, the last one out closes them.
    """

    def __init__(
        self,
        settings: Settings,
        services: Sequence[Callable[[AppContext], AbstractAsyncContextManager[object]]] = (),
        metrics: ServerMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        # Background work that lives exactly as long as the pools (e.g. the build listener).
        self._services = tuple(services)
        self._context: AppContext | None = None
        self._stack: AsyncExitStack | None = None
        self._users = 0
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def lifespan(self, _server: object) -> AsyncIterator[AppContext]:
        async with self._lock:
            if self._users == 0:
                stack = AsyncExitStack()
                try:
                    opened = open_app_context(self._settings, self._metrics)
                    self._context = await stack.enter_async_context(opened)
                    for service in self._services:
                        await stack.enter_async_context(service(self._context))
                except BaseException:
                    await stack.aclose()
                    self._context = None
                    raise
                self._stack = stack
            self._users += 1
        try:
            assert self._context is not None
            yield self._context
        finally:
            async with self._lock:
                self._users -= 1
                if self._users == 0 and self._stack is not None:
                    stack, self._stack, self._context = self._stack, None, None
                    await stack.aclose()

    @property
    def settings(self) -> Settings:
        return self._settings

    def peek(self) -> AppContext | None:
        return self._context

    def get(self) -> AppContext:
        if self._context is None:
            raise Unavailable("the server is still starting; retry in a moment")
        return self._context


def app_context(ctx: Context[Any, Any]) -> AppContext:
    state = ctx.request_context.lifespan_context
    if not isinstance(state, AppContext):
        raise Unavailable("the server is still starting; retry in a moment")
    return state
