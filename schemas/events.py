"""Pydantic v2 models for the key and value of every topic.

Events are named in the past tense. Every value carries `schema_version` so a
consumer can tell which shape it holds; a breaking change gets a new topic
(`...v2`), an additive one bumps the version here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

SCHEMA_VERSION: Final = 1  # Final: its type is Literal[1], as the field says


class _Event(BaseModel):
    # Unknown fields are refused so that a producer bug shows up as a dead
    # letter instead of silently dropped data.
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION


class _Key(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArticleKey(_Key):
    article_id: str


class SentenceKey(_Key):
    article_id: str


class ClusterKey(_Key):
    cluster_id: str


class BlockKey(_Key):
    """Routes claims that could be the same claim to one partition (see services/nlp/matching.py)."""

    block: str


class FeedbackKey(_Key):
    """Feedback on one claim stays on one partition, in the order it was given."""

    claim_id: str


class DeadLetterKey(_Key):
    source_topic: str
    stage: str


class ArticleReceived(_Event):
    """An article accepted by ingest, cleaned, ready for the processors."""

    article_id: str
    version: int = Field(ge=1, description="1 for the first body seen under this id, +1 per changed body")
    content_hash: str
    url: str | None = None
    outlet: str
    title: str | None = None
    body: str = Field(description="Cleaned plain text; sentence offsets refer to it")
    credit: str | None = Field(None, description="Outlet the story came from (a 'Credits: X' line)")
    captions: list[str] = Field(default_factory=list, description="Photo, image and video caption lines "
                                "removed from the body as page furniture")
    credits: list[str] = Field(default_factory=list, description="Byline, reporting, editing and source lines "
                               "removed from the body as page furniture")
    published_at: datetime | None = None
    received_at: datetime
    source: Literal["http", "batch", "feed", "file"] = "http"
    language: str = Field("en", description="ISO 639-1 code detected from the body")
    language_confidence: float | None = None


class SentenceExtracted(_Event):
    """One sentence of an article, with the article facts the later stages need."""

    sentence_id: str
    article_id: str
    version: int
    index: int = Field(ge=0)
    count: int = Field(ge=1, description="Sentences in this article version")
    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    outlet: str
    url: str | None = None
    published_at: datetime | None = None
    received_at: datetime
    language: str = Field("en", description="The article's language; only English is scored")


class Entity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    label: str
    canonical: str
    start: int
    end: int
    entity_id: str | None = Field(None, description="Stable id from the gazetteer, when linked")
    metonymy: bool = Field(False, description="A capital or seat standing for its state or institution")


class Quantity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    value: float
    unit: str | None = None
    scale: str | None = Field(None, description="The scale word as written: billion, bn, millions...")
    start: int
    end: int
    approximate: bool = False
    base_value: float | None = Field(None, description="The value in base_unit (SI for physical units): "
                                     "'7.5 miles' -> 12070.08; what matching compares")
    base_unit: str | None = Field(None, description="meter, kilogram, meter ** 2, meter / second, a currency "
                                  "code, percent, percentage points; null for a count ('4,800 people')")
    precision: float | None = Field(None, description="The step the figure was written to, in base_unit: "
                                    "'4,800' -> 100, '2.4bn' -> 1e8 (a rounding agrees within it)")
    conversion: bool = Field(False, description="Restates the figure before it in brackets, in other units: "
                             "'480 metres (1,575 feet)'; not a figure of its own")


class DateMention(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    start: int
    end: int
    resolved: str | None = Field(None, description="ISO date resolved against the publication date")
    granularity: str | None = None


class ClaimEnrichment(BaseModel):
    """What kind of claim, who asserts it, and the numbers and dates it mentions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    claim_type: Literal["statistic", "event", "quote", "causal", "comparison", "other"] = "other"
    source: str | None = None
    via: str | None = None
    hedged: bool = False
    quantities: list[Quantity] = Field(default_factory=list)
    dates: list[DateMention] = Field(default_factory=list)


class SentenceAnnotated(_Event):
    """A sentence scored for check-worthiness, with its entities."""

    sentence_id: str
    article_id: str
    version: int
    index: int
    count: int
    text: str
    start: int
    end: int
    outlet: str
    url: str | None = None
    published_at: datetime | None = None
    received_at: datetime
    language: str = "en"
    claim_score: float = Field(ge=0.0, le=1.0)
    is_claim: bool
    checkworthy_score: float = Field(0.0, ge=0.0, le=1.0,
                                     description="Calibrated probability that a fact-checker would check it")
    is_checkworthy: bool = Field(False, description="checkworthy_score at or above its threshold (claims only)")
    model_version: str
    entities: list[Entity] = Field(default_factory=list)
    cluster_id: str | None = Field(None, description="Set for claims")
    enrichment: ClaimEnrichment | None = Field(None, description="Set for claims")


class ClaimScored(_Event):
    """A claim on its way to matching, keyed by its routing key (`block`; one partition decides).

    Until 2026-12-07 a claim had up to two blocking keys and visited both buckets (fields `blocks`,
    `hop`, `kind`, `assessment`, `decision`); one nearest-neighbour index per partition replaced them.
    """

    claim_id: str
    block: str = Field(description="Routing key: every claim of a matching index shares it")
    vector: str | None = Field(None, max_length=1024, description="Sentence vector: int8, base64 (MiniLM)")
    article_id: str
    version: int
    sentence_id: str
    text: str
    start: int
    end: int
    outlet: str
    url: str | None = None
    published_at: datetime | None = None
    received_at: datetime
    claim_score: float = Field(ge=0.0, le=1.0)
    checkworthy_score: float = Field(0.0, ge=0.0, le=1.0)
    is_checkworthy: bool = False
    model_version: str
    entities: list[Entity] = Field(default_factory=list)
    enrichment: ClaimEnrichment | None = None


class ClaimDetected(_Event):
    """A check-worthy sentence, assigned to a cross-outlet cluster."""

    claim_id: str
    cluster_id: str
    copy_of: str | None = Field(None, description="claim_id of the earlier appearance this one copies near-verbatim")
    update_of: str | None = Field(None, description="Cluster whose figure this claim updates")
    merged_clusters: list[str] = Field(
        default_factory=list,
        description="Clusters this claim showed to be the same claim as `cluster_id`: merged into it")
    article_id: str
    version: int
    sentence_id: str
    text: str
    start: int
    end: int
    outlet: str
    url: str | None = None
    published_at: datetime | None = None
    received_at: datetime
    detected_at: datetime
    claim_score: float = Field(ge=0.0, le=1.0)
    checkworthy_score: float = Field(0.0, ge=0.0, le=1.0)
    is_checkworthy: bool = False
    model_version: str
    entities: list[Entity] = Field(default_factory=list)
    enrichment: ClaimEnrichment | None = None


class ClusterAppearance(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    claim_id: str
    article_id: str
    outlet: str
    url: str | None = None
    text: str
    seen_at: datetime
    copy_of: str | None = Field(None, description="claim_id of the appearance this one copies (wire reprint, "
                                                  "aggregator); None for an independent report")


class ClusterUpdated(_Event):
    """The propagation ledger of one claim cluster, republished as it grows."""

    cluster_id: str
    first_outlet: str
    first_seen_at: datetime
    first_claim_id: str
    text: str = Field(description="Wording of the first appearance")
    outlets: list[str]
    appearance_count: int
    independent_outlets: int = Field(1, description="Outlets whose appearance is not a copy of another's")
    appearances: list[ClusterAppearance]
    update_of: str | None = Field(None, description="Cluster whose figure this one updates (12 dead → 19 dead)")
    merged_from: list[str] = Field(default_factory=list, description="Clusters merged into this one (ClusterMerged)")
    updated_at: datetime


class ClusterMerged(_Event):
    """Two clusters turned out to be one claim: `merged_id` lives on as `cluster_id`.

    Published on `clusters` keyed by `merged_id`, so that once the topic is compacted the old id's
    last value is this redirect; the surviving ledger (with `merged_from`) follows under its own key.
    """

    event: Literal["cluster_merged"] = "cluster_merged"
    cluster_id: str = Field(description="The surviving cluster")
    merged_id: str = Field(description="The cluster merged into it; its claims now belong to cluster_id")
    claim_id: str = Field(description="The claim that showed the two to be the same claim")
    merged_at: datetime


class ClusterEvent(RootModel[ClusterUpdated | ClusterMerged]):
    """A value of the `clusters` topic: a ledger, or the redirect of a merged cluster."""


class ClaimRevision(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    old_claim_id: str | None = None
    new_claim_id: str | None = None
    old_text: str | None = None
    new_text: str | None = None


class ArticleRevised(_Event):
    """A new version of an article, compared claim by claim with the previous one."""

    article_id: str
    version: int
    previous_version: int
    unchanged: list[str] = Field(default_factory=list, description="claim ids present in both versions")
    edited: list[ClaimRevision] = Field(default_factory=list)
    withdrawn: list[ClaimRevision] = Field(default_factory=list)
    added: list[ClaimRevision] = Field(default_factory=list)
    revised_at: datetime


class MessageDeadLettered(_Event):
    """A message a stage could not decode or process, with the reason."""

    source_topic: str
    partition: int | None = None
    offset: int | None = None
    stage: str
    reason: str
    error: str
    key: str | None = Field(None, description="The original message key, as UTF-8 text")
    payload: str = Field(description="The original bytes, as UTF-8 with replacement, cut to 64 KiB")
    payload_size: int
    failed_at: datetime


class AlertFired(_Event):
    """A cluster reached `threshold_outlets` independent outlets within `window_minutes` (claim velocity).

    Fired once per cluster and rule; `alert_id` is derived from both, so a subscriber that sees
    the same alert twice (two query replicas, a replay) can deduplicate on it.
    """

    alert_id: str
    kind: Literal["velocity"] = "velocity"
    cluster_id: str
    text: str = Field(description="Wording of the cluster's first appearance")
    outlets: list[str] = Field(description="The independent outlets inside the window, in order of appearance")
    independent_outlets: int = Field(description="Independent outlets of the whole cluster when it fired")
    threshold_outlets: int = Field(ge=1)
    window_minutes: float = Field(gt=0)
    window_start: datetime = Field(description="seen_at of the first appearance inside the window")
    reached_at: datetime = Field(description="seen_at of the appearance that reached the threshold")
    fired_at: datetime


class FeedbackRecorded(_Event):
    """A reviewer's verdict on a claim (check-worthy or not) or on a cluster member (belongs or not)."""

    feedback_id: str
    kind: Literal["claim", "cluster"]
    claim_id: str
    cluster_id: str
    model_version: str = Field(description="Claim model version that scored the claim")
    check_worthy: bool | None = Field(None, description="kind=claim: is the claim worth checking")
    correct_member: bool | None = Field(None, description="kind=cluster: does the claim belong to the cluster")
    note: str | None = Field(None, max_length=2000)
    recorded_at: datetime


TOPIC_MODELS: dict[str, tuple[type[BaseModel], type[BaseModel]]] = {
    "articles": (ArticleKey, ArticleReceived),
    "sentences": (SentenceKey, SentenceExtracted),
    "annotations": (SentenceKey, SentenceAnnotated),
    "candidates": (BlockKey, ClaimScored),
    "claims": (ClusterKey, ClaimDetected),
    "clusters": (ClusterKey, ClusterEvent),
    "revisions": (ArticleKey, ArticleRevised),
    "deadletter": (DeadLetterKey, MessageDeadLettered),
    "alerts": (ClusterKey, AlertFired),
    "feedback": (FeedbackKey, FeedbackRecorded),
}
