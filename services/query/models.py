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
    entity_id: str | None = Field(None, description="Stable gazetteer id (e.g. country:north-korea), when linked")
    metonymy: bool = Field(False, description="A capital or seat standing for its state or institution")


class AttributionPublic(BaseModel):
    source: str | None = Field(None, description="Who asserts the claim (\"a US official\", \"the central bank\")")
    via: str | None = Field(None, description="Through whom it reached the outlet (\"the AP\")")


class QuantityPublic(BaseModel):
    text: str
    value: float = Field(description="Normalised value, scale applied (\"£136bn\" -> 136000000000)")
    unit: str | None = None
    scale: str | None = None
    start: int
    end: int
    approximate: bool = False
    base_value: float | None = Field(None, description="The figure in base_unit (SI for physical units, a currency "
                                     "code for money): what matching compares across outlets")
    base_unit: str | None = Field(None, description="meter, kilogram, a currency code, percent, percentage points; "
                                  "null for a count")
    precision: float | None = Field(None, description="The step the figure was written to, in base_unit ('4,800' -> "
                                    "100): a rounding agrees within it")
    conversion: bool = Field(False, description="Restates the figure before it in other units, in brackets")


class DatePublic(BaseModel):
    text: str
    start: int
    end: int
    resolved: str | None = Field(None, description="ISO date resolved against the article's publication date")
    granularity: str | None = None


class ClaimClusterContext(BaseModel):
    """The claim's cluster, as the projection knows it now (GET /claims) or when the event was logged (streams)."""

    first_outlet: str
    first_seen_at: datetime
    first_claim_id: str
    outlets: list[str]
    independent_outlets: int = Field(description="Outlets whose appearance is not a copy of another's")
    appearance_count: int
    is_first: bool = Field(description="This claim is the cluster's first appearance")


class ClaimArticleRevision(BaseModel):
    """A later version of the claim's article, and what it did to this claim."""

    version: int
    previous_version: int
    revised_at: datetime
    effect: Literal["unchanged", "edited", "withdrawn", "added", "replaces", "none"] = Field(
        description="unchanged: kept; edited: reworded in this version (new_text); withdrawn: dropped; "
                    "added: first appears in this version; replaces: this claim is the new wording of an "
                    "edit (old_text); none: the version did not concern this claim")
    old_text: str | None = None
    new_text: str | None = None


def _revision_effect(claim_id: str, version: int, changes: dict) -> tuple[str, str | None, str | None]:
    if claim_id in (changes.get("unchanged") or []):
        return "unchanged", None, None
    for kind in ("edited", "withdrawn", "added"):
        for change in changes.get(kind) or []:
            if change.get("old_claim_id") == claim_id and kind in ("edited", "withdrawn"):
                return kind, change.get("old_text"), change.get("new_text")
            if change.get("new_claim_id") == claim_id:
                return ("replaces" if kind == "edited" else "added"), change.get("old_text"), change.get("new_text")
    return "none", None, None


def claim_values(row: Any) -> dict:
    """A ClaimRow as the public claim: its columns, the enrichment flattened, and (when the row is attached to
    a session) its cluster, its article's language and versions, and the revisions that concern it."""
    from sqlalchemy import inspect as sa_inspect, select
    from sqlalchemy.orm import object_session

    from services.query.db import ArticleRevisionRow, ArticleRow, ClusterRow

    values = {c.key: getattr(row, c.key) for c in sa_inspect(row).mapper.column_attrs}
    session = object_session(row)
    if session is None:
        return public_claim_values(values)
    with session.no_autoflush:
        cluster = session.get(ClusterRow, row.cluster_id)
        article = session.get(ArticleRow, (row.article_id, row.version))
        versions = list(session.scalars(
            select(ArticleRow.version).where(ArticleRow.article_id == row.article_id).order_by(ArticleRow.version)))
        revisions = [(rev.version, rev.previous_version, rev.revised_at, rev.changes) for rev in session.scalars(
            select(ArticleRevisionRow).where(ArticleRevisionRow.article_id == row.article_id,
                                             ArticleRevisionRow.version > row.version)
            .order_by(ArticleRevisionRow.version))]
    return public_claim_values(
        values, cluster=None if cluster is None else {c: getattr(cluster, c) for c in CLUSTER_CONTEXT_COLUMNS},
        language=article.language if article is not None else None, versions=versions, revisions=revisions)


# The ClusterRow columns a claim's cluster context is made of.
CLUSTER_CONTEXT_COLUMNS = ("first_outlet", "first_seen_at", "first_claim_id", "outlets", "independent_outlets",
                           "appearance_count")


