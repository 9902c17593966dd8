"""One schema package shared by every service: event models, topic registry, codec."""

from schemas.codec import DecodeError, decode, encode
from schemas.events import (
    SCHEMA_VERSION,
    ArticleKey,
    ArticleReceived,
    ClaimDetected,
    ClusterAppearance,
    ClusterKey,
    ClusterUpdated,
    DeadLetterKey,
    Entity,
    MessageDeadLettered,
    SentenceAnnotated,
    SentenceExtracted,
    SentenceKey,
)
from schemas.topics import TOPICS, TopicSpec, topic_name

__all__ = [
    "SCHEMA_VERSION",
    "ArticleKey",
    "ArticleReceived",
    "ClaimDetected",
    "ClusterAppearance",
    "ClusterKey",
    "ClusterUpdated",
    "DeadLetterKey",
    "DecodeError",
    "Entity",
    "MessageDeadLettered",
    "SentenceAnnotated",
    "SentenceExtracted",
    "SentenceKey",
    "TOPICS",
    "TopicSpec",
    "decode",
    "encode",
    "topic_name",
]
