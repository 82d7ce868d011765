"""How a team's file maps onto a raw table: renames, constants, value maps, date formats.

Without a mapping file the header must name the raw table's columns (any order). A YAML
mapping adapts a foreign export instead of asking the team to edit it:

    columns:            # file header -> raw column
      CustomerID: customer_id
      Contract: account_type
    values:             # per column (file or raw name): file value -> raw value
      Contract: {Month-to-month: Basic, One year: Premium, Two year: Enterprise}
    constants:          # raw columns the file lacks, the same for every record
      gender: Unspecified
    dates:              # strftime format per column (default: ISO 8601)
      created_at: "%d/%m/%Y"
    ignore: [TotalCharges, PaperlessBilling]   # or ignore_unknown: true

The header is resolved before a single record is read, so a file with unknown or missing
columns is refused whole with the lists a person needs to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from warehouse.importing.readers import EXTRA_FIELDS_COLUMN
from warehouse.importing.source import UnusableFile
from warehouse.raw_schema import TableSpec


class MappingError(ValueError):
    """The mapping file itself is wrong (bad YAML, unknown keys, a rename to no raw column)."""


class ImportMapping(BaseModel):
    """The YAML mapping, validated."""

    model_config = ConfigDict(extra="forbid")

    columns: dict[str, str] = Field(default_factory=dict, description="file header -> raw column")
    values: dict[str, dict[str, Any]] = Field(default_factory=dict, description="column -> value map")
    constants: dict[str, Any] = Field(default_factory=dict, description="raw column -> constant")
    dates: dict[str, str] = Field(default_factory=dict, description="column -> strftime format")
    ignore: list[str] = Field(default_factory=list, description="file columns to leave out")
    ignore_unknown: bool = False

    @field_validator("values", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        # YAML reads `Yes: true` with a boolean key; file values are text, so compare as text.
        if isinstance(value, dict):
            return {
                column: {_yaml_key(k): v for k, v in (pairs or {}).items()}
                if isinstance(pairs, dict)
                else pairs
                for column, pairs in value.items()
            }
        return value


def _yaml_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def load_mapping(path: Path | None) -> ImportMapping:
    """Read and validate a mapping file; no file means "headers are the raw column names"."""
    if path is None:
        return ImportMapping()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except OSError as error:
        raise MappingError(f"cannot read the mapping {path.name}: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise MappingError(f"the mapping {path.name} is not valid YAML{where}") from None
    if document is None:
        return ImportMapping()
    if not isinstance(document, dict):
        raise MappingError(f"the mapping {path.name} must be a YAML mapping with keys like columns:, values:")
    try:
        return ImportMapping.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'mapping'}: {e['msg']}" for e in error.errors()[:5]
        )
        raise MappingError(f"the mapping {path.name} is invalid: {problems}") from None


@dataclass(frozen=True)
class ColumnPlan:
    """What the importer does with one file: which file column feeds which raw column."""

    sources: dict[str, str]  # raw column -> file column
    constants: dict[str, Any]
    value_maps: dict[str, dict[str, Any]]  # raw column -> map
    date_formats: dict[str, str]  # raw column -> format
    ignored: tuple[str, ...] = ()
    provided: tuple[str, ...] = field(default=())  # raw columns with a value (file or constant)


def check_mapping(spec: TableSpec, mapping: ImportMapping) -> None:
    """Mapping errors that do not depend on the file: renames and constants to unknown columns."""
    for target in list(mapping.columns.values()) + list(mapping.constants):
        if target not in spec.column_names:
            raise MappingError(
                f"the mapping names {target!r}, which is not a column of raw.{spec.name} "
                f"({', '.join(spec.column_names)})"
            )


def plan_columns(header: list[str], spec: TableSpec, mapping: ImportMapping) -> ColumnPlan:
    """Resolve the header against the table; refuse the file (UnusableFile) when it cannot fit."""
    check_mapping(spec, mapping)
    raw = set(spec.column_names)
    sources: dict[str, str] = {}
    unknown: list[str] = []
    ignored: list[str] = []
    ignore = set(mapping.ignore)
    for name in header:
        if name == EXTRA_FIELDS_COLUMN:
            continue
        target = mapping.columns.get(name, name if name in raw else None)
        if name in ignore or (target is None and mapping.ignore_unknown):
            ignored.append(name)
        elif target is None:
            unknown.append(name)
        elif target in sources:
            raise UnusableFile(
                f"columns {sources[target]!r} and {name!r} both map to {target}; keep one (or list the other "
                "under ignore: in a mapping file)"
            )
        else:
            sources[target] = name
    if unknown:
        raise UnusableFile(
            f"unknown columns for raw.{spec.name}: {', '.join(unknown)}. Expected names: "
            f"{', '.join(spec.column_names)}; rename them in a mapping file (--mapping)"
            " or list them under ignore:"
        )
    constants = {k: v for k, v in mapping.constants.items() if k not in sources}
    missing = [c for c in spec.required if c not in sources and c not in constants]
    if missing:
        raise UnusableFile(
            f"missing required columns for raw.{spec.name}: {', '.join(missing)} "
            f"(the file has: {', '.join(h for h in header if h != EXTRA_FIELDS_COLUMN) or 'no columns'})"
        )
    by_file = {file_col: raw_col for raw_col, file_col in sources.items()}
    value_maps: dict[str, dict[str, Any]] = {}
    for column, pairs in mapping.values.items():
        target = by_file.get(column, column if column in raw else None)
        if target is None:
            raise MappingError(f"values: names {column!r}, which is neither a file column nor a raw column")
        value_maps[target] = pairs
    date_formats: dict[str, str] = {}
    for column, fmt in mapping.dates.items():
        target = by_file.get(column, column if column in raw else None)
        if target is None or spec.column(target).kind != "timestamp":
            raise MappingError(f"dates: {column!r} is not a date or timestamp column of raw.{spec.name}")
        date_formats[target] = fmt
    provided = tuple(c for c in spec.column_names if c in sources or c in constants)
    return ColumnPlan(sources, constants, value_maps, date_formats, tuple(ignored), provided)


def mapping_summary(mapping: ImportMapping) -> dict[str, Any]:
    """The mapping as stored with the import (ops.imports.mapping), for a person to see later."""
    return mapping.model_dump(exclude_defaults=True)
