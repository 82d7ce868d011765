"""The quality gate: one blocking Great Expectations check per raw table, before the marts.

Each check computes the table's daily profiles in SQL, runs its suite, keeps every
verdict in ops.quality_results and reports to Dagster. A failed error-severity
expectation fails the check with severity ERROR; because the check is blocking, Dagster
then skips every asset downstream of the raw table: no dbt model runs, so no
ops.data_builds row is written, and the MCP server's data version and caches stay as
they were. Warn-severity failures (stale data, a quiet billing day) show as warnings and
block nothing.
"""

import dagster as dg

from orchestration.defs.quality.evaluate import evaluate_table, result_rows
from orchestration.defs.quality.resources import QualityResource
from orchestration.resources import WarehouseResource
from quality import SuiteResult
from warehouse.db import connect
from warehouse.migrate import migrate
from warehouse.quality_store import quality_results_table_exists, record_quality_results
from warehouse.raw_schema import RAW_TABLE_NAMES

CHECK_NAME = "quality_gate"


def check_result(result: SuiteResult) -> dg.AssetCheckResult:
    """The suite's verdict as Dagster shows it: the failed expectations table first."""
    lines = [result.summary(), *result.failure_lines()]
    metadata: dict[str, object] = {
        "failed_expectations": dg.MetadataValue.md(result.failures_markdown()),
        "expectations": dg.MetadataValue.int(len(result.outcomes)),
        "failed_errors": dg.MetadataValue.int(len(result.errors)),
        "failed_warnings": dg.MetadataValue.int(len(result.warnings)),
        "window": dg.MetadataValue.json(result.window),
        "outcomes": dg.MetadataValue.json([o.as_dict() for o in result.outcomes]),
        "seconds": dg.MetadataValue.float(round(result.seconds, 3)),
    }
    notes = [f"{o.name} ({o.column or result.table}): {o.note}" for o in result.outcomes if o.note]
    if notes or result.notes:
        metadata["notes"] = dg.MetadataValue.md("\n".join(f"- {n}" for n in [*result.notes, *notes]))
    if result.docs_page:
        metadata["data_docs"] = dg.MetadataValue.url(result.docs_page)
    return dg.AssetCheckResult(
        passed=not result.failed,
        severity=dg.AssetCheckSeverity.ERROR if result.errors else dg.AssetCheckSeverity.WARN,
        description="\n".join(lines),
        metadata=metadata,
    )


def _ensure_results_table(url: str) -> None:
    """A job without the raw asset (refresh_marts) may meet a warehouse migrated before 0010."""
    with connect(url) as conn:
        present = quality_results_table_exists(conn)
    if not present:
        migrate(url)


def _quality_check(table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(["raw", table]),
        name=CHECK_NAME,
        blocking=True,
        description=(
            f"Great Expectations suite on raw.{table}: volume, nulls, value sets, plausible ranges, "
            "distribution against the previous 28 days, duplicates, freshness, referential integrity. "
            "An error-severity failure blocks the marts."
        ),
    )
    def _check(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, quality: QualityResource
    ) -> dg.AssetCheckResult:
        url = warehouse.url()
        _ensure_results_table(url)
        with connect(url) as conn:
            result = evaluate_table(
                conn,
                table,
                as_of=quality.reference_day(),
                docs=quality.docs_target(),
                run_name=context.run.run_id,
            )
        record_quality_results(url, result_rows(result), run_id=context.run.run_id)
        context.log.info("%s in %.2fs", result.summary(), result.seconds)
        for line in result.failure_lines():
            (context.log.error if line.startswith("ERROR") else context.log.warning)(line)
        return check_result(result)

    return _check


def build_quality_checks() -> list[dg.AssetChecksDefinition]:
    return [_quality_check(table) for table in RAW_TABLE_NAMES]
