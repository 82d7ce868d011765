"""`make up` on a terminal: stage lines and a progress bar, the chatter in the log file.

Run in a child process on a pseudo-terminal, because the console redirects file
descriptors 1 and 2 and draws the bar only when stdout is a TTY.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import logging, subprocess, sys, time
from pathlib import Path
from telcopulse.console import UpConsole

with UpConsole(Path(sys.argv[1]), verbose=False) as console:
    console.say("[1/2] STAGE-ONE")
    with console.progress("refresh", 3, lambda: 2):
        print("NOISE-PRINT")
        print("NOISE-STDERR", file=sys.stderr)
        handler = logging.StreamHandler()  # bound to sys.stderr now, as Dagster's console logger is
        logging.getLogger("noisy").addHandler(handler)
        logging.getLogger("noisy").warning("NOISE-LOGGER")
        subprocess.run([sys.executable, "-c", "print('NOISE-SUBPROCESS')"], check=True)
        time.sleep(1.2)
    console.say("[2/2] STAGE-TWO")
    console.error("error: SHOWN-ON-STDERR")
"""


def run_on_a_terminal(log_file: Path) -> str:
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(log_file)], stdin=slave, stdout=slave, stderr=slave, close_fds=True
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert process.wait(timeout=30) == 0
    return b"".join(chunks).decode(errors="replace")


def test_the_terminal_gets_stages_and_the_log_gets_the_rest(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "up.log"
    terminal = run_on_a_terminal(log_file)
    assert "[telcopulse] [1/2] STAGE-ONE" in terminal
    assert "[telcopulse] [2/2] STAGE-TWO" in terminal
    assert "[telcopulse] error: SHOWN-ON-STDERR" in terminal
    assert "NOISE" not in terminal
    assert "refresh" in terminal  # the bar was drawn (a terminal, so it shows)
    log = log_file.read_text()
    for noise in ("NOISE-PRINT", "NOISE-STDERR", "NOISE-LOGGER", "NOISE-SUBPROCESS"):
        assert noise in log
    assert "[telcopulse] [1/2] STAGE-ONE" in log
