"""Session tools: working state an agent keeps between calls (saved results, notes, parameters)."""

from datetime import datetime
from typing import Annotated, Literal

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field, JsonValue

from mcp_server.context import app_context
from mcp_server.errors import Forbidden
from mcp_server.security.principal import current_principal
from mcp_server.security.session_access import authorize_session
from mcp_server.sessions.store import SESSION_ID_PATTERN
from mcp_server.tools import icons
from mcp_server.tools.common import READ_ONLY, SESSION_WRITE

KEY_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
SessionId = Annotated[
    str, Field(pattern=f"^{SESSION_ID_PATTERN}$", description="session_id from session_create")
]
Key = Annotated[str, Field(pattern=KEY_PATTERN, description="Data key: letters, digits, _ . : -")]


class SessionCreated(BaseModel):
    session_id: str
    created_at: datetime
    expires_at: datetime
    status: Literal["active", "expired", "closed"]


class SessionValue(BaseModel):
    session_id: str
    key: str
    value: JsonValue
    expires_at: datetime


class SessionUpdated(BaseModel):
    session_id: str
    key: str
    status: Literal["active", "expired", "closed"]
    last_accessed: datetime
    expires_at: datetime
    data_keys: list[str]


class SessionClosed(BaseModel):
    session_id: str
    status: Literal["closed"]
    archived: bool | None = Field(
        description="Null when the session had already been closed before this call"
    )
    archived_keys: list[str]


def register(server: MCPServer) -> None:
    @server.tool(
        name="session_create",
        title="Start a session",
        icons=icons.SESSION,
        description="Open a session to keep working state (saved query results, notes) across calls. "
        "access_level 'write' is needed to store data; the session expires ttl_seconds after its last use.",
        annotations=SESSION_WRITE,
    )
    async def session_create(
        data_source: Annotated[
            str,
            Field(min_length=1, max_length=200, description="What the session works on, e.g. 'warehouse'"),
        ],
        ctx: Context,
        access_level: Literal["read", "write"] = "read",
        ttl_seconds: Annotated[int, Field(ge=1, description="Idle lifetime in seconds")] = 3600,
        user_id: Annotated[str | None, Field(max_length=200, description="Owner; admins only")] = None,
        shared_with: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=200)]],
            Field(max_length=50, description="Users (key names) who may read the session"),
        ] = [],  # noqa: B006 - pydantic copies defaults
    ) -> SessionCreated:
        principal = current_principal()
        if user_id is not None and user_id != principal.name and principal.role != "admin":
            raise Forbidden("only admins create sessions for other users", hint="leave user_id out")
        info = await app_context(ctx).sessions.create(
            data_source=data_source,
            access_level=access_level,
            ttl_seconds=ttl_seconds,
            user_id=user_id or principal.name,
            metadata={"shared_with": sorted(set(shared_with))} if shared_with else None,
        )
        return SessionCreated(
            session_id=info.session_id,
            created_at=info.created_at,
            expires_at=info.expires_at,
            status=info.status,
        )

    @server.tool(
        name="session_read",
        title="Read from a session",
        description="Read one data key of a session.",
        annotations=READ_ONLY,
        icons=icons.SESSION,
    )
    async def session_read(session_id: SessionId, key: Key, ctx: Context) -> SessionValue:
        app = app_context(ctx)
        await authorize_session(app, session_id, write=False)
        value, info = await app.sessions.read_with_info(session_id, key)
        return SessionValue(session_id=session_id, key=key, value=value, expires_at=info.expires_at)

    @server.tool(
        name="session_update",
        title="Write to a session",
        icons=icons.SESSION,
        description="Store any JSON value under a key of a write session (replaces the key's value).",
        annotations=SESSION_WRITE,
    )
    async def session_update(
        session_id: SessionId, key: Key, value: JsonValue, ctx: Context
    ) -> SessionUpdated:
        app = app_context(ctx)
        await authorize_session(app, session_id, write=True)
        info = await app.sessions.write(session_id, key, value)
        return SessionUpdated(
            session_id=session_id,
            key=key,
            status=info.status,
            last_accessed=info.last_accessed,
            expires_at=info.expires_at,
            data_keys=sorted(info.data_keys),
        )

    @server.tool(
        name="session_close",
        title="Close a session",
        icons=icons.SESSION,
        description="Close a session. With archive=true (default) its metadata and data are first copied "
        "to the warehouse (ops.session_archive), then removed from Redis.",
        annotations=SESSION_WRITE,
    )
    async def session_close(session_id: SessionId, ctx: Context, archive: bool = True) -> SessionClosed:
        app = app_context(ctx)
        await authorize_session(app, session_id, write=True)
        closed = await app.sessions.close(
            session_id, archive=archive, archiver=app.archiver if archive else None
        )
        return SessionClosed(
            session_id=session_id,
            status="closed",
            archived=None if closed.already_closed else archive,
            archived_keys=sorted(closed.data_keys),
        )
