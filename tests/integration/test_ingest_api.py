"""The ingest API over real HTTP against the real broker: errors are clear and nothing is half-published."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.conftest import free_port, start_service, stop_service

pytestmark = pytest.mark.integration


def _article(**overrides) -> dict:
    return {"id": f"api-{uuid.uuid4().hex[:10]}", "outlet": "API Test Post",
            "body": "The bridge closed for repairs on Monday, the city said. It will reopen in May."} | overrides


def test_single_article_is_accepted_with_its_id(stack):
    article = _article()
    response = httpx.post(f"{stack.ingest}/articles", json=article, timeout=30)
    assert response.status_code == 202
    assert response.json() == {"articles": [{"id": article["id"], "version": 1, "status": "published"}]}


@pytest.mark.parametrize("payload, fragment", [
    ({"outlet": "X"}, "exactly one of"),
    ({"outlet": "X", "body": "a", "html": "<p>a</p>"}, "exactly one of"),
    ({"body": "text"}, "outlet"),
    ({"outlet": "X", "body": "t", "url": "javascript:alert(1)"}, "url"),
    ({"outlet": "X", "body": "t", "published_at": "yesterday"}, "published_at"),
])
def test_invalid_article_gets_422_saying_what_is_wrong(stack, payload, fragment):
    response = httpx.post(f"{stack.ingest}/articles", json=payload, timeout=30)
    assert response.status_code == 422
    assert fragment in response.text


def test_not_json_gets_422(stack):
    response = httpx.post(f"{stack.ingest}/articles", content=b"{not json", timeout=30,
                          headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_boilerplate_only_body_gets_422(stack):
    response = httpx.post(f"{stack.ingest}/articles", json=_article(body="Comments are closed.\n\nShare this article"))
    assert response.status_code == 422
    assert "empty" in response.json()["detail"]


def test_oversized_article_gets_413(stack):
    response = httpx.post(f"{stack.ingest}/articles", json=_article(body="Word. " * 200_000), timeout=30)
    assert response.status_code == 413


def test_oversized_request_gets_413_even_without_content_length(stack):
    def chunks():
        for _ in range(10):
            yield b"x" * (1024 * 1024)

    response = httpx.post(f"{stack.ingest}/articles/batch", content=chunks(), timeout=30,
                          headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 413


def test_batch_with_one_invalid_item_publishes_nothing(stack):
    good, bad = _article(), _article(outlet="")
    response = httpx.post(f"{stack.ingest}/articles/batch", json=[good, bad], timeout=30)
    assert response.status_code == 422
    assert response.json()["detail"]["items"][0]["item"] == 1
    # Had the good one been published, this would now say 'duplicate'.
    again = httpx.post(f"{stack.ingest}/articles", json=good, timeout=30)
    assert again.json()["articles"][0]["status"] == "published"


def test_batch_as_json_lines(stack):
    articles = [_article(), _article()]
    body = "\n".join(json.dumps(a) for a in articles) + "\n"
    response = httpx.post(f"{stack.ingest}/articles/batch", content=body,
                          headers={"content-type": "application/x-ndjson"}, timeout=30)
    assert response.status_code == 202
    assert [a["id"] for a in response.json()["articles"]] == [a["id"] for a in articles]
    bad_line = httpx.post(f"{stack.ingest}/articles/batch", content=body + "{oops\n",
                          headers={"content-type": "application/x-ndjson"}, timeout=30)
    assert bad_line.status_code == 422 and "line 3" in bad_line.text


def test_empty_and_non_list_batches_get_422(stack):
    assert httpx.post(f"{stack.ingest}/articles/batch", json=[]).status_code == 422
    assert httpx.post(f"{stack.ingest}/articles/batch", json={"outlet": "X"}).status_code == 422


def test_api_key_is_required_when_configured(stack):
    port = free_port()
    env = stack.env | {"INGEST_API_KEY": "s3cret", "INGEST_FEEDS": "[]",
                       "INGEST_DB_URL": f"sqlite:///{stack.workdir / 'ingest-key.db'}"}
    proc = start_service("ingest-key", ["-m", "uvicorn", "services.ingest.main:app", "--port", str(port)], env,
                         stack.workdir, f"http://127.0.0.1:{port}/healthz")
    try:
        url = f"http://127.0.0.1:{port}/articles"
        assert httpx.post(url, json=_article(), timeout=30).status_code == 401
        assert httpx.post(url, json=_article(), headers={"X-API-Key": "wrong"}, timeout=30).status_code == 401
        assert httpx.post(url, json=_article(), headers={"X-API-Key": "s3cret"}, timeout=30).status_code == 202
    finally:
        stop_service(proc)
