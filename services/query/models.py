"""Response models of the query API."""

from __future__ import annotations

from datetime import datetime

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StrictBool, model_validator

from services.query.filters import FeedFilter


class EntityPublic(BaseModel):
    text: str
    label: str
    canonical: str
    start: int
    end: int


class ClaimPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int = Field(description="Position in the claims list; the ?cursor= of GET /claims")
    claim_id: str
    cluster_id: str
    copy_of: str | None = Field(None, description="claim_id of the appearance this one copies near-verbatim")
    update_of: str | None = Field(None, description="Cluster whose figure this claim updates")
    claim_type: str | None = Field(None, description="enrichment.claim_type, when the claim carries one")
    article_id: str
    version: int
    text: str
    start: int
    end: int
    outlet: str
    url: str | None
    claim_score: float
    checkworthy_score: float = Field(0.0, description="Calibrated probability that a fact-checker would check it")
    is_checkworthy: bool = False
    model_version: str
    entities: list[EntityPublic]
    published_at: datetime | None
    received_at: datetime
    detected_at: datetime
    seen_at: datetime


class ClaimsPublic(BaseModel):
    items: list[ClaimPublic]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next (older) page")
    stream_after: int | None = Field(None, description="The live feed's last seq, read just before this page: "
                                                        "/claims/stream?after= this follows on without a gap (a "
                                                        "claim committed meanwhile may come again)")


class AppearancePublic(BaseModel):
    claim_id: str
    article_id: str
    outlet: str
    url: str | None
    text: str
    seen_at: datetime
    copy_of: str | None = None


class ClusterPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    cluster_id: str
    text: str
    first_outlet: str
    first_seen_at: datetime
    first_claim_id: str
    outlets: list[str]
    outlet_count: int
    independent_outlets: int = Field(description="Outlets whose appearance is not a copy of another's")
    appearance_count: int
    update_of: str | None = Field(None, description="Cluster whose figure this one updates")
    appearances: list[AppearancePublic]
    merged_from: list[str] = Field(default_factory=list,
                                   description="Clusters merged into this one; their old ids answer as this one")
    updated_at: datetime


class SentencePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sentence_id: str
    index: int
    text: str
    start: int
    end: int
    is_claim: bool
    claim_score: float
    model_version: str
    entities: list[EntityPublic]
    cluster_id: str | None


class ClaimRevisionPublic(BaseModel):
    old_claim_id: str | None = None
    new_claim_id: str | None = None
    old_text: str | None = None
    new_text: str | None = None


class RevisionPublic(BaseModel):
    """How a version differs from the previous one, claim by claim."""

    version: int
    previous_version: int
    revised_at: datetime
    unchanged: list[str] = Field(description="Claim ids present in both versions")
    edited: list[ClaimRevisionPublic]
    withdrawn: list[ClaimRevisionPublic]
    added: list[ClaimRevisionPublic]


class ArticlePublic(BaseModel):
    article_id: str
    version: int
    versions: list[int]
    revisions: list[RevisionPublic] = Field(default_factory=list, description="One per later version")
    language: str = Field(description="ISO 639-1; only English articles are scored")
    outlet: str
    url: str | None
    title: str | None
    credit: str | None
    published_at: datetime | None
    received_at: datetime
    sentence_count: int
    sentences: list[SentencePublic]


# --------------------------------------------------------------------------------------------------
# Live feed, watchlists, alerts, trending, feedback


class FeedEventPublic(BaseModel):
    """One live event: a WebSocket message as is; on SSE `seq` is the `id:`, `type` the `event:`,
    `data` the `data:` line."""

    seq: int = Field(description="Position in the feed log; resume with ?after= or Last-Event-ID")
    type: Literal["claim", "appearance", "cluster", "alert"]
    data: dict[str, Any] = Field(description="claim/appearance: a ClaimPublic; cluster: a ClusterEventPublic; "
                                             "alert: an AlertPublic")


class ClusterEventPublic(BaseModel):
    """`data` of a `cluster` event: the ledger without its appearance list (see GET /clusters/{id})."""

    cluster_id: str
    text: str
    first_outlet: str
    first_seen_at: datetime
    first_claim_id: str
    outlets: list[str]
    outlet_count: int
    independent_outlets: int
    appearance_count: int
    update_of: str | None
    updated_at: datetime
    latest_appearance: AppearancePublic | None


class AlertPublic(BaseModel):
    alert_id: str = Field(description="Same for the same cluster and rule everywhere: deduplicate on it")
    kind: Literal["velocity"]
    cluster_id: str
    text: str
    outlets: list[str] = Field(description="The independent outlets inside the window")
    independent_outlets: int
    threshold_outlets: int
    window_minutes: float
    window_start: datetime
    reached_at: datetime
    fired_at: datetime


class AlertsPublic(BaseModel):
    items: list[AlertPublic]


class WatchlistFields(FeedFilter):
    webhook_url: HttpUrl | None = Field(None, description="Matching events are POSTed here as JSON")


class WatchlistCreate(WatchlistFields):
    """A saved filter; usable as `?watchlist=ID` on the claims list and the live streams."""

    name: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _not_everything(self) -> WatchlistCreate:
        if FeedFilter.model_validate(self.model_dump(include=set(FeedFilter.model_fields))).is_empty():
            raise ValueError("a watchlist needs at least one filter (entity, outlet, claim_type, min_score, "
                             "min_outlets, q or types)")
        return self


class WatchlistUpdate(WatchlistFields):
    """PATCH body: only the fields given change; `null` clears a filter or the webhook."""

    name: str | None = Field(None, min_length=1, max_length=200)


class WatchlistPublic(BaseModel):
    id: int
    name: str
    filters: FeedFilter
    webhook_url: str | None
    created_at: datetime
    updated_at: datetime


class WatchlistsPublic(BaseModel):
    items: list[WatchlistPublic]


class TrendingCluster(BaseModel):
    cluster_id: str
    text: str
    first_outlet: str | None
    first_seen_at: datetime | None
    outlets_in_window: int = Field(description="Independent outlets (not copies) with a new claim in the window")
    appearances_in_window: int = Field(description="Claims of the cluster received in the window, copies included")
    independent_outlets: int = Field(description="Independent outlets of the whole ledger")
    appearance_count: int
    last_received_at: datetime
    outlets_per_hour: float = Field(description="outlets_in_window per hour of the window")


class TrendingPublic(BaseModel):
    window_minutes: int
    generated_at: datetime
    items: list[TrendingCluster] = Field(description="Fastest spreading first: outlets, then appearances, "
                                                     "then the latest claim")


class ClaimFeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    check_worthy: StrictBool
    note: str | None = Field(None, max_length=2000)


class ClusterFeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claim_id: str = Field(min_length=1, max_length=40)
    correct_member: StrictBool
    note: str | None = Field(None, max_length=2000)


class FeedbackPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    feedback_id: str
    kind: Literal["claim", "cluster"]
    claim_id: str
    cluster_id: str
    model_version: str
    check_worthy: bool | None
    correct_member: bool | None
    note: str | None
    recorded_at: datetime


class PrecisionPublic(BaseModel):
    judged: int = Field(description="Claims (or cluster memberships) with feedback; the latest verdict counts")
    positive: int = Field(description="... of which judged check-worthy (or a correct member)")
    precision: float | None = Field(description="positive / judged; null without feedback")


class ModelFeedbackPublic(BaseModel):
    model_version: str
    claim: PrecisionPublic
    cluster: PrecisionPublic


class FeedbackSummaryPublic(BaseModel):
    feedback_count: int
    versions: list[ModelFeedbackPublic] = Field(description="Most recent feedback first")
