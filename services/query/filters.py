"""Feed filters: one model, two evaluations.

`FeedFilter` is what a client passes as query parameters (and what a watchlist saves). It is
applied in SQL to `GET /claims` and in Python to live events, whose `facets` (written with the
event, see `feedlog.py`) hold what the filters look at:

| facet | claim / appearance event | cluster / alert event |
|---|---|---|
| `outlets` | the claim's outlet | every outlet of the ledger |
| `entities` | the claim's canonical entities, lower case | those of every claim of the cluster |
| `claim_types` | the claim's `enrichment.claim_type` | those of every claim of the cluster |
| `score` | `claim_score` | the highest `claim_score` of the cluster |
| `independent_outlets` | the ledger's count when the claim arrived | the ledger's count |
| `text` | the claim's wording | the wording of the first appearance |
| `seen_at` | the claim's `seen_at` | the latest appearance's `seen_at` |

Free text (`q`) matches whole words: every word of the query must occur in the text, in any
case and with accents ignored. In SQL it is an FTS5 query on SQLite (the same tokenisation:
unicode61, diacritics removed), and a LIKE per word elsewhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from sqlalchemy import Select, and_, column, select, table
from sqlalchemy.engine import Engine

from services.query.db import ClaimEntityRow, ClaimRow, ClusterRow, fts_enabled

EventType = Literal["claim", "appearance", "cluster", "alert"]
EVENT_TYPES: tuple[str, ...] = ("claim", "appearance", "cluster", "alert")
# Without `types`, streams and webhooks carry claims only (claim and appearance events, whose data
# is a claim): what /claims/stream always sent. `types=all` (or a list) adds cluster and alert events.
DEFAULT_TYPES: tuple[str, ...] = ("claim", "appearance")
ClaimType = Literal["statistic", "event", "quote", "causal", "comparison", "other"]
MAX_TERMS = 16

_WORD = re.compile(r"[^\W_]+")


def fold(value: str) -> str:
    """Lower case without diacritics, as FTS5's unicode61 tokenizer with remove_diacritics 2 sees it."""
    decomposed = unicodedata.normalize("NFD", value.lower())  # simple lower case, as FTS5: ß stays ß
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def terms(value: str) -> list[str]:
    """The words of a text or query, folded: letters and digits, split at everything else."""
    return _WORD.findall(fold(value))


def _split_types(value: Any) -> Any:
    # `types=claim,alert` and `types=claim&types=alert` both work.
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if isinstance(value, (list, tuple)):
        out: list[str] = []
        for item in value:
            out += [part.strip() for part in str(item).split(",") if part.strip()] if isinstance(item, str) else [item]
        return [t for part in out for t in (EVENT_TYPES if part == "all" else (part,))]
    return value


