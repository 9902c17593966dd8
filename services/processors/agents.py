"""Agents: decode, call the pure stage function, send. Nothing else lives here."""

from __future__ import annotations

from datetime import datetime, timezone

from schemas import (
    ArticleKey,
    ArticleReceived,
    BlockKey,
    ClaimScored,
    ClusterKey,
    ClusterUpdated,
    DecodeError,
    SentenceAnnotated,
    SentenceKey,
    decode,
    encode,
)
from services.common.logging import get_logger
from services.nlp import matching
from services.processors import gaps
from services.processors.acks import held
from services.processors.app import app, settings
from services.processors.metrics import (
    CLAIMS,
    ERRORS,
    MATCH_CACHED,
    MATCH_CLAIMS,
    MATCH_INDEX_BYTES,
    MESSAGES_IN,
    SENTENCES,
    STAGE_DURATION,
)
from services.processors.nlp_runner import NlpRunner, annotate_and_score, load_models
from services.processors.outputs import dead_letter, send_groups
from services.processors.tables import article_versions, claim_records, cluster_ledgers
from services.processors.topics import articles_topic, candidates_topic
from services.stages import annotate, match, revisions
from services.stages.ledgers import track_ledgers

log = get_logger("processors.agents")
gaps.install()  # a jump past unprocessed input records stops the worker instead of committing them

# The NLP runs off the event loop (a child process by default, see nlp_runner), so Kafka
# heartbeats, matching and the other agents keep going while an article is scored.
NLP = NlpRunner(settings.nlp_mode)
MAX_MESSAGE_BYTES = 2 * 1024 * 1024


async def _decode_or_dead_letter(stage: str, model, event):
    raw, message = event.value, event.message
    MESSAGES_IN.labels(stage).inc()
    try:
        if raw is not None and len(raw) > MAX_MESSAGE_BYTES:
            raise DecodeError("oversized", f"{len(raw)} bytes; the limit is {MAX_MESSAGE_BYTES}")
        return decode(model, raw)
    except DecodeError as exc:
        ERRORS.labels(stage, exc.reason).inc()
        await dead_letter(stage, message.topic, raw, exc.reason, str(exc), key=event.key,
                          partition=message.partition, offset=message.offset)
        return None


@app.agent(articles_topic)
async def annotate_articles(stream):
    """One article version in, everything the NLP says about it out: its sentences (`sentences`, a
    derived topic for subscribers), their annotations, its claims for matching and, when it completes
    a new version, the revision against the previous one.

    One consumed message per article instead of one per sentence on two topics (issue 16): faust
    costs about a millisecond per consumed message, the NLP of an article a hundred. One event at a
    time, so the revision state is written inside its own event (faust picks the changelog
    partition from the current event); articles and their revision state share the article id key.
    """
    async for event in stream.events():
        with held([event]):
            article = await _decode_or_dead_letter("split", ArticleReceived, event)
            if article is None:
                continue
            with STAGE_DURATION.labels("split").time():
                sentences = annotate.split_article(article)
            if not sentences:
                continue
            with STAGE_DURATION.labels("annotate").time():
                annotated, scored = await _annotate_isolating_failures(event, sentences)
            SENTENCES.inc(len(annotated))
            CLAIMS.inc(len(scored))
            with STAGE_DURATION.labels("revise").time():
                state, revised = _revise(article_versions.get(article.article_id), annotated)
            key = SentenceKey(article_id=article.article_id)
            await send_groups([
                ("split", "sentences", [(key, s) for s in sentences]),
                ("annotate", "annotations", [(key, a) for a in annotated]),
                ("annotate", "candidates", [(BlockKey(block=c.block), c) for c in scored]),
                ("revise", "revisions", [(ArticleKey(article_id=r.article_id), r) for r in revised]),
            ])
            # Written after the sends: a worker killed in between replays the article and sends the
            # same again (deterministic ids; the query upserts a revision by article and version).
            if state is not None:
                article_versions[article.article_id] = state


def _revise(state: dict | None, annotated: list[SentenceAnnotated]) -> tuple[dict | None, list]:
    """Feed the article's annotated sentences to the revision tracker, in order."""
    revised = []
    now = datetime.now(timezone.utc)
    for sentence in annotated:
        state, revision = revisions.record(state, sentence, now)
        if revision is not None:
            revised.append(revision)
    return state, revised


