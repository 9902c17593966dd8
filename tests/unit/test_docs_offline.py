"""/docs works offline: Swagger UI's files come from the service itself, nothing from a CDN (issue 15)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize("service", ["ingest", "query"])
def test_docs_load_nothing_from_another_origin(service, tmp_path, monkeypatch):
    monkeypatch.setenv("QUERY_DB_URL", f"sqlite:///{tmp_path / 'q.db'}")
    monkeypatch.setenv("INGEST_DB_URL", f"sqlite:///{tmp_path / 'i.db'}")
    module = __import__(f"services.{service}.main", fromlist=["create_app"])
    client = TestClient(module.create_app())  # no `with`: the lifespan (Kafka) does not run
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page.text)
    assert urls and all(u.startswith("/") for u in urls), urls
    for url in urls:
        if url.startswith("/docs/assets/"):
            assert client.get(url).status_code == 200, url
    assert "cdn" not in page.text.lower()
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").json()["info"]["title"].startswith("ClaimStream")
    assert client.get("/docs/assets/../main.py").status_code == 404
