"""`telcopulse docs --host X` must bind X, not 127.0.0.1 whatever it prints."""

from __future__ import annotations

import os
import signal
import socket
import time

from telcopulse.runner import _start_docs_server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.2", 0))
        return sock.getsockname()[1]


def answers(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def test_the_docs_server_binds_the_host_it_is_given() -> None:
    port = free_port()
    child = _start_docs_server(port, "127.0.0.2")
    try:
        deadline = time.monotonic() + 20
        while not answers("127.0.0.2", port):
            assert child.returncode is None, "the docs server exited"
            assert time.monotonic() < deadline, "the docs server did not come up on 127.0.0.2"
            time.sleep(0.1)
        assert not answers("127.0.0.1", port)
    finally:
        os.killpg(child.pid, signal.SIGTERM)
        child.process.wait(timeout=10)
