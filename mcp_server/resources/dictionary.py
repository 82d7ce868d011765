"""`docs://data_dictionary`: the dbt docs, as markdown an agent can read in one go."""

from __future__ import annotations

import json
from pathlib import Path

from mcp_server.catalog import Manifest

_LAYERS = [("marts", "Marts (curated; start here)"), ("intermediate", "Intermediate"), ("staging", "Staging")]


def business_rules(manifest_path: Path) -> list[tuple[str, str]]:
    with manifest_path.open() as handle:
        docs = json.load(handle).get("docs", {})
    rules = []
    for doc in docs.values():
        if doc.get("package_name") == "dbt" or doc.get("name") == "__overview__":
            continue
        rules.append((doc["name"], " ".join(str(doc.get("block_contents", "")).split())))
    return sorted(rules)


def render_dictionary(manifest: Manifest) -> str | None:
    models = manifest.models()
    if not models:
        return None
    lines = [
        "# Data dictionary",
        "",
        "Generated from the dbt manifest of the last build: the same descriptions and tests as dbt docs.",
    ]
    for schema, title in _LAYERS:
        members = sorted((m for m in models.values() if m.schema == schema), key=lambda m: m.name)
        if not members:
            continue
        lines += ["", f"## {title}"]
        for model in members:
            lines += ["", f"### `{model.schema}.{model.name}`"]
            if model.grain:
                lines.append(f"Grain: {model.grain}.")
            lines += ["", model.description or "(no description)"]
            if model.tests:
                lines += ["", "Model tests: " + "; ".join(model.tests)]
            lines += ["", "| column | type | description | tests |", "|---|---|---|---|"]
            for column in model.columns.values():
                description = column.description.replace("|", "\\|")
                tests = "; ".join(column.tests).replace("|", "/")
                lines.append(f"| {column.name} | {column.type} | {description} | {tests} |")
    rules = business_rules(manifest.path)
    if rules:
        lines += ["", "## Business rules and shared definitions"]
        lines += [f"- **{name}**: {text}" for name, text in rules]
    return "\n".join(lines) + "\n"
