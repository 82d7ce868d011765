"""The dbt exposures of the analyses, written from their specs so lineage cannot drift from them.

dbt docs show what each analysis reads through the `analysis_<name>` exposures. Those are facts
of the analyses' specs (`warehouse.analysis_inputs.marts_read`), so the file is generated and
committed (dbt reads it from a plain checkout): `make exposures` rewrites it, and a test fails,
naming that command, when the committed file is not what the specs say. Nothing rewrites it at
run time: a running service never edits its own source tree.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from analyses.registry import ANALYSES
from warehouse.analysis_inputs import marts_read
from warehouse.settings import DBT_PROJECT_DIR

ANALYSIS_EXPOSURES = Path("models") / "analysis_exposures.yml"

_HEADER = """\
version: 2

# Generated from the analyses' specs (the SPEC of each module in analyses/) by `make exposures`
# (orchestration/defs/dbt/exposures.py): do not edit.
# One exposure per analysis, depending on the marts its standard inputs read.
exposures:
"""


def analysis_exposures_yaml() -> str:
    blocks = []
    for name, spec in ANALYSES.items():
        description = (
            f"{spec.title}. {spec.description} Computed after every mart build (Dagster asset "
            f"analyses/{name}) and on demand by the MCP server."
        )
        refs = "".join(f"      - ref('{mart}')\n" for mart in marts_read(name))
        blocks.append(
            f"  - name: analysis_{name}\n"
            f"    label: {name} analysis\n"
            "    type: analysis\n"
            "    maturity: medium\n"
            "    description: >\n"
            f"{textwrap.fill(description, width=100, initial_indent=' ' * 6, subsequent_indent=' ' * 6)}\n"
            "    owner:\n"
            "      name: data-team\n"
            "      email: data-team@example.com\n"
            "    depends_on:\n"
            f"{refs}"
        )
    return _HEADER + "\n".join(blocks)


def write_analysis_exposures(project_dir: Path = DBT_PROJECT_DIR) -> bool:
    """Rewrite the file when the specs say something else; True when it was written."""
    path = project_dir / ANALYSIS_EXPOSURES
    wanted = analysis_exposures_yaml()
    if path.exists() and path.read_text() == wanted:
        return False
    path.write_text(wanted)
    return True


if __name__ == "__main__":
    written = write_analysis_exposures()
    print(f"{DBT_PROJECT_DIR / ANALYSIS_EXPOSURES}: {'updated' if written else 'already current'}")
