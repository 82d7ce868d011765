"""Child servers of `up`, `ui` and `docs`: start, wait for their ports, supervise, stop.

Each child gets its own process group, because `dagster dev` runs a webserver, a daemon
and code servers of its own that must not outlive us: signals go to the whole group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

DEVNULL = subprocess.DEVNULL


@dataclass
class Child:
    """A named child process (the name is what a person reads in messages)."""

    name: str
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.poll()


def _default_signals_in_child() -> None:
    """Children start with default SIGINT/SIGTERM, whatever this process inherited or set."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def start(
    name: str,
    argv: list[str],
    *,
    cwd: Path,
    output: IO[str] | int | None = None,
    env: dict[str, str] | None = None,
) -> Child:
    """Start a child in its own session; `output` None inherits our stdout/stderr."""
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT if output not in (None, DEVNULL) else output,
        start_new_session=True,
        preexec_fn=_default_signals_in_child,
    )
    return Child(name, process)


def _listening(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_until_serving(targets: list[tuple[Child, str, int]], timeout: float) -> bool:
    """True once every child listens on its port; False if one exits first or time runs out."""
    pending = list(targets)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for target in list(pending):
            child, host, port = target
            if child.returncode is not None:
                return False
            if _listening(host, port):
                pending.remove(target)
        if pending:
            time.sleep(0.5)
    return not pending


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def install_stop_handlers() -> None:
    """Ctrl-C and SIGTERM (`telcopulse stop`, docker stop, kill) both stop cleanly, also in
    a background job where SIGINT starts out ignored, and after Dagster changed them."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)


def signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def stop_all(children: list[Child]) -> None:
    """SIGINT first (what `dagster dev` shuts down cleanly on), then SIGTERM, then SIGKILL;
    a last SIGKILL to each group takes grandchildren a child left behind."""
    for child in children:
        if child.returncode is None:
            signal_group(child.pid, signal.SIGINT)
    for child in children:
        for follow_up in (signal.SIGTERM, signal.SIGKILL):
            try:
                child.process.wait(timeout=15)
                break
            except subprocess.TimeoutExpired:
                signal_group(child.pid, follow_up)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=5)
        signal_group(child.pid, signal.SIGKILL)


def supervise(children: list[Child], *, on_exit: Callable[[Child, int], None]) -> int:
    """Run until Ctrl-C/SIGTERM (exit 0) or until a child dies on its own (exit 1, after
    `on_exit` told the person which one); either way every child is stopped."""
    install_stop_handlers()
    code = 0
    try:
        while True:
            dead = next((child for child in children if child.returncode is not None), None)
            if dead is not None:
                on_exit(dead, dead.returncode or 0)
                code = 1
                break
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    stop_all(children)
    return code
