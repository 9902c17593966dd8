"""Every read example of the README's query section works on the samples (issue 15: docs drift).

The samples are posted to a fresh stack; each `curl -s 'http://127.0.0.1:8000/...'` GET line of
the README is run against it and must answer 200, and a filtered claims list must find claims.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
GET = re.compile(r"^curl -s '(http://127\.0\.0\.1:8000(/[^']*))'", re.M)


def readme_gets() -> list[str]:
    return [m.group(2) for m in GET.finditer((ROOT / "README.md").read_text())]


def test_the_readme_query_examples_answer_on_the_samples(stack):
    body = (ROOT / "samples" / "articles.jsonl").read_bytes()
    response = httpx.post(f"{stack.ingest}/articles/batch", content=body, timeout=60,
                          headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 202, response.text
    wait_for(lambda: len(httpx.get(f"{stack.query}/claims", params={"limit": 200}).json()["items"]) >= 8,
             timeout=120, message="the samples' claims")
    wait_for(lambda: httpx.get(f"{stack.query}/revisions").status_code == 200, message="the query service")
    paths = readme_gets()
    assert len(paths) >= 10, paths
    failures = []
    for path in paths:
        if "cursor=" in path:
            continue  # a position in someone else's feed
        answer = wait_for(lambda: (r := httpx.get(f"{stack.query}{path}", timeout=10)).status_code != 404 and r
                          if "/clusters/" in path or "/articles/" in path else httpx.get(f"{stack.query}{path}",
                                                                                         timeout=10),
                          timeout=60, message=path)
        if answer.status_code != 200:
            failures.append((path, answer.status_code, answer.text[:200]))
        elif path.startswith("/claims?") and not answer.json()["items"]:
            failures.append((path, "no claims", ""))
    assert not failures, failures
