"""The MCP server: tools, resources and prompts over one shared application context."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.shared.inbound import x_mcp_header_map
from mcp_types import (
    Completion,
    EmptyResult,
    PromptReference,
    ResourceTemplateReference,
    SetLevelRequestParams,
    SubscribeRequestParams,
    UnsubscribeRequestParams,
)
from mcp_types import Resource as MCPResource
from pydantic import ValidationError

from analyses.registry import analysis_types
from mcp_server import prompts
from mcp_server.abandon import CallAbandoned, cancelled_when_client_leaves
from mcp_server.context import SharedAppContext
from mcp_server.dependencies import dependency_unavailable
from mcp_server.errors import (
    Forbidden,
    InputValidationError,
    NotFound,
    RateLimited,
    ResourceLookupError,
    ResourceUnavailable,
    TelcopulseError,
    Unavailable,
    error_names,
)
from mcp_server.live.client_log import ClientLogLevels
from mcp_server.live.resources import LiveResources
from mcp_server.observability.audit import AuditEvent
from mcp_server.observability.metrics import ServerMetrics
from mcp_server.observability.tool_audit import (
    audit_event,
    audited_before_acting,
    intent_event,
    outcome_name,
    refused_when_unaudited,
    result_rows,
)
from mcp_server.observability.tracing import replace_sdk_spans, tool_span, tool_span_finished
from mcp_server.resources.chart_view import chart_view_extension
from mcp_server.resources.dictionary import render_dictionary
from mcp_server.resources.marts import MART_TEMPLATE, mart_uri, render_mart
from mcp_server.resources.schema import render_schema
from mcp_server.resources.templates import template
from mcp_server.security import rbac
from mcp_server.security.identity import Principal, Role
from mcp_server.security.principal import local_principal, peek_principal, principal_middleware
from mcp_server.security.rate_limit import retry_message
from mcp_server.tools import admin, analysis, catalog, charts, exports, marts, sessions, sql
from warehouse.settings import Settings, get_settings

logger = logging.getLogger(__name__)
tool_logger = logging.getLogger("telcopulse.tools")
AUDIT_GRACE_S = 5  # how long a cancelled call's audit may still take

SERVER_VERSION = importlib.metadata.version("telcopulse")

INSTRUCTIONS = """telcopulse: telecom analytics warehouse (customers, network events, revenue).
Start with list_marts (curated marts and their documentation) and query_mart; use query_database for
ad-hoc read-only SQL. Read docs://data_dictionary for definitions and business rules,
schema://database/main for every table, templates://analysis/{type} for standard analyses.
Keep intermediate results in a session (session_create, then save_as / session_update).
Errors start with their name (ValidationError, QueryError, TimeoutError, NotFound, ...)
and say what to change."""


@dataclass(frozen=True)
class _Call:
    """What the audit row and the log line of one tool call are made from."""

    name: str
    arguments: dict[str, Any]
    principal: Principal | None
    result: Any
    error: BaseException | None
    started: float  # time.perf_counter() when the call began


class _AuditUnavailable(Unavailable):
    """The `started` row of an admin or write call could not be committed: the call did not act."""


def _describe_validation_error(error: ValidationError) -> str:
    """Field names and what was expected, never the rejected values (they may be sensitive)."""
    problems = []
    for item in error.errors()[:5]:
        location = ".".join(str(part) for part in item.get("loc", ()) if part != "__root__") or "arguments"
        problems.append(f"{location}: {item.get('msg', 'invalid')}")
    more = len(error.errors()) - len(problems)
    return "; ".join(problems) + (f"; and {more} more" if more > 0 else "")


class TelcopulseMCP(MCPServer):
    """MCPServer with one gate for every tool call, and errors that leak nothing.

    The gate, in order: the tool exists; the caller's role may use it (RBAC policy table);
    the caller's key is within its rate limit; then the call runs, and its outcome is
    audited. Admin and write calls (`audited_before_acting`) run only once a `started` audit
    row is committed, and answer only once their outcome row is; other calls' rows are
    batched. Errors read `<Name>: <what to change>`.
    """

    shared: SharedAppContext | None = None
    live: LiveResources | None = None
    client_logs: ClientLogLevels | None = None
    metrics: ServerMetrics | None = None
    _header_schemas: dict[str, tuple[object, bool]]

    def _tool_input_schema(self, name: str) -> dict[str, Any] | None:
        """The schema the SDK checks `Mcp-Param-*` headers against; None when it annotates none.

        The SDK walks the whole input schema on every HTTP `tools/call` (~0.1 ms for
        `query_database`'s, bench/profile_mcp.py). With no `x-mcp-header` annotation in it
        the walk can find nothing to compare, and the SDK's answer for a None schema (no
        header check) is the same answer, so the walk is done once per tool, not per call.
        """
        schema = super()._tool_input_schema(name)
        if schema is None:
            return None
        cache = self.__dict__.setdefault("_header_schemas", {})
        known = cache.get(name)
        if known is None or known[0] is not schema:
            known = (schema, bool(x_mcp_header_map(schema)))
            cache[name] = known
        return schema if known[1] else None

    async def list_resources(self) -> list[Any]:
        """The static resources, then one `mart://<name>` per live mart (none while PostgreSQL is down)."""
        resources = await super().list_resources()
        app = self.shared.peek() if self.shared else None
        if app is None:
            return resources
        try:
            marts = await app.marts()
        except Unavailable:
            return resources
        return resources + [
            MCPResource(
                uri=mart_uri(mart.name),
                name=mart.name,
                title=f"Mart {mart.name}",
                description=f"{mart.grain}: {mart.description}",
                mime_type="application/json",
            )
            for mart in sorted(marts.values(), key=lambda m: m.name)
        ]

    async def _handle_list_resources(self, ctx: Any, params: Any) -> Any:
        """As the SDK's, and a 2025-11-25 client that lists resources hears when the list changes."""
        if self.live is not None and ctx.session is not None:
            self.live.legacy.listed(ctx.session)
        return await super()._handle_list_resources(ctx, params)

    async def list_tools(self) -> list[Any]:
        tools = await super().list_tools()
        principal = peek_principal()
        if principal is None:
            return tools
        return [tool for tool in tools if rbac.allowed(tool.name, principal.role)]

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        started = time.perf_counter()
        principal = peek_principal()
        result: Any = None
        error: BaseException | None = None
        tool = self._tool_manager.get_tool(name)
        synchronous = tool is not None and audited_before_acting(name, tool.annotations, arguments)
        # An unknown name is the caller's text: it never names a span (nor a metric label).
        request_context = getattr(context, "request_context", None)
        with tool_span(name if tool is not None else "other", request_context) as span:
            try:
                # A client that disconnects mid-call cancels it (its SQL too); see mcp_server.abandon.
                with cancelled_when_client_leaves() as scope:
                    result = await self._gated_call(name, arguments, context, principal, synchronous)
                if scope.cancelled_caught:
                    raise CallAbandoned("the client disconnected before the answer; the call was stopped")
                await self._tell_client(context, name, "ok", started)
                return result
            except BaseException as exc:
                error = exc
                if isinstance(exc, Exception):
                    code = getattr(exc, "code", None)  # our named errors; nothing internal reaches the client
                    await self._tell_client(
                        context, name, code if isinstance(code, str) else "Error", started
                    )
                raise
            finally:
                tool_span_finished(
                    span,
                    role=principal.role if principal else None,
                    outcome=outcome_name(error),
                    rows=result_rows(result),
                )
                await self._account(name, arguments, principal, result, error, started, synchronous)

    async def _account(
        self,
        name: str,
        arguments: dict[str, Any],
        principal: Principal | None,
        result: Any,
        error: BaseException | None,
        started: float,
        synchronous: bool,
    ) -> None:
        """Metrics, then the audit row and log line of a finished call."""
        if self.metrics is not None:
            self.metrics.tool_call_seen(name, outcome_name(error), time.perf_counter() - started)
        call = _Call(name, arguments, principal, result, error, started)
        if synchronous:
            # Shielded, so a call cancelled by notifications/cancelled is still audited.
            with anyio.move_on_after(AUDIT_GRACE_S, shield=True):
                await self._audit(call, synchronous)
        else:
            # A batched row and the log line wait for the next turn of the loop, after
            # the answer is on its way (~0.08 ms off every read's latency).
            asyncio.get_running_loop().call_soon(self._audit_batched, call)

    async def _tell_client(self, context: Any, tool: str, outcome: str, started: float) -> None:
        """One `notifications/message` about this call, to this client, if it asked (setLevel).

        Sent on the call's own stream before the answer, bounded and best effort: a client's
        log can never fail or hold up its call.
        """
        session = getattr(getattr(context, "request_context", None), "session", None)
        level = "info" if outcome == "ok" else "warning"
        if session is None or self.client_logs is None or not self.client_logs.wants(session, level):
            return
        data = {
            "tool": tool,
            "outcome": outcome,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        with contextlib.suppress(Exception), anyio.move_on_after(1):
            await session.send_log_message(
                level=level, data=data, logger="telcopulse", related_request_id=context.request_id
            )

    async def _gated_call(
        self,
        name: str,
        arguments: dict[str, Any],
        context: Any,
        principal: Principal | None,
        synchronous: bool = False,
    ) -> Any:
        if self._tool_manager.get_tool(name) is None:
            visible = [tool.name for tool in await self.list_tools()]
            raise NotFound(f"no tool named {name!r}", hint=f"tools are: {', '.join(sorted(visible))}")
        if principal is not None and not rbac.allowed(name, principal.role):
            raise Forbidden(
                f"tool {name} needs role {' or '.join(rbac.roles_for(name))}; "
                f"your key has role {principal.role}",
                hint="ask an admin for a key with that role",
            )
        app = self.shared.peek() if self.shared is not None else None
        # Limits are per API key; the local stdio user has no key and no one to compete with.
        if (
            app is not None
            and principal is not None
            and principal.key_id != "stdio"
            and app.limiter is not None
        ):
            decision = await app.limiter.check(principal.key_id, principal.role)
            if not decision.allowed:
                if self.metrics is not None:
                    self.metrics.rate_limited_seen(principal.role)
                raise RateLimited(retry_message(decision))
        # Audit first, then act (see audited_before_acting): no unaudited admin action; a
        # session write whose row PostgreSQL cannot take runs with the row queued instead.
        audit = app.audit if synchronous and app is not None else None
        refuse = refused_when_unaudited(name)
        if (
            audit is not None
            and not await audit.write_now(
                intent_event(name, arguments, principal), queue_on_failure=not refuse
            )
            and refuse
        ):
            raise _AuditUnavailable(
                f"the audit log (PostgreSQL) cannot be written, so {name} was not run",
                hint="nothing was changed; retry in a moment",
            )
        return await self._call_tool_named_errors(name, arguments, context)

    def _audit_batched(self, call: _Call) -> None:
        """The log line and the queued audit row of a call audited in batches (reads)."""
        try:
            event = self._logged_event(call)
            app = self.shared.peek() if self.shared is not None else None
            if app is not None and app.audit is not None:
                app.audit.record_nowait(event)
        except Exception:
            logger.exception("audit of a %s call failed", call.name)

    def _logged_event(self, call: _Call) -> AuditEvent:
        """The call's audit event, after writing its log line: names, shapes, counts, never values."""
        duration_ms = int((time.perf_counter() - call.started) * 1000)
        event = audit_event(call.name, call.arguments, call.principal, call.result, call.error, duration_ms)
        tool_logger.info(
            "tool call",
            extra={
                "tool": call.name,
                "key_id": event.key_id,
                "role": event.role,
                "session_id": event.session_id,
                "duration_ms": event.duration_ms,
                "outcome": event.outcome,
                "rows": event.rows,
                "query_shape": event.query_hash,
            },
        )
        return event

    async def _audit(self, call: _Call, synchronous: bool = False) -> None:
        """One log line and one audit row per call: names, shapes and counts, never values.

        Auditing must never change a call's answer, so its own failures are logged and dropped.
        A `synchronous` call's row is committed before the answer goes out; if that fails the
        action has already happened (its `started` row is in), so the row is queued for retry.
        """
        try:
            event = self._logged_event(call)
            app = self.shared.peek() if self.shared is not None else None
            if app is not None and app.audit is not None:
                if synchronous and not isinstance(call.error, _AuditUnavailable):
                    if not await app.audit.write_now(event, queue_on_failure=True):
                        logger.warning("audit row of a %s call queued: PostgreSQL did not take it", call.name)
                else:
                    await app.audit.record(event)
        except Exception:
            logger.exception("audit of a %s call failed", call.name)

    async def _call_tool_named_errors(self, name: str, arguments: dict[str, Any], context: Any) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError as exc:
            # A PostgreSQL/Redis outage that a tool did not map itself is still an outage.
            outage = dependency_unavailable(exc.__cause__)
            if outage is not None:
                raise outage from None
            incident = uuid.uuid4().hex[:12]
            logger.error("tool %s failed unexpectedly (incident %s)", name, incident, exc_info=exc.__cause__)
            raise TelcopulseError(
                f"the tool failed unexpectedly (incident {incident}); the server log has the details"
            ) from None
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, TelcopulseError):
                raise cause from None
            if isinstance(cause, ValidationError):
                raise InputValidationError(
                    _describe_validation_error(cause), hint="check the tool's inputSchema"
                ) from None
            raise


