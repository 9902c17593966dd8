"""Property-based API tests: schemathesis generates requests from the ingest and query OpenAPI documents
and sends them to the real services.

Every response must not be a server error (5xx) and must use a documented status code, content type,
headers and body schema. Ingest runs with an API key, so schemathesis also checks that every write
refuses requests without it or with a wrong one (`ignored_auth`), that invalid input is refused
(`negative_data_rejection`) and that undocumented methods are (`unsupported_method`). The query API's
conformance is checked on the shared stack's open server, and the same behaviour checks run against a
second query process on the same topics with QUERY_API_KEY set.

Bounded to keep the file short: MAX_EXAMPLES generated cases per operation in the fuzzing phase, plus
the coverage phase (a fixed set of boundary and invalid values per parameter); deterministic, one worker.
Reports: test-output/schemathesis-*.log and *.xml (JUnit).

Left out: GET /claims/stream (server-sent events). It never ends by design, so no response can be read
to the end and validated; test_end_to_end.py reads it with a real client.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path

import httpx
import pytest

from tests.conftest import OUTPUT, free_port, start_service, stop_service

pytestmark = pytest.mark.integration

MAX_EXAMPLES = 25
API_KEY = "st-" + uuid.uuid4().hex
STREAMING_PATHS = ["/claims/stream"]

# The conformance checks: no 5xx, and status code, content type, headers and body as documented.
CONFORMANCE = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
               "response_schema_conformance", "response_headers_conformance"]
# Behaviour checks: invalid input refused, the API key enforced, wrong methods refused.
# Left out: positive_data_acceptance (a schema-valid article can still be empty once boilerplate is
# removed, a rule no schema states), use_after_free / ensure_resource_availability /
# object_level_authorization (no create-then-read or delete operations, one identity).
BEHAVIOUR = ["negative_data_rejection", "ignored_auth", "missing_required_header", "unsupported_method"]

# The pytest plugin (schemathesis.pytest.from_fixture) needs a pytest private attribute that pytest 9
# removed, so the CLI runs instead, in a subprocess: the same engine, with the same phases.
SCHEMATHESIS = [sys.executable, "-m", "schemathesis.cli"]
if importlib.util.find_spec("schemathesis") is None:
    pytest.fail("schemathesis is not installed: it is a dev dependency (pip install 'schemathesis>=4.32.5')",
                pytrace=False)


def schemathesis_run(base_url: str, name: str, checks: list[str], *run_args: str, workdir: Path,
                     config: list[str] = ()) -> None:
    """`schemathesis run` against base_url; fails with its report when it finds anything."""
    OUTPUT.mkdir(exist_ok=True)
    # No crash cache (.schemathesis/ in the working directory): every run starts from the same state.
    config_file = workdir / f"schemathesis-{name}.toml"
    config_file.write_text("\n".join(["[cache]", "enabled = false", "", *config]) + "\n")
    command = [*SCHEMATHESIS, "--no-color", "--config-file", str(config_file), "run", f"{base_url}/openapi.json",
               "--checks", ",".join(checks), "--phases", "examples,coverage,fuzzing",
               "--max-examples", str(MAX_EXAMPLES), "--generation-deterministic", "--workers", "1",
               "--request-timeout", "30", "--suppress-health-check", "all",
               "--report", "junit", "--report-junit-path", str(OUTPUT / f"schemathesis-{name}.xml"), *run_args]
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    result = subprocess.run(command, cwd=workdir, env=env | {"NO_COLOR": "1"}, capture_output=True, text=True,
                            timeout=240)
    (OUTPUT / f"schemathesis-{name}.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, f"schemathesis found problems in the {name} API:\n{result.stdout[-12000:]}" \
                                   f"\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def keyed_ingest(stack):
    """An ingest that needs an API key, on a namespace of its own: the articles schemathesis
    publishes never reach the shared stack's processors."""
    port = free_port()
    env = stack.env | {"INGEST_API_KEY": API_KEY, "INGEST_FEEDS": "[]",
                       "CLAIMSTREAM_NAMESPACE": f"{stack.namespace}st",
                       "INGEST_DB_URL": f"sqlite:///{stack.workdir / 'ingest-schemathesis.db'}"}
    proc = start_service("ingest-schemathesis", ["-m", "uvicorn", "services.ingest.main:app", "--port", str(port)],
                         env, stack.workdir, f"http://127.0.0.1:{port}/healthz")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_service(proc)


