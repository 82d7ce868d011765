"""What `telcopulse up` shows a person, and where everything else goes.

Quiet by default: a line per stage with counts and times, a progress bar while the
refresh runs, one banner at the end. Dagster's event stream, dbt's output, library
warnings and the servers' logs go to `<data_dir>/logs/up.log`, which the banner names.
The redirect happens at the file-descriptor level so that subprocesses (dbt, the
servers) and C extensions land in the log too, not only Python's `print`.
`--verbose` keeps everything on the terminal, as before.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

PREFIX = "[telcopulse]"


class UpConsole:
    """Terminal for people, log file for machines; use as a context manager."""

    def __init__(self, log_file: Path, *, verbose: bool) -> None:
        self.log_file = log_file
        self.verbose = verbose
        self._log: IO[str] | None = None
        self._saved_fds: tuple[int, int] | None = None
        self._out: IO[str] = sys.stdout
        self._err: IO[str] = sys.stderr

    def __enter__(self) -> UpConsole:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_file, "a", buffering=1)
        self._log.write(
            f"\n===== telcopulse up, pid {os.getpid()}, {time.strftime('%Y-%m-%d %H:%M:%S %z')}\n"
        )
        if not self.verbose:
            sys.stdout.flush()
            sys.stderr.flush()
            self._saved_fds = (os.dup(1), os.dup(2))
            self._out = os.fdopen(os.dup(1), "w", buffering=1)
            self._err = os.fdopen(os.dup(2), "w", buffering=1)
            os.dup2(self._log.fileno(), 1)
            os.dup2(self._log.fileno(), 2)
        self.terminal = Console(file=self._out, highlight=False, soft_wrap=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        if self._saved_fds is not None:
            os.dup2(self._saved_fds[0], 1)
            os.dup2(self._saved_fds[1], 2)
            for fd in self._saved_fds:
                os.close(fd)
            self._out.close()
            self._err.close()
            self._saved_fds = None
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def child_output(self) -> IO[str] | None:
        """Where servers started by `up` write: the log file when quiet, the terminal otherwise."""
        return None if self.verbose else self._log

    def say(self, message: str) -> None:
        self._write(self._out, message)

    def error(self, message: str) -> None:
        self._write(self._err, message)

    def _write(self, stream: IO[str], message: str) -> None:
        for line in message.splitlines() or [""]:
            stream.write(f"{PREFIX} {line}\n" if line else "\n")
        stream.flush()
        if self._log is not None and not self.verbose:
            self._log.write(f"{PREFIX} {message}\n")

    def log_exception(self, error: BaseException) -> None:
        """The traceback belongs in the log, where the message points; never on the terminal."""
        import traceback

        if self._log is not None:
            traceback.print_exception(error, file=self._log)

    @contextmanager
    def progress(self, description: str, total: int, poll: Callable[[], int]) -> Iterator[None]:
        """A progress bar fed by `poll()` (units done so far) while the body runs.

        Only on a terminal: piped or logged output gets the stage lines alone, which is
        what a CI log or a test wants to read.
        """
        if self.verbose or not self._out.isatty():
            yield
            return
        bar = Progress(
            TextColumn(f"{PREFIX} {description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.terminal,
            transient=True,
            # rich would otherwise swap sys.stdout/sys.stderr for proxies that print above
            # the bar, bringing Dagster's event stream back onto the terminal.
            redirect_stdout=False,
            redirect_stderr=False,
        )
        task = bar.add_task(description, total=total)
        stop = threading.Event()

        def update() -> None:
            while not stop.wait(0.5):
                try:
                    bar.update(task, completed=min(poll(), total))
                except Exception:
                    continue

        with bar:
            worker = threading.Thread(target=update, name="up-progress", daemon=True)
            worker.start()
            try:
                yield
            finally:
                stop.set()
                worker.join(timeout=2)
