from datetime import datetime, timezone

import pytest

from schemas import TOPICS, ArticleReceived, DecodeError, decode, encode, topic_name
from schemas.generate import main as generate_main


def test_committed_json_schemas_are_current():
    assert generate_main(["--check"]) == 0, "run `make schemas` and commit schemas/json"


def _article(**overrides) -> ArticleReceived:
    values = dict(article_id="a1", version=1, content_hash="h", outlet="X", body="Text.",
                  received_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    return ArticleReceived(**(values | overrides))


def test_codec_round_trip():
    article = _article(title="T")
    assert decode(ArticleReceived, encode(article)) == article


@pytest.mark.parametrize("payload, reason", [
    (b"\xff\xfenot json", "not_json"),
    (b"{\"article_id\": 1", "not_json"),
    (b"{\"article_id\": \"a\"}", "schema_mismatch"),
    (b"[]", "schema_mismatch"),
    (b"", "empty"),
    (None, "empty"),
])
def test_codec_names_the_reason(payload, reason):
    with pytest.raises(DecodeError) as info:
        decode(ArticleReceived, payload)
    assert info.value.reason == reason


def test_unknown_fields_and_versions_are_refused():
    data = _article().model_dump(mode="json")
    with pytest.raises(DecodeError, match="schema_mismatch"):
        decode(ArticleReceived, __import__("json").dumps(data | {"surprise": 1}))
    with pytest.raises(DecodeError, match="schema_version"):
        decode(ArticleReceived, __import__("json").dumps(data | {"schema_version": 2}))


def test_topic_names_follow_the_convention(monkeypatch):
    assert topic_name("claims") == "claimstream.claims.v1"
    monkeypatch.setenv("CLAIMSTREAM_NAMESPACE", "test1")
    assert topic_name("deadletter") == "test1.deadletter.v1"
    with pytest.raises(KeyError):
        topic_name("nonsense")
    # One article stays on one partition through every stage keyed by article id.
    assert TOPICS["articles"].partitions == TOPICS["sentences"].partitions == TOPICS["annotations"].partitions


def test_events_from_before_the_checkworthy_score_still_decode():
    import json

    from schemas import ClaimDetected, SentenceAnnotated

    now = datetime(2026, 1, 1, tzinfo=timezone.utc).isoformat()
    sentence = dict(sentence_id="s1", article_id="a1", version=1, index=0, count=1, text="Exports fell 3%.",
                    start=0, end=16, outlet="X", received_at=now, claim_score=0.9, is_claim=True, model_version="m")
    old = decode(SentenceAnnotated, json.dumps(sentence))
    assert (old.checkworthy_score, old.is_checkworthy) == (0.0, False)
    new = decode(SentenceAnnotated, json.dumps(sentence | {"checkworthy_score": 0.7, "is_checkworthy": True}))
    assert (new.checkworthy_score, new.is_checkworthy) == (0.7, True)
    claim = dict(claim_id="k1", cluster_id="c1", article_id="a1", version=1, sentence_id="s1", text="Exports fell 3%.",
                 start=0, end=16, outlet="X", received_at=now, detected_at=now, claim_score=0.9, model_version="m")
    assert decode(ClaimDetected, json.dumps(claim)).checkworthy_score == 0.0
