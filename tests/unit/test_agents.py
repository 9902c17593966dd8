"""Agent tests with faust's test_context: decode, call, send; poison goes to the dead-letter path."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from schemas import ArticleReceived, ClaimDetected, ClusterUpdated, encode
from services.processors import agents
from services.processors.nlp_runner import NlpRunner


@pytest.fixture()
def sent(monkeypatch):
    record: dict[str, list] = {"out": [], "dead": []}

    async def fake_send_groups(groups):
        record["out"] += [(stage, thing, key, value) for stage, thing, messages in groups for key, value in messages]

    async def fake_dead_letter(stage, source_topic, raw, reason, error, **kw):
        record["dead"].append((stage, reason, raw))

    monkeypatch.setattr(agents, "send_groups", fake_send_groups)
    monkeypatch.setattr(agents, "dead_letter", fake_dead_letter)
    return record


def _article() -> ArticleReceived:
    return ArticleReceived(article_id="agent-1", version=1, content_hash="h", outlet="Harbor Daily",
                           body="Russia earned £136 billion from oil exports. Is that a lot?",
                           received_at=datetime(2026, 1, 1, tzinfo=timezone.utc))


def _things(sent, thing: str) -> list:
    return [value for _, th, _, value in sent["out"] if th == thing]


async def _process(*values: bytes) -> None:
    """Deliver each message to annotate_articles and wait until it is done (acked): the NLP runs in
    an executor (a child process by default), so put() alone returns before the outputs are sent."""
    import asyncio

    async with agents.annotate_articles.test_context() as agent:
        for value in values:
            event = await _deliver(agent, value)
            for _ in range(1200):
                if event.message.acked:
                    break
                await asyncio.sleep(0.05)
            assert event.message.acked, value[:80]


async def test_one_article_message_gives_its_sentences_annotations_and_claims(sent):
    await _process(encode(_article()))
    assert [s.text for s in _things(sent, "sentences")] == ["Russia earned £136 billion from oil exports.",
                                                            "Is that a lot?"]
    annotated = _things(sent, "annotations")
    assert [a.is_claim for a in annotated] == [True, False]
    assert [c.text for c in _things(sent, "candidates")] == ["Russia earned £136 billion from oil exports."]
    assert _things(sent, "revisions") == []  # a first version revises nothing
    assert {key.article_id for _, th, key, _ in sent["out"] if th != "candidates"} == {"agent-1"}


async def test_a_new_version_of_an_article_is_compared_with_the_last(sent):
    second = _article().model_copy(update={"version": 2, "content_hash": "h2",
                                           "body": "Russia earned £150 billion from oil exports. Is that a lot?"})
    await _process(encode(_article()), encode(second), encode(second))  # the second twice: a replay
    (revised,) = _things(sent, "revisions")
    assert (revised.version, revised.previous_version) == (2, 1)
    assert [(r.old_text, r.new_text) for r in revised.edited] == [("Russia earned £136 billion from oil exports.",
                                                                  "Russia earned £150 billion from oil exports.")]


async def test_poison_articles_are_dead_lettered_and_the_stream_goes_on(sent):
    await _process(b"not json at all", b'{"article_id": "x"}', encode(_article()))
    assert [reason for _, reason, _ in sent["dead"]] == ["not_json", "schema_mismatch"]
    assert len(_things(sent, "annotations")) == 2


async def test_a_sentence_the_nlp_fails_on_is_dead_lettered_alone(sent, monkeypatch):
    real = agents.annotate.annotate_sentences

    def failing_on_questions(sentences, *args, **kwargs):
        if any(s.text.endswith("?") for s in sentences):
            raise RuntimeError("the model broke on a question")
        return real(sentences, *args, **kwargs)

    monkeypatch.setattr(agents.annotate, "annotate_sentences", failing_on_questions)
    # The failure is patched into this process: the NLP must run here (a thread), not in a child.
    monkeypatch.setattr(agents, "NLP", NlpRunner("thread"))
    await _process(encode(_article()))
    assert [(stage, reason) for stage, reason, _ in sent["dead"]] == [("annotate", "processing_error")]
    assert b"Is that a lot?" in sent["dead"][0][2]
    assert [a.text for a in _things(sent, "annotations")] == ["Russia earned £136 billion from oil exports."]


async def test_match_claims_publishes_the_claim_and_its_ledger_once(sent):
    from schemas import ClaimScored

    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    claim = ClaimScored(claim_id="s-1", block="claims", article_id="agent-1", version=1, sentence_id="s-1",
                        text="Russia earned £136 billion from oil exports.", start=0, end=44, outlet="Harbor Daily",
                        received_at=now, claim_score=0.9, model_version="m")
    async with agents.match_claims.test_context() as agent:
        await agent.put(encode(claim))
        await agent.put(encode(claim))  # replayed after a crash: the same cluster, no second appearance
        await agent.put(encode(claim.model_copy(update={"claim_id": "s-2", "outlet": "Metro Courier",
                                                        "article_id": "agent-2", "sentence_id": "s-2"})))
    claims = [value for _, thing, _, value in sent["out"] if thing == "claims"]
    ledgers = [value for _, thing, _, value in sent["out"] if thing == "clusters"]
    assert len(claims) == 3 and isinstance(claims[0], ClaimDetected)
    # The matching window's size is exported for the soak (two distinct claims; the table is shared
    # with the other tests of this process, so at least two).
    from prometheus_client import REGISTRY

    assert REGISTRY.get_sample_value("claimstream_processor_match_window_claims") >= 2
    cached = REGISTRY.get_sample_value("claimstream_processor_match_cache_claims")
    assert 0 < cached <= agents.settings.match_cache_claims
    assert REGISTRY.get_sample_value("claimstream_processor_match_index_bytes") > 0
    assert claims[0].cluster_id == claims[1].cluster_id == claims[2].cluster_id
    assert len(ledgers) == 2 and isinstance(ledgers[-1], ClusterUpdated)
    assert ledgers[-1].appearance_count == 2 and ledgers[-1].first_outlet == "Harbor Daily"


async def _deliver(agent, value: bytes):
    """Deliver as faust's conductor does from Kafka: one reference on the message for the one
    stream reading it (test_context's put() leaves the count at zero)."""
    channel = agent.stream().channel
    event = await channel.decode(agent.to_message(None, value, partition=0, offset=0))
    event.message.incref()
    await channel.put(event)
    return event


async def _stop_mid_send(agent_fn, monkeypatch, value: bytes):
    """Deliver one event, stop the agent while its send is in flight, return the event."""
    import asyncio
    import gc

    started = asyncio.Event()

    async def hanging_send_groups(groups):
        started.set()
        await asyncio.Event().wait()  # the broker never answers before the stop

    monkeypatch.setattr(agents, "send_groups", hanging_send_groups)
    async with agent_fn.test_context() as agent:
        event = await _deliver(agent, value)
        await asyncio.wait_for(started.wait(), timeout=10)
    # faust acks in the stream generator's `finally`, which runs when the cancelled agent's
    # generator is finalised: give that a chance before looking.
    gc.collect()
    await asyncio.sleep(0.2)
    return event


async def test_a_stop_during_a_send_leaves_the_event_unacked(monkeypatch):
    # Acked means committed at the stop: the article's sentences and claims would never be produced.
    event = await _stop_mid_send(agents.annotate_articles, monkeypatch, encode(_article()))
    assert not event.message.acked


async def test_a_finished_event_is_acked(sent):
    import asyncio

    async with agents.annotate_articles.test_context() as agent:
        event = await _deliver(agent, encode(_article()))
        for _ in range(100):
            if event.message.acked:
                break
            await asyncio.sleep(0.05)
    assert event.message.acked and sent["out"]


def test_every_table_changelog_is_made_before_the_worker_starts():
    from services.processors.__main__ import changelog_topics
    from services.processors.app import app

    made = changelog_topics()
    assert set(made) == {t.changelog_topic.get_topic_name() for t in app.tables.values()}
    assert len(made) == 3 and all(name.endswith("-changelog") for name in made)
    assert all(config == {"cleanup.policy": "compact"} and partitions == 4
               for partitions, config in made.values())
