"""Analyses in a worker thread stop at their next step when the caller gives up (issue 13)."""

from __future__ import annotations

import asyncio
import threading

import pandas as pd
import pytest

import analyses.churn
from analyses import run_analysis
from analyses.steps import AnalysisStopped, checkpoint, stoppable


def customers(segments: int = 40) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_type": [f"plan-{i % segments}" for i in range(2000)],
            "location": [f"city-{i % 7}" for i in range(2000)],
            "is_churned": [i % 5 == 0 for i in range(2000)],
        }
    )


def test_checkpoint_is_a_no_op_unless_asked_to_stop() -> None:
    checkpoint()  # no caller context
    stop = threading.Event()
    with stoppable(stop):
        checkpoint()
        stop.set()
        with pytest.raises(AnalysisStopped):
            checkpoint()
    checkpoint()  # the context ends with the block


def test_a_stopped_analysis_does_no_work() -> None:
    stop = threading.Event()
    stop.set()
    with stoppable(stop), pytest.raises(AnalysisStopped):
        run_analysis("churn_rate", {"customers": customers()}, {"segment_by": ["account_type"]})


def test_a_running_analysis_stops_at_its_next_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cancel the awaiting task while the thread works: the thread ends at the next segment."""
    steps: list[str] = []
    started = threading.Event()
    real = analyses.churn._rates_by

    def slow_rates(labels, churned, confidence):  # one step per segment column
        steps.append(str(labels.name))
        started.set()
        threading.Event().wait(0.2)
        return real(labels, churned, confidence)

    monkeypatch.setattr(analyses.churn, "_rates_by", slow_rates)
    outcome: list[BaseException] = []

    def work() -> None:
        try:
            run_analysis(
                "churn_rate", {"customers": customers()}, {"segment_by": ["account_type", "location"]}
            )
        except BaseException as exc:
            outcome.append(exc)

    async def scenario() -> None:
        stop = threading.Event()
        with stoppable(stop):
            task = asyncio.ensure_future(asyncio.to_thread(work))
        await asyncio.to_thread(started.wait, 5)
        task.cancel()  # what the MCP layer does when the client leaves: it stops waiting...
        stop.set()  # ...and tells the thread
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    for _ in range(50):  # the thread finishes its current step, then stops
        if outcome:
            break
        threading.Event().wait(0.05)
    assert outcome and isinstance(outcome[0], AnalysisStopped)
    assert len(steps) == 1  # the second segment column never started


def test_the_mcp_runner_stops_its_analysis_thread_when_its_call_is_cancelled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mcp_server import analysis_runner

    ran: list[int] = []
    ended: list[BaseException | None] = []
    first = threading.Event()

    def long_analysis(analysis_type, frames, parameters):  # 100 steps of 50 ms
        try:
            for step in range(100):
                checkpoint()
                ran.append(step)
                first.set()
                threading.Event().wait(0.05)
        except BaseException as exc:
            ended.append(exc)
            raise
        ended.append(None)

    monkeypatch.setattr(analysis_runner, "run_analysis", long_analysis)

    async def scenario() -> None:
        call = asyncio.ensure_future(analysis_runner._computed("churn_rate", {}, {}))
        await asyncio.to_thread(first.wait, 5)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call

    asyncio.run(scenario())  # asyncio.run waits for the default executor's threads
    assert ended and isinstance(ended[0], AnalysisStopped)
    assert len(ran) < 10
