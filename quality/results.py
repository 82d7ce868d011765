"""What a quality suite returns: plain dataclasses, JSON-safe, readable by a person.

Plain dataclasses rather than Great Expectations objects, so callers (the Dagster gate,
the import gate, the results table) never import GX or depend on its result format, and
so every outcome carries a one-line explanation worded for whoever has to fix the data.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warn"]
Scope = Literal["table", "batch"]
SEVERITIES: tuple[Severity, ...] = ("error", "warn")


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation evaluated on one table.

    `name` is ours and stable (`daily_mean`, `null_share`…); `expectation` is the Great
    Expectations type that evaluated it. `observed` and `expected` are JSON-safe dicts:
    the values per day that were judged, and the bounds they were judged against.
    """

    name: str
    family: str
    expectation: str
    table: str
    column: str | None
    severity: Severity
    success: bool
    observed: dict[str, Any]
    expected: dict[str, Any]
    explanation: str
    note: str | None = None

    @property
    def label(self) -> str:
        """`network_events.data_usage_mb` or `network_events` (table-wide expectations)."""
        return f"{self.table}.{self.column}" if self.column else self.table

    @property
    def headline(self) -> str:
        """One line naming the expectation, then the explanation (which starts with table.column)."""
        return f"[{self.name} · {self.expectation}] {self.explanation}"

    def as_dict(self) -> dict[str, Any]:
        return json_safe(asdict(self))


@dataclass(frozen=True)
class SuiteResult:
    """Every expectation of one table's suite, for one window (or one import batch)."""

    table: str
    scope: str
    window: dict[str, Any]
    outcomes: list[ExpectationOutcome]
    seconds: float = 0.0
    docs_page: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    @property
    def errors(self) -> list[ExpectationOutcome]:
        """Failed error-severity expectations: these block the marts."""
        return [o for o in self.failed if o.severity == "error"]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [o for o in self.failed if o.severity == "warn"]

    @property
    def passed(self) -> bool:
        """No error-severity failure (warnings do not stop anything)."""
        return not self.errors

    def summary(self) -> str:
        total = len(self.outcomes)
        if not self.failed:
            return f"{self.table}: all {total} expectations passed"
        return (
            f"{self.table}: {len(self.errors)} error(s), {len(self.warnings)} warning(s) "
            f"among {total} expectations"
        )

    def failure_lines(self) -> list[str]:
        """One line per failed expectation, errors first."""
        return [f"{o.severity.upper()} {o.headline}" for o in self.errors + self.warnings]

    def failures_markdown(self) -> str:
        """A markdown table of the failed expectations (the Dagster UI renders it)."""
        if not self.failed:
            return f"All {len(self.outcomes)} expectations passed."
        lines = [
            "| severity | table.column | expectation | observed | expected | explanation |",
            "|---|---|---|---|---|---|",
        ]
        for o in self.errors + self.warnings:
            cells = [
                o.severity,
                o.label,
                f"{o.name} (`{o.expectation}`)",
                _brief(o.observed),
                _brief(o.expected),
                o.explanation,
            ]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "table": self.table,
                "scope": self.scope,
                "window": self.window,
                "passed": self.passed,
                "outcomes": [o.as_dict() for o in self.outcomes],
                "notes": self.notes,
            }
        )


def _brief(values: dict[str, Any]) -> str:
    """The headline numbers of an observed/expected dict, without per-day detail."""
    keep = {k: v for k, v in values.items() if not isinstance(v, dict | list)}
    return ", ".join(f"{k}={format_number(v) if isinstance(v, float | int) else v}" for k, v in keep.items())


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def format_number(value: float | int | None, digits: int = 2) -> str:
    """12,345 / 0.42 / 1.2e-05: thousands separators, few decimals, never 'nan'."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    magnitude = abs(float(value))
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 1:
        return f"{value:,.{digits}f}".rstrip("0").rstrip(".")
    if magnitude >= 0.001:
        return f"{value:.3g}"
    return f"{value:.2g}"


def json_safe(value: Any) -> Any:
    """Dates → ISO text, numpy scalars → Python, NaN/inf → None, recursively."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat()
    return str(value)
