from datetime import datetime, timezone

from schemas import SentenceAnnotated
from services.stages import revisions

NOW = datetime(2026, 8, 11, tzinfo=timezone.utc)


def _sentences(version: int, texts: list[tuple[str, bool]]) -> list[SentenceAnnotated]:
    return [SentenceAnnotated(sentence_id=f"s{version}-{i}", article_id="a1", version=version, index=i,
                              count=len(texts), text=t, start=0, end=len(t), outlet="X", received_at=NOW,
                              claim_score=0.9 if c else 0.1, is_claim=c, model_version="m")
            for i, (t, c) in enumerate(texts)]


V1 = [("Firefighters evacuated 2,400 residents from three villages.", True),
      ("What happens next?", False),
      ("The blaze burned 3,100 hectares of pine forest.", True),
      ("Officials blamed a downed power line.", True)]
V2 = [("Firefighters evacuated 2,600 residents from three villages.", True),
      ("What happens next?", False),
      ("The blaze burned 3,100 hectares of pine forest.", True),
      ("Rain is expected on Friday, forecasters said.", True)]


def _feed(state, sentences):
    events = []
    for s in sentences:
        state, revision = revisions.record(state, s, NOW)
        if revision:
            events.append(revision)
    return state, events


def test_a_new_version_is_compared_claim_by_claim():
    state, first = _feed(None, _sentences(1, V1))
    assert first == []  # nothing to compare the first version with
    state, [revision] = _feed(state, list(reversed(_sentences(2, V2))))  # arrival order does not matter
    assert revision.version == 2 and revision.previous_version == 1
    assert len(revision.unchanged) == 1
    assert [(e.old_text, e.new_text) for e in revision.edited] == [
        ("Firefighters evacuated 2,400 residents from three villages.",
         "Firefighters evacuated 2,600 residents from three villages.")]
    assert [w.old_text for w in revision.withdrawn] == ["Officials blamed a downed power line."]
    assert [a.new_text for a in revision.added] == ["Rain is expected on Friday, forecasters said."]


def test_replayed_sentences_do_not_produce_a_second_revision():
    state, _ = _feed(None, _sentences(1, V1))
    state, events = _feed(state, _sentences(2, V2))
    state, again = _feed(state, _sentences(2, V2))
    assert len(events) == 1 and again == []


def test_state_keeps_only_recent_versions():
    state = None
    for v in range(1, 6):
        state, _ = _feed(state, _sentences(v, V1 if v % 2 else V2))
    assert list(state["versions"]) == ["5"]  # the newest complete version only
