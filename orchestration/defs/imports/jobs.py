"""One run per landed file: import it into raw.<table>, file it away with a report.

An op job rather than an asset: the file is the unit of work (one run, its own logs and
outcome per file), while the assets it changes are the existing `raw/<table>` ones, which
the op reports as materializations with the import's counts, so lineage and the raw
asset's history in the UI show every import next to the generator's loads.
"""

from pathlib import Path

import dagster as dg

from orchestration.defs.quality.evaluate import import_batch_gate
from orchestration.resources import WarehouseResource
from warehouse.importing.landing import FAILED, PROCESSED, file_away
from warehouse.importing.loader import ImportRefused, ImportReport, import_file, reject_summary
from warehouse.importing.mapping import MappingError

IMPORT_JOB = "import_file"


class ImportFileConfig(dg.Config):
    """The landed file and its table; `mapping` is an optional YAML mapping file."""

    path: str
    table: str
    mapping: str | None = None


def _report_text(report: ImportReport, rules: list[tuple[str, int]]) -> str:
    lines = [
        f"file: {Path(report.source_file).name}",
        f"table: raw.{report.table}",
        f"status: {report.status}",
        f"import id: {report.import_id}",
        f"records read: {report.rows_read}",
        f"loaded: {report.rows_loaded}",
        f"rejected: {report.rows_rejected}",
        f"duplicates skipped: {report.rows_duplicate}",
        f"updated: {report.rows_updated}",
    ]
    if rules:
        lines.append("rejected because: " + ", ".join(f"{rule} x{n}" for rule, n in rules))
        lines.append(f"details: telcopulse imports --rejects {report.import_id}")
    return "\n".join(lines)


@dg.op(
    description="Import one landed file into raw.<table> (one transaction), then move it to "
    "processed/ or failed/ with a report."
)
def import_landed_file(
    context: dg.OpExecutionContext, config: ImportFileConfig, warehouse: WarehouseResource
) -> None:
    path = Path(config.path)
    url = warehouse.url()
    try:
        report = import_file(
            url,
            path,
            config.table,
            mapping_path=Path(config.mapping) if config.mapping else None,
            gate=import_batch_gate,
        )
    except (ImportRefused, MappingError) as error:
        if path.exists():
            moved = file_away(path, FAILED, f"file: {path.name}\ntable: raw.{config.table}\nrefused: {error}")
            context.log.error("refused %s: %s (moved to %s)", path.name, error, moved)
        raise dg.Failure(description=f"{path.name} was refused: {error}. Nothing was written.") from None
    rules = reject_summary(url, report.import_id) if report.rows_rejected and report.import_id else []
    moved = file_away(path, PROCESSED, _report_text(report, rules))
    context.log.info("%s: %s (moved to %s)", path.name, report.status, moved)
    metadata: dict[str, dg.RawMetadataValue] = {
        "file": path.name,
        "import_id": str(report.import_id),
        "status": report.status,
        "records_read": dg.MetadataValue.int(report.rows_read),
        "rows_loaded": dg.MetadataValue.int(report.rows_loaded),
        "rows_rejected": dg.MetadataValue.int(report.rows_rejected),
        "rows_duplicate": dg.MetadataValue.int(report.rows_duplicate),
        "rows_updated": dg.MetadataValue.int(report.rows_updated),
        "report": dg.MetadataValue.path(str(moved) + ".report.txt"),
    }
    if rules:
        metadata["reject_rules"] = dg.MetadataValue.md(
            "| rule | records |\n|---|---:|\n" + "\n".join(f"| {r} | {n} |" for r, n in rules)
        )
    if report.status == "loaded":
        context.log_event(dg.AssetMaterialization(asset_key=["raw", config.table], metadata=metadata))
    else:
        context.log_event(dg.AssetObservation(asset_key=["raw", config.table], metadata=metadata))


@dg.job(
    name=IMPORT_JOB, description="Import one file from the landing folder (started by the landing sensor)."
)
def import_landed_file_job() -> None:
    import_landed_file()