def public_claim_values(values: dict, *, cluster: dict | None = None, language: str | None = None,
                        versions: list[int] | None = None,
                        revisions: list[tuple[int, int, datetime, dict]] | None = None) -> dict:
    """The public claim from a claims row's columns and, when known, what the projection holds around it.

    Pure: the REST API passes what the database holds now, the projection what it holds as the claim
    is inserted (the live event's snapshot). `cluster`: the ledger's CLUSTER_CONTEXT_COLUMNS;
    `versions`: the article's known versions; `revisions`: (version, previous_version, revised_at,
    changes) of the article's later versions, in version order. Without `versions` (no session)
    only the columns and the enrichment are filled.
    """
    values = dict(values)
    enrichment = values.get("enrichment") or {}
    values["attribution"] = {"source": enrichment.get("source"), "via": enrichment.get("via")}
    values["hedged"] = enrichment.get("hedged") if enrichment else None
    values["quantities"] = enrichment.get("quantities") or []
    values["dates"] = enrichment.get("dates") or []
    if versions is None:
        return values
    if cluster is not None:
        values["cluster"] = {
            "first_outlet": cluster["first_outlet"], "first_seen_at": cluster["first_seen_at"],
            "first_claim_id": cluster["first_claim_id"], "outlets": list(cluster["outlets"] or []),
            "independent_outlets": cluster["independent_outlets"] or 0,
            "appearance_count": cluster["appearance_count"],
            "is_first": cluster["first_claim_id"] == values["claim_id"]}
    values["language"] = language
    values["article_versions"] = list(versions)
    out = []
    for version, previous_version, revised_at, changes in revisions or ():
        effect, old_text, new_text = _revision_effect(values["claim_id"], version, changes or {})
        out.append({"version": version, "previous_version": previous_version, "revised_at": revised_at,
                    "effect": effect, "old_text": old_text, "new_text": new_text})
    values["revisions"] = out
    values["superseded"] = any(r["effect"] in ("edited", "withdrawn") for r in out)
    return values


class ClaimPublic(BaseModel):
    """A claim as the system knows it: the one shape of GET /claims, GET /claims/{id}, the SSE and WebSocket
    `claim` / `appearance` events, webhooks and the page."""

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
    attribution: AttributionPublic = Field(default_factory=AttributionPublic,
                                           description="enrichment: who asserts the claim and through whom")
    hedged: bool | None = Field(None, description="enrichment: the claim is hedged (\"may\", \"reportedly\"); "
                                                  "null when the claim has no enrichment")
    quantities: list[QuantityPublic] = Field(default_factory=list, description="enrichment: normalised figures")
    dates: list[DatePublic] = Field(default_factory=list, description="enrichment: dates, resolved")
    language: str | None = Field(None, description="The article's language (ISO 639-1)")
    cluster: ClaimClusterContext | None = Field(None, description="The claim's cluster ledger, when known")
    article_versions: list[int] = Field(default_factory=list, description="Known versions of the claim's article")
    revisions: list[ClaimArticleRevision] = Field(default_factory=list,
                                                  description="Later versions of the article and their effect "
                                                              "on this claim")
    superseded: bool = Field(False, description="A later version of the article edited or withdrew this claim")
    published_at: datetime | None
    received_at: datetime
    detected_at: datetime
    seen_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, data: Any) -> Any:
        if isinstance(data, dict) or not hasattr(data, "__table__"):
            return data
        return claim_values(data)


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
    webhook_secret: str | None = Field(None, min_length=16, max_length=100, pattern=r"^[\x21-\x7e]+$",
                                       description="Key of the deliveries' HMAC signature; default: one is made "
                                                   "and returned once, in this write's answer")


class WatchlistCreate(WatchlistFields):
    """A saved filter; usable as `?watchlist=ID` on the claims list and the live streams."""

    name: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _not_everything(self) -> WatchlistCreate:
        if FeedFilter.model_validate(self.model_dump(include=set(FeedFilter.model_fields))).is_empty():
            raise ValueError("a watchlist needs at least one filter (entity, entity_id, outlet, source, language, "
                             "claim_type, min_score, "
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
    webhook_secret: str | None = Field(None, description="Only in the answer of a write: the key of the "
                                                         "X-ClaimStream-Signature header of this webhook's deliveries")
    warnings: list[str] = Field(default_factory=list,
                                description="On writes: saved, but e.g. the entity is unknown so far (with "
                                            "suggestions) or is an alias of another canonical name")


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


class ArticleRevisionPublic(RevisionPublic):
    """A revision with its article, for the desk's revisions panel (GET /revisions)."""

    article_id: str
    outlet: str | None = None
    title: str | None = None
    url: str | None = None


class RevisionsPublic(BaseModel):
    items: list[ArticleRevisionPublic] = Field(description="Newest revision first")