async def _annotate_isolating_failures(event, sentences: list) -> tuple[list, list]:
    """Annotate an article; if it fails, retry one sentence at a time so only the sentence that fails
    is dead-lettered (its SentenceExtracted, with the article message's topic, partition and offset)."""
    threshold, checkworthy = settings.threshold(), settings.checkworthy()
    try:
        return await NLP.run(annotate_and_score, sentences, threshold, checkworthy)
    except Exception as exc:  # noqa: BLE001 - isolate, do not stall the stream
        log.warning("article failed, retrying one sentence at a time", error=repr(exc))
    out, scored = [], []
    for sentence in sentences:
        try:
            one, one_scored = await NLP.run(annotate_and_score, [sentence], threshold, checkworthy)
            out += one
            scored += one_scored
        except Exception as exc:  # noqa: BLE001 - this one sentence is dead-lettered, the rest go on
            ERRORS.labels("annotate", "processing_error").inc()
            await dead_letter("annotate", event.message.topic, encode(sentence), "processing_error", repr(exc),
                              key=event.key, partition=event.message.partition, offset=event.message.offset)
    return out, scored


def _policy() -> matching.MatchPolicy:
    # The pair model decides (its thresholds live in models/pair_model.json); the cosine-only
    # paraphrase threshold is a baseline for scripts/eval_dedup.py, not a setting of the stream.
    return matching.MatchPolicy(window_s=settings.match_window_days * 24 * 3600,
                                max_claims=settings.match_max_claims)


class _Ledgers:
    """The ledger table read as ClusterUpdated models (track_ledgers reads a mapping)."""

    def get(self, cluster_id: str) -> ClusterUpdated | None:
        stored = cluster_ledgers.get(cluster_id)
        return ClusterUpdated.model_validate(stored) if stored else None


def _export_footprint(footprint: dict[str, int]) -> None:
    MATCH_CLAIMS.set(footprint["claims"])
    MATCH_INDEX_BYTES.set(footprint["ann_bytes"])
    MATCH_CACHED.set(footprint["cached"])


@app.agent(candidates_topic)
async def match_claims(stream):
    """Decide each claim's cluster against the partition's index, then keep the propagation ledgers.

    Every claim comes under one routing key, so this partition's index meets every recent claim and
    owns every cluster: merging two clusters folds two ledgers held right here.
    """
    index = matching.ClaimIndex(claim_records, _policy(), cache_size=settings.match_cache_claims)
    ledgers, rebuilt = _Ledgers(), False
    # One event at a time: table writes must happen inside the event's own
    # iteration, so faust writes them to that event's changelog partition.
    async for event in stream.events():
        with held([event]):
            claim = await _decode_or_dead_letter("match", ClaimScored, event)
            if claim is None:
                continue
            now = datetime.now(timezone.utc)
            if not rebuilt:  # the first claim after a start builds the ANN index from the restored table
                log.info("matching index rebuilt", claims=len(index), partition=event.message.partition)
                rebuilt = True
            with STAGE_DURATION.labels("match").time():
                detected = match.match_step(index, claim, now)
            _export_footprint(index.footprint())
            with STAGE_DURATION.labels("cluster").time():
                merges, writes = track_ledgers(ledgers, detected, now, settings.max_appearances)
            # Publish before writing the ledgers: a worker killed in between replays this message, finds
            # the stored decision and the old ledgers, and publishes the same again (consumers ignore repeats).
            # One round trip for the claim and its ledgers: this partition holds every claim, so the
            # time spent waiting here bounds the whole stream's throughput.
            await send_groups([
                ("match", "claims", [(ClusterKey(cluster_id=detected.cluster_id), detected)]),
                ("cluster", "clusters", [(ClusterKey(cluster_id=m.merged_id), m) for m in merges]
                 + [(ClusterKey(cluster_id=cid), ledger) for cid, ledger in writes.items() if ledger is not None]),
            ])
            for cid, ledger in writes.items():
                if ledger is None:
                    cluster_ledgers.pop(cid, None)
                else:
                    cluster_ledgers[cid] = ledger.model_dump(mode="json")


@app.task
async def warm_up() -> None:
    """Load the models before the first article arrives (done already when started by __main__)."""
    log.info("models loaded", claim_model=await NLP.run(load_models), nlp=NLP.mode)
