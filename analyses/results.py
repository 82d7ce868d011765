"""The one result shape every analysis returns, so the MCP layer and charts never special-case a type.

The model is the boundary to JSON: whatever an analysis puts into `tables` or a `StatTest` is made
JSON-safe here (NaN/inf -> None, numpy scalars -> Python, dates -> ISO strings), so a forgotten
conversion in one analysis cannot break `json.dumps` for the agent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, field_validator

from analyses._json import json_safe


class AnalysisError(ValueError):
    """Bad parameters or data, worded for the caller (an AI agent) to fix the call.

    Messages name the column/parameter and list what would be valid; they never carry a stack trace.
    """


class ComputedOn(BaseModel):
    """What the numbers were computed on, so an answer can be reproduced and its scope stated."""

    rows: int
    time_range: tuple[str, str] | None = None
    filters: dict[str, Any] = Field(default_factory=dict)
    columns_used: list[str] = Field(default_factory=list)

    @field_validator("filters", mode="after")
    @classmethod
    def _filters_json_safe(cls, value: dict[str, Any]) -> dict[str, Any]:
        return json_safe(value)


class StatTest(BaseModel):
    """One hypothesis test, with an effect size because with large samples everything is 'significant'."""

    name: str
    statistic: float | None
    p_value: float | None
    dof: int | None = None
    effect_size: float | None = None
    effect_name: str | None = None
    interpretation: str

    @field_validator("statistic", "p_value", "effect_size", mode="before")
    @classmethod
    def _finite_or_none(cls, value: Any) -> float | None:
        if value is None:
            return None
        number = float(value)
        return number if math.isfinite(number) else None


class AnalysisResult(BaseModel):
    """Headline, reading guide, scope, tables, tests and caveats of one analysis run."""

    analysis_type: str
    summary: str
    how_to_read: str
    computed_on: ComputedOn
    tables: dict[str, list[dict[str, Any]]]
    tests: list[StatTest] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @field_validator("tables", mode="after")
    @classmethod
    def _tables_json_safe(cls, value: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
        return json_safe(value)


@dataclass(kw_only=True, eq=False)
class Findings:
    """The numbers of one run before they are put into words: what computing hands to narrating.

    Every analysis computes first and words its summary afterwards from these fields alone, so a
    sentence can be reworded without touching a number and each analysis builds its `AnalysisResult`
    the same way. Analyses subclass it to carry the extra numbers their summary quotes.
    """

    rows: int
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tests: list[StatTest] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    columns_used: list[str] = field(default_factory=list)
    time_range: tuple[str, str] | None = None

    def result(
        self, analysis_type: str, *, summary: str, how_to_read: str, filters: Mapping[str, Any] | None
    ) -> AnalysisResult:
        """The findings with their words, and the filters recorded as given (for reproduction)."""
        return AnalysisResult(
            analysis_type=analysis_type,
            summary=summary,
            how_to_read=how_to_read,
            computed_on=ComputedOn(
                rows=self.rows,
                time_range=self.time_range,
                filters=dict(filters or {}),
                columns_used=self.columns_used,
            ),
            tables=self.tables,
            tests=self.tests,
            warnings=self.warnings,
        )
