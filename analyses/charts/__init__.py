"""Chart rendering behind the `create_visualization` MCP tool: tabular data in, PNG/SVG/HTML bytes out.

The MCP server renders from worker threads (`asyncio.to_thread`), several at once. Matplotlib's
pyplot keeps global state (current figure, backend, rcParams edits) that such callers would trample,
so no module here imports pyplot or writes rcParams: every call builds its own `Figure`,
attaches its own canvas and styles each artist explicitly. Mathtext is the one parser matplotlib
shares between figures, and agent-supplied text full of "$" would trigger it, so every user string
goes through `style.plain` first.

Split along its seams, each a small module:

* `data`: agent-sent data → DataFrame (`to_frame`) and the package's one error, `ChartError`;
* `columns`: which column was meant, and whether it reads as numbers, dates or labels;
* `style`: palette, sizes, axis words, number labels, legends;
* `plot`: what a plot builder returns, and the long → wide step bars and lines share;
* `bar`, `line`, `scatter`, `histogram`, `heatmap`: one plot builder per chart type;
* `render`: `render_chart`, figures and PNG/SVG bytes; `page`: the HTML page around the SVG;
* `interactive`: the same prepared series as a Plotly figure, for the interactive chart view.

Callers import from here; the modules are the package's inside.
"""

from analyses.charts.bar import BarData, prepare_bar
from analyses.charts.data import ChartError, to_frame
from analyses.charts.histogram import HISTOGRAM_MAX_BINS, histogram_bins
from analyses.charts.interactive import interactive_figure
from analyses.charts.render import (
    CHART_TYPES,
    IMAGE_FORMATS,
    MAX_ROWS,
    Chart,
    ChartType,
    ImageFormat,
    render_chart,
)
from analyses.charts.style import PALETTE, NumberFormatter, humanise, value_labels

_NumberFormatter = NumberFormatter  # the name the tick-format tests have always used

__all__ = [
    "CHART_TYPES",
    "HISTOGRAM_MAX_BINS",
    "IMAGE_FORMATS",
    "MAX_ROWS",
    "PALETTE",
    "BarData",
    "Chart",
    "ChartError",
    "ChartType",
    "ImageFormat",
    "NumberFormatter",
    "histogram_bins",
    "humanise",
    "interactive_figure",
    "prepare_bar",
    "render_chart",
    "to_frame",
    "value_labels",
]
