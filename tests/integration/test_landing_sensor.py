"""The landing folder through Dagster, in-process: a sensor tick requests one run per file
(customers first), the run imports it and files it away with a report, a refused file goes
to failed/, and a successful import asks for a mart refresh."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from orchestration.definitions import build_definitions
from orchestration.defs.imports.jobs import import_landed_file_job
from orchestration.defs.imports.sensors import build_landing_sensor
from orchestration.resources import WarehouseResource
from tests.import_fixtures import write_binary_junk, write_csv
from tests.integration.test_import_cli import CUSTOMER_HEADER, EVENT_HEADER, cid, scalar

pytestmark = pytest.mark.integration


def tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance) -> list[dg.RunRequest]:
    with dg.build_sensor_context(instance=instance) as context:
        result = sensor.evaluate_tick(context)
    return list(result.run_requests or [])


def run(request: dg.RunRequest, url: str, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return import_landed_file_job.execute_in_process(
        run_config=request.run_config,
        resources={"warehouse": WarehouseResource(database_url=url)},
        instance=instance,
        raise_on_error=False,
        tags=request.tags,
    )


def test_landed_files_are_imported_and_filed_away(empty_database_url: str, tmp_path: Path) -> None:
    url = empty_database_url
    landing = tmp_path / "landing"
    sensor = build_landing_sensor(landing_dir=landing, settle_seconds=0)
    instance = dg.DagsterInstance.ephemeral()

    assert tick(sensor, instance) == []
    assert sorted(p.name for p in landing.iterdir()) == ["customers", "network_events", "revenue"]

    customers = write_csv(
        landing / "customers" / "crm.csv",
        CUSTOMER_HEADER,
        [
            [cid(1), "2025-01-15", "34", "Male", "North", "Basic", "false", ""],
            [cid(2), "2025-02-01", "200", "Female", "East", "Premium", "false", ""],
        ],
    )
    events = write_csv(
        landing / "network_events" / "cdr.csv",
        EVENT_HEADER,
        [[cid(1), "2026-05-01 10:00:00", "call", "3.5", "120", "0"]],
    )
    write_binary_junk(landing / "revenue" / "bills.csv")
    (landing / "revenue" / "upload.csv.part").write_text("half a file")

    # Events and bills wait while a customers file is pending.
    requests = tick(sensor, instance)
    assert [r.tags["telcopulse/file"] for r in requests] == ["crm.csv"]
    result = run(requests[0], url, instance)
    assert result.success
    assert not customers.exists()
    processed = landing / "customers" / "processed"
    assert (processed / "crm.csv").exists()
    report = (processed / "crm.csv.report.txt").read_text()
    assert "loaded: 1" in report and "rejected: 1" in report and "age:range x1" in report
    materialization = result.asset_materializations_for_node("import_landed_file")[0]
    assert materialization.asset_key == dg.AssetKey(["raw", "customers"])
    assert materialization.metadata["rows_loaded"].value == 1
    assert materialization.metadata["rows_rejected"].value == 1

    requests = tick(sensor, instance)
    assert sorted(r.tags["telcopulse/file"] for r in requests) == ["bills.csv", "cdr.csv"]
    outcomes = {r.tags["telcopulse/file"]: run(r, url, instance) for r in requests}
    assert outcomes["cdr.csv"].success
    assert not events.exists() and (landing / "network_events" / "processed" / "cdr.csv").exists()
    assert scalar(url, "SELECT count(*) FROM raw.network_events") == 1

    assert not outcomes["bills.csv"].success
    failed = landing / "revenue" / "failed"
    assert (failed / "bills.csv").exists()
    assert "not a text file" in (failed / "bills.csv.report.txt").read_text()
    assert (landing / "revenue" / "upload.csv.part").exists()  # an in-progress copy is left alone

    # The same content dropped again: imported once, filed as already imported.
    write_csv(
        landing / "network_events" / "cdr_again.csv",
        EVENT_HEADER,
        [[cid(1), "2026-05-01 10:00:00", "call", "3.5", "120", "0"]],
    )
    (request,) = tick(sensor, instance)
    assert run(request, url, instance).success
    assert (
        "status: already_imported"
        in (landing / "network_events" / "processed" / "cdr_again.csv.report.txt").read_text()
    )
    assert scalar(url, "SELECT count(*) FROM raw.network_events") == 1


def test_a_successful_import_requests_a_mart_refresh(empty_database_url: str, tmp_path: Path) -> None:
    url = empty_database_url
    defs = build_definitions(WarehouseResource(database_url=url))
    sensor = defs.get_sensor_def("refresh_after_import")
    instance = dg.DagsterInstance.ephemeral()
    landing = tmp_path / "landing"
    (landing / "customers").mkdir(parents=True)
    write_csv(
        landing / "customers" / "crm.csv",
        CUSTOMER_HEADER,
        [[cid(1), "2025-01-15", "34", "Male", "North", "Basic", "false", ""]],
    )
    (request,) = tick(build_landing_sensor(landing_dir=landing, settle_seconds=0), instance)
    result = run(request, url, instance)
    assert result.success
    success_event = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_SUCCESS)
    context = dg.build_run_status_sensor_context(
        sensor_name="refresh_after_import",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=success_event,
    )
    asked = sensor(context)
    assert isinstance(asked, dg.RunRequest)
    assert asked.run_key == f"after-import-{result.run_id}"
    assert sensor.targets[0].job_name == "refresh_marts"
