"""Great Expectations, the evaluator: planned expectations in, verdicts (and Data Docs) out.

Imported lazily by `quality.suites.run_suite`: `import great_expectations` costs ~6 s, which
must never be paid by a process that does not run a suite (the MCP server, a Dagster code
location loading its definitions).

Two modes:
* no docs (the default): an ephemeral context, in memory, nothing written anywhere;
* `DataDocs(project_dir, site_dir)`: a file-backed context whose stores live in
  `project_dir`, validated through a Checkpoint with `UpdateDataDocsAction`, so the run also
  renders a static site in `site_dir` (expectations, and every validation with its
  observed values). Old validations are pruned to `keep_runs` per suite.
"""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import great_expectations as gx
import pandas as pd
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

if TYPE_CHECKING:
    from quality.suites import Plan, Planned

DATASOURCE = "telcopulse_profiles"
SITE = "telcopulse_quality"


@dataclass(frozen=True)
class DataDocs:
    """Where a file-backed GX project keeps its stores, and where the static site goes."""

    project_dir: Path
    site_dir: Path
    keep_runs: int = 30


@dataclass(frozen=True)
class Verdict:
    success: bool
    unexpected_positions: list[int] = field(default_factory=list)
    error: str | None = None


def validate(
    suite_name: str, plan: Plan, *, docs: DataDocs | None = None, run_name: str | None = None
) -> tuple[dict[str, Verdict], str | None]:
    """Evaluate the plan's expectations; return verdicts by planned key and the Data Docs page."""
    frames = {"daily": plan.daily, "summary": plan.summary}
    verdicts: dict[str, Verdict] = {}
    page: str | None = None
    context = _context(docs)
    for frame_name, frame in frames.items():
        planned = [p for p in plan.expectations if p.frame == frame_name and p.evaluate]
        if not planned:
            continue
        data = _gx_frame(frame)
        suite = gx.ExpectationSuite(name=f"{suite_name}_{frame_name}")
        for p in planned:
            suite.add_expectation(_expectation(p))
        result = None
        if docs is not None:
            try:
                result, page_here = _validate_with_docs(context, docs, suite, data, run_name)
                page = page or page_here
            except Exception as error:  # docs are a by-product: never let them break the gate
                warnings.warn(f"Great Expectations Data Docs not written: {error}", stacklevel=2)
                context = _context(None)
        if result is None:
            result = _validate_in_memory(context, f"{suite_name}_{frame_name}", data, suite)
        for r in result.results:
            key = r.expectation_config.meta.get("key")
            info = r.exception_info or {}
            raised = info.get("raised_exception") if isinstance(info, dict) else False
            verdicts[key] = Verdict(
                success=bool(r.success),
                unexpected_positions=[int(i) for i in (r.result or {}).get("unexpected_index_list") or []],
                error=str(info.get("exception_message")) if raised else None,
            )
    return verdicts, page


_memory_context: Any = None


def _context(docs: DataDocs | None) -> Any:
    global _memory_context
    if docs is None:
        # One in-memory context per process, reused: registering data assets re-serialises the
        # project config each time, a third of a small suite's run time.
        if _memory_context is None:
            # No temporary docs site either (the default ephemeral context makes one).
            config = DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False)
            )
            _memory_context = gx.get_context(mode="ephemeral", project_config=config)
            _memory_context.variables.progress_bars = ProgressBarsConfig(globally=False)
        return _memory_context
    else:
        docs.project_dir.mkdir(parents=True, exist_ok=True)
        context = gx.get_context(mode="file", project_root_dir=str(docs.project_dir))
        site = {
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs.site_dir.resolve()),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
        sites = context.list_data_docs_sites()
        if SITE not in sites:
            context.add_data_docs_site(SITE, site)
        elif (
            sites[SITE].get("store_backend", {}).get("base_directory")
            != site["store_backend"]["base_directory"]
        ):
            context.update_data_docs_site(SITE, site)  # the project or the site moved
    # Progress bars would interleave with the pipeline's log lines.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _gx_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Only scalar columns (GX profiles every column it is shown); the day as ISO text."""
    data = frame.reset_index(drop=True).copy()
    keep = [c for c in data.columns if c == "day" or pd.api.types.is_numeric_dtype(data[c])]
    data = data[keep]
    if "day" in data:
        data["day"] = data["day"].astype(str)
    return data


def _expectation(planned: Planned) -> Any:
    cls = getattr(gx.expectations, planned.gx_type)
    meta = {
        "key": planned.key,
        "name": planned.name,
        "severity": planned.severity,
        "column": planned.column,
        "expected": planned.expected,
    }
    return cls(**planned.gx_kwargs, meta=_json(meta), description=planned.description)


def _json(value: Any) -> Any:
    from quality.results import json_safe

    return json_safe(value)


def _validate_in_memory(context: Any, asset_name: str, data: pd.DataFrame, suite: Any) -> Any:
    try:
        source = context.data_sources.get(DATASOURCE)
    except KeyError:
        source = context.data_sources.add_pandas(DATASOURCE)
    try:
        batch_definition = source.get_asset(asset_name).get_batch_definition("whole")
    except LookupError:
        batch_definition = source.add_dataframe_asset(asset_name).add_batch_definition_whole_dataframe(
            "whole"
        )
    batch = batch_definition.get_batch(batch_parameters={"dataframe": data})
    return batch.validate(suite, result_format={"result_format": "COMPLETE"})


def _validate_with_docs(
    context: Any, docs: DataDocs, suite: Any, data: pd.DataFrame, run_name: str | None
) -> tuple[Any, str | None]:
    name = suite.name
    try:
        source = context.data_sources.get(DATASOURCE)
    except KeyError:
        source = context.data_sources.add_pandas(DATASOURCE)
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name)
    try:
        batch_definition = asset.get_batch_definition("whole")
    except KeyError:
        batch_definition = asset.add_batch_definition_whole_dataframe("whole")
    suite = context.suites.add_or_update(suite)
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
    )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=name,
            validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs", site_names=[SITE])],
            result_format={"result_format": "COMPLETE"},
        )
    )
    _prune(docs, name)
    run_id = gx.RunIdentifier(run_name=run_name) if run_name else None
    outcome = checkpoint.run(batch_parameters={"dataframe": data}, run_id=run_id)
    identifier, result = next(iter(outcome.run_results.items()))
    urls = context.get_docs_sites_urls(resource_identifier=identifier, site_name=SITE)
    page = urls[0].get("site_url") if urls else None
    return result, page


def _prune(docs: DataDocs, suite_name: str) -> None:
    """Keep the newest `keep_runs` validations of a suite (stored results and their pages)."""
    stored = docs.project_dir / "gx" / "uncommitted" / "validations" / suite_name
    if not stored.is_dir():
        return
    runs = sorted((p for p in stored.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in runs[: max(0, len(runs) - docs.keep_runs + 1)]:
        shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(docs.site_dir / "validations" / suite_name / old.name, ignore_errors=True)
