"""`GET /exports/<id>?token=...`: the file behind a signed export link, for a browser without a key.

The token proves who made the export (`links`); the store then applies the same rules as
`exports://<id>` (that owner's export, not expired). Every refusal is the same 404, so a link
reveals nothing about other exports; each download is logged with the owner's key id.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from mcp_server.errors import NotFound
from mcp_server.exports.store import ExportStore

logger = logging.getLogger(__name__)


async def download_response(server: Any, request: Request) -> Response:
    shared = getattr(server, "shared", None)
    app = shared.peek() if shared is not None else None
    if app is None or app.export_links is None:
        return JSONResponse(
            {"error": "Unavailable", "message": "the server is still starting; retry in a moment"},
            status_code=503,
            headers={"Retry-After": "1"},
        )
    export_id = str(request.path_params.get("export_id", ""))
    store = ExportStore(app.settings.exports_folder, app.settings.export_ttl)
    try:
        owner = app.export_links.owner(export_id, request.query_params.get("token", ""), store.ttl_s)
        record, path = store.get(export_id, owner)
    except NotFound as exc:
        return JSONResponse({"error": "NotFound", "message": exc.message, "hint": exc.hint}, status_code=404)
    logger.info("export downloaded", extra={"key_id": owner, "outcome": "ok"})
    return FileResponse(
        path,
        media_type=record.mime_type,
        filename=f"export-{record.export_id}.{record.format}",
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )
