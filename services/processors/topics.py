"""faust handles on the registered topics; values stay raw bytes and go through the shared codec."""

from __future__ import annotations

from schemas import TOPICS, topic_name
from services.processors.app import app, common


def _topic(thing: str):
    spec = TOPICS[thing]
    return app.topic(topic_name(thing, common.namespace), key_serializer="raw", value_serializer="raw",
                     partitions=spec.partitions, internal=False)


articles_topic = _topic("articles")
candidates_topic = _topic("candidates")
claims_topic = _topic("claims")
