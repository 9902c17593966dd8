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
case and with accents ignored. In SQL (`free_text`) it is an FTS5 query on SQLite (the same
tokenisation: unicode61, diacritics removed), a whole-word regular expression over the folded
text on PostgreSQL (trigram-indexed), and a LIKE per word elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from sqlalchemy import Select, String, and_, cast, column, exists, func, or_, select, table
from sqlalchemy.engine import Engine

from services.common.types import iso_datetime
from services.query.db import ArticleRow, ClaimEntityRow, ClaimRow, ClusterRow, fts_enabled
from services.query.folding import fold

EventType = Literal["claim", "appearance", "cluster", "alert"]
EVENT_TYPES: tuple[str, ...] = ("claim", "appearance", "cluster", "alert")
# Without `types`, streams and webhooks carry claims only (claim and appearance events, whose data
# is a claim): what /claims/stream always sent. `types=all` (or a list) adds cluster and alert events.
DEFAULT_TYPES: tuple[str, ...] = ("claim", "appearance")
ClaimType = Literal["statistic", "event", "quote", "causal", "comparison", "other"]
MAX_TERMS = 16

_WORD = re.compile(r"[^\W_]+")


# A thousands separator between digit groups ("2,300", "1 000 000" with a thin or no-break space): the
# figure is one word for the filters, so `q=2300` finds "2,300" and `q=2,300` finds "2300".
_GROUPED = re.compile(r"(?<![\d.,])\d{1,3}(?:[,\u2009\u202f\u00a0']\d{3})+(?![\d]|[.,]\d)")


def _ungroup(value: str) -> str:
    return _GROUPED.sub(lambda m: re.sub(r"\D", "", m.group(0)), value)


def terms(value: str) -> list[str]:
    """The words of a text or query, folded: letters and digits, split at everything else; grouped figures
    ("2,300") are one word ("2300")."""
    return _WORD.findall(fold(_ungroup(value)))


def plain_date(value: object) -> object:
    """A bare date (`2026-08-11`) means its midnight UTC; anything else is checked as an ISO 8601 date-time."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return datetime.fromisoformat(value.strip()).replace(tzinfo=timezone.utc)
        except ValueError as exc:
            raise ValueError(f"not a date: {value!r}") from exc
    return iso_datetime(value)


DateOrDateTime = Annotated[AwareDatetime, BeforeValidator(plain_date)]
"""`since` / `until`: an ISO 8601 date-time with an offset, or a plain date (midnight UTC)."""


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
    outlet: str | None = Field(None, min_length=1, max_length=200, description="Outlet name, any case")
    entity_id: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[a-z]+:[A-Za-z0-9._-]+$",
                                  description="Gazetteer entity id, e.g. country:north-korea")
    source: str | None = Field(None, min_length=1, max_length=200,
                               description="Attribution source (enrichment.source) containing this, any case; "
                                           "claim and appearance events only")
    language: str | None = Field(None, min_length=2, max_length=8, pattern=r"^[A-Za-z-]+$",
                                 description="Language of the claim's article (ISO 639-1); claim and appearance "
                                             "events only")
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

    @field_validator("language")
    @classmethod
    def _lower_language(cls, value: str | None) -> str | None:
        return value.lower() if value else value

    def is_empty(self) -> bool:
        return not self.model_dump(exclude_none=True)


def combine(*filters: FeedFilter | None) -> list[FeedFilter]:
    return [f for f in filters if f is not None]


# --------------------------------------------------------------------------------------------------
# Python: live events


Matcher = Callable[..., bool]
"""(event type, facets[, payload]) -> bool. `entity_id`, `source` and `language` read the payload of claim and
appearance events (a ClaimPublic); `entity_id` also matches the entity's canonical name in the facets."""


def _entity_name(entity_id: str) -> str | None:
    try:
        from services.nlp.gazetteer import get_gazetteer

        entry = get_gazetteer().get(entity_id)
    except Exception:  # noqa: BLE001 - no gazetteer: the payload alone decides
        return None
    return entry.name.lower() if entry else None


