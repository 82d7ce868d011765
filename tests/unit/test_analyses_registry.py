"""registry: catalogue matches the functions, dispatch, parameter checking, and package isolation."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analyses import ANALYSES, AnalysisError, analysis_types, churn_rate, run_analysis, validate_parameters

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_type": ["Basic"] * 50 + ["Premium"] * 50,
            "location": ["North", "South"] * 50,
            "is_churned": [True] * 15 + [False] * 35 + [True] * 5 + [False] * 45,
        }
    )


def test_catalogue_lists_the_five_analyses():
    assert analysis_types() == ["arpu", "churn_rate", "correlation", "drivers", "network_quality"]
    primaries = {name: spec.primary_frame for name, spec in ANALYSES.items()}
    assert primaries == {
        "churn_rate": "customers",
        "arpu": "monthly",
        "network_quality": "groups",
        "correlation": "data",
        "drivers": "features",
    }


def test_every_keyword_parameter_is_described_with_its_default():
    for spec in ANALYSES.values():
        frames = {f.name for f in spec.frames}
        signature = inspect.signature(spec.function).parameters
        keyword_only = {
            name
            for name, p in signature.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in frames
        }
        assert set(spec.parameters) == keyword_only, spec.name
        for name, parameter in spec.parameters.items():
            assert parameter.description, f"{spec.name}.{name} has no description"
            assert parameter.default == signature[name].default
    assert ANALYSES["correlation"].parameters["method"].allowed == ["pearson", "spearman"]
    json.dumps([spec.template() for spec in ANALYSES.values()], allow_nan=False)


def test_run_analysis_dispatches_like_a_direct_call(customers):
    via_registry = run_analysis("churn_rate", {"customers": customers}, {"segment_by": ["account_type"]})
    direct = churn_rate(customers, segment_by=["account_type"])
    assert via_registry.model_dump() == direct.model_dump()


def test_optional_frames_are_passed_by_name():
    monthly = pd.DataFrame(
        {
            "month": ["2024-01-01", "2024-01-01"],
            "account_type": ["Basic", "Premium"],
            "service_type": ["data", "data"],
            "revenue": [100.0, 200.0],
            "active_customers": [10, 4],
        }
    )
    customers = pd.DataFrame(
        {"is_churned": [True, True, False, False], "avg_monthly_revenue": [1.0, 2.0, 3.0, 5.0]}
    )
    result = run_analysis("arpu", {"monthly": monthly, "customers": customers}, {})
    assert "churned_vs_retained" in result.tables


def test_parameters_are_checked_and_coerced(customers):
    assert validate_parameters("churn_rate", {"confidence": "0.9", "segment_by": "location"}) == {
        "confidence": 0.9,
        "segment_by": ["location"],
    }
    with pytest.raises(AnalysisError, match=r"unknown parameter 'segments'.*valid parameters: churn_column"):
        run_analysis("churn_rate", {"customers": customers}, {"segments": ["location"]})
    with pytest.raises(AnalysisError, match=r"parameter 'method'.*'pearson', 'spearman'"):
        validate_parameters("correlation", {"method": "kendall"})
    with pytest.raises(AnalysisError, match=r"parameter 'cv_folds' of drivers must be int"):
        validate_parameters("drivers", {"cv_folds": "many"})
    with pytest.raises(AnalysisError, match=r"input table of churn_rate; pass it in frames"):
        validate_parameters("churn_rate", {"monthly": []})


def test_frames_and_types_are_checked(customers):
    with pytest.raises(
        AnalysisError, match=r"unknown analysis type 'cohorts'; valid types: arpu, churn_rate"
    ):
        run_analysis("cohorts", {"customers": customers}, {})
    with pytest.raises(AnalysisError, match=r"needs the input table 'customers'"):
        run_analysis("churn_rate", {"monthly": customers}, {})
    with pytest.raises(AnalysisError, match=r"unknown input table.*'clients'.*customers \(required\)"):
        run_analysis("churn_rate", {"customers": customers, "clients": customers}, {})
    with pytest.raises(AnalysisError, match=r"must be a table"):
        run_analysis("correlation", {"data": [[1, 2]]}, {})


def test_package_imports_nothing_from_the_platform():
    code = (
        "import sys, analyses\n"
        "banned = {'dagster', 'mcp', 'mcp_server', 'orchestration', 'warehouse'}\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & banned)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
