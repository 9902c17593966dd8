"""Response models of the query API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class EntityPublic(BaseModel):
    text: str
    label: str
    canonical: str
    start: int
    end: int


class ClaimPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int = Field(description="Position in the feed; the SSE event id")
    claim_id: str
    cluster_id: str
    article_id: str
    version: int
    text: str
    start: int
    end: int
    outlet: str
    url: str | None
    claim_score: float
    model_version: str
    entities: list[EntityPublic]
    published_at: datetime | None
    received_at: datetime
    detected_at: datetime
    seen_at: datetime


class ClaimsPublic(BaseModel):
    items: list[ClaimPublic]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next (older) page")


class AppearancePublic(BaseModel):
    claim_id: str
    article_id: str
    outlet: str
    url: str | None
    text: str
    seen_at: datetime


class ClusterPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    cluster_id: str
    text: str
    first_outlet: str
    first_seen_at: datetime
    first_claim_id: str
    outlets: list[str]
    outlet_count: int
    appearance_count: int
    appearances: list[AppearancePublic]
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


class ArticlePublic(BaseModel):
    article_id: str
    version: int
    versions: list[int]
    outlet: str
    url: str | None
    title: str | None
    credit: str | None
    published_at: datetime | None
    received_at: datetime
    sentence_count: int
    sentences: list[SentencePublic]
