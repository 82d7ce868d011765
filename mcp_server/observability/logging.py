"""Log hygiene for the MCP server: JSON lines on stderr, PII masked, parameters never logged.

Why so strict: stdout is the MCP stdio channel (one stray line there corrupts the
protocol), logs are shipped to places with wider access than the warehouse, and tool
arguments routinely carry customer data. So every record goes to stderr, messages pass
through `mask_pii`, and the JSON format only emits `extra` fields on an allow-list: a
developer who writes `logger.info(..., extra={"params": params})` gets nothing logged
rather than a leak.
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import logging
import logging.handlers
import queue
import sys
import traceback
from typing import Any, Literal, TextIO

from mcp_server.observability.redact import mask_pii

__all__ = ["ALLOWED_EXTRAS", "JsonFormatter", "PiiFilter", "configure_logging"]

ALLOWED_EXTRAS: tuple[str, ...] = (
    "tool",
    "key_id",
    "role",
    "user",
    "session_id",
    "duration_ms",
    "outcome",
    "error",
    "rows",
    "query_shape",
    "request_id",
    "incident",
)
MAX_TRACEBACK_CHARS = 4000  # the tail: the raising frame and the exception are at the end
MAX_FIELD_CHARS = 2000
NOISY_LOGGERS: tuple[str, ...] = ("mcp", "uvicorn.access", "httpx", "httpcore")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def short_session_id(session_id: object) -> str:
    """First 8 chars + `…`: enough to correlate lines, not enough to reuse the session."""
    text = str(session_id)
    return text if len(text) <= 8 else f"{text[:8]}…"


def _clean_value(name: str, value: object) -> object:
    if value is None or isinstance(value, bool | int | float):
        return value
    if name == "session_id":
        return short_session_id(value)
    text = mask_pii(str(value))
    return text if len(text) <= MAX_FIELD_CHARS else text[:MAX_FIELD_CHARS] + "…"


def _masked_traceback(exc_info: Any) -> str:
    text = mask_pii("".join(traceback.format_exception(*exc_info)).rstrip())
    return text if len(text) <= MAX_TRACEBACK_CHARS else "…" + text[-MAX_TRACEBACK_CHARS:]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg and allow-listed extras.

    Exceptions: `exc_type` whenever a record carries one (a class name leaks nothing); the
    traceback (masked, tail-truncated) only at ERROR and above, because lower levels are
    anticipated failures whose frames would only repeat argument values.
    """

    def __init__(self, allowed_extras: tuple[str, ...] = ALLOWED_EXTRAS) -> None:
        super().__init__()
        self.allowed_extras = allowed_extras

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": mask_pii(record.getMessage()),
        }
        for name in self.allowed_extras:
            if name in record.__dict__:
                payload[name] = _clean_value(name, record.__dict__[name])
        if record.exc_info and record.exc_info[0] is not None:
            payload["exc_type"] = record.exc_info[0].__name__
            if record.levelno >= logging.ERROR:
                payload["traceback"] = _masked_traceback(record.exc_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


class PiiFilter(logging.Filter):
    """Masks the formatted message (and a text traceback) before any formatter sees it.

    The message is formatted once here and the args dropped, so PII split across the format
    string and its args is masked as a whole. Attached to the handler, not a logger, so it
    also covers records propagated from every library logger.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True  # a broken format string: let logging report it as usual
        record.msg = mask_pii(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = _masked_traceback(record.exc_info)
        return True


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at emit time (stdio transports and pytest swap it)."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        logging.Handler.__init__(self, level)

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:  # StreamHandler.setStream; stderr is fixed
        pass


def _writes_to_stdout(handler: logging.Handler) -> bool:
    stream = getattr(handler, "stream", None)
    return stream is not None and stream in (sys.stdout, sys.__stdout__)


class _BackgroundHandler(logging.handlers.QueueHandler):
    """Hands records to a writer thread: masking, JSON and the write leave the request path.

    The message is rendered here (cheap, and the arguments may change after the call); the
    exception info stays on the record for the JSON formatter, which runs in the thread.
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        return record


_listener: logging.handlers.QueueListener | None = None


def _stop_listener() -> None:
    """Write what is queued and stop the writer thread (at exit, or before reconfiguring)."""
    global _listener
    if _listener is not None:
        listener, _listener = _listener, None
        listener.stop()


def configure_logging(
    fmt: Literal["json", "text"] = "json",
    level: str = "INFO",
    *,
    background: bool = False,
) -> None:
    """Route all logging to stderr in `fmt`, masked, at `level`. Safe to call repeatedly.

    A second call replaces the handler this function installed (so the format or level can
    change) instead of adding another; handlers writing to stdout are removed because stdout
    belongs to the MCP stdio transport. Libraries that log a line per request are raised
    to WARNING (or to `level` when that is stricter). `background=True` (the HTTP server)
    formats and writes in a thread, flushed at exit, so a tool call's log line costs its
    request only the hand-over.
    """
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        raise ValueError(f"unknown log level {level!r}")
    root = logging.getLogger()
    _stop_listener()
    for handler in list(root.handlers):
        if isinstance(handler, _StderrHandler | _BackgroundHandler) or _writes_to_stdout(handler):
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.addFilter(PiiFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    if background:
        global _listener
        records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        _listener = logging.handlers.QueueListener(records, handler)
        _listener.start()
        atexit.unregister(_stop_listener)
        atexit.register(_stop_listener)
        root.addHandler(_BackgroundHandler(records))
    else:
        root.addHandler(handler)
    root.setLevel(numeric_level)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, numeric_level))
