"""SavedTable: what save_as writes into a session is what analyze_data and create_visualization
read back, with the stored JSON (which session_read shows agents) unchanged."""

from __future__ import annotations

import json

import pytest

from mcp_server.sessions.saved_table import SavedTable, table_data

STORED = {
    "columns": [{"name": "month", "type": "date"}, {"name": "revenue", "type": "numeric"}],
    "rows": [{"month": "2025-01-01", "revenue": "10.5"}],
    "row_count": 1,
    "truncated": False,
    "data_version": "build-7",
    "source": {"tool": "query_mart", "mart": "fct_arpu_monthly"},
}


def test_the_session_value_round_trips_with_its_keys_in_order() -> None:
    saved = SavedTable.from_session_value(json.loads(json.dumps(STORED)))
    assert saved is not None and saved.source == {"tool": "query_mart", "mart": "fct_arpu_monthly"}
    assert list(saved.to_session_value()) == list(STORED)
    assert json.dumps(saved.to_session_value()) == json.dumps(STORED)


def test_readers_get_the_columns_and_rows_only() -> None:
    assert table_data(STORED) == {"columns": STORED["columns"], "rows": STORED["rows"]}
    minimal = {"rows": [[1]], "source": {}}  # older or hand-written: columns default to none
    assert table_data(minimal) == {"columns": [], "rows": [[1]]}


@pytest.mark.parametrize(
    "value",
    [
        [{"a": 1}],
        {"a": [1, 2]},
        {"columns": ["a"], "rows": [[1]]},  # an agent's own table, written with session_update
        "text",
        None,
    ],
)
def test_other_session_values_pass_through_unchanged(value) -> None:
    assert SavedTable.from_session_value(value) is None
    assert table_data(value) is value
