"""Materialize every asset in dependency order, with its checks: the one-line refresh.

Runs in-process (no multiprocess start-up cost) against the Dagster instance in
DAGSTER_HOME when set, so the run shows up in the UI, else an ephemeral one. The daemon's
run-status sensors never see an in-process run, so its outcome is recorded in
ops.pipeline_runs here (for /metrics); a failure to record it is logged, never the refresh's.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from orchestration.definitions import build_definitions
from orchestration.defs.monitoring.runs import observed_run
from orchestration.resources import WarehouseResource
from warehouse.pipeline_runs import record_pipeline_run

logger = logging.getLogger(__name__)


@dataclass
class RefreshReport:
    success: bool
    run_id: str
    materialized: list[str] = field(default_factory=list)
    checks_passed: list[str] = field(default_factory=list)
    checks_failed: list[str] = field(default_factory=list)
    checks_warned: list[str] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)
    # "asset:check" → the check's description, for failed and warned checks: the quality
    # gate puts one line per failed expectation there (table.column, expectation, why).
    check_descriptions: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.success and not self.checks_failed

    def details(self, check: str) -> list[str]:
        """The description lines of a failed or warned check (empty when it gave none)."""
        text = self.check_descriptions.get(check, "")
        return [line for line in text.splitlines() if line.strip()]


def refresh_all(
    defs: dg.Definitions | None = None,
    *,
    instance: dg.DagsterInstance | None = None,
    run_config: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> RefreshReport:
    """`run_id` chosen by the caller lets it follow the run's events while it executes."""
    defs = defs or build_definitions()
    job = defs.resolve_implicit_global_asset_job_def()
    with contextlib.ExitStack() as stack:
        if instance is None:  # ours rather than execute_in_process's: its run stats must outlive the run
            instance = stack.enter_context(dg.DagsterInstance.ephemeral())
        result = job.execute_in_process(
            instance=instance, raise_on_error=False, run_config=run_config, run_id=run_id
        )
        _record_run(defs, instance, result)
    report = RefreshReport(success=result.success, run_id=result.run_id)
    report.materialized = sorted(
        event.asset_key.to_user_string()
        for event in result.all_events
        if event.is_step_materialization and event.asset_key is not None
    )
    for evaluation in result.get_asset_check_evaluations():
        name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        if evaluation.passed:
            report.checks_passed.append(name)
            continue
        if evaluation.severity == dg.AssetCheckSeverity.WARN:
            report.checks_warned.append(name)
        else:
            report.checks_failed.append(name)
        if evaluation.description:
            report.check_descriptions[name] = evaluation.description
    report.failed_steps = sorted(e.step_key or "?" for e in result.all_events if e.is_step_failure)
    return report


def _record_run(
    defs: dg.Definitions, instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult
) -> None:
    """Keep the run in ops.pipeline_runs; a warning at worst, since the data work is already done."""
    warehouse = (defs.resources or {}).get("warehouse")
    if not isinstance(warehouse, WarehouseResource):
        logger.warning("run %s not recorded in ops.pipeline_runs: no warehouse resource", result.run_id)
        return
    try:
        run = observed_run(instance, result.dagster_run, "success" if result.success else "failure")
        record_pipeline_run(warehouse.url(), run)
    except Exception as exc:  # PostgreSQL down, migration 0011 not applied, no DATABASE_URL...
        logger.warning(
            "run %s not recorded in ops.pipeline_runs (%s: %s)", result.run_id, type(exc).__name__, exc
        )
