"""The faust behaviours the processors rely on are those of the pinned version.

services/processors/gaps.py replaces six methods of faust's Consumer and acks.py relies on how a
stream acks its events (in `finally`, through the message's reference count). Those are private
behaviours, so faust-streaming is pinned exactly in pyproject.toml, and this test fails when the
installed faust differs from the pin or when the code of any relied-on function changes (a patch
release, a vendored fix): re-read each named function against gaps.py / acks.py, re-run
tests/unit/test_gaps.py and `make chaos`, then record the new fingerprints here.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

# sha256 of each function's source text in faust's files, first 16 hex digits, for faust-streaming 0.15.3.
RELIED_ON = {
    "faust.transport.consumer:Consumer.ack": "6341c682b9ca914d",
    "faust.transport.consumer:Consumer._new_offset": "7524555f309a6493",
    "faust.transport.consumer:Consumer._wait_next_records": "97fc2cf4cf94c619",
    "faust.transport.consumer:Consumer.getmany": "fb4700d31489b3b4",
    "faust.transport.consumer:Consumer.perform_seek": "b2fa31dd2a8784d3",
    "faust.transport.consumer:Consumer._add_gap": "d28ad8e076b67739",
    "faust.types.tuples:Message.incref": "870a99160950e252",
    "faust.types.tuples:Message.decref": "346d4907b0706fe3",
    "faust.events:Event.ack": "e9517437dd9a2a8f",
    "faust.streams:Stream.take_events": "1e784df57c46331d",
    "faust.streams:Stream._py_aiter": "fabb39a9b4ceeadc",  # the `finally` that acks each event
}


def _pin(package: str) -> str:
    deps = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["dependencies"]
    for dep in deps:
        m = re.fullmatch(rf"{re.escape(package)}\s*==\s*([\w.]+)", dep)
        if m:
            return m.group(1)
    raise AssertionError(f"{package} is not pinned with == in pyproject.toml")


def _fingerprint(dotted: str) -> str:
    """Of the function as faust's source file has it: read from the file, not from the live class,
    which gaps.install() has patched by the time other tests ran."""
    module, _, path = dotted.partition(":")
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, module
    source = Path(spec.origin).read_text(encoding="utf-8")
    node: ast.AST = ast.parse(source)
    for name in path.split("."):
        node = next(n for n in ast.iter_child_nodes(node)
                    if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name)
    segment = ast.get_source_segment(source, node)
    assert segment, dotted
    return hashlib.sha256(segment.encode()).hexdigest()[:16]


def test_the_installed_faust_is_the_pinned_one():
    assert version("faust-streaming") == _pin("faust-streaming")


@pytest.mark.parametrize("dotted", sorted(RELIED_ON))
def test_the_faust_code_the_processors_rely_on_is_unchanged(dotted):
    assert _fingerprint(dotted) == RELIED_ON[dotted], (
        f"{dotted} changed in faust-streaming {version('faust-streaming')}: re-verify services/processors/"
        "gaps.py and acks.py against it, then update its fingerprint here")
