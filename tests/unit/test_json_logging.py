"""JSON log lines: parseable, masked, allow-listed extras only; configure_logging hygiene."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from mcp_server.observability.logging import JsonFormatter, PiiFilter, _StderrHandler, configure_logging

FERNET = "gAAAAABn" + "Q3x9_-aZ" * 10 + "=="
API_KEY = "tp_0123456789ab_Zk3-q_9sLmN0pQrStUvWxYz0123456789AbCdEfGhIj"
UUID = "3f2a9c1e-1234-4abc-8def-0123456789ab"


@pytest.fixture()
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("telcopulse.test_json_logging")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture()
def clean_root() -> Iterator[None]:
    """Undo configure_logging: the root logger is process-wide."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in ("mcp", "uvicorn.access", "httpx", "httpcore")}
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(level)
        for name, old in noisy.items():
            logging.getLogger(name).setLevel(old)


def test_one_parseable_json_object_per_line(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("first\nline with a newline")
    logger.warning("second %s", "arg")
    records = lines(stream)
    assert len(stream.getvalue().splitlines()) == 2
    assert records[0]["msg"] == "first\nline with a newline"
    assert records[1] == {
        "ts": records[1]["ts"],
        "level": "WARNING",
        "logger": "telcopulse.test_json_logging",
        "msg": "second arg",
    }
    assert records[1]["ts"].endswith("+00:00")


def test_message_is_masked(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("user %s session %s key %s value %s", "jane.doe@example.com", UUID, API_KEY, FERNET)
    (record,) = lines(stream)
    assert record["msg"] == "user j***@example.com session 3f2a9c1e… key tp_0123456789ab_*** value <fernet>"
    raw = stream.getvalue()
    for secret in ("jane.doe", UUID, API_KEY, FERNET):
        assert secret not in raw


def test_allowed_extras_kept_unknown_dropped(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info(
        "tool done",
        extra={
            "tool": "query_database",
            "key_id": "0123456789ab",
            "role": "analyst",
            "user": "jane@example.com",
            "session_id": "3f2a9c1e12344abc8def0123456789ab",
            "duration_ms": 12.5,
            "outcome": "ok",
            "rows": 42,
            "query_shape": "SELECT a FROM t WHERE b = ?",
            "request_id": "req-1",
            "incident": None,
            # not on the allow-list: must not appear
            "params": {"customer_id": 4242, "email": "jane@example.com"},
            "sql": "SELECT * FROM t WHERE email = 'jane@example.com'",
            "password": "hunter2",
        },
    )
    (record,) = lines(stream)
    assert record["tool"] == "query_database"
    assert record["key_id"] == "0123456789ab"
    assert record["role"] == "analyst"
    assert record["user"] == "j***@example.com"
    assert record["session_id"] == "3f2a9c1e…"
    assert record["duration_ms"] == 12.5
    assert record["rows"] == 42
    assert record["outcome"] == "ok"
    assert record["query_shape"] == "SELECT a FROM t WHERE b = ?"
    assert record["request_id"] == "req-1"
    assert record["incident"] is None
    for dropped in ("params", "sql", "password"):
        assert dropped not in record
    assert "4242" not in stream.getvalue() and "hunter2" not in stream.getvalue()


def test_error_extra_is_masked(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.warning("failed", extra={"error": f"bad key {API_KEY} for bob@example.org"})
    (record,) = lines(stream)
    assert record["error"] == "bad key tp_0123456789ab_*** for b***@example.org"


def _raise_with_pii() -> None:
    email = "secret.person@example.com"
    raise ValueError(f"no customer with email {email}")


def test_traceback_only_at_error_and_masked(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        _raise_with_pii()
    except ValueError:
        logger.warning("anticipated", exc_info=True)
        logger.error("unexpected", exc_info=True)
    warning, error = lines(stream)
    assert warning["exc_type"] == "ValueError"
    assert "traceback" not in warning
    assert error["exc_type"] == "ValueError"
    assert "_raise_with_pii" in error["traceback"]
    assert "s***@example.com" in error["traceback"]
    assert "secret.person" not in stream.getvalue()


def test_traceback_is_truncated(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise RuntimeError("x" * 20_000)
    except RuntimeError:
        logger.exception("boom")
    (record,) = lines(stream)
    assert len(record["traceback"]) <= 4001
    assert record["traceback"].startswith("…")


def test_pii_filter_masks_text_format_and_args() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PiiFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("telcopulse.test_pii_filter")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("login %s from %s", "jane@example.com", "+44 7911 123456")
        try:
            _raise_with_pii()
        except ValueError:
            logger.exception("lookup failed for key %s", API_KEY)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    text = stream.getvalue()
    assert "WARNING login j***@example.com from <phone>" in text
    assert "tp_0123456789ab_***" in text
    assert "s***@example.com" in text  # the traceback, too
    for secret in ("jane@", "7911 123456", API_KEY, "secret.person"):
        assert secret not in text


def test_configure_logging_is_idempotent_and_uses_stderr(
    capsys: pytest.CaptureFixture[str], clean_root: None
) -> None:
    configure_logging("json", "INFO")
    configure_logging("json", "INFO")
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, _StderrHandler)]
    assert len(ours) == 1
    assert any(isinstance(f, PiiFilter) for f in ours[0].filters)

    logging.getLogger("telcopulse.some.module").info("hello %s", "jane@example.com", extra={"tool": "t"})
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout is the MCP stdio channel
    (line,) = [json.loads(x) for x in captured.err.splitlines() if x.startswith("{")]
    assert line["msg"] == "hello j***@example.com"
    assert line["tool"] == "t"
    assert line["logger"] == "telcopulse.some.module"


def test_configure_logging_text_format_and_reconfigure(
    capsys: pytest.CaptureFixture[str], clean_root: None
) -> None:
    configure_logging("json", "INFO")
    configure_logging("text", "DEBUG")  # replaces, does not add
    root = logging.getLogger()
    assert len([h for h in root.handlers if isinstance(h, _StderrHandler)]) == 1
    assert root.level == logging.DEBUG
    logging.getLogger("telcopulse.x").debug("mail %s", "bob@example.org")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "DEBUG telcopulse.x: mail b***@example.org" in captured.err


def test_configure_logging_quiets_noisy_libraries_and_drops_stdout_handlers(clean_root: None) -> None:
    root = logging.getLogger()
    stray = logging.StreamHandler(sys.stdout)
    root.addHandler(stray)
    configure_logging("json", "DEBUG")
    assert stray not in root.handlers
    for name in ("mcp", "uvicorn.access", "httpx"):
        assert logging.getLogger(name).level == logging.WARNING
    configure_logging("json", "ERROR")
    assert logging.getLogger("mcp").level == logging.ERROR


def test_configure_logging_rejects_unknown_level(clean_root: None) -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("json", "LOUD")


def test_background_logging_writes_the_same_lines_from_a_thread(
    capsys: pytest.CaptureFixture[str], clean_root: None
) -> None:
    """The HTTP server's mode: same masking, extras and traceback rules, written by a thread."""
    from mcp_server.observability import logging as tp_logging

    configure_logging("json", "INFO", background=True)
    configure_logging("json", "INFO", background=True)  # reconfiguring stops the old writer
    root = logging.getLogger()
    assert len([h for h in root.handlers if isinstance(h, tp_logging._BackgroundHandler)]) == 1
    assert not [h for h in root.handlers if isinstance(h, _StderrHandler)]
    logger = logging.getLogger("telcopulse.bg")
    logger.info("hello %s", "jane@example.com", extra={"tool": "t", "params": {"x": 1}})
    try:
        raise RuntimeError(f"failed for {API_KEY}")
    except RuntimeError:
        logger.exception("boom")
    tp_logging._stop_listener()  # what exit does: everything queued is written
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    assert [line["msg"] for line in lines] == ["hello j***@example.com", "boom"]
    assert lines[0]["tool"] == "t" and "params" not in lines[0]
    assert lines[1]["exc_type"] == "RuntimeError"
    assert "RuntimeError" in lines[1]["traceback"] and API_KEY not in lines[1]["traceback"]
