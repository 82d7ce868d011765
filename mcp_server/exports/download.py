"""`GET /exports/<id>?token=...`: the file behind a signed export link, for a browser without a key.

The token proves who made the export (`links`); the store then applies the same rules as
`exports://<id>` (that owner's export, not expired). A file in the export folder is sent from
here; a file in a bucket is a redirect to a one-minute presigned URL of the bucket. Every
refusal is the same 404, so a link reveals nothing about other exports; each download is
logged with the owner's key id.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from mcp_server.errors import NotFound, Unavailable

logger = logging.getLogger(__name__)


async def download_response(server: Any, request: Request) -> Response:
    shared = getattr(server, "shared", None)
    app = shared.peek() if shared is not None else None
    if app is None:
        return JSONResponse(
            {"error": "Unavailable", "message": "the server is still starting; retry in a moment"},
            status_code=503,
            headers={"Retry-After": "1"},
        )
    export_id = str(request.path_params.get("export_id", ""))
    store = app.exports
    try:
        owner = app.export_links.owner(export_id, request.query_params.get("token", ""), store.ttl_s)
        record = await asyncio.to_thread(store.get, export_id, owner)
        target = await asyncio.to_thread(store.download_target, record)
    except NotFound as exc:
        return JSONResponse({"error": "NotFound", "message": exc.message, "hint": exc.hint}, status_code=404)
    except Unavailable as exc:
        body = {"error": "Unavailable", "message": exc.message, "hint": exc.hint}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "30"})
    logger.info("export downloaded", extra={"key_id": owner, "outcome": "ok"})
    headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
    if isinstance(target, str):  # a bucket: the browser fetches the file from it, for a minute
        return RedirectResponse(target, status_code=303, headers=headers)
    return FileResponse(
        target,
        media_type=record.mime_type,
        filename=record.download_name,
        headers=headers,
    )
