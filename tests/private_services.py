"""Private PostgreSQL and Redis servers for tests that stop, stall or break a service.

The machine's shared 5432/6379 are never touched: each server here has its own data
folder and a free port, and is stopped by the pid it was started with. PostgreSQL's
`initdb` and `pg_ctl` refuse root, so as root they run as the `postgres` OS user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PG_OS_USER = "postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (Debian: apt-get install postgresql)")
    return found


def as_pg_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", PG_OS_USER, "--", *argv] if os.geteuid() == 0 else argv


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} within {timeout:.0f}s")


def _terminate(process: subprocess.Popen[bytes] | None) -> None:
    """Stop a server this module started, by its pid: SIGTERM, then SIGKILL after 15 s."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


class PrivatePostgres:
    """A throw-away PostgreSQL cluster: `start()`, `stop()`, `restart()`, `url(db)`."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tp-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, PG_OS_USER)
        subprocess.run(
            as_pg_user(
                [pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"]
            ),
            check=True,
            capture_output=True,
        )

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    @property
    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            as_pg_user(
                [
                    pg_bin("pg_ctl"),
                    "-D",
                    str(self.data),
                    "-o",
                    options,
                    "-l",
                    str(self.root / "log"),
                    "-w",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        _wait(lambda: _listening(self.port), 30, f"private PostgreSQL did not listen on {self.port}")

    def stop(self, mode: str = "fast") -> None:
        """Stop it (`immediate` is a crash: no checkpoint, clients cut off)."""
        if self.pid is None:
            return
        subprocess.run(
            as_pg_user([pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]),
            check=False,
            capture_output=True,
        )

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A throw-away redis-server on a free port: `start()`, `stop()`, `pause()`/`resume()`."""

    def __init__(self, *, appendonly: bool = True) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tp-redis-", dir="/tmp"))
        self.port = free_port()
        self.appendonly = appendonly
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process and self.process.poll() is None else None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.root),
                "--save",
                "",
                "--appendonly",
                "yes" if self.appendonly else "no",
                "--appendfsync",
                "always",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(lambda: _listening(self.port), 15, f"private Redis did not listen on {self.port}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a paused server cannot handle SIGTERM
        _terminate(self.process)

    def pause(self) -> None:
        """Freeze the server: connections stay open and nothing answers (a stall)."""
        if self.process:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process:
            self.process.send_signal(signal.SIGCONT)

    def cleanup(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.root)


class PrivateS3:
    """A throw-away S3-compatible endpoint (moto's `moto_server`) on a free port: `start()`, `stop()`.

    No S3-compatible server ships for this machine's package managers; moto's speaks the S3 HTTP
    API, so boto3 in the server under test goes over real HTTP as it would to MinIO or AWS. State
    lives in the process: a restart starts with no buckets.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        # What a server under test needs in its environment to reach this endpoint (dummy keys).
        self.env = {
            "AWS_ACCESS_KEY_ID": "telcopulse-test",
            "AWS_SECRET_ACCESS_KEY": "telcopulse-test-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "TELCOPULSE_EXPORT_S3_ENDPOINT": self.url,
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = Path(sys.executable).with_name("moto_server")
        self.process = subprocess.Popen(
            [str(binary), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(lambda: _listening(self.port), 30, f"private S3 endpoint did not listen on {self.port}")

    def client(self) -> Any:
        """A boto3 S3 client of this endpoint, for a test to make buckets and look inside them."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        )

    def stop(self) -> None:
        _terminate(self.process)
