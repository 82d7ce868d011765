"""The catalogue of analyses: what each needs, which parameters it takes, and one entry point.

The MCP layer validates an agent's `parameters` and publishes templates from this catalogue, so the
parameter list is read from the functions' signatures (it cannot drift from the code); only the
descriptions are written here, and a test checks every parameter has one.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from analyses._json import json_safe
from analyses.arpu import arpu
from analyses.churn import churn_rate
from analyses.correlation import correlation
from analyses.drivers import drivers
from analyses.network_quality import network_quality
from analyses.results import AnalysisError, AnalysisResult
from analyses.steps import checkpoint


class FrameSpec(BaseModel):
    """One input table of an analysis."""

    model_config = ConfigDict(frozen=True)

    name: str
    required: bool
    description: str
    columns: list[str] = Field(default_factory=list)


class ParameterSpec(BaseModel):
    """One keyword parameter: type as written in the signature, default, and what it does."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    type: str
    default: Any
    description: str
    allowed: list[Any] | None = None
    annotation: Any = Field(default=None, exclude=True, repr=False)


class AnalysisSpec(BaseModel):
    """An analysis as the MCP layer sees it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    title: str
    description: str
    frames: list[FrameSpec]
    parameters: dict[str, ParameterSpec]
    function: Callable[..., AnalysisResult] = Field(exclude=True, repr=False)

    @property
    def primary_frame(self) -> str:
        return next(f.name for f in self.frames if f.required)

    def template(self) -> dict[str, Any]:
        """JSON-safe description for publishing (e.g. as an MCP resource)."""
        return json_safe(self.model_dump())


_FILTERS = (
    "Conditions already applied to the data, recorded in computed_on and re-applied to every input "
    "table that "
    "has the column: {column: value}, {column: [values]} or {column: {'>=': value, '<': value}}."
)

_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "churn_rate": {
        "churn_column": "Column with the churn flag (e.g. 'Churn' in the Kaggle Telco set).",
        "positive_label": "Value of churn_column that means churned: True for booleans, or e.g. 'Yes'.",
        "segment_by": "Columns to compare churn across; default: those of account_type, location, gender, "
        "age_band present. Numbers with many values are cut into quartiles.",
        "cohort_column": "Signup month column for cohort_retention (null to skip).",
        "churn_month_column": "Churn month column for cohort_retention (null to skip).",
        "confidence": "Confidence level of the Wilson intervals; 1 - confidence is the test level.",
        "min_segment_size": "Segments smaller than this get a warning (wide intervals).",
        "filters": _FILTERS,
    },
    "arpu": {
        "segment_by": "Columns of `monthly` to break ARPU down by; default ['account_type'].",
        "complete_months_only": "Leave out months flagged is_complete_month = false (the running month).",
        "revenue_column": "Per-customer revenue column of `customers` for churned_vs_retained.",
        "churn_column": "Churn flag column of `customers`.",
        "positive_label": "Value of churn_column that means churned.",
        "alpha": "Significance level of the churned vs retained tests.",
        "filters": _FILTERS,
    },
    "network_quality": {
        "poor_threshold": "Quality score below which an event is poor; applies to event-level data only "
        "(pre-aggregated groups were counted in SQL with 2.5).",
        "segment_by": "Columns to break quality down by; default location and event_type.",
        "min_cell_events": "Minimum events for a location x event_type x hour cell to be ranked in "
        "worst_cells.",
        "quality_column": "Per-customer average quality column of `customers` for the churn link.",
        "churn_column": "Churn flag column of `customers`.",
        "positive_label": "Value of churn_column that means churned.",
        "confidence": "Confidence level of intervals; 1 - confidence is the test level.",
        "filters": _FILTERS,
    },
    "correlation": {
        "method": "'pearson' (linear) or 'spearman' (rank, any monotonic relation, robust to outliers).",
        "columns": "Columns to correlate; default all numeric and boolean columns except ids. Yes/no text "
        "columns are read as 1/0 when named here.",
        "alpha": "Significance level, applied to Holm-adjusted p-values.",
        "filters": _FILTERS,
    },
    "drivers": {
        "target": "Yes/no outcome column to explain (e.g. 'Churn').",
        "positive_label": "Value of target that is the positive case (True, or e.g. 'Yes').",
        "numeric": "Numeric feature columns; default all numeric columns except the target, ids and columns "
        "that leak churn (days_since_last_event, churn_date, ...).",
        "categorical": "Categorical feature columns; default account_type, location, gender when present, "
        "otherwise text columns with 2-20 values.",
        "cv_folds": "Folds of the stratified cross-validation.",
        "random_state": "Seed for the folds, the held-out split and sampling (results are reproducible).",
        "max_rows": "Larger inputs are sampled down to this many rows (stratified, seeded).",
        "filters": _FILTERS,
    },
}

_FRAMES: dict[str, list[FrameSpec]] = {
    "churn_rate": [
        FrameSpec(
            name="customers",
            required=True,
            description="One row per customer with a churn flag (marts.dim_customers).",
            columns=[
                "is_churned",
                "account_type",
                "location",
                "gender",
                "age_band",
                "signup_month",
                "churn_month",
            ],
        ),
        FrameSpec(
            name="monthly",
            required=False,
            description="Monthly churn counts for monthly_trend (marts.fct_customer_churn_monthly).",
            columns=["month", "customers_at_risk", "customers_churned", "is_complete_month"],
        ),
    ],
    "arpu": [
        FrameSpec(
            name="monthly",
            required=True,
            description="Revenue and active customers per month x account type x service "
            "(marts.fct_arpu_monthly).",
            columns=[
                "month",
                "account_type",
                "service_type",
                "revenue",
                "active_customers",
                "is_complete_month",
            ],
        ),
        FrameSpec(
            name="customers",
            required=False,
            description="Per-customer churn flag and revenue for churned_vs_retained "
            "(marts.customer_features).",
            columns=["is_churned", "avg_monthly_revenue"],
        ),
        FrameSpec(
            name="payments",
            required=False,
            description="Revenue per payment method for payment_mix.",
            columns=["payment_method", "revenue", "transactions", "account_type", "month"],
        ),
    ],
    "network_quality": [
        FrameSpec(
            name="groups",
            required=True,
            description="Event groups aggregated in SQL (or event-level rows with network_quality_score).",
            columns=[
                "location",
                "event_type",
                "event_hour",
                "events",
                "poor_events",
                "avg_quality",
                "p10_quality",
            ],
        ),
        FrameSpec(
            name="customers",
            required=False,
            description="Per-customer quality and churn for the churn link (marts.customer_features).",
            columns=["is_churned", "avg_quality_score", "poor_quality_share", "account_type", "tenure_days"],
        ),
    ],
    "correlation": [
        FrameSpec(
            name="data",
            required=True,
            description="Any table; one row per observation (e.g. customer_features).",
        )
    ],
    "drivers": [
        FrameSpec(
            name="features",
            required=True,
            description="One row per customer with a yes/no target and features (marts.customer_features).",
            columns=["is_churned", "account_type", "location", "gender", "avg_quality_score", "usage_trend"],
        )
    ],
}

_TITLES = {
    "churn_rate": "Churn rate by segment, month and signup cohort",
    "arpu": "Average revenue per user by month, segment and service",
    "network_quality": "Network quality hot spots and their link to churn",
    "correlation": "Pairwise correlation of numeric columns",
    "drivers": "Churn drivers: cross-validated models and feature importance",
}

_FUNCTIONS: dict[str, Callable[..., AnalysisResult]] = {
    "churn_rate": churn_rate,
    "arpu": arpu,
    "network_quality": network_quality,
    "correlation": correlation,
    "drivers": drivers,
}


def _first_line(function: Callable[..., Any]) -> str:
    return (inspect.getdoc(function) or "").split("\n\n")[0].replace("\n", " ")


def _spec(name: str) -> AnalysisSpec:
    function = _FUNCTIONS[name]
    frames = _FRAMES[name]
    frame_names = {f.name for f in frames}
    written = inspect.signature(function).parameters
    hints = typing.get_type_hints(function)
    parameters: dict[str, ParameterSpec] = {}
    for parameter in written.values():
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY or parameter.name in frame_names:
            continue
        annotation = hints.get(parameter.name, Any)
        allowed = (
            list(typing.get_args(annotation)) if typing.get_origin(annotation) is typing.Literal else None
        )
        parameters[parameter.name] = ParameterSpec(
            name=parameter.name,
            type=str(parameter.annotation),
            default=parameter.default,
            description=_DESCRIPTIONS[name].get(parameter.name, ""),
            allowed=allowed,
            annotation=annotation,
        )
    return AnalysisSpec(
        name=name,
        title=_TITLES[name],
        description=_first_line(function),
        frames=frames,
        parameters=parameters,
        function=function,
    )


ANALYSES: dict[str, AnalysisSpec] = {name: _spec(name) for name in _FUNCTIONS}


def analysis_types() -> list[str]:
    return sorted(ANALYSES)


def validate_parameters(analysis_type: str, parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check names and coerce values (e.g. "0.9" -> 0.9, "account_type" -> ["account_type"]).

    Separate from `run_analysis` so the MCP layer can reject a bad call before fetching any data.
    """
    spec = _get(analysis_type)
    if parameters is None:
        return {}
    if not isinstance(parameters, Mapping):
        raise AnalysisError("parameters must be an object of parameter names to values")
    frame_names = {f.name for f in spec.frames}
    valid = ", ".join(spec.parameters)
    checked: dict[str, Any] = {}
    for key, value in parameters.items():
        if key in frame_names:
            raise AnalysisError(
                f"'{key}' is an input table of {analysis_type}; pass it in frames, not parameters"
            )
        if key not in spec.parameters:
            raise AnalysisError(f"unknown parameter '{key}' for {analysis_type}; valid parameters: {valid}")
        checked[key] = _coerce(spec.parameters[key], value, analysis_type)
    return checked


