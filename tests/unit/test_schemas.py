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
