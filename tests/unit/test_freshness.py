"""Freshness helpers: which marts a query touched, and one verdict per mart's check counts."""

from __future__ import annotations

from mcp_server.freshness import touched_marts, verdict
from warehouse.build_events import BuildSummary, BuildTally


def test_touched_marts_are_the_marts_a_query_names():
    marts = {"dim_customers", "fct_arpu_monthly"}
    tables = {
        "marts.dim_customers",
        "fct_arpu_monthly",
        "staging.fct_arpu_monthly",
        "pg_catalog.pg_class",
        "x",
    }
    assert touched_marts(tables, marts) == ["dim_customers", "fct_arpu_monthly"]
    assert touched_marts({"staging.stg_telco__customers"}, marts) == []


def test_the_worst_check_outcome_wins():
    assert verdict({"passed": 3, "warned": 1, "failed": 0}) == "warned"
    assert verdict({"passed": 3, "warned": 1, "failed": 1}) == "failed"
    assert verdict({"passed": 2}) == "passed"
    assert verdict({}) == "unchecked" and verdict(None) == "unchecked"


def test_a_build_summary_round_trips_through_its_details():
    tally = BuildTally()
    tally.rebuilt("fct_arpu_monthly")
    tally.rebuilt("dim_customers")
    tally.checked("dim_customers", "passed")
    tally.checked("dim_customers", "failed")
    summary = tally.summary()
    assert BuildSummary.from_details(summary.details()) == BuildSummary(
        marts=("dim_customers", "fct_arpu_monthly"),
        checks={"dim_customers": {"passed": 1, "warned": 0, "failed": 1}},
    )
    assert BuildSummary.from_details({"selection": "x"}) == BuildSummary()