def matcher(filters: list[FeedFilter], cluster: str | None = None, since: datetime | None = None,
            until: datetime | None = None) -> Matcher:
    """A predicate over (event type, facets) that is true when every filter accepts the event.

    Without `types` in any filter, only claim and appearance events pass (DEFAULT_TYPES).
    """
    # (kind, facets, payload) -> bool; the lambdas bind their value as a default argument, which
    # a Callable[[str, dict, dict | None], bool] cannot express
    checks: list[Callable[..., bool]] = []
    if not any(f.types for f in filters):
        checks.append(lambda kind, _facets, _p: kind in DEFAULT_TYPES)
    for f in filters:
        if f.types:
            allowed = frozenset(f.types)
            checks.append(lambda kind, _facets, _p, allowed=allowed: kind in allowed)
        if f.entity:
            wanted = f.entity.lower()
            checks.append(lambda _k, facets, _p, wanted=wanted: wanted in facets.get("entities", ()))
        if f.outlet:
            outlet = f.outlet.lower()
            checks.append(lambda _k, facets, _p, outlet=outlet:
                          any(o.lower() == outlet for o in facets.get("outlets", ())))
        if f.entity_id:
            checks.append(_entity_id_check(f.entity_id))
        if f.source:
            source = f.source.lower()
            checks.append(lambda _k, _f, payload, source=source:
                          source in (((payload or {}).get("attribution") or {}).get("source") or "").lower())
        if f.language:
            language = f.language
            checks.append(lambda _k, _f, payload, language=language: (payload or {}).get("language") == language)
        if f.claim_type:
            claim_type = f.claim_type
            checks.append(lambda _k, facets, _p, claim_type=claim_type: claim_type in facets.get("claim_types", ()))
        if f.min_score is not None:
            low = f.min_score
            checks.append(lambda _k, facets, _p, low=low: facets.get("score") is not None and facets["score"] >= low)
        if f.min_outlets is not None:
            least = f.min_outlets
            checks.append(lambda _k, facets, _p, least=least: (facets.get("independent_outlets") or 0) >= least)
        if f.q:
            checks.append(_q_check(f.q))
    if cluster:
        checks.append(lambda _k, facets, _p: facets.get("cluster_id") == cluster)
    if since or until:
        lo, hi = _utc(since), _utc(until)

        def in_range(_k: str, facets: dict, _p: dict | None) -> bool:
            seen = facets.get("seen_at")
            if seen is None:
                return False
            at = datetime.fromisoformat(seen)
            return (lo is None or at >= lo) and (hi is None or at < hi)

        checks.append(in_range)
    if not checks:
        return lambda _kind, _facets, _payload=None: True
    return lambda kind, facets, payload=None: all(check(kind, facets, payload) for check in checks)


def figure_groups(term: str) -> list[str] | None:
    """"2300" -> ["2", "300"]: how the FTS index holds a grouped figure ("2,300"); None for other words."""
    if not (term.isdigit() and len(term) >= 4 and not term.startswith("0")):
        return None
    groups: list[str] = []
    while term:
        groups.insert(0, term[-3:])
        term = term[:-3]
    return groups


def _has_run(words: list[str], run: list[str]) -> bool:
    n = len(run)
    return any(words[i:i + n] == run for i in range(len(words) - n + 1))


def _q_check(q: str) -> Callable[[str, dict, dict | None], bool]:
    """Every word of `q` occurs in the event's text, as FTS5 sees it (see `fts_query`)."""
    wanted = list(dict.fromkeys(terms(q)))

    def check(_k: str, facets: dict, _p: dict | None) -> bool:
        text_ = facets.get("text", "")
        raw = _WORD.findall(fold(text_))
        have = set(raw) | set(terms(text_))
        for term in wanted:
            if term in have:
                continue
            groups = figure_groups(term)
            if groups is None or not _has_run(raw, groups):
                return False
        return True

    return check


def _entity_id_check(entity_id: str) -> Callable[[str, dict, dict | None], bool]:
    name = _entity_name(entity_id)

    def check(kind: str, facets: dict, payload: dict | None) -> bool:
        if kind in ("claim", "appearance") and payload and payload.get("entities") is not None:
            return any(e.get("entity_id") == entity_id for e in payload["entities"])
        return name is not None and name in facets.get("entities", ())

    return check


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


# --------------------------------------------------------------------------------------------------
# SQL: GET /claims