class FeedFilter(BaseModel):
    """The filters a watchlist saves and a stream or the claims list accepts. All are ANDed."""

    model_config = ConfigDict(extra="forbid")

    entity: str | None = Field(None, min_length=1, max_length=200, description="Canonical entity name, any case")
    outlet: str | None = Field(None, min_length=1, max_length=200, description="Exact outlet name")
    claim_type: ClaimType | None = Field(None, description="enrichment.claim_type of the claim")
    min_score: float | None = Field(None, ge=0.0, le=1.0, description="Lowest claim_score")
    min_outlets: int | None = Field(None, ge=1, le=10_000,
                                    description="Lowest number of independent outlets in the claim's cluster")
    q: str | None = Field(None, min_length=1, max_length=200,
                          description="Free text: every word must occur in the claim (whole words, any case)")
    types: Annotated[list[EventType] | None, BeforeValidator(_split_types)] = Field(
        None, description="Event types to deliver (streams and webhooks): claim, appearance, cluster, alert, "
                          "or all; default claim and appearance")

    @field_validator("q")
    @classmethod
    def _has_words(cls, value: str | None) -> str | None:
        if value is None:
            return None
        found = terms(value)
        if not found:
            raise ValueError("q must contain at least one letter or digit")
        if len(found) > MAX_TERMS:
            raise ValueError(f"q may have at most {MAX_TERMS} words")
        return value

    @field_validator("types")
    @classmethod
    def _no_empty_types(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("types must name at least one event type")
        return sorted(set(value), key=EVENT_TYPES.index) if value else value

    def is_empty(self) -> bool:
        return not self.model_dump(exclude_none=True)


def combine(*filters: FeedFilter | None) -> list[FeedFilter]:
    return [f for f in filters if f is not None]


# --------------------------------------------------------------------------------------------------
# Python: live events


Matcher = Callable[[str, dict], bool]


def matcher(filters: list[FeedFilter], cluster: str | None = None, since: datetime | None = None,
            until: datetime | None = None) -> Matcher:
    """A predicate over (event type, facets) that is true when every filter accepts the event.

    Without `types` in any filter, only claim and appearance events pass (DEFAULT_TYPES).
    """
    checks: list[Callable[[str, dict], bool]] = []
    if not any(f.types for f in filters):
        checks.append(lambda kind, _facets: kind in DEFAULT_TYPES)
    for f in filters:
        if f.types:
            allowed = frozenset(f.types)
            checks.append(lambda kind, _facets, allowed=allowed: kind in allowed)
        if f.entity:
            wanted = f.entity.lower()
            checks.append(lambda _k, facets, wanted=wanted: wanted in facets.get("entities", ()))
        if f.outlet:
            outlet = f.outlet
            checks.append(lambda _k, facets, outlet=outlet: outlet in facets.get("outlets", ()))
        if f.claim_type:
            claim_type = f.claim_type
            checks.append(lambda _k, facets, claim_type=claim_type: claim_type in facets.get("claim_types", ()))
        if f.min_score is not None:
            low = f.min_score
            checks.append(lambda _k, facets, low=low: facets.get("score") is not None and facets["score"] >= low)
        if f.min_outlets is not None:
            least = f.min_outlets
            checks.append(lambda _k, facets, least=least: (facets.get("independent_outlets") or 0) >= least)
        if f.q:
            wanted_terms = frozenset(terms(f.q))
            checks.append(lambda _k, facets, wanted_terms=wanted_terms:
                          wanted_terms <= frozenset(terms(facets.get("text", ""))))
    if cluster:
        checks.append(lambda _k, facets: facets.get("cluster_id") == cluster)
    if since or until:
        lo, hi = _utc(since), _utc(until)

        def in_range(_k: str, facets: dict) -> bool:
            seen = facets.get("seen_at")
            if seen is None:
                return False
            at = datetime.fromisoformat(seen)
            return (lo is None or at >= lo) and (hi is None or at < hi)

        checks.append(in_range)
    if not checks:
        return lambda _kind, _facets: True
    return lambda kind, facets: all(check(kind, facets) for check in checks)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


# --------------------------------------------------------------------------------------------------
# SQL: GET /claims


# The contentless FTS5 index made by db.ensure_fts; the table-named column is FTS5's MATCH target.
_FTS = table("claims_fts", column("rowid"), column("claims_fts"))


def fts_query(q: str) -> str:
    """An FTS5 MATCH expression: every word quoted (no operators can be injected), ANDed."""
    return " ".join(f'"{t}"' for t in terms(q))


def apply_sql(stmt: Select, f: FeedFilter, engine: Engine | None = None) -> Select:
    """Restrict a `select(ClaimRow)` to the claims the filter accepts (`types` does not apply to claims)."""
    if f.entity:
        stmt = stmt.where(ClaimRow.claim_id.in_(
            select(ClaimEntityRow.claim_id).where(ClaimEntityRow.canonical_lower == f.entity.lower())))
    if f.outlet:
        stmt = stmt.where(ClaimRow.outlet == f.outlet)
    if f.claim_type:
        stmt = stmt.where(ClaimRow.claim_type == f.claim_type)
    if f.min_score is not None:
        stmt = stmt.where(ClaimRow.claim_score >= f.min_score)
    if f.min_outlets is not None:
        stmt = stmt.where(ClaimRow.cluster_id.in_(
            select(ClusterRow.cluster_id).where(ClusterRow.independent_outlets >= f.min_outlets)))
    if f.q:
        if engine is not None and fts_enabled(engine):
            stmt = stmt.where(ClaimRow.seq.in_(
                select(_FTS.c.rowid).where(_FTS.c.claims_fts.op("MATCH")(fts_query(f.q)))))
        else:
            stmt = stmt.where(and_(*[ClaimRow.text.ilike(f"%{_escape_like(t)}%", escape="\\") for t in terms(f.q)]))
    return stmt


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
