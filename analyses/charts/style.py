"""The house style: colours, sizes, words on axes, number labels and legends.

Every artist is styled explicitly through these helpers rather than through rcParams,
because rcParams are global and renders run concurrently (see the package docstring).
Mathtext is the one parser matplotlib shares between figures, and agent-supplied text full
of "$" would trigger it, so every user string goes through `plain` first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.legend import Legend

DPI = 100

# Okabe–Ito, reordered so the low-contrast yellow and the black (reads as an axis) come last.
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#56B4E9",
    "#CC79A7",
    "#F0E442",
    "#000000",
)
OTHER_COLOUR = "#999999"
HEATMAP_CMAP = "viridis"
TEXT_COLOUR = "#222222"
MUTED_COLOUR = "#555555"
GRID_COLOUR = "#e6e6e6"


@dataclass(frozen=True)
class Style:
    """Font and marker sizes scaled with the picture, so a 4000-pixel chart is not all whitespace."""

    scale: float

    def size(self, points: float) -> float:
        return points * self.scale


def humanise(name: str) -> str:
    """'avg_quality_score' -> 'Avg quality score': axis labels should read as words, not identifiers."""
    text = re.sub(r"[_\s]+", " ", str(name)).strip()
    return text[:1].upper() + text[1:] if text else ""


def plain(text: Any) -> str:
    """Literal text for matplotlib: an escaped "$" keeps mathtext (and its shared parser) out."""
    return str(text).replace("$", r"\$")


def shorten(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _decimals(values: Sequence[float]) -> int:
    finite = [v for v in values if math.isfinite(v)]
    for places in range(7):
        scale = 10.0**places
        if all(abs(v * scale - round(v * scale)) < 1e-6 * max(1.0, abs(v * scale)) for v in finite):
            return places
    return 6


def _format_number(value: float, places: int, group_from: float) -> str:
    if not math.isfinite(value):
        return ""
    if abs(value) < 0.5 * 10.0**-places:
        value = 0.0
    return f"{value:,.{places}f}" if abs(value) >= group_from else f"{value:.{places}f}"


def value_labels(values: Sequence[float]) -> list[str]:
    """Labels for bars or heatmap cells with one decimal count for the set, so neighbours line up.

    Decimals follow the largest magnitude (about three significant digits); whole-number data
    stays whole. Missing values get an empty label.
    """
    finite = [float(v) for v in values if math.isfinite(v)]
    if not finite or all(v.is_integer() for v in finite):
        places = 0
    else:
        top = max(abs(v) for v in finite) or 1.0
        places = max(0, min(6, 2 - math.floor(math.log10(top))))
    return [f"{v:,.{places}f}" if math.isfinite(v) else "" for v in map(float, values)]


class NumberFormatter(ticker.Formatter):
    """Tick labels with thousands separators and one decimal count for the whole axis.

    `group_from` lets x axes of years or hours keep "2024" rather than "2,024".
    """

    def __init__(self, group_from: float = 1000.0) -> None:
        self.group_from = group_from
        self.places = 0

    def __call__(self, x: float, pos: int | None = None) -> str:
        return _format_number(x, self.places, self.group_from)

    def format_ticks(self, values: Sequence[float]) -> list[str]:
        self.places = _decimals(list(values))
        return [self(v) for v in values]


def legend_options(style: Style, title: str) -> dict[str, Any]:
    return {
        "loc": "upper left",
        "bbox_to_anchor": (1.01, 1.0),
        "frameon": False,
        "fontsize": style.size(9),
        "title": plain(title) if title else None,
        "title_fontsize": style.size(9),
        "borderaxespad": 0,
    }


def legend(ax: Axes, style: Style, title: str = "") -> Legend:
    """Legend outside the plot, right: it never hides data and constrained layout makes room."""
    return ax.legend(**legend_options(style, title))