def build_server(
    settings: Settings | None = None, *, local_role: Role | None = None, local: Principal | None = None
) -> TelcopulseMCP:
    """The server. Callers without an API key (stdio, in-memory) act as `local`, by default the
    local user with `local_role` (TELCOPULSE_STDIO_ROLE)."""
    settings = settings or get_settings()
    bus = InMemorySubscriptionBus()
    live = LiveResources(bus)
    metrics = ServerMetrics(SERVER_VERSION)
    shared = SharedAppContext(settings, services=[live.running], metrics=metrics)
    server = TelcopulseMCP(
        "telcopulse",
        title="telcopulse telecom analytics",
        instructions=INSTRUCTIONS,
        version=SERVER_VERSION,
        lifespan=shared.lifespan,
        # The SDK logs every anticipated tool error at INFO, with its text; our own logger
        # reports what operators need (unexpected failures, with an incident id).
        log_level="WARNING",
        middleware=[principal_middleware(local or local_principal(local_role or settings.stdio_role))],
        # subscriptions/listen streams are fed from this bus by `live` (one per process: every
        # replica hears of builds from PostgreSQL itself).
        subscriptions=bus,
        # MCP Apps: hosts that negotiate it show create_visualization in the interactive chart view.
        extensions=[chart_view_extension()],
    )
    replace_sdk_spans(server.middleware)
    server.shared = shared
    server.live = live
    server.metrics = metrics
    server.client_logs = ClientLogLevels()
    sql.register(server)
    marts.register(server)
    sessions.register(server)
    analysis.register(server)
    charts.register(server)
    admin.register(server)
    catalog.register(server)
    exports.register(server)
    prompts.register(server)
    _register_resources(server, shared)
    _register_mart_resources(server, shared, live)
    metrics.know([tool.name for tool in server._tool_manager.list_tools()], error_names())
    return server


