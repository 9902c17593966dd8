"""Where the services keep local state (SQLite ledgers and projections) when no URL is given.

One directory, the same whichever folder a command runs from:

1. `CLAIMSTREAM_STATE_DIR`, when set;
2. else the `.run/` folder of the source checkout the code runs from (the folder holding the
   `pyproject.toml` of `claimstream`, found from this file's location, not from the working directory),
   which is what `make run` / `scripts/stack.sh` use;
3. else (an installed package) `$XDG_STATE_HOME/claimstream`, by default `~/.local/state/claimstream`.

`INGEST_DB_URL` / `QUERY_DB_URL` set explicitly win over all of this.
"""

from __future__ import annotations

import os
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]


def _is_checkout(root: Path) -> bool:
    pyproject = root / "pyproject.toml"
    try:
        return pyproject.is_file() and 'name = "claimstream"' in pyproject.read_text(encoding="utf-8")
    except OSError:
        return False


def state_dir() -> Path:
    explicit = os.environ.get("CLAIMSTREAM_STATE_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    if _is_checkout(_ROOT):
        return _ROOT / ".run"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base).expanduser().resolve() / "claimstream"


def sqlite_url(name: str) -> str:
    """`sqlite:////abs/path/<name>` under the state directory."""
    return f"sqlite:///{state_dir() / name}"