@pytest.fixture(scope="module")
def keyed_query(stack):
    """A query process with QUERY_API_KEY set, projecting the shared stack's topics into its own database."""
    port = free_port()
    env = stack.env | {"QUERY_API_KEY": API_KEY, "QUERY_DB_URL": f"sqlite:///{stack.workdir / 'query-keyed.db'}"}
    proc = start_service("query-keyed", ["-m", "uvicorn", "services.query.main:app", "--port", str(port)],
                         env, stack.workdir, f"http://127.0.0.1:{port}/healthz")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_service(proc)


def _seed_claim(stack, timeout: float = 60) -> dict | None:
    """Post an article with a claim through the real pipeline; the claim once query has it, else None."""
    slug = uuid.uuid4().hex[:8]
    article = {"id": f"st-{slug}", "outlet": "Schemathesis Herald",
               "body": f"The {slug} county council spent 4.2 million dollars on road repairs last year, "
                       "its annual report shows. Officials said the work will continue in spring."}
    assert httpx.post(f"{stack.ingest}/articles", json=article, timeout=30).status_code == 202
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = httpx.get(f"{stack.query}/claims", params={"outlet": article["outlet"]}, timeout=10).json()["items"]
        if items and httpx.get(f"{stack.query}/clusters/{items[0]['cluster_id']}", timeout=10).status_code == 200:
            return items[0]
        time.sleep(0.5)
    return None


@pytest.fixture(scope="module")
def query_config(stack) -> list[str]:
    """Config lines that offer (half of the time) the ids of a real claim, its cluster and its article
    for the path parameters, so the 200 answers are checked too, not only the 404s."""
    claim = _seed_claim(stack)
    if claim is None:
        warnings.warn("no claim reached the query service within 60 s (are the processors up?); "
                      "schemathesis tests the query API with generated ids only", stacklevel=2)
        return []
    lines = []
    for name in ("claim_id", "cluster_id", "article_id", "outlet"):
        lines += [f"[dictionaries.{name}]", f"values = [{json.dumps(claim[name])}]", ""]
    lines.append("[parameters]")
    for name in ("claim_id", "cluster_id", "article_id"):
        lines.append(f'"path.{name}" = {{ dictionary = "{name}", probability = 0.5 }}')
    lines.append('"query.outlet" = { dictionary = "outlet", probability = 0.5 }')
    return lines


def test_ingest_api(stack, keyed_ingest):
    schemathesis_run(keyed_ingest, "ingest", CONFORMANCE + BEHAVIOUR, "--header", f"X-API-Key: {API_KEY}",
                     workdir=stack.workdir)


def test_query_api_conforms_to_its_schema(stack, query_config):
    schemathesis_run(stack.query, "query", CONFORMANCE, *_exclude_streams(), workdir=stack.workdir,
                     config=query_config)


def test_query_api_refuses_invalid_input(stack, keyed_query, query_config):
    schemathesis_run(keyed_query, "query-behaviour", BEHAVIOUR, "--header", f"X-API-Key: {API_KEY}",
                     *_exclude_streams(), workdir=stack.workdir, config=query_config)


def test_each_api_documents_whether_writes_need_the_key(stack, keyed_ingest, keyed_query):
    """Open servers list an anonymous alternative on secured operations; keyed servers do not."""
    def alternatives(base: str) -> set[str]:
        spec = httpx.get(f"{base}/openapi.json", timeout=10).json()
        return {json.dumps(option, sort_keys=True) for ops in spec["paths"].values() for op in ops.values()
                for option in op.get("security", [])}

    assert alternatives(stack.query) == {'{"ApiKey": []}', "{}"}
    assert alternatives(stack.ingest) == {'{"ApiKey": []}', "{}"}
    assert alternatives(keyed_query) == {'{"ApiKey": []}'}
    assert alternatives(keyed_ingest) == {'{"ApiKey": []}'}


def _exclude_streams() -> list[str]:
    return [arg for path in STREAMING_PATHS for arg in ("--exclude-path", path)]


def test_the_streaming_endpoint_is_the_only_one_left_out(stack):
    """If the query API gains another never-ending endpoint, it must be listed above, and vice versa."""
    spec = httpx.get(f"{stack.query}/openapi.json", timeout=10).json()
    streams = sorted(path for path, operations in spec["paths"].items()
                     for operation in operations.values()
                     if "text/event-stream" in operation.get("responses", {}).get("200", {}).get("content", {}))
    assert streams == STREAMING_PATHS