def _register_resources(server: MCPServer, shared: SharedAppContext) -> None:
    @server.resource(
        "schema://database/main",
        name="warehouse_schema",
        description="Live warehouse schema: schemas, tables, columns, types, constraints, indexes, "
        "row estimates.",
        mime_type="text/markdown",
    )
    async def warehouse_schema() -> str:
        app = shared.get()
        try:
            return await render_schema(
                app.pool, app.settings.query_schemas, acquire_timeout=app.settings.db_pool_acquire_timeout
            )
        except Unavailable as exc:  # PostgreSQL down or every connection busy
            raise ResourceUnavailable(f"{exc.message}; {exc.hint}" if exc.hint else exc.message) from None

    @server.resource(
        "docs://data_dictionary",
        name="data_dictionary",
        description="Data dictionary from dbt docs: every model and column, business rules and tests.",
        mime_type="text/markdown",
    )
    async def data_dictionary() -> str:
        text = render_dictionary(shared.get().manifest)
        if text is None:
            raise ResourceUnavailable(
                "the dbt manifest is missing; run `telcopulse refresh` to build the marts"
            )
        return text

    @server.resource(
        "templates://analysis/{type}",
        name="analysis_template",
        description="Parameters, defaults and example calls of a standard analysis "
        f"({', '.join(analysis_types())}).",
        mime_type="application/json",
    )
    async def analysis_template(type: str) -> str:
        found = template(type)
        if found is None:
            raise ResourceLookupError(
                f"no analysis template {type!r}; valid types are: {', '.join(analysis_types())}"
            )
        return json.dumps(found, indent=2)

    @server.completion()
    async def complete(ref: Any, argument: Any, context: Any) -> Completion | None:
        is_template = isinstance(ref, ResourceTemplateReference)
        if is_template and ref.uri == MART_TEMPLATE and argument.name == "name":
            app = shared.peek()
            marts = sorted(await app.marts()) if app is not None else []
            values = [m for m in marts if m.startswith(argument.value or "")]
            return Completion(values=values, total=len(values), has_more=False)
        if isinstance(ref, ResourceTemplateReference) and argument.name == "type":
            values = [t for t in analysis_types() if t.startswith(argument.value or "")]
            return Completion(values=values, total=len(values), has_more=False)
        if isinstance(ref, PromptReference) and argument.name == "segment":
            values = [s for s in ("account_type", "location") if s.startswith(argument.value or "")]
            return Completion(values=values, total=len(values), has_more=False)
        return None


