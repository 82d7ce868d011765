"""Materialize every asset in dependency order, with its checks: the one-line refresh.

Runs in-process (no multiprocess start-up cost) against the Dagster instance in
DAGSTER_HOME when set, so the run shows up in the UI, else an ephemeral one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from orchestration.definitions import build_definitions


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
    result = job.execute_in_process(
        instance=instance, raise_on_error=False, run_config=run_config, run_id=run_id
    )
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
