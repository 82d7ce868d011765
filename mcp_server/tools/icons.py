"""One small icon per family of tools, inlined as SVG data URIs.

Hosts show them next to tool names; inlined so that listing tools never makes a client fetch
anything from anywhere (an agent's host may have no network, and a URL would leak who lists).
"""

from __future__ import annotations

import base64

from mcp_types import Icon

_STROKE = (
    'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="#1f6feb" '
    'stroke-width="2" stroke-linecap="round" stroke-linejoin="round"'
)
_SHAPES = {
    # a database cylinder: reading the warehouse
    "data": '<ellipse cx="12" cy="5" rx="8" ry="3"/><path d="M4 5v14c0 1.7 3.6 3 8 3s8-1.3 8-3V5"/>'
    '<path d="M4 12c0 1.7 3.6 3 8 3s8-1.3 8-3"/>',
    # a folder: an agent's working session
    "session": '<path d="M3 6a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z"/>',
    # a trend through points: statistics
    "analysis": '<path d="M3 3v18h18"/><path d="M7 15l4-4 3 3 5-6"/>',
    # bars: a chart
    "chart": '<path d="M4 20V10M10 20V4M16 20v-8M22 20H2"/>',
    # a gear: operators' tools
    "admin": '<circle cx="12" cy="12" r="3"/><path d="M12 2v3M12 19v3M2 12h3M19 12h3M4.9 4.9l2.1 2.1'
    'M17 17l2.1 2.1M4.9 19.1 7 17M17 7l2.1-2.1"/>',
}


def _icon(shape: str) -> list[Icon]:
    svg = f"<svg {_STROKE}>{shape}</svg>"
    uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    return [Icon(src=uri, mime_type="image/svg+xml", sizes=["any"])]


DATA = _icon(_SHAPES["data"])
SESSION = _icon(_SHAPES["session"])
ANALYSIS = _icon(_SHAPES["analysis"])
CHART = _icon(_SHAPES["chart"])
ADMIN = _icon(_SHAPES["admin"])
