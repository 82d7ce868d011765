"""`SavedTable`: the value a query tool's `save_as` keeps under a session key.

`tools/common.save_result` writes it; `analysis_runner` (analyze_data on a session) and
`tools/charts` (create_visualization of a session table) read it back. The shape is also
what agents see from `session_read`, so it is defined once, here, with its key order.

Why here: it is a session value, and this module imports nothing from `mcp_server`, so
the tools and the runner (which sit above the session store) can all import it without
a cycle. A frozen dataclass rather than a pydantic model: the rows are the query result's,
already JSON-ready, and validating a whole page again on every save and read would cost
time for nothing; the readers hand the rows to `analyses.charts.to_frame`, which checks them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SavedTable:
    columns: list[dict[str, Any]]  # {"name", "type"} per column, as the query tools report them
    rows: list[dict[str, Any]]
    row_count: int
    truncated: bool
    data_version: str | None
    source: dict[str, Any]  # which tool and arguments produced the rows, e.g. {"tool": "query_mart"}

    def to_session_value(self) -> dict[str, Any]:
        """The JSON object stored in the session (and shown by session_read), keys in this order."""
        return {
            "columns": self.columns,
            "rows": self.rows,
            "row_count": self.row_count,
            "truncated": self.truncated,
            "data_version": self.data_version,
            "source": self.source,
        }

    @classmethod
    def from_session_value(cls, value: Any) -> SavedTable | None:
        """The saved table in a session value, or None when the value is something else.

        Agents may store any JSON with session_update, so a value is taken for a saved table
        by the two keys `save_result` always writes, "rows" and "source"; the rest is read
        as stored, without checks (an agent's look-alike may lack them).
        """
        if not (isinstance(value, dict) and "rows" in value and "source" in value):
            return None
        return cls(
            columns=value.get("columns", []),
            rows=value["rows"],
            row_count=value.get("row_count", 0),
            truncated=value.get("truncated", False),
            data_version=value.get("data_version"),
            source=value["source"],
        )

    def table(self) -> dict[str, Any]:
        """The data alone, in the `{"columns", "rows"}` shape `to_frame` and `render_chart` read."""
        return {"columns": self.columns, "rows": self.rows}


def table_data(value: Any) -> Any:
    """What a session value holds as data: a saved table's columns and rows, any other value as is."""
    saved = SavedTable.from_session_value(value)
    return saved.table() if saved is not None else value
