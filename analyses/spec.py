"""What an analysis declares about itself: one `AnalysisSpec`, exported as `SPEC` by its module.

Everything outside the engine that names an analysis is derived from these specs: the registry
(`analyses.registry` finds every module of this package that exports a `SPEC`), the standard
warehouse inputs (`warehouse.analysis_inputs` turns each frame's `MartSource` into SQL), the
Dagster analysis assets and what their UI shows, the dbt exposures, and the MCP tool's
`analysis_type` schema and `templates://analysis/{type}` resources. Adding an analysis is one new
module here (plus, if it needs new input, one new dbt mart) and nothing else.

Parameters are not declared: they are read from the function's signature so they cannot drift
from the code; only their descriptions are written in the spec, and a spec whose function gains
an undocumented parameter refuses to load.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from analyses._json import json_safe
from analyses.results import AnalysisResult

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*\Z")

Comparison = Literal["=", "<>", ">", ">=", "<", "<="]

FILTERS_DOC = (
    "Conditions already applied to the data, recorded in computed_on and re-applied to every input "
    "table that "
    "has the column: {column: value}, {column: [values]} or {column: {'>=': value, '<': value}}."
)
"""The description of the `filters` parameter every analysis takes."""


class MartSource(BaseModel):
    """Where the standard ("warehouse") rows of one input frame come from: columns of one dbt mart.

    Declared as names rather than SQL so the marts an analysis reads are a fact the lineage (Dagster
    asset deps, dbt exposures) can be derived from, and so no analysis aggregates in Python SQL:
    what needs aggregating is a mart.
    """

    model_config = ConfigDict(frozen=True)

    mart: str
    columns: tuple[str, ...] = Field(default=(), description="Mart columns to read; empty: all of them")
    rename: Mapping[str, str] = Field(default_factory=dict, description="mart column -> frame column")
    where: tuple[tuple[str, Comparison, bool | int | float | str], ...] = ()
    order_by: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _plain_names(self) -> MartSource:
        names = [
            self.mart,
            *self.columns,
            *self.rename,
            *self.rename.values(),
            *(column for column, _, _ in self.where),
            *self.order_by,
        ]
        bad = [name for name in names if not _IDENTIFIER.match(name)]
        if bad:
            raise ValueError(f"not plain lower-case SQL names: {', '.join(bad)}")
        stray = set(self.rename) - set(self.columns)
        if stray:
            raise ValueError(f"renamed columns that are not read: {', '.join(sorted(stray))}")
        return self


class FrameSpec(BaseModel):
    """One input table of an analysis: what an agent may pass, and where the warehouse's comes from."""

    model_config = ConfigDict(frozen=True)

    name: str
    required: bool
    description: str
    columns: list[str] = Field(default_factory=list, description="Columns the analysis uses (for agents)")
    source: MartSource = Field(exclude=True, repr=False)


class ParameterSpec(BaseModel):
    """One keyword parameter: type as written in the signature, default, and what it does."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    type: str
    default: Any
    description: str
    allowed: list[Any] | None = None
    annotation: Any = Field(default=None, exclude=True, repr=False)


@dataclass(frozen=True)
class SummaryChart:
    """The one chart that sums a result up (the Dagster UI shows it next to the main table).

    `rows` shapes the table for the chart (keep one segment column, pivot to wide, take the top
    rows); the other fields are `analyses.charts.render_chart` options.
    """

    table: str
    chart_type: str
    x_axis: str
    y_axis: str | list[str] | None
    title: str
    value: str | None = None
    rows: Callable[[list[dict[str, Any]]], Any] | None = None

    def data(self, result: AnalysisResult) -> tuple[Any, dict[str, Any]] | None:
        """The chart's data and `render_chart` options, or None when the result lacks the table."""
        rows = result.tables.get(self.table)
        if not rows:
            return None
        data = self.rows(rows) if self.rows else rows
        options: dict[str, Any] = {"chart_type": self.chart_type, "x_axis": self.x_axis, "title": self.title}
        if isinstance(data, tuple):  # a shaping that also decides the series (a pivot to wide)
            data, options["y_axis"] = data
        else:
            options["y_axis"] = self.y_axis
        if self.value:
            options["value"] = self.value
        return data, options


@dataclass(frozen=True)
class AnalysisSpec:
    """An analysis as everything outside the engine sees it."""

    name: str
    title: str
    brief: str
    """What it covers in a few words, for the MCP tool's description ("by segment, trend, ...")."""
    function: Callable[..., AnalysisResult] = field(repr=False)
    frames: list[FrameSpec]
    """Input tables; the first is the primary one (a mart or session table stands in for it)."""
    parameter_docs: Mapping[str, str] = field(repr=False)
    raw_tables: tuple[str, ...]
    """Raw tables that must hold rows before the standard inputs mean anything ("no data yet")."""
    main_table: str
    chart: SummaryChart | None = None
    position: int = 100
    """Where it is listed to agents (the tool's enum and description); ties go by name."""

    def __post_init__(self) -> None:
        if not _IDENTIFIER.match(self.name):
            raise ValueError(f"analysis name {self.name!r} must be a plain lower-case name")
        names = [f.name for f in self.frames]
        if not names or not self.frames[0].required or len(set(names)) != len(names):
            raise ValueError(f"{self.name}: frames need unique names and a required first one")
        written = inspect.signature(self.function).parameters
        unknown = [n for n in names[1:] if written.get(n, None) is None]
        keyword = [p.name for p in self._keyword_parameters()]
        undocumented = [name for name in keyword if name not in self.parameter_docs]
        stale = [name for name in self.parameter_docs if name not in keyword]
        if unknown or undocumented or stale:
            raise ValueError(
                f"{self.name}: frames that are not parameters of {self.function.__name__}: {unknown}; "
                f"parameters without a description in parameter_docs: {undocumented}; "
                f"descriptions of parameters it does not take: {stale}"
            )

    def _keyword_parameters(self) -> list[inspect.Parameter]:
        frame_names = {f.name for f in self.frames}
        return [
            p
            for p in inspect.signature(self.function).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in frame_names
        ]

    @property
    def primary_frame(self) -> str:
        return self.frames[0].name

    @cached_property
    def description(self) -> str:
        """The first paragraph of the function's docstring: what the code says it does."""
        return (inspect.getdoc(self.function) or "").split("\n\n")[0].replace("\n", " ")

    @cached_property
    def parameters(self) -> dict[str, ParameterSpec]:
        hints = typing.get_type_hints(self.function)
        parameters: dict[str, ParameterSpec] = {}
        for parameter in self._keyword_parameters():
            annotation = hints.get(parameter.name, Any)
            allowed = list(typing.get_args(annotation)) if typing.get_origin(annotation) is Literal else None
            parameters[parameter.name] = ParameterSpec(
                name=parameter.name,
                type=str(parameter.annotation),
                default=parameter.default,
                description=self.parameter_docs[parameter.name],
                allowed=allowed,
                annotation=annotation,
            )
        return parameters

    def template(self) -> dict[str, Any]:
        """JSON-safe description for publishing (e.g. as an MCP resource)."""
        return json_safe(
            {
                "name": self.name,
                "title": self.title,
                "description": self.description,
                "frames": [frame.model_dump() for frame in self.frames],
                "parameters": {name: p.model_dump() for name, p in self.parameters.items()},
            }
        )
