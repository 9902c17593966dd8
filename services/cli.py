"""The `claimstream` command: ingest, annotate, topics, db."""

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

    p_db = sub.add_parser("db", help="schema migrations of the services' databases (QUERY_DB_URL, INGEST_DB_URL)")
    p_db.add_argument("action", choices=["upgrade", "current"],
                      help="upgrade: apply every migration (the services also do at start-up); current: show the "
                           "revision of each database and the newest one")
    p_db.add_argument("--service", choices=["query", "ingest", "all"], default="all")

    args = parser.parse_args(argv)
    if args.command == "db":
        return _db(args.action, args.service)
    if args.command == "ingest":
        return asyncio.run(_ingest(args.file, args.batch))
    if args.command == "annotate":
        return _annotate(args.file, args.threshold)
    return asyncio.run(_topics(args.action))


class Problems:
    """Bad input lines: reported on stderr as they are met (`FILE:LINE: what`), summarised at the end."""

    def __init__(self, source: str):
        self.source = source
        self.lines: list[int] = []

    def report(self, n: int, message: str) -> None:
        self.lines.append(n)
        print(f"{self.source}:{n}: {message}", file=sys.stderr, flush=True)

    def summary(self) -> str:
        shown = ", ".join(map(str, self.lines[:20])) + (", ..." if len(self.lines) > 20 else "")
        return f"{len(self.lines)} failed (line{'s' if len(self.lines) != 1 else ''} {shown})" if self.lines \
            else "0 failed"


def field_errors(exc: ValidationError) -> str:
    """`outlet: Field required; published_at: ...`: every problem, each with the field it is about."""
    parts = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{loc}: {error['msg']}" if loc else error["msg"])
    return "; ".join(parts)


def _read_articles(stream: IO[bytes], problems: Problems):
    """Yield (line number, ArticleIn); a bad line is reported with its number and skipped."""
    from services.ingest.models import ArticleIn

    for n, raw in enumerate(stream, start=1):
        try:
            line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError:
            problems.report(n, "invalid article: the line is not UTF-8 text")
            continue
        if not line.strip():
            continue
        try:
            yield n, ArticleIn.model_validate_json(line)
        except ValidationError as exc:
            problems.report(n, f"invalid article: {field_errors(exc)}")


def _prepare(numbered, problems: Problems, memory=None):
    """Yield (line number, draft); an article with nothing left once cleaned is reported and skipped."""
    from services.ingest.prepare import EmptyArticleError, prepare_article

    for n, article in numbered:
        try:
            yield n, prepare_article(article, memory)
        except EmptyArticleError as exc:
            problems.report(n, f"skipped: {'body' if article.body else 'html'}: {exc} (only page furniture?)")


async def _ingest(path: Path, batch: int) -> int:
    from services.common.kafka import ensure_topics
    from services.common.settings import CommonSettings, KafkaSettings
    from services.ingest.ledger import Ledger
    from services.ingest.prepare import language_warnings
    from services.ingest.service import IngestService
    from services.ingest.settings import IngestSettings

    kafka, common, settings = KafkaSettings(), CommonSettings(), IngestSettings()
    problems = Problems(str(path))
    # The service's outlet memory across the whole file, as in ingest; it is made before the lines are read.
    service = IngestService(kafka.bootstrap_servers, common.namespace, Ledger(settings.db_url), "claimstream-cli")
    try:
        handle = path.open("rb")
    except OSError as exc:
        print(f"claimstream ingest: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    with handle:
        # Every line is checked and cleaned before anything is published; bad lines are reported and left out.
        numbered = list(_prepare(_read_articles(handle, problems), problems, service.memory))
    for n, draft in numbered:
        for warning in language_warnings(draft.language):
            print(f"{path}:{n}: warning: {warning}", file=sys.stderr)
    counts = {"published": 0, "duplicate": 0}
    if numbered:
        await ensure_topics(kafka.bootstrap_servers, common.namespace)
        await service.start()
        try:
            drafts = [d for _, d in numbered]
            for i in range(0, len(drafts), batch):
                for accepted in await service.publish_drafts(drafts[i:i + batch], "file"):
                    counts[accepted.status] += 1
        finally:
            await service.stop()
    print(f"ingested {path}: {counts['published']} published, {counts['duplicate']} already published, "
          f"{problems.summary()}")
    return 1 if problems.lines else 0


def _annotate(path: Path | None, threshold: float | None) -> int:
    from services.nlp import matching
    from services.nlp.furniture import OutletMemory
    from services.processors.settings import ProcessorSettings
    from services.stages import annotate, match

    threshold = ProcessorSettings().threshold() if threshold is None else threshold
    checkworthy = ProcessorSettings().checkworthy()
    # One in-memory index for the whole input: claims of later articles match earlier ones, as in the stream.
    index = matching.ClaimIndex({})
    # One outlet memory too: a line an outlet printed in earlier articles is page furniture, as in ingest.
    memory = OutletMemory()
    source = str(path or "stdin")
    problems = Problems(source)
    try:
        handle = path.open("rb") if path else sys.stdin.buffer
    except OSError as exc:
        print(f"claimstream annotate: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    done = 0
    from services.ingest.prepare import article_received, language_warnings

    try:
        for n, draft in _prepare(_read_articles(handle, problems), problems, memory):
            for warning in language_warnings(draft.language):
                print(f"{source}:{n}: warning: {warning}", file=sys.stderr)
            received = article_received(draft, 1, "file")
            try:
                annotated = annotate.annotate_sentences(annotate.split_article(received), threshold, checkworthy)
                scored = annotate.scored_claims(annotated)  # with sentence vectors, as the stream
                clusters = {c.sentence_id: c.cluster_id
                            for c in match.match_claims(index, scored, datetime.now(timezone.utc))}
            except Exception as exc:  # noqa: BLE001 - one article must not stop a bulk run
                problems.report(n, f"failed: {type(exc).__name__}: {exc}")
                continue
            for s in annotated:
                print(json.dumps({
                    "article_id": s.article_id, "sentence": s.text, "start": s.start, "end": s.end,
                    "is_claim": s.is_claim, "claim_score": s.claim_score,
                    "is_checkworthy": s.is_checkworthy, "checkworthy_score": s.checkworthy_score,
                    "cluster_id": clusters.get(s.sentence_id),
                    "entities": [e.model_dump() for e in s.entities],
                }, ensure_ascii=False))
            done += 1
    finally:
        if path:
            handle.close()
    print(f"annotated {source}: {done} articles, {problems.summary()}", file=sys.stderr)
    return 1 if problems.lines else 0


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


def _db(action: str, service: str) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from services.common.database import SchemaError, create_engine_for, current, head
    from services.ingest import ledger
    from services.ingest.settings import IngestSettings
    from services.query import db
    from services.query.settings import QuerySettings

    targets = {"query": (QuerySettings().db_url, db.upgrade, "services.query"),
               "ingest": (IngestSettings().db_url, ledger.upgrade, "services.ingest")}
    status = 0
    for name, (url, upgrade, package) in targets.items():
        if service not in (name, "all"):
            continue
        engine = create_engine_for(url)
        try:
            at = upgrade(engine) if action == "upgrade" else current(engine)
            print(f"{name}: {engine.url.render_as_string(hide_password=True)} at {at or 'no revision'} "
                  f"(newest {head(package)})")
        except (SchemaError, SQLAlchemyError) as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            status = 1
        finally:
            engine.dispose()
    return status


if __name__ == "__main__":
    raise SystemExit(main())

