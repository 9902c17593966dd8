"""The faust behaviours the processors rely on are those of the pinned version.

services/processors/gaps.py replaces six methods of faust's Consumer and acks.py relies on how a
stream acks its events (in `finally`, through the message's reference count). Those are private
behaviours, so faust-streaming is pinned exactly in pyproject.toml, and this test fails when the
installed faust differs from the pin or when the code of any relied-on function changes (a patch
release, a vendored fix): re-read each named function against gaps.py / acks.py, re-run
tests/unit/test_gaps.py and `make chaos`, then record the new fingerprints here.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

# sha256 of inspect.getsource, first 16 hex digits, for faust-streaming 0.15.3.
RELIED_ON = {
    "faust.transport.consumer:Consumer.ack": "5fcf41cf45153475",
    "faust.transport.consumer:Consumer._new_offset": "1d2c7ea89a7ad4f1",
    "faust.transport.consumer:Consumer._wait_next_records": "6218e1969a636b3f",
    "faust.transport.consumer:Consumer.getmany": "4b168d84882a70d6",
    "faust.transport.consumer:Consumer.perform_seek": "0e8c130ff4b0afd8",
    "faust.transport.consumer:Consumer._add_gap": "4df2573ded7c1c2c",
    "faust.types.tuples:Message.incref": "78d34df830d3089b",
    "faust.types.tuples:Message.decref": "f23396189d0e5592",
    "faust.events:Event.ack": "2d29a6eda87c4ce5",
    "faust.streams:Stream.take_events": "607d48aead118ba8",
    "faust.streams:Stream._py_aiter": "3a48ee257a65435b",  # the `finally` that acks each event
}


def _pin(package: str) -> str:
    deps = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["dependencies"]
    for dep in deps:
        m = re.fullmatch(rf"{re.escape(package)}\s*==\s*([\w.]+)", dep)
        if m:
            return m.group(1)
    raise AssertionError(f"{package} is not pinned with == in pyproject.toml")


def _fingerprint(dotted: str) -> str:
    module, _, path = dotted.partition(":")
    obj = importlib.import_module(module)
    for part in path.split("."):
        obj = getattr(obj, part)
    return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16]


def test_the_installed_faust_is_the_pinned_one():
    assert version("faust-streaming") == _pin("faust-streaming")


@pytest.mark.parametrize("dotted", sorted(RELIED_ON))
def test_the_faust_code_the_processors_rely_on_is_unchanged(dotted):
    assert _fingerprint(dotted) == RELIED_ON[dotted], (
        f"{dotted} changed in faust-streaming {version('faust-streaming')}: re-verify services/processors/"
        "gaps.py and acks.py against it, then update its fingerprint here")
