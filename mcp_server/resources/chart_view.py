"""`ui://telcopulse/chart.html`: the interactive chart view hosts show for `create_visualization` (MCP Apps).

A host that negotiated the MCP Apps extension (`io.modelcontextprotocol/ui`) renders this
document in a sandboxed iframe and hands it each `create_visualization` result; the view draws
the result's `figure` (the Plotly twin of the static image, `analyses.charts.interactive`) with
hover values, zoom and legend toggles.

Self-contained by construction: plotly.js is inlined from the `plotly` package's bundled copy,
the bridge below is the only other script, and the document's own Content-Security-Policy
(`default-src 'none'`) forbids every fetch, so the iframe has no network access even on a
lenient host. The view never evaluates text: the figure arrives as JSON data and only
`Plotly.react` reads it, so nothing an agent wrote runs as code.

The bridge speaks the Apps postMessage protocol by hand (about 40 lines) rather than through
`@modelcontextprotocol/ext-apps`, an npm bundle this Python package would have to vendor.
"""

from __future__ import annotations

import functools
import importlib.resources

from mcp.server.apps import Apps, ResourceCsp

CHART_VIEW_URI = "ui://telcopulse/chart.html"
APPS_PROTOCOL_VERSION = "2026-01-26"  # the MCP Apps host <-> view protocol the bridge speaks

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:"
)

# Plotly's modebar: no "produced with Plotly" link and no Chart Studio export (both leave the page).
PLOTLY_CONFIG = '{"responsive": true, "displaylogo": false, "showLink": false, "showSendToCloud": false}'

_BRIDGE = """
(function () {
  "use strict";
  var view = document.getElementById("chart");
  var status = document.getElementById("status");
  var host = window.parent;
  var nextId = 1;
  var pending = {};

  function send(message) {
    message.jsonrpc = "2.0";
    host.postMessage(message, "*");
  }
  function request(method, params) {
    var id = nextId++;
    send({ id: id, method: method, params: params });
    return new Promise(function (resolve, reject) { pending[id] = [resolve, reject]; });
  }
  function say(text) {
    status.textContent = text;
    status.hidden = !text;
  }
  function reportSize() {
    send({ method: "ui/notifications/size-changed",
           params: { width: document.body.scrollWidth, height: document.body.scrollHeight } });
  }
  function show(result) {
    var content = result && result.structuredContent;
    var figure = content && content.figure;
    if (result && result.isError) {
      say("The chart could not be drawn; the assistant has the reason.");
      return;
    }
    if (!figure || !Array.isArray(figure.data)) {
      say("This result carries no interactive chart.");
      return;
    }
    say("");
    Plotly.react(view, figure.data, figure.layout || {}, CONFIG).then(reportSize);
  }

  window.addEventListener("message", function (event) {
    if (event.source !== host) { return; }
    var message = event.data;
    if (!message || message.jsonrpc !== "2.0") { return; }
    if (message.method === undefined && pending[message.id]) {
      var settle = pending[message.id];
      delete pending[message.id];
      if (message.error) { settle[1](message.error); } else { settle[0](message.result); }
    } else if (message.method === "ui/notifications/tool-result") {
      show(message.params);
    } else if (message.method === "ui/notifications/tool-cancelled") {
      say("The chart was cancelled.");
    } else if (message.method === "ui/resource-teardown" && message.id !== undefined) {
      Plotly.purge(view);
      send({ id: message.id, result: {} });
    }
  });
  window.addEventListener("resize", function () { Plotly.Plots.resize(view); });

  request("ui/initialize", {
    protocolVersion: PROTOCOL_VERSION,
    appInfo: { name: "telcopulse-chart", version: "1" },
    appCapabilities: {}
  }).then(function () {
    send({ method: "ui/notifications/initialized", params: {} });
  }, function () {
    say("The host did not accept this view.");
  });
})();
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>telcopulse chart</title>
<style>
html, body {{ margin: 0; background: #fff; font: 14px system-ui, sans-serif; color: #222; }}
#chart {{ width: 100%; height: 480px; }}
#status {{ padding: 12px; color: #555; }}
</style>
</head>
<body>
<div id="status">Waiting for the chart…</div>
<div id="chart"></div>
<script>{plotly}</script>
<script>
var CONFIG = {config};
var PROTOCOL_VERSION = "{protocol}";
{bridge}
</script>
</body>
</html>
"""


def plotly_js() -> str:
    """plotly.js exactly as the `plotly` package ships it (no network, no CDN)."""
    return (importlib.resources.files("plotly") / "package_data" / "plotly.min.js").read_text("utf-8")


@functools.cache
def chart_view_html() -> str:
    """The view's one document (~4.8 MB, nearly all plotly.js), built once per process."""
    library = plotly_js()
    if "</script" in library.lower():  # would end the inline <script> early
        library = library.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")
    return _PAGE.format(
        csp=CONTENT_SECURITY_POLICY,
        plotly=library,
        config=PLOTLY_CONFIG,
        protocol=APPS_PROTOCOL_VERSION,
        bridge=_BRIDGE,
    )


def chart_view_extension() -> Apps:
    """The Apps extension with the chart view: advertised in the server's capabilities."""
    apps = Apps()
    apps.add_html_resource(
        CHART_VIEW_URI,
        chart_view_html(),
        name="chart_view",
        title="Interactive chart",
        description="The interactive view of create_visualization results (MCP Apps hosts).",
        csp=ResourceCsp(),  # no connect, resource or frame domains: the view fetches nothing
        prefers_border=True,
    )
    return apps
