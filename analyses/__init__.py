"""Pure-Python analytics engine: a DataFrame in, a typed, JSON-safe `AnalysisResult` out.

Deliberately free of warehouse, Dagster and MCP imports so it runs (and is tested) on any DataFrame,
including data sets an agent brings itself with foreign column names.
"""

from analyses.arpu import arpu
from analyses.churn import churn_rate
from analyses.correlation import correlation
from analyses.drivers import drivers
from analyses.network_quality import network_quality
from analyses.registry import ANALYSES, analysis_types, run_analysis, validate_parameters
from analyses.results import AnalysisError, AnalysisResult, ComputedOn, StatTest
from analyses.spec import AnalysisSpec, FrameSpec, MartSource, ParameterSpec, SummaryChart

__all__ = [
    "ANALYSES",
    "AnalysisError",
    "AnalysisResult",
    "AnalysisSpec",
    "ComputedOn",
    "FrameSpec",
    "MartSource",
    "ParameterSpec",
    "StatTest",
    "SummaryChart",
    "analysis_types",
    "arpu",
    "churn_rate",
    "correlation",
    "drivers",
    "network_quality",
    "run_analysis",
    "validate_parameters",
]
