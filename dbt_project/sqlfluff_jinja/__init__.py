"""dbt context for sqlfluff's jinja templater (``library_path`` in dbt_project/.sqlfluff).

sqlfluff lints the models without dbt (no profile, no database): ``apply_dbt_builtins`` mocks
``ref()``, ``source()``, ``config()``, ``is_incremental()`` and ``this``, but its ``var()`` returns a
placeholder string and dbt's ``modules`` is missing. Every public name here becomes a template global
instead: ``var()`` answers with the defaults in dbt_project.yml, so the models render as dbt renders them.
Not used by dbt itself.
"""

import datetime as _datetime
import re as _re
import types as _types
from pathlib import Path as _Path
from typing import Any as _Any

import yaml as _yaml

_PROJECT = _yaml.safe_load((_Path(__file__).resolve().parent.parent / "dbt_project.yml").read_text())
_VARS: dict[str, _Any] = _PROJECT.get("vars") or {}

modules = _types.SimpleNamespace(datetime=_datetime, re=_re)


def var(name: str, default: _Any = None) -> _Any:
    """dbt's ``var()``: the project's default for ``name``, else ``default``."""
    return _VARS.get(name, default)
