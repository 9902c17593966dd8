"""bench and chaos use only the public names of the project's modules (issue 16 item 4, first step).

A private helper (leading underscore) may change or go at any time without its module's callers
in mind; what the scripts need has a public name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ["scripts/bench.py", "scripts/chaos.py"]


def private_uses(source: str) -> list[tuple[int, str]]:
    """(line, name) of each private name imported from, or read off, a module the source imports."""
    tree = ast.parse(source)
    modules: set[str] = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names if a.name.startswith("_")]
            modules |= {a.asname or a.name for a in node.names}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules \
                and node.attr.startswith("_") and not node.attr.startswith("__"):
            found.append((node.lineno, f"{node.value.id}.{node.attr}"))
    return found


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_script_imports_only_public_names(script):
    assert private_uses((ROOT / script).read_text()) == []


@pytest.mark.parametrize("source", [
    "from services.ingest.service import _received",
    "def f():\n    from stackctl import _children\n",
    "import stackctl\nstackctl._children()",
    "from services.nlp import matching\nmatching._route()",
])
def test_the_check_finds_private_names(source):
    assert private_uses(source) != []


def test_the_check_lets_public_names_and_locals_through():
    assert private_uses("import stackctl\nfrom x import y\nstackctl.log('a')\ny.public()\n"
                        "class A:\n    def m(self):\n        return self._own\n") == []
