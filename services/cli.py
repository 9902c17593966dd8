"""The `claimstream` command: ingest, annotate, topics."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from pydantic import ValidationError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="claimstream", description="ClaimStream command line")
    sub = parser.add_subparsers(dest="command", required=True)

    p_ingest = sub.add_parser("ingest", help="publish articles from a JSONL file to Kafka (bulk load)")
    p_ingest.add_argument("file", type=Path)
    p_ingest.add_argument("--batch", type=int, default=200, help="articles per publish round")

    p_annotate = sub.add_parser("annotate", help="run the processing in-process, no Kafka: JSONL in, JSONL out")
    p_annotate.add_argument("file", nargs="?", type=Path, help="article JSONL (default: stdin)")
    p_annotate.add_argument("--threshold", type=float, default=None, help="claim threshold (default: setting)")

    p_topics = sub.add_parser("topics", help="create or list the registered topics")
    p_topics.add_argument("action", choices=["create", "list"])

    args = parser.parse_args(argv)
    if args.command == "ingest":
        return asyncio.run(_ingest(args.file, args.batch))
    if args.command == "annotate":
        return _annotate(args.file, args.threshold)
    return asyncio.run(_topics(args.action))


def _read_articles(stream: IO[str], source: str):
    """Yield (line number, ArticleIn); a bad line is reported with its number and stops the run."""
    from services.ingest.models import ArticleIn

    for n, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            yield n, ArticleIn.model_validate_json(line)
        except ValidationError as exc:
            raise SystemExit(f"{source}:{n}: invalid article: {exc.errors(include_url=False)[0]['msg']}") from exc


async def _ingest(path: Path, batch: int) -> int:
    from services.common.kafka import ensure_topics
    from services.common.settings import CommonSettings, KafkaSettings
    from services.ingest.ledger import Ledger
    from services.ingest.prepare import prepare_article
    from services.ingest.service import IngestService
    from services.ingest.settings import IngestSettings

    kafka, common, settings = KafkaSettings(), CommonSettings(), IngestSettings()
    service = IngestService(kafka.bootstrap_servers, common.namespace, Ledger(settings.db_url), "claimstream-cli")
    with path.open(encoding="utf-8") as handle:  # all checked first; the service's outlet memory across the file
        drafts = [prepare_article(a, service.memory) for _, a in _read_articles(handle, str(path))]
    await ensure_topics(kafka.bootstrap_servers, common.namespace)
    await service.start()
    counts = {"published": 0, "duplicate": 0}
    try:
        for i in range(0, len(drafts), batch):
            for accepted in await service.publish_drafts(drafts[i:i + batch], "file"):
                counts[accepted.status] += 1
    finally:
        await service.stop()
    print(f"ingested {path}: {counts['published']} published, {counts['duplicate']} already published")
    return 0


def _annotate(path: Path | None, threshold: float | None) -> int:
    from schemas import ArticleReceived
    from services.ingest.prepare import prepare_article
    from services.nlp import matching, pipeline
    from services.nlp.furniture import OutletMemory
    from services.processors.settings import ProcessorSettings

    threshold = ProcessorSettings().threshold() if threshold is None else threshold
    checkworthy = ProcessorSettings().checkworthy()
    # One in-memory index for the whole input: claims of later articles match earlier ones, as in the stream.
    index = matching.ClaimIndex({})
    # One outlet memory too: a line an outlet printed in earlier articles is page furniture, as in ingest.
    memory = OutletMemory()
    handle = path.open(encoding="utf-8") if path else sys.stdin
    try:
        for _, article in _read_articles(handle, str(path or "stdin")):
            draft = prepare_article(article, memory)
            received = ArticleReceived(**{k: getattr(draft, k) for k in (
                "article_id", "content_hash", "url", "outlet", "title", "body", "credit", "captions", "credits",
                "published_at", "language", "language_confidence")},
                version=1, received_at=datetime.now(timezone.utc), source="file")
            annotated = pipeline.annotate_sentences(pipeline.split_article(received), threshold, checkworthy)
            scored = pipeline.scored_claims(annotated)  # with sentence vectors, as the stream
            clusters = {c.sentence_id: c.cluster_id
                        for c in pipeline.match_claims(index, scored, datetime.now(timezone.utc))}
            for s in annotated:
                print(json.dumps({
                    "article_id": s.article_id, "sentence": s.text, "start": s.start, "end": s.end,
                    "is_claim": s.is_claim, "claim_score": s.claim_score,
                    "is_checkworthy": s.is_checkworthy, "checkworthy_score": s.checkworthy_score,
                    "cluster_id": clusters.get(s.sentence_id),
                    "entities": [e.model_dump() for e in s.entities],
                }, ensure_ascii=False))
    finally:
        if path:
            handle.close()
    return 0


async def _topics(action: str) -> int:
    from schemas import TOPICS, topic_name
    from services.common.kafka import ensure_topics, wait_for_broker
    from services.common.settings import CommonSettings, KafkaSettings

    kafka, common = KafkaSettings(), CommonSettings()
    if action == "create":
        await wait_for_broker(kafka.bootstrap_servers, 60)
        created = await ensure_topics(kafka.bootstrap_servers, common.namespace)
        print(f"created {len(created)} topics" + (": " + ", ".join(created) if created else " (all existed)"))
    else:
        for thing, spec in TOPICS.items():
            print(f"{topic_name(thing, common.namespace)}\t{spec.partitions}\t{spec.value}\t{spec.description}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
