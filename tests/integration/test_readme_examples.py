"""Every read example of the README's query section works on the samples (issue 15: docs drift).

The samples are posted to a fresh stack; each `curl -s 'http://127.0.0.1:8000/...'` GET line of
the README is run against it and must answer 200, and a filtered claims list must find claims.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
GET = re.compile(r"""^curl -s ['"](http://127\.0\.0\.1:8000(/[^'"]*))['"]""", re.M)
CLUSTER_QUERY = re.compile(r"^CLUSTER=\$\(curl -s '(http://127\.0\.0\.1:8000(/[^']*))'", re.M)


def readme_gets() -> list[str]:
    return [m.group(2) for m in GET.finditer((ROOT / "README.md").read_text())]


def test_the_readme_query_examples_answer_on_the_samples(stack):
    body = (ROOT / "samples" / "articles.jsonl").read_bytes()
    response = httpx.post(f"{stack.ingest}/articles/batch", content=body, timeout=60,
                          headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 202, response.text
    ids = [json.loads(line)["id"] for line in body.decode().splitlines() if line.strip()]

    def settled() -> bool:
        # Every sample article projected, and every one of its claims in the claims list.
        expected = 0
        for article_id in ids:
            view = httpx.get(f"{stack.query}/articles/{article_id}", timeout=10)
            if view.status_code != 200 or not view.json()["sentences"]:
                return False
            expected += sum(1 for s in view.json()["sentences"] if s["is_claim"])
        listed = httpx.get(f"{stack.query}/claims", params={"limit": 200}, timeout=10).json()["items"]
        return len([c for c in listed if c["article_id"] in ids]) >= expected > 0

    wait_for(settled, timeout=180, interval=1.0, message="the samples' claims")
    wait_for(lambda: httpx.get(f"{stack.query}/revisions").status_code == 200, message="the query service")
    paths = readme_gets()
    [(_, cluster_query)] = CLUSTER_QUERY.findall((ROOT / "README.md").read_text())
    cluster = wait_for(lambda: httpx.get(f"{stack.query}{cluster_query}").json()["items"], message=cluster_query)
    paths = [p.replace("$CLUSTER", cluster[0]["cluster_id"]) for p in paths]
    assert len(paths) >= 10, paths
    failures = []
    for path in paths:
        if "cursor=" in path:
            continue  # a position in someone else's feed
        deadline = time.monotonic() + 60
        while True:  # a ledger or an article view may follow its claims by a moment
            answer = httpx.get(f"{stack.query}{path}", timeout=10)
            if answer.status_code != 404 or time.monotonic() > deadline:
                break
            time.sleep(1)
        if answer.status_code != 200:
            failures.append((path, answer.status_code, answer.text[:200]))
        elif path.startswith("/claims?") and not answer.json()["items"]:
            failures.append((path, "no claims", ""))
    claims = httpx.get(f"{stack.query}/claims", params={"limit": 200}).json()["items"]
    seen = [(c["outlet"], round(c["claim_score"], 2), c["claim_type"], sorted({e["canonical"] for e in c["entities"]}),
             (c["cluster"] or {}).get("independent_outlets"), c["text"][:60]) for c in claims]
    assert not failures, (failures, seen)
