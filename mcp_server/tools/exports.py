"""`export_result` and `exports://<id>`: a whole result as a file a person can open.

Pages suit an agent; a person wants the file. The export runs the same guarded path as the query
tools (the guard, the query role, RBAC; a mart spec through the same builder as `query_mart`)
without the page cap, streamed through a server-side cursor into CSV, Parquet or XLSX up to
`TELCOPULSE_EXPORT_MAX_ROWS` / `_MAX_BYTES`, and answers with a `resource_link` to
`exports://<id>`: readable by the same key only, until `TELCOPULSE_EXPORT_TTL`; over HTTP also
with a signed download URL a person can open (`exports.links`). Every export is audited like any
tool call (tool, key, outcome; never the rows).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from pathlib import Path
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ResourceLink, TextContent
from pydantic import BaseModel, Field

from mcp_server.context import AppContext, app_context
from mcp_server.errors import (
    InputValidationError,
    NotFound,
    QueryError,
    ResourceLookupError,
    ResourceUnavailable,
    Unavailable,
)
from mcp_server.exports.store import EXPORT_SCHEME, ExportRecord
from mcp_server.exports.writers import WRITERS, XLSX_MAX_ROWS
from mcp_server.query.mart_sql import Filter, ParamValue, build_mart_query
from mcp_server.security.principal import current_principal, peek_principal
from mcp_server.security.rbac import query_role_for
from mcp_server.security.session_access import authorize_session
from mcp_server.security.sql_guard import SqlRejected, guard_sql
from mcp_server.sessions.saved_table import table_data
from mcp_server.tools import icons
from mcp_server.tools.common import READ_ONLY

DESCRIPTION = """Export a whole result as a file (csv, parquet or xlsx) for a person to open: the rows of
one `query` (the same guarded SQL as query_database), one `mart` (with optional columns, filters,
group_by and order_by as in query_mart), or a table saved in a session (`session_id` + `key`).
No page cap: up to the server's export limits. Answers with a resource_link to exports://<id>;
read it (as a blob) with the same key until it expires (expires_at). Over HTTP, download_url is a
link a person can open in a browser until then."""

Format = Literal["csv", "parquet", "xlsx"]


class ExportOutput(BaseModel):
    export_id: str
    uri: str = Field(description="exports://<id>: read it as a resource (blob)")
    format: str
    mime_type: str
    rows: int
    bytes: int
    sha256: str = Field(description="Of the file's bytes, to check a download")
    expires_at: str = Field(description="UTC, ISO 8601; the file is deleted after")
    download_url: str | None = Field(
        default=None,
        description="Over HTTP: a signed link a person can open without a key, until expires_at",
    )


async def _source_sql(
    app: AppContext,
    query: str | None,
    parameters: dict[str, ParamValue] | None,
    mart: str | None,
    columns: list[str] | None,
    filters: list[Filter] | None,
    group_by: list[str] | None,
    order_by: list[str] | None,
) -> tuple[str, tuple[Any, ...]]:
    if query is not None:
        try:
            guarded = guard_sql(query, parameters, policy=app.function_policy)
        except SqlRejected as exc:
            raise QueryError(exc.reason) from None
        return guarded.sql, tuple(guarded.args)
    built = build_mart_query(
        await app.mart(mart), columns=columns, filters=filters, group_by=group_by, order_by=order_by
    )
    return built.sql, tuple(built.args)


class _Limits:
    def __init__(self, app: AppContext, fmt: str) -> None:
        self.max_rows = min(app.settings.export_max_rows, XLSX_MAX_ROWS if fmt == "xlsx" else 1 << 62)
        self.max_bytes = app.settings.export_max_bytes

    def check(self, rows: int, path: Path) -> None:
        if rows > self.max_rows:
            raise InputValidationError(
                f"the export would hold more than {self.max_rows:,} rows",
                hint="add filters, aggregate, or export from a mart with group_by",
            )
        if path.exists() and path.stat().st_size > self.max_bytes:
            raise InputValidationError(
                f"the export file would exceed {self.max_bytes:,} bytes",
                hint="export fewer columns or rows, or use parquet (compressed)",
            )


async def _write_stream(app: AppContext, sql: str, args: tuple[Any, ...], fmt: str, partial: Path) -> int:
    limits = _Limits(app, fmt)
    role = query_role_for(current_principal().role, admin_role=app.settings.query_admin_role)
    writer = None
    rows = 0
    batches = app.executor.stream(sql, args, timeout_s=app.settings.query_timeout_max, role=role)
    try:
        # aclosing: a refused export (over a limit) ends the cursor and frees its connection now,
        # not whenever the abandoned generator is collected.
        async with contextlib.aclosing(batches) as stream:
            async for names, types, batch in stream:
                if writer is None:
                    writer = WRITERS[fmt](partial, names, types)
                rows += len(batch)
                limits.check(rows, partial)
                if batch:
                    await asyncio.to_thread(writer.write, batch)
    finally:
        if writer is not None:
            await asyncio.to_thread(writer.close)
    limits.check(rows, partial)
    return rows


async def _write_session(app: AppContext, session_id: str, key: str, fmt: str, partial: Path) -> int:
    await authorize_session(app, session_id, write=False)
    value = table_data(await app.sessions.read(session_id, key))
    if not isinstance(value, dict) or not isinstance(value.get("rows"), list):
        raise InputValidationError(f"session key {key!r} does not hold a saved table (save_as one first)")
    names = [str(c["name"]) if isinstance(c, dict) else str(c) for c in value.get("columns", [])]
    if not names and value["rows"]:
        names = list(value["rows"][0])
    rows = [[row.get(name) if isinstance(row, dict) else None for name in names] for row in value["rows"]]
    limits = _Limits(app, fmt)
    limits.check(len(rows), partial)
    writer = WRITERS[fmt](partial, names, ["text"] * len(names))
    try:
        await asyncio.to_thread(writer.write, rows)
    finally:
        await asyncio.to_thread(writer.close)
    limits.check(len(rows), partial)
    return len(rows)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download_url(app: AppContext, ctx: Context, record: ExportRecord) -> str | None:
    """The signed link, over HTTP only (a stdio client has no address to download from)."""
    request = ctx.request_context.request
    if request is None or not hasattr(request, "base_url"):
        return None
    base = app.settings.public_url or str(request.base_url)
    return app.export_links.url(base, record)


def register(server: MCPServer) -> None:
    @server.tool(
        name="export_result",
        title="Export a result as a file",
        description=DESCRIPTION,
        annotations=READ_ONLY,
        icons=icons.DATA,
    )
    async def export_result(
        format: Format,
        ctx: Context,
        query: Annotated[str | None, Field(max_length=100_000, description="One SELECT")] = None,
        parameters: Annotated[dict[str, ParamValue] | None, Field(description="Values for :name")] = None,
        mart: Annotated[str | None, Field(description="A mart name, instead of a query")] = None,
        columns: Annotated[list[str] | None, Field(description="With mart: columns/aggregates")] = None,
        filters: Annotated[list[Filter] | None, Field(description="With mart: conditions")] = None,
        group_by: Annotated[list[str] | None, Field(description="With mart")] = None,
        order_by: Annotated[list[str] | None, Field(description="With mart")] = None,
        session_id: Annotated[str | None, Field(description="With key: a session's saved table")] = None,
        key: Annotated[str | None, Field(description="The session data key of a saved table")] = None,
    ) -> Annotated[CallToolResult, ExportOutput]:
        app = app_context(ctx)
        sources = [query is not None, mart is not None, session_id is not None or key is not None]
        if sum(sources) != 1 or (sources[2] and not (session_id and key)):
            raise InputValidationError(
                "say what to export: one of query, mart, or session_id with key",
                hint='e.g. {"format": "csv", "mart": "fct_arpu_monthly"}',
            )
        store = app.exports
        await asyncio.to_thread(store.sweep)
        export_id = store.new_id()
        partial = store.partial_path(export_id, format)
        try:
            if session_id is not None and key is not None:
                rows = await _write_session(app, session_id, key, format, partial)
            else:
                sql, args = await _source_sql(
                    app, query, parameters, mart, columns, filters, group_by, order_by
                )
                rows = await _write_stream(app, sql, args, format, partial)
            now = time.time()
            record = ExportRecord(
                export_id=export_id,
                owner=current_principal().key_id,
                format=format,
                file_name=f"{export_id}.{format}",
                rows=rows,
                bytes=partial.stat().st_size,
                sha256=await asyncio.to_thread(_sha256, partial),
                created_at=now,
                expires_at=now + store.ttl_s,
            )
            await asyncio.to_thread(store.finish, record, partial)
        finally:
            partial.unlink(missing_ok=True)
        download_url = _download_url(app, ctx, record)
        output = ExportOutput(
            export_id=export_id,
            uri=record.uri,
            format=format,
            mime_type=record.mime_type,
            rows=rows,
            bytes=record.bytes,
            sha256=record.sha256,
            expires_at=record.expires_iso(),
            download_url=download_url,
        )
        link = ResourceLink(
            type="resource_link",
            uri=record.uri,
            name=record.download_name,
            mime_type=record.mime_type,
            size=record.bytes,
            description=f"{rows:,} rows as {format}; expires {record.expires_iso()}",
        )
        where = f"{record.uri} (download: {download_url})" if download_url else record.uri
        caption = TextContent(type="text", text=f"Exported {rows:,} rows as {format} to {where}")
        return CallToolResult(content=[caption, link], structured_content=output.model_dump())

    @server.resource(
        EXPORT_SCHEME + "{export_id}",
        name="export",
        title="An export file",
        description="A file export_result wrote, for the key that wrote it, until it expires.",
        mime_type="application/octet-stream",
    )
    async def export_file(export_id: str) -> bytes:
        principal = peek_principal()
        shared = getattr(server, "shared", None)
        if shared is None or shared.peek() is None:
            raise ResourceUnavailable("the server is still starting; retry in a moment")
        store = shared.peek().exports
        try:
            record = await asyncio.to_thread(store.get, export_id, principal.key_id if principal else "stdio")
            return await asyncio.to_thread(store.read_bytes, record)
        except NotFound as exc:
            raise ResourceLookupError(exc.message) from None
        except Unavailable as exc:
            raise ResourceUnavailable(f"{exc.message}; {exc.hint}" if exc.hint else exc.message) from None