def _register_mart_resources(server: MCPServer, shared: SharedAppContext, live: LiveResources) -> None:
    @server.resource(
        MART_TEMPLATE,
        name="mart",
        title="A mart, live",
        description="One mart: grain, columns with their dbt docs and tests, row count, freshness and a "
        "10-row sample. Subscribe (resources/subscribe or subscriptions/listen) to hear when a build "
        "rebuilds it.",
        mime_type="application/json",
    )
    async def mart(name: str) -> str:
        principal = peek_principal()
        try:
            text = await render_mart(shared.get(), name, principal.role if principal else None)
        except Unavailable as exc:
            raise ResourceUnavailable(f"{exc.message}; {exc.hint}" if exc.hint else exc.message) from None
        if text is None:
            marts = sorted(await shared.get().marts())
            raise ResourceLookupError(f"no mart {name!r}; marts are: {', '.join(marts) or 'none built yet'}")
        return text

    async def subscribe(ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
        # Any URI is accepted, as the protocol's conformance suite expects: what a build can
        # change (mart://<name>, the data dictionary, the schema) is notified, anything else
        # simply never is.
        uri = str(params.uri)
        live.legacy.subscribe(uri, ctx.session)
        # Answer once builds are heard, so an update right after this reply is not missed.
        await live.listening(timeout=shared.get().settings.db_connect_timeout)
        return EmptyResult()

    async def unsubscribe(ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
        live.legacy.unsubscribe(str(params.uri), ctx.session)
        return EmptyResult()

    async def set_level(ctx: Any, params: SetLevelRequestParams) -> EmptyResult:
        assert isinstance(server, TelcopulseMCP) and server.client_logs is not None
        server.client_logs.set(ctx.session, params.level)
        return EmptyResult()

    lowlevel = server._lowlevel_server  # the SDK's high-level server has no subscribe or setLevel hook
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
    lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)
