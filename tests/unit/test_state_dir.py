"""Service state does not depend on the working directory (issue 15)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from services.common import state

ROOT = Path(__file__).resolve().parents[2]
PRINT = ("from services.query.settings import QuerySettings; from services.ingest.settings import IngestSettings; "
         "print(QuerySettings().db_url); print(IngestSettings().db_url)")


def _urls(cwd: Path, **env) -> list[str]:
    clean = {k: v for k, v in __import__("os").environ.items()
             if k not in {"QUERY_DB_URL", "INGEST_DB_URL", "CLAIMSTREAM_STATE_DIR"}}
    out = subprocess.run([sys.executable, "-c", PRINT], cwd=cwd, env=clean | {"PYTHONPATH": str(ROOT)} | env,
                         capture_output=True, text=True, check=True).stdout
    return out.split()


def test_two_folders_agree_on_the_databases(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    assert _urls(ROOT) == _urls(tmp_path / "elsewhere") == [f"sqlite:///{ROOT / '.run' / 'query.db'}",
                                                              f"sqlite:///{ROOT / '.run' / 'ingest.db'}"]


def test_the_state_dir_setting_and_explicit_urls_win(tmp_path, monkeypatch):
    assert _urls(tmp_path, CLAIMSTREAM_STATE_DIR=str(tmp_path / "s")) == [
        f"sqlite:///{tmp_path / 's' / 'query.db'}", f"sqlite:///{tmp_path / 's' / 'ingest.db'}"]
    assert _urls(tmp_path, QUERY_DB_URL="sqlite:////x/q.db")[0] == "sqlite:////x/q.db"
    # An installed package (no checkout around it) falls back to the XDG state folder.
    monkeypatch.delenv("CLAIMSTREAM_STATE_DIR", raising=False)
    monkeypatch.setattr(state, "_ROOT", tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state.state_dir() == tmp_path / "xdg" / "claimstream"
