"""What the marts are, from the same source as dbt docs.

Descriptions, grain and tests come from the dbt manifest written by every build (so the
agent reads exactly what a person reads in dbt docs); names and types come from the
live catalog, which is the truth about what a query can touch right now. The manifest
is re-read only when the file changes.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

logger = logging.getLogger(__name__)

MART_SCHEMA = "marts"


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    type: str
    description: str
    tests: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelDoc:
    name: str
    schema: str
    description: str
    grain: str
    time_column: str | None
    unique_key: tuple[str, ...]
    columns: dict[str, ColumnDoc]
    tests: tuple[str, ...] = ()
    folder: str = ""


@dataclass(frozen=True)
class Mart:
    name: str
    description: str
    grain: str
    time_column: str | None
    unique_key: tuple[str, ...]
    columns: tuple[ColumnDoc, ...]
    row_estimate: int

    def column(self, name: str) -> ColumnDoc | None:
        return next((c for c in self.columns if c.name == name), None)


def _describe_test(node: dict[str, Any]) -> str:
    meta = node.get("test_metadata") or {}
    name = meta.get("name") or node.get("name", "test")
    kwargs = {k: v for k, v in (meta.get("kwargs") or {}).items() if k not in ("column_name", "model")}
    if not kwargs:
        return str(name)
    details = ", ".join(f"{k}={v}" for k, v in kwargs.items() if not isinstance(v, dict))
    return f"{name}({details})" if details else str(name)


@dataclass
class Manifest:
    """The parts of dbt's manifest.json the server uses, reloaded when the file changes."""

    path: Path
    _mtime: float = -1.0
    _models: dict[str, ModelDoc] = field(default_factory=dict)

    def fingerprint(self) -> float:
        """Changes when the file does (its mtime; -1 while there is none)."""
        try:
            return self.path.stat().st_mtime
        except FileNotFoundError:
            return -1.0

    def models(self) -> dict[str, ModelDoc]:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return {}
        if mtime != self._mtime:
            self._models = self._load()
            self._mtime = mtime
        return self._models

    def _load(self) -> dict[str, ModelDoc]:
        with self.path.open() as handle:
            manifest = json.load(handle)
        nodes = manifest.get("nodes", {})
        column_tests: dict[tuple[str, str], list[str]] = {}
        model_tests: dict[str, list[str]] = {}
        for node in nodes.values():
            if node.get("resource_type") != "test":
                continue
            attached = node.get("attached_node") or next(
                iter(node.get("depends_on", {}).get("nodes", [])), None
            )
            if not attached:
                continue
            column = node.get("column_name")
            if column:
                column_tests.setdefault((attached, column), []).append(_describe_test(node))
            else:
                model_tests.setdefault(attached, []).append(_describe_test(node))
        models = {}
        for unique_id, node in nodes.items():
            if node.get("resource_type") != "model":
                continue
            meta = (node.get("config") or {}).get("meta") or node.get("meta") or {}
            columns = {
                name: ColumnDoc(
                    name=name,
                    type=str(col.get("data_type") or ""),
                    description=" ".join(str(col.get("description") or "").split()),
                    tests=tuple(sorted(column_tests.get((unique_id, name), []))),
                )
                for name, col in (node.get("columns") or {}).items()
            }
            fqn = node.get("fqn") or []
            models[node["name"]] = ModelDoc(
                name=node["name"],
                schema=str(node.get("schema") or ""),
                description=" ".join(str(node.get("description") or "").split()),
                grain=str(meta.get("grain") or ""),
                time_column=meta.get("time_column"),
                unique_key=tuple(meta.get("unique_key") or ()),
                columns=columns,
                tests=tuple(sorted(model_tests.get(unique_id, []))),
                folder="/".join(fqn[1:-1]),
            )
        return models


_LIVE_COLUMNS_SQL = """
SELECT c.table_name, c.column_name, c.data_type, c.ordinal_position,
       greatest(cl.reltuples, 0)::bigint AS row_estimate
FROM information_schema.columns c
JOIN pg_class cl ON cl.relname = c.table_name
JOIN pg_namespace n ON n.oid = cl.relnamespace AND n.nspname = c.table_schema
WHERE c.table_schema = $1
ORDER BY c.table_name, c.ordinal_position
"""


async def load_marts(
    db: asyncpg.Pool | asyncpg.Connection, manifest: Manifest, *, timeout: float | None = None
) -> dict[str, Mart]:
    """Marts that exist in the warehouse now, documented from the manifest when it knows them."""
    docs = manifest.models()
    rows = await db.fetch(_LIVE_COLUMNS_SQL, MART_SCHEMA, timeout=timeout)
    tables: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        tables.setdefault(row["table_name"], []).append(row)
    marts = {}
    for name, columns in tables.items():
        doc = docs.get(name)
        marts[name] = Mart(
            name=name,
            description=doc.description if doc else "",
            grain=doc.grain if doc else "",
            time_column=doc.time_column if doc else None,
            unique_key=doc.unique_key if doc else (),
            columns=tuple(
                ColumnDoc(
                    name=row["column_name"],
                    type=row["data_type"],
                    description=(
                        doc.columns[row["column_name"]].description
                        if doc and row["column_name"] in doc.columns
                        else ""
                    ),
                    tests=(
                        doc.columns[row["column_name"]].tests
                        if doc and row["column_name"] in doc.columns
                        else ()
                    ),
                )
                for row in columns
            ),
            row_estimate=int(columns[0]["row_estimate"]),
        )
    return marts
