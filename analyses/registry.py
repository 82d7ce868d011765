"""The catalogue of analyses, found rather than listed, and the one entry point that runs them.

Every public module of this package that exports a `SPEC` (an `analyses.spec.AnalysisSpec`) is an
analysis: nothing else names them, so a new module is the whole change. The catalogue is built on
first use, not at import, so it sees every module on the package's path at that moment.

The MCP layer validates an agent's `parameters` here before fetching any data; parameter lists
come from the functions' signatures (see `AnalysisSpec.parameters`).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Any

import pandas as pd
from pydantic import TypeAdapter, ValidationError

from analyses.results import AnalysisError, AnalysisResult
from analyses.spec import AnalysisSpec, ParameterSpec
from analyses.steps import checkpoint


class _Catalogue(Mapping[str, AnalysisSpec]):
    """analysis name -> spec, in listing order (`AnalysisSpec.position`, then name)."""

    @cached_property
    def _specs(self) -> dict[str, AnalysisSpec]:
        import analyses

        found: dict[str, AnalysisSpec] = {}
        for module_info in pkgutil.iter_modules(analyses.__path__):
            if module_info.ispkg or module_info.name.startswith("_"):
                continue
            spec = getattr(importlib.import_module(f"analyses.{module_info.name}"), "SPEC", None)
            if not isinstance(spec, AnalysisSpec):
                continue
            if spec.name in found:
                raise ValueError(f"two analyses are named {spec.name!r}")
            found[spec.name] = spec
        return dict(sorted(found.items(), key=lambda item: (item[1].position, item[0])))

    def __getitem__(self, name: str) -> AnalysisSpec:
        return self._specs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)


ANALYSES: Mapping[str, AnalysisSpec] = _Catalogue()


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