# The contentless FTS5 index made by db.ensure_fts; the table-named column is FTS5's MATCH target.
_FTS = table("claims_fts", column("rowid"), column("claims_fts"))


def fts_query(q: str) -> str:
    """An FTS5 MATCH expression: every word quoted (no operators can be injected), ANDed.

    The index splits "2,300" into 2 and 300, so a figure of four or more digits also matches its
    grouped spelling as a phrase: `("2300" OR "2 300")`.
    """
    parts = []
    for t in terms(q):
        groups = figure_groups(t)
        parts.append(f'("{t}" OR "{" ".join(groups)}")' if groups else f'"{t}"')
    return " AND ".join(parts)


def apply_sql(stmt: Select, f: FeedFilter, engine: Engine | None = None) -> Select:
    """Restrict a `select(ClaimRow)` to the claims the filter accepts (`types` does not apply to claims)."""
    if f.entity:
        stmt = stmt.where(ClaimRow.claim_id.in_(
            select(ClaimEntityRow.claim_id).where(ClaimEntityRow.canonical_lower == f.entity.lower())))
    if f.outlet:
        stmt = stmt.where(func.lower(ClaimRow.outlet) == f.outlet.lower())
    if f.entity_id:
        # The ids live in the claim's entity list (JSON); quoted, so "country:niger" is not "country:nigeria".
        stmt = stmt.where(cast(ClaimRow.entities, String).like(f'%"{_escape_like(f.entity_id)}"%', escape="\\"))
    if f.source:
        stmt = stmt.where(func.lower(ClaimRow.enrichment["source"].as_string())
                          .like(f"%{_escape_like(f.source.lower())}%", escape="\\"))
    if f.language:
        stmt = stmt.where(exists().where(ArticleRow.article_id == ClaimRow.article_id,
                                         ArticleRow.version == ClaimRow.version,
                                         ArticleRow.language == f.language))
    if f.claim_type:
        stmt = stmt.where(ClaimRow.claim_type == f.claim_type)
    if f.min_score is not None:
        stmt = stmt.where(ClaimRow.claim_score >= f.min_score)
    if f.min_outlets is not None:
        stmt = stmt.where(ClaimRow.cluster_id.in_(
            select(ClusterRow.cluster_id).where(ClusterRow.independent_outlets >= f.min_outlets)))
    if f.q:
        stmt = stmt.where(free_text(f.q, engine))
    return stmt


def free_text(q: str, engine: Engine | None = None):
    """The SQL condition "every word of `q` occurs in the claim's text", per database:

    - SQLite with FTS5: the claims_fts index (`fts_query`);
    - PostgreSQL: a whole-word regular expression per word on the folded text (`pg_word_pattern`),
      which finds what the FTS5 index and the live matcher find, through a trigram index;
    - anything else: a case-insensitive LIKE per word (substrings: "bridge" finds "bridges").
    """
    if engine is not None and fts_enabled(engine):
        return ClaimRow.seq.in_(select(_FTS.c.rowid).where(_FTS.c.claims_fts.op("MATCH")(fts_query(q))))
    if engine is not None and engine.dialect.name == "postgresql":
        return and_(*[ClaimRow.text_folded.op("~")(pg_word_pattern(t)) for t in dict.fromkeys(terms(q))])
    return and_(*[_like_term(t) for t in terms(q)])


def pg_word_pattern(term: str) -> str:
    """A PostgreSQL regular expression for one folded word of a query, as a whole word of a folded text
    (`ClaimRow.text_folded`); a figure of four or more digits also matches its grouped spelling
    ("2300": "2,300", "2 300"). Terms are letters and digits only (`terms`), so nothing in them needs
    escaping. The pattern's letters are literal, so the trigram index can narrow the search."""
    edge_l, edge_r, gap = "(^|[^[:alnum:]])", "($|[^[:alnum:]])", "[^[:alnum:]]+"
    groups = figure_groups(term)
    spellings = [term] + ([gap.join(groups)] if groups else [])
    return f"{edge_l}({'|'.join(spellings)}){edge_r}"


def _like_term(term: str):
    like = ClaimRow.text.ilike(f"%{_escape_like(term)}%", escape="\\")
    if figure_groups(term):
        return or_(like, ClaimRow.text.ilike(f"%{int(term):,}%"))
    return like


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
