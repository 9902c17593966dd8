"""Programs some integration tests drive (Prometheus, Chromium), found or installed once per run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL_SCRIPT = ROOT / "scripts" / "install_test_tools.sh"
_install_attempted = False


def find_tool(name: str) -> str:
    """The program's path; runs scripts/install_test_tools.sh once when it is missing; else skips."""
    global _install_attempted
    path = shutil.which(name)
    if path is None and not _install_attempted:
        _install_attempted = True
        subprocess.run(["bash", str(INSTALL_SCRIPT)], cwd=ROOT, timeout=900)
        path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed and could not be installed here (needs root and apt-get: "
                    f"bash scripts/install_test_tools.sh, or apt-get install {name})")
    return path
