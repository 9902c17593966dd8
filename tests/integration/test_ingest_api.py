"""The ingest API over real HTTP against the real broker: errors are clear and nothing is half-published."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from tests.conftest import free_port, start_service, stop_service

pytestmark = pytest.mark.integration


def _article(**overrides) -> dict:
    # A body of its own: ingest remembers the lines an outlet repeats across articles as its page furniture.
    slug = uuid.uuid4().hex[:10]
    body = f"The {slug} bridge closed for repairs on Monday, the city said. It will reopen in May."
    return {"id": f"api-{slug}", "outlet": "API Test Post", "body": body} | overrides


def test_single_article_is_accepted_with_its_id(stack):
    article = _article()
    response = httpx.post(f"{stack.ingest}/articles", json=article, timeout=30)
    assert response.status_code == 202
    assert response.json() == {"articles": [{"id": article["id"], "version": 1, "status": "published",
                                             "language": "en", "warnings": []}]}


@pytest.mark.parametrize("payload, fragment", [
    ({"outlet": "X"}, "exactly one of"),
    ({"outlet": "X", "body": "a", "html": "<p>a</p>"}, "exactly one of"),
    ({"body": "text"}, "outlet"),
    ({"outlet": "X", "body": "t", "url": "javascript:alert(1)"}, "url"),
    ({"outlet": "X", "body": "t", "published_at": "yesterday"}, "published_at"),
    ({"outlet": "X", "body": "t", "published_at": 0}, "published_at"),
    ({"outlet": "X", "body": "t", "published_at": "2026-03-02T10:00:00"}, "timezone"),
    ({"outlet": "X", "body": "t", "extra": 1}, "extra"),
])
def test_invalid_article_gets_422_saying_what_is_wrong(stack, payload, fragment):
    response = httpx.post(f"{stack.ingest}/articles", json=payload, timeout=30)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert fragment in response.text
    for error in response.json()["detail"]:
        assert set(error) == {"loc", "msg", "type"}, error  # no echoed input, no ctx, no url


def test_not_json_gets_422(stack):
    response = httpx.post(f"{stack.ingest}/articles", content=b"{not json", timeout=30,
                          headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_not_utf8_gets_400_as_json(stack):
    response = httpx.post(f"{stack.ingest}/articles", content=b'{"outlet": "\xff"}', timeout=30,
                          headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json()["detail"], str)


def test_boilerplate_only_body_gets_422(stack):
    response = httpx.post(f"{stack.ingest}/articles", json=_article(body="Comments are closed.\n\nShare this article"))
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "body"] and "empty" in error["msg"]


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
    assert response.json()["detail"][0]["loc"] == ["body", 1, "outlet"]
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


XSS = "<script>alert(1)</script>"


def test_html_in_any_field_is_never_echoed_raw(stack):
    """Whatever a client sends, no answer contains its markup as is: validation errors leave the
    input out, and every JSON body escapes <, > and & (the parsed value is unchanged)."""
    url = f"{stack.ingest}/articles"
    attempts = [
        ("POST", url, {"json": {"outlet": XSS, "body": XSS, "title": XSS}}),  # accepted: nothing echoed
        ("POST", url, {"json": {"id": XSS, "outlet": "X", "body": "t"}}),
        ("POST", url, {"json": {"outlet": "X", "body": "t", "url": XSS}}),
        ("POST", url, {"json": {"outlet": "X", "body": "t", "published_at": XSS}}),
        ("POST", url, {"json": {"outlet": "X", "body": "t", XSS: 1}}),  # the key itself is in `loc`
        ("POST", url, {"json": {"outlet": XSS * 100, "body": "t"}}),
        ("POST", url, {"json": {"outlet": "X", "body": XSS, "html": XSS}}),
        ("POST", url, {"json": [XSS]}),
        ("POST", url, {"json": XSS}),
        ("POST", url, {"content": XSS, "headers": {"content-type": "application/json"}}),
        ("POST", url, {"content": XSS, "headers": {"content-type": "text/html"}}),
        ("POST", f"{url}/batch", {"json": [{"outlet": "X", "body": "t", XSS: XSS}, {"id": XSS, "outlet": XSS}]}),
        ("POST", f"{url}/batch", {"content": XSS + "\n", "headers": {"content-type": "application/x-ndjson"}}),
        ("POST", f"{url}/batch", {"content": "[" + XSS, "headers": {"content-type": "application/json"}}),
        ("GET", f"{stack.ingest}/{XSS}", {}),
        ("GET", f"{url}?{XSS}={XSS}", {}),
        ("PUT", url, {"json": {XSS: XSS}}),
    ]
    for method, target, kwargs in attempts:
        response = httpx.request(method, target, timeout=30, **kwargs)
        assert "<script" not in response.text.lower(), (method, target, kwargs, response.text)
        assert "</script" not in response.text.lower(), (method, target, kwargs, response.text)
        assert response.headers["content-type"] == "application/json", (method, target, response.headers)
        response.json()  # still valid JSON
    # The escaping keeps the value: the offending key comes back, decoded, in `loc`.
    extra = httpx.post(url, json={"outlet": "X", "body": "t", XSS: 1}, timeout=30)
    assert extra.json()["detail"][0]["loc"] == ["body", XSS]
    assert "\\u003cscript\\u003e" in extra.text


def test_openapi_documents_the_api_key_and_the_errors(stack):
    spec = httpx.get(f"{stack.ingest}/openapi.json", timeout=30).json()
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key",
        "description": spec["components"]["securitySchemes"]["ApiKey"]["description"]}
    writes = [(path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items()
              if method in ("post", "put", "patch", "delete")]
    assert {(path, method) for path, method, _ in writes} == {("/articles", "post"), ("/articles/batch", "post")}
    for path, method, op in writes:
        # This server has no key configured: the key is documented, and anonymous writes too.
        assert op["security"] == [{"ApiKey": []}, {}], (path, method)
        for code in ("400", "401", "413", "422", "503", "504"):
            assert op["responses"][code]["content"]["application/json"]["schema"] == \
                {"$ref": "#/components/schemas/ErrorBody"}, (path, code)


def test_api_key_is_required_when_configured(stack):
    port = free_port()
    env = stack.env | {"INGEST_API_KEY": "s3cret", "INGEST_FEEDS": "[]", "INGEST_REQUEST_TIMEOUT_S": "1",
                       "INGEST_DB_URL": f"sqlite:///{stack.workdir / 'ingest-key.db'}"}
    proc = start_service("ingest-key", ["-m", "uvicorn", "services.ingest.main:app", "--port", str(port)], env,
                         stack.workdir, f"http://127.0.0.1:{port}/healthz")
    try:
        base = f"http://127.0.0.1:{port}"
        url = f"{base}/articles"
        assert httpx.post(url, json=_article(), timeout=30).status_code == 401
        assert httpx.post(url, json=_article(), headers={"X-API-Key": "wrong"}, timeout=30).status_code == 401
        # A header with bytes outside ASCII is refused like any wrong key (not a 500).
        assert httpx.post(url, json=_article(), headers={"X-API-Key": "s3cr\u00e9t".encode("latin-1")},
                          timeout=30).status_code == 401
        assert httpx.post(url, json=_article(), headers={"X-API-Key": "s3cret"}, timeout=30).status_code == 202
        # Every write operation the server documents needs the key; the documents say so.
        spec = httpx.get(f"{base}/openapi.json", timeout=30).json()
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                if method in ("post", "put", "patch", "delete"):
                    assert operation["security"] == [{"ApiKey": []}], (path, method)
                    refused = httpx.request(method, f"{base}{path}", json=[_article()], timeout=30)
                    assert refused.status_code == 401, (path, method, refused.text)
                    assert refused.json() == {"detail": "missing or wrong X-API-Key header"}
                    assert refused.headers["www-authenticate"] == "ApiKey"
        # Reads stay open.
        assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200

        # The request timeout (1 s here): a body that trickles in is cut off with 504.
        started = time.monotonic()
        status, headers, body = _trickle(port, "/articles", {"X-API-Key": "s3cret"},
                                         b'{"outlet": "Slow", "body": "Too late."}', sent=10)
        assert status == 504, body
        assert headers["content-type"] == "application/json"
        assert "longer than 1 s" in json.loads(body)["detail"]
        assert time.monotonic() - started < 5
        assert "claimstream_http_request_timeouts_total 1.0" in httpx.get(f"{base}/metrics", timeout=30).text
    finally:
        stop_service(proc)


def _trickle(port: int, path: str, headers: dict, body: bytes, sent: int) -> tuple[int, dict, bytes]:
    """POST that announces the whole body but sends only its first `sent` bytes, then waits for the answer."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json",
                f"Content-Length: {len(body)}", "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body[:sent])
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head_bytes, _, rest = data.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    answer_headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), answer_headers, rest
