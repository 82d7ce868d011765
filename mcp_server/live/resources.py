"""Live resources: tell subscribed clients when a build changed what they read.

Two ways in, one event source:
- protocol 2025-11-25: `resources/subscribe` / `resources/unsubscribe` register this session for a
  URI (`LegacySubscribers`), and `notifications/resources/updated` is sent on that session;
- protocol 2026-07-28: `subscriptions/listen` streams, which the SDK serves from the server's
  `SubscriptionBus`; publishing `ResourceUpdated` / `ResourcesListChanged` reaches them.
  A 2025-11-25 client that listed resources hears `notifications/resources/list_changed`.
Both hear of builds from `build_listener` (PostgreSQL LISTEN/NOTIFY), so a build in any process
reaches the subscribers of every server process, each exactly once.

A build announces `mart://<name>` for every mart it rebuilt, `docs://data_dictionary` and
`schema://database/main` when their text changed, and a list change when marts were added or
dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import weakref
from collections.abc import AsyncIterator
from typing import Any

from mcp.server.session import ServerSession
from mcp.server.subscriptions import ResourcesListChanged, ResourceUpdated, SubscriptionBus
from mcp_types import (
    ResourceListChangedNotification,
    ResourceUpdatedNotification,
    ResourceUpdatedNotificationParams,
)
from pydantic import BaseModel

from mcp_server.catalog import load_marts
from mcp_server.context import AppContext
from mcp_server.dependencies import LOOKUP_TIMEOUT
from mcp_server.live.build_listener import listen_for_builds
from mcp_server.live.connections import client_connection
from mcp_server.resources.dictionary import render_dictionary
from mcp_server.resources.marts import mart_uri
from mcp_server.resources.schema import render_schema
from warehouse.build_events import BUILD_SQL, BuildSummary

logger = logging.getLogger(__name__)

DICTIONARY_URI = "docs://data_dictionary"
SCHEMA_URI = "schema://database/main"


class LegacySubscribers:
    """URI -> the client connections subscribed to it with `resources/subscribe`, and the
    connections that listed resources (they hear `notifications/resources/list_changed`).

    Keyed by the SDK's per-client `Connection`, not the `ServerSession` a handler receives: that
    one lives for one request, the connection for as long as the client stays. Held weakly, so a
    client that goes away leaves without unsubscribing.
    """

    def __init__(self) -> None:
        self._connections: dict[str, weakref.WeakSet[Any]] = {}
        self._listers: weakref.WeakSet[Any] = weakref.WeakSet()

    def subscribe(self, uri: str, session: ServerSession) -> None:
        self._connections.setdefault(uri, weakref.WeakSet()).add(client_connection(session))

    def unsubscribe(self, uri: str, session: ServerSession) -> None:
        self._connections.get(uri, weakref.WeakSet()).discard(client_connection(session))

    def listed(self, session: ServerSession) -> None:
        """A client that read the list is told when it changes (2025-11-25 has no opt-in for that)."""
        self._listers.add(client_connection(session))

    async def updated(self, uri: str) -> None:
        message = ResourceUpdatedNotification(params=ResourceUpdatedNotificationParams(uri=uri))
        for connection in await _notify(list(self._connections.get(uri, ())), message):
            logger.info("dropped a subscriber of %s", uri)
            self._connections[uri].discard(connection)

    async def list_changed(self) -> None:
        everyone = set(self._listers).union(*self._connections.values())
        for connection in await _notify(list(everyone), ResourceListChangedNotification()):
            self._listers.discard(connection)
            for subscribed in self._connections.values():
                subscribed.discard(connection)


async def _notify(connections: list[Any], message: BaseModel) -> list[Any]:
    """Send one notification on each connection's own channel (the standalone stream over HTTP),
    as the SDK's `ServerSession.send_resource_updated` does outside a request; the closed ones."""
    data = message.model_dump(by_alias=True, mode="json", exclude_none=True)
    closed = []
    for connection in connections:
        try:
            await connection.outbound.notify(data["method"], data.get("params"))
        except Exception as exc:  # a closed connection: forget it, keep notifying the others
            logger.debug("notification not delivered (%s)", type(exc).__name__)
            closed.append(connection)
    return closed


async def _mart_names(app: AppContext) -> frozenset[str]:
    """The marts in the warehouse now, read directly: the app's own catalog cache is left to the
    calls that need it (a start-up read here would change what a call sees in an outage)."""
    async with app.postgres(lookup=True) as conn:
        return frozenset(await load_marts(conn, app.manifest, timeout=LOOKUP_TIMEOUT))


class LiveResources:
    """Turns announced builds into resource notifications for this server's clients."""

    def __init__(self, bus: SubscriptionBus) -> None:
        self.bus = bus
        self.legacy = LegacySubscribers()
        self._marts: frozenset[str] | None = None
        self._digests: dict[str, str] = {}
        self._listening = asyncio.Event()

    @contextlib.asynccontextmanager
    async def running(self, app: AppContext) -> AsyncIterator[None]:
        """Listen for builds while the app context is open (entered on its exit stack)."""
        self._listening = asyncio.Event()
        task = asyncio.create_task(self._run(app), name="live-resources")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, app: AppContext) -> None:
        try:
            await self.prime(app)
        except Exception as exc:  # PostgreSQL down at start: the first build will still be announced
            logger.warning("live resources start without a baseline (%s)", type(exc).__name__)
        await listen_for_builds(
            app.settings.require_database_url(),
            lambda build_id: self.on_build(app, build_id),
            ready=self._listening,
        )

    async def listening(self, timeout: float) -> bool:
        """Wait until builds are heard (so a subscription made now misses none); False on timeout."""
        try:
            await asyncio.wait_for(self._listening.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def prime(self, app: AppContext) -> None:
        """Remember what the documents say now, so the first build can tell what it changed."""
        self._marts = await _mart_names(app)
        self._digests = await self._document_digests(app)

    async def on_build(self, app: AppContext, build_id: str) -> None:
        async with app.postgres(lookup=True) as conn:
            row = await conn.fetchrow(BUILD_SQL, build_id)
        if row is None:
            return
        details = row["details"]
        summary = BuildSummary.from_details(json.loads(details) if isinstance(details, str) else details)
        # The next read sees the new version at once, not after its TTL.
        app.version.invalidate()
        app.freshness.invalidate()
        marts = await _mart_names(app)
        uris = [mart_uri(name) for name in summary.marts if name in marts]
        digests = await self._document_digests(app)
        uris += [uri for uri, digest in digests.items() if self._digests.get(uri) not in (None, digest)]
        self._digests.update(digests)
        if self._marts is not None and marts != self._marts:
            await self.bus.publish(ResourcesListChanged())
            await self.legacy.list_changed()
        self._marts = marts
        for uri in uris:
            await self.updated(uri)
        logger.info("build %s announced to subscribers: %d resource(s) updated", build_id, len(uris))

    async def updated(self, uri: str) -> None:
        await self.bus.publish(ResourceUpdated(uri=uri))
        await self.legacy.updated(uri)

    async def _document_digests(self, app: AppContext) -> dict[str, str]:
        texts = {
            DICTIONARY_URI: render_dictionary(app.manifest) or "",
            SCHEMA_URI: await render_schema(
                app.pool, app.settings.query_schemas, acquire_timeout=app.settings.db_pool_acquire_timeout
            ),
        }
        return {uri: hashlib.sha256(text.encode()).hexdigest() for uri, text in texts.items()}