def run_analysis(
    analysis_type: str, frames: Mapping[str, pd.DataFrame], parameters: Mapping[str, Any] | None = None
) -> AnalysisResult:
    """Run one analysis by name on named frames (see `ANALYSES[type].frames`) with checked parameters."""
    spec = _get(analysis_type)
    checked = validate_parameters(analysis_type, parameters)
    if not isinstance(frames, Mapping):
        raise AnalysisError("frames must map table names to DataFrames")
    accepted = {f.name: f for f in spec.frames}
    unknown = [k for k in frames if k not in accepted]
    if unknown:
        raise AnalysisError(
            f"unknown input table(s) {', '.join(map(repr, unknown))} for {analysis_type}; it accepts: "
            + ", ".join(f"{f.name} ({'required' if f.required else 'optional'})" for f in spec.frames)
        )
    primary = spec.primary_frame
    if frames.get(primary) is None:
        raise AnalysisError(
            f"{analysis_type} needs the input table '{primary}': {accepted[primary].description}"
        )
    optional = {name: frame for name, frame in frames.items() if name != primary and frame is not None}
    checkpoint()
    return spec.function(frames[primary], **optional, **checked)


def _get(analysis_type: str) -> AnalysisSpec:
    if analysis_type not in ANALYSES:
        raise AnalysisError(
            f"unknown analysis type {analysis_type!r}; valid types: {', '.join(analysis_types())}"
        )
    return ANALYSES[analysis_type]


def _coerce(parameter: ParameterSpec, value: Any, analysis_type: str) -> Any:
    adapter = TypeAdapter(parameter.annotation)
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        if isinstance(value, str) and "list" in parameter.type:
            try:
                return adapter.validate_python([value])
            except ValidationError:
                pass
        reason = exc.errors()[0].get("msg", "invalid value")
        allowed = f" (one of {', '.join(map(repr, parameter.allowed))})" if parameter.allowed else ""
        raise AnalysisError(
            f"parameter '{parameter.name}' of {analysis_type} must be {parameter.type}{allowed}; got "
            f"{value!r}: "
            f"{reason}"
        ) from None
