"""Bulk input that never falls over (issue 15): the CLI reports bad lines and goes on; HTTP names the items."""

from __future__ import annotations

import json

import pytest
from fastapi import Request

from services import cli
from services.ingest.models import ArticleIn
from services.ingest.prepare import ArticleErrors, language_warnings, prepare_all

GOOD = {"id": "ok1", "outlet": "Harbor Daily",
        "body": "The city closed the Elm Street bridge on Monday after inspectors found cracks in two supports."}
FURNITURE = {"id": "furniture", "outlet": "A",
             "body": "Share this article\n\nAdvertisement\n\nSubscribe to our newsletter"}
GERMAN = {"id": "de1", "outlet": "Berliner Blatt",
          "body": "Die Stadt hat am Montag die Brücke in der Elmstraße gesperrt, nachdem Prüfer Risse in zwei "
                  "Stützen gefunden hatten. Der Verkehr wird seitdem über die Hafenstraße umgeleitet, teilte die "
                  "Verwaltung mit.\n\nNach Angaben des Bauamts soll die Reparatur bis zum Herbst dauern und rund "
                  "zwei Millionen Euro kosten."}


def _file(tmp_path, lines: list) -> str:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(json.dumps(x).encode() if isinstance(x, dict) else x for x in lines) + b"\n")
    return str(path)


BAD_LINES = [GOOD, {"id": "x", "body": "Prices rose."}, b"not json", FURNITURE, b"\xff\xfe", GERMAN]


def test_prepare_all_lists_every_item_with_nothing_left():
    with pytest.raises(ArticleErrors) as caught:
        prepare_all([ArticleIn(**GOOD), ArticleIn(**FURNITURE), ArticleIn(**FURNITURE)])
    assert [(n, field) for n, field, _ in caught.value.errors] == [(1, "body"), (2, "body")]
    assert language_warnings("de") and not language_warnings("en")


def test_annotate_reports_bad_lines_and_goes_on(tmp_path, capsys):
    rc = cli.main(["annotate", _file(tmp_path, BAD_LINES)])
    out, err = capsys.readouterr()
    assert rc == 1
    assert {json.loads(line)["article_id"] for line in out.splitlines()} == {"ok1", "de1"}
    assert ":2: invalid article: outlet: Field required" in err
    assert ":3: invalid article:" in err and ":5: invalid article: the line is not UTF-8" in err
    assert ":4: skipped: body:" in err
    assert ":6: warning: language 'de'" in err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].endswith("2 articles, 4 failed (lines 2, 3, 4, 5)")


def test_ingest_publishes_the_good_lines_and_fails_at_the_end(tmp_path, capsys, monkeypatch):
    published = []

    class FakeService:
        def __init__(self, *args, **kwargs):
            from services.nlp.furniture import OutletMemory

            self.memory = OutletMemory()

        async def start(self):
            pass

        async def stop(self):
            pass

        async def publish_drafts(self, drafts, source):
            from services.ingest.models import ArticleAccepted

            published.extend(d.article_id for d in drafts)
            return [ArticleAccepted(id=d.article_id, version=1, status="published") for d in drafts]

    async def no_topics(*args, **kwargs):
        return []

    import services.common.kafka
    import services.ingest.service

    monkeypatch.setattr(services.ingest.service, "IngestService", FakeService)
    monkeypatch.setattr(services.common.kafka, "ensure_topics", no_topics)
    monkeypatch.setenv("INGEST_DB_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    rc = cli.main(["ingest", _file(tmp_path, BAD_LINES)])
    out, err = capsys.readouterr()
    assert rc == 1 and published == ["ok1", "de1"]
    assert "2 published, 0 already published, 4 failed (lines 2, 3, 4, 5)" in out
    assert ":4: skipped: body:" in err and "Traceback" not in err
    rc = cli.main(["ingest", _file(tmp_path, [GOOD])])
    assert rc == 0 and "0 failed" in capsys.readouterr().out
    assert cli.main(["ingest", str(tmp_path / "missing.jsonl")]) == 2


@pytest.fixture()
def ingest_client(tmp_path):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from services.common.http import install_error_handlers
    from services.ingest.models import ArticleAccepted
    from services.ingest.routers import articles
    from services.ingest.settings import IngestSettings

    class FakeService:
        async def ingest(self, items, source):
            drafts = prepare_all(items)
            return [ArticleAccepted(id=d.article_id, version=1, status="published", language=d.language,
                                    warnings=language_warnings(d.language)) for d in drafts]

    app = FastAPI()
    app.state.settings = IngestSettings(db_url=f"sqlite:///{tmp_path / 'l.db'}", max_article_bytes=2000,
                                        allow_open_writes=True)  # TestClient's server is "testserver"
    app.state.service = FakeService()
    install_error_handlers(app)
    app.include_router(articles.router)
    return TestClient(app)


def test_http_batch_lists_every_bad_item_by_index_and_field(ingest_client):
    body = "\n".join([json.dumps(GOOD), json.dumps({"id": "x", "body": "Prices rose."}), "not json",
                      json.dumps(GOOD | {"id": "y", "published_at": "yesterday"})])
    response = ingest_client.post("/articles/batch", content=body, headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["detail"]]
    assert locs == [["body", 1, "outlet"], ["body", 2], ["body", 3, "published_at"]]
    response = ingest_client.post("/articles/batch", json=[GOOD, FURNITURE, GERMAN])
    assert response.status_code == 422
    assert [(e["loc"], e["type"]) for e in response.json()["detail"]] == [(["body", 1, "body"], "empty_article")]
    response = ingest_client.post("/articles/batch", json=[GOOD, GOOD | {"id": "big", "body": "x " * 1500}])
    assert response.status_code == 413 and response.json()["detail"][0]["loc"] == ["body", 1, "body"]


def test_http_warns_about_articles_that_will_not_be_scored(ingest_client):
    response = ingest_client.post("/articles", json=GERMAN)
    assert response.status_code == 202
    accepted = response.json()["articles"][0]
    assert accepted["language"] == "de" and "only English is scored" in accepted["warnings"][0]
    response = ingest_client.post("/articles", json=FURNITURE)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "body"]


def test_writes_without_a_key_only_over_loopback(tmp_path):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from services.common.apikey import check_write_access, is_loopback, open_writes_refusal

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback(None)
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3") and not is_loopback("testserver")
    assert "INGEST_API_KEY" in open_writes_refusal("ingest", "0.0.0.0", None, False)
    assert open_writes_refusal("ingest", "0.0.0.0", "k", False) is None
    assert open_writes_refusal("ingest", "0.0.0.0", None, True) is None
    assert open_writes_refusal("ingest", "127.0.0.1", None, False) is None

    app = FastAPI()

    @app.post("/w")
    def write(request: Request) -> dict:
        check_write_access("query", request, None, None, False)
        return {}

    client = TestClient(app)  # the server address of its requests is "testserver", not loopback
    refused = client.post("/w")
    assert refused.status_code == 401 and "QUERY_API_KEY" in refused.json()["detail"]
    local = TestClient(app, base_url="http://127.0.0.1")
    assert local.post("/w").status_code == 200
