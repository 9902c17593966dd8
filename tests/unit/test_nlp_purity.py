"""services/nlp knows only text: no Kafka, stream framework, web, database or wire events (issue 16 item 5).

Every import statement of every module is read with ast, including lazy imports inside functions
and importlib calls with a literal name, so nothing reaches those packages even indirectly: imports
of other services packages are refused too (services.common holds the Kafka and database helpers).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

NLP = Path(__file__).resolve().parents[2] / "services" / "nlp"
FORBIDDEN = {
    # Kafka and the stream framework
    "kafka", "aiokafka", "confluent_kafka", "faust", "mode",
    # web
    "fastapi", "starlette", "httpx", "uvicorn", "requests", "aiohttp", "websockets", "sse_starlette",
    # database
    "sqlalchemy", "alembic", "psycopg", "psycopg2", "sqlite3", "aiosqlite",
    # wire events
    "schemas",
}
ALLOWED_SERVICES = "services.nlp"


def _package_of(path: Path) -> str:
    parts = path.relative_to(NLP.parents[1]).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] != "__init__" else parts[:-1])


def imported_names(source: str, package: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in `source`, wherever it stands."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # `from services import query` names a module too
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__"):
                found.append((node.lineno, node.args[0].value))
    return found


def violations(source: str, package: str = ALLOWED_SERVICES) -> list[tuple[int, str]]:
    bad = []
    for line, module in imported_names(source, package):
        top = module.split(".")[0]
        outside = top == "services" and module != "services" and not (
            module == ALLOWED_SERVICES or module.startswith(ALLOWED_SERVICES + "."))
        if top in FORBIDDEN or outside:
            bad.append((line, module))
    return bad


def test_no_module_of_services_nlp_imports_kafka_web_database_or_schemas():
    modules = sorted(NLP.rglob("*.py"))
    assert len(modules) > 10  # the walk found the package
    found = {str(p.relative_to(NLP)): v for p in modules if (v := violations(p.read_text(), _package_of(p)))}
    assert found == {}


@pytest.mark.parametrize("source", [
    "import faust",
    "from schemas import SentenceAnnotated",
    "from schemas.ids import claim_id",
    "def f():\n    from sqlalchemy import select\n    return select",
    "class A:\n    def m(self):\n        import aiokafka.producer\n",
    "import importlib\nmod = importlib.import_module('fastapi')",
    "from services.common.kafka import ensure_topics",
    "from services import stages",
    "from .. import schemas",
    "import sqlite3 as db",
])
def test_the_check_catches_each_kind_of_import(source):
    assert violations(source) != []


def test_the_check_lets_language_imports_through():
    source = ("import re\nimport numpy as np\nfrom services.nlp import claims\nfrom . import split\n"
              "from .types import Span\ndef f():\n    from services.nlp.embeddings import embed\n")
    assert violations(source) == []
