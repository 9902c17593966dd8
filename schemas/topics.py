"""The registry of topics: one place for names, partitions and retention.

Names are `<namespace>.<thing>.v1`; the namespace is `claimstream` unless
`CLAIMSTREAM_NAMESPACE` says otherwise (tests use a fresh one per run so
that they never read an earlier run's messages).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    thing: str
    partitions: int
    key: str
    value: str
    description: str
    config: dict[str, str] = field(default_factory=dict)


# Partition counts match: sentences, annotations and articles are keyed by
# article id, so one article stays on one partition through every stage.
TOPICS: dict[str, TopicSpec] = {
    spec.thing: spec
    for spec in (
        TopicSpec("articles", 4, "ArticleKey", "ArticleReceived",
                  "Cleaned articles from ingest, keyed by article id",
                  {"retention.ms": str(30 * DAY_MS), "cleanup.policy": "delete",
                   # room for a 1 MiB body plus its JSON; larger payloads reach the dead-letter topic
                   "max.message.bytes": str(4 * 1024 * 1024)}),
        TopicSpec("sentences", 4, "SentenceKey", "SentenceExtracted",
                  "Sentences with offsets, keyed by article id",
                  {"retention.ms": str(7 * DAY_MS)}),
        TopicSpec("annotations", 4, "SentenceKey", "SentenceAnnotated",
                  "Every sentence with claim score and entities, keyed by article id",
                  {"retention.ms": str(30 * DAY_MS)}),
        TopicSpec("candidates", 4, "BlockKey", "ClaimScored",
                  "Claims before matching; one routing key, so one partition's index meets every recent claim",
                  {"retention.ms": str(7 * DAY_MS)}),
        TopicSpec("claims", 4, "ClusterKey", "ClaimDetected",
                  "Check-worthy claims, keyed by cluster id",
                  {"retention.ms": str(30 * DAY_MS)}),
        TopicSpec("clusters", 4, "ClusterKey", "ClusterEvent",
                  "Propagation ledger per cluster (ClusterUpdated), or a merged cluster's redirect "
                  "(ClusterMerged); compacted, latest state per key",
                  {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}),
        TopicSpec("revisions", 4, "ArticleKey", "ArticleRevised",
                  "Claim-level differences between versions of an article",
                  {"retention.ms": str(30 * DAY_MS)}),
        TopicSpec("alerts", 4, "ClusterKey", "AlertFired",
                  "Claim-velocity alerts from the query service, keyed by cluster id; compacted",
                  {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}),
        TopicSpec("feedback", 1, "FeedbackKey", "FeedbackRecorded",
                  "Reviewer feedback on claims and cluster membership, keyed by claim id; kept forever",
                  {"retention.ms": "-1"}),
        TopicSpec("deadletter", 1, "DeadLetterKey", "MessageDeadLettered",
                  "Messages a stage could not decode or process, with the reason",
                  {"retention.ms": str(30 * DAY_MS)}),
    )
}


def namespace() -> str:
    return os.environ.get("CLAIMSTREAM_NAMESPACE", "claimstream")


def topic_name(thing: str, ns: str | None = None) -> str:
    if thing not in TOPICS:
        raise KeyError(f"unknown topic {thing!r}; known: {', '.join(TOPICS)}")
    return f"{ns or namespace()}.{thing}.v1"
