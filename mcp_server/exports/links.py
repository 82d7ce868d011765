"""Signed download links for exports: a URL a person can open in a browser, without an API key.

Over HTTP, `export_result` also answers with `<server>/exports/<id>?token=<token>`. The token is
a Fernet token (authenticated encryption with a timestamp, from `cryptography`) over the export
id and its owner, made with the same keys that encrypt session data, so every replica that
shares those keys can check it and a rotated-out key stops its links. The link works until the
export expires, and only for the export it was made for; anything else is the same NotFound as
an id that never existed, so links cannot be probed or bent to another file.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from cryptography.fernet import InvalidToken, MultiFernet

from mcp_server.errors import NotFound
from mcp_server.exports.store import ExportRecord

DOWNLOAD_PREFIX = "/exports/"
DOWNLOAD_ROUTE = DOWNLOAD_PREFIX + "{export_id}"


class DownloadLinks:
    def __init__(self, fernet: MultiFernet) -> None:
        self._fernet = fernet

    def url(self, base_url: str, record: ExportRecord) -> str:
        claim = json.dumps({"export_id": record.export_id, "owner": record.owner}).encode()
        token = self._fernet.encrypt(claim).decode()
        return f"{base_url.rstrip('/')}{DOWNLOAD_PREFIX}{record.export_id}?token={quote(token)}"

    def owner(self, export_id: str, token: str, ttl_s: float) -> str:
        """The owner the link was made for; NotFound when it is forged, stale or for another export."""
        refused = NotFound("this download link is not valid (wrong, altered or expired)", hint="export again")
        try:
            claim = json.loads(self._fernet.decrypt(token.encode(), ttl=max(1, int(ttl_s) + 1)))
        except (InvalidToken, ValueError, TypeError):
            raise refused from None
        if not isinstance(claim, dict) or claim.get("export_id") != export_id:
            raise refused
        owner = claim.get("owner")
        if not isinstance(owner, str):
            raise refused
        return owner
