"""A consumed batch replayed in memory: the rows to write and the live events, as if applied one by one.

`projection.apply` loads what the batch's events name from the database (`Known`), replays the
events in order here, and writes every table with one statement. The replay keeps `Known` up to
date as it goes, so each event sees the state the events before it left, exactly as when every
event is its own transaction:

- articles, sentences, ledgers and revisions are upserts by primary key (the last one wins);
- a claim is inserted once: a replayed claim keeps its feed position and logs no second event;
- a sentence learns its cluster from its claim, whichever of the two comes first;
- a merge moves the merged cluster's claims, sentences and counts to the survivor and redirects
  its id (the database rows the batch does not name are moved by `projection`, merge by merge);
- the live `claim` / `appearance` payload is the claim as GET /claims/{id} showed it at that
  moment (its cluster, article versions, language and revisions then);
- a velocity alert fires once per cluster and rule; feedback is stored once.

No database here: everything is plain data in and plain data out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from pydantic import BaseModel

from schemas import (
    AlertFired,
    ArticleReceived,
    ArticleRevised,
    ClaimDetected,
    ClusterKey,
    ClusterMerged,
    ClusterUpdated,
    FeedbackRecorded,
    SentenceAnnotated,
)
from schemas.ids import claim_id as claim_id_of
from services.query import feedlog
from services.query.models import ClaimPublic, public_claim_values

ARTICLE_FIELDS = {"article_id", "version", "outlet", "url", "title", "credit", "body", "language", "published_at",
                  "received_at"}
SENTENCE_FIELDS = {"sentence_id", "article_id", "version", "index", "text", "start", "end", "claim_score", "is_claim",
                   "model_version", "entities"}


def utc(value: datetime | None) -> datetime | None:
    """A datetime as the database gives it back (UTCDateTime): timezone-aware UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


@dataclass
class Ledger:
    """The stored ledger of a cluster, as far as the projection reads it back."""

    first_outlet: str
    first_seen_at: datetime
    first_claim_id: str
    outlets: list
    independent_outlets: int | None
    appearance_count: int
    updated_at: datetime
    appearances: list | None = None  # JSON form; read only for the clusters of alerts read back

    def context(self) -> dict:
        return {"first_outlet": self.first_outlet, "first_seen_at": utc(self.first_seen_at),
                "first_claim_id": self.first_claim_id, "outlets": self.outlets,
                "independent_outlets": self.independent_outlets, "appearance_count": self.appearance_count}


@dataclass
class Known:
    """What the database holds for the ids a batch names (filled by `projection`, kept current by `Replay`)."""

    claims: dict[str, str] = field(default_factory=dict)              # claim id -> cluster id
    sentences: dict[str, str | None] = field(default_factory=dict)    # sentence id -> cluster id
    redirects: dict[str, str] = field(default_factory=dict)           # merged cluster id -> survivor
    ledgers: dict[str, Ledger] = field(default_factory=dict)          # no entry: no ledger row
    claim_counts: dict[str, int] = field(default_factory=dict)        # cluster id -> claims stored under it
    cluster_claims: dict[str, feedlog.ClusterClaims] = field(default_factory=dict)
    articles: dict[str, dict[int, str | None]] = field(default_factory=dict)  # article -> version -> language
    revisions: dict[str, dict[int, tuple]] = field(default_factory=dict)      # article -> version -> revision
    alerts: set[str] = field(default_factory=set)
    feedback: set[str] = field(default_factory=set)


@dataclass
class FeedEvent:
    type: str
    cluster_id: str
    claim_id: str | None
    facets: dict
    payload: dict


@dataclass
class Writes:
    """The batch's rows, one collection per table (what `projection` writes, one statement each)."""

    merges: list[ClusterMerged] = field(default_factory=list)
    articles: dict[tuple, dict] = field(default_factory=dict)
    sentences: dict[str, dict] = field(default_factory=dict)       # cluster id filled from Known at the end
    sentence_moves: set[str] = field(default_factory=set)          # stored sentences whose cluster changed
    moved: dict[str, str | None] = field(default_factory=dict)     # ... not upserted: sentence id -> cluster
    claims: dict[str, dict] = field(default_factory=dict)          # new claims; cluster id filled at the end
    ledgers: dict[str, dict] = field(default_factory=dict)
    revisions: dict[tuple, dict] = field(default_factory=dict)
    alerts: list[dict] = field(default_factory=list)
    outbox: list[dict] = field(default_factory=list)
    feedback: list[dict] = field(default_factory=list)
    feed: list[FeedEvent] = field(default_factory=list)
    new_claims: list[ClaimDetected] = field(default_factory=list)


def claim_row(claim: ClaimDetected, cluster_id: str, columns) -> dict:
    """The claims row of a new claim (`columns`: the table's column names)."""
    values = claim.model_dump(exclude={"schema_version", "sentence_id", "merged_clusters"})
    values["cluster_id"] = cluster_id
    values["seen_at"] = claim.published_at or claim.received_at
    values["claim_type"] = claim.enrichment.claim_type if claim.enrichment else None
    # Events may carry more than the projection keeps (new optional fields): keep the table's columns.
    return {k: v for k, v in values.items() if k in columns}


class Replay:
    def __init__(self, known: Known, rules: feedlog.LiveRules, effects: feedlog.Effects, columns: dict) -> None:
        self.known = known
        self.rules = rules
        self.effects = effects
        self.columns = columns  # table name -> column names
        self.writes = Writes()

    def surviving(self, cluster_id: str) -> str:
        return self.known.redirects.get(cluster_id, cluster_id)

    def apply(self, event: BaseModel) -> None:
        if isinstance(event, ArticleReceived):
            self._article(event)
        elif isinstance(event, SentenceAnnotated):
            self._sentence(event)
        elif isinstance(event, ClaimDetected):
            self._claim(event)
        elif isinstance(event, ClusterMerged):
            self._merge(event)
        elif isinstance(event, ClusterUpdated):
            self._ledger(event)
        elif isinstance(event, AlertFired):
            self._alert_read_back(event)
        elif isinstance(event, FeedbackRecorded):
            self._feedback(event)
        elif isinstance(event, ArticleRevised):
            self._revision(event)

    def finish(self) -> Writes:
        """The writes, with each sentence's and claim's final cluster."""
        for sentence_id, row in self.writes.sentences.items():
            row["cluster_id"] = self.known.sentences[sentence_id]
        for claim_id, row in self.writes.claims.items():
            row["cluster_id"] = self.known.claims[claim_id]
        self.writes.moved = {sid: self.known.sentences[sid] for sid in sorted(self.writes.sentence_moves)
                             if sid not in self.writes.sentences}
        return self.writes

    # ---------------------------------------------------------------- articles and sentences

    def _keep(self, table: str, values: dict) -> dict:
        return {k: v for k, v in values.items() if k in self.columns[table]}

    def _article(self, event: ArticleReceived) -> None:
        self.writes.articles[(event.article_id, event.version)] = self._keep("articles",
                                                                              event.model_dump(include=ARTICLE_FIELDS))
        self.known.articles.setdefault(event.article_id, {})[event.version] = event.language

    def _revision(self, event: ArticleRevised) -> None:
        changes = event.model_dump(mode="json", include={"unchanged", "edited", "withdrawn", "added"})
        self.writes.revisions[(event.article_id, event.version)] = {
            "article_id": event.article_id, "version": event.version, "previous_version": event.previous_version,
            "revised_at": event.revised_at, "changes": changes}
        self.known.revisions.setdefault(event.article_id, {})[event.version] = (
            event.version, event.previous_version, utc(event.revised_at), changes)

    def _sentence(self, event: SentenceAnnotated) -> None:
        values = self._keep("sentences", event.model_dump(include=SENTENCE_FIELDS))
        cluster = event.cluster_id
        if cluster is None and event.is_claim:
            # The claim (another topic) may have arrived first and carries the cluster.
            cluster = self.known.claims.get(claim_id_of(event.article_id, event.text)) or None
        if cluster is None:
            cluster = self.known.sentences.get(event.sentence_id)  # an upsert without a cluster keeps the row's
        self.known.sentences[event.sentence_id] = cluster
        self.writes.sentences[event.sentence_id] = values

    # ---------------------------------------------------------------- claims

    def _claim(self, claim: ClaimDetected) -> None:
        if claim.claim_id not in self.known.claims:
            self._new_claim(claim)
        # Clusters are decided after annotation: a stored sentence learns its cluster here.
        if claim.sentence_id in self.known.sentences:
            self.known.sentences[claim.sentence_id] = self.surviving(claim.cluster_id)
            self.writes.sentence_moves.add(claim.sentence_id)

    def _new_claim(self, claim: ClaimDetected) -> None:
        known = self.known
        cluster = self.surviving(claim.cluster_id)
        row = claim_row(claim, cluster, self.columns["claims"])
        # `appearance` when the cluster (as the claim names it) had a claim or another first claim.
        ledger = known.ledgers.get(claim.cluster_id)
        seen_before = known.claim_counts.get(claim.cluster_id, 0) > 0 or (
            ledger is not None and ledger.first_claim_id != claim.claim_id)
        if ledger is not None and ledger.independent_outlets is not None:
            independent = ledger.independent_outlets
        else:
            independent = 0 if claim.copy_of else 1
        known.claims[claim.claim_id] = cluster
        known.claim_counts[cluster] = known.claim_counts.get(cluster, 0) + 1
        known.cluster_claims.setdefault(cluster, feedlog.ClusterClaims()).add(
            claim.claim_score, [row["claim_type"]] if row["claim_type"] else (),
            {e.canonical.lower() for e in claim.entities})
        self.writes.claims[claim.claim_id] = row
        self.writes.new_claims.append(claim)
        facets = feedlog.claim_facets(claim, row["claim_type"], row["seen_at"], independent)
        self._feed("appearance" if seen_before else "claim", claim.cluster_id, claim.claim_id, facets,
                   self._claim_payload(row))

    def _claim_payload(self, row: dict) -> dict:
        """The claim as GET /claims/{id} shows it right now; `seq` is filled in once the row is inserted."""
        known = self.known
        values = {k: utc(v) if isinstance(v, datetime) else v for k, v in row.items()}
        values["seq"] = 0
        ledger = known.ledgers.get(row["cluster_id"])
        versions = known.articles.get(row["article_id"], {})
        revisions = known.revisions.get(row["article_id"], {})
        public = public_claim_values(
            values, cluster=ledger.context() if ledger is not None else None,
            language=versions.get(row["version"]), versions=sorted(versions),
            revisions=[revisions[v] for v in sorted(revisions) if v > row["version"]])
        return ClaimPublic.model_validate(public).model_dump(mode="json")

    # ---------------------------------------------------------------- clusters

    def _merge(self, event: ClusterMerged) -> None:
        known, merged, survivor = self.known, event.merged_id, event.cluster_id
        self.writes.merges.append(event)
        known.redirects[merged] = survivor
        # Earlier merges into the cluster that is now merged in turn point at the new survivor.
        for old, target in known.redirects.items():
            if target == merged:
                known.redirects[old] = survivor
        for state in (known.claims, known.sentences):
            for key, cluster in state.items():
                if cluster == merged:
                    state[key] = survivor
        known.ledgers.pop(merged, None)
        self.writes.ledgers.pop(merged, None)
        if merged in known.claim_counts:
            known.claim_counts[survivor] = known.claim_counts.get(survivor, 0) + known.claim_counts.pop(merged)
        if merged in known.cluster_claims:
            known.cluster_claims.setdefault(survivor, feedlog.ClusterClaims()).absorb(known.cluster_claims.pop(merged))

    def _ledger(self, event: ClusterUpdated) -> None:
        known = self.known
        if event.cluster_id in known.redirects:
            return  # an older ledger of a cluster merged since (a replay): the survivor has it
        values = event.model_dump(mode="json", exclude={"schema_version"})
        for name in ("first_seen_at", "updated_at"):
            values[name] = getattr(event, name)
        before = known.ledgers.get(event.cluster_id)
        self.writes.ledgers[event.cluster_id] = self._keep("clusters", values)
        known.ledgers[event.cluster_id] = Ledger(
            event.first_outlet, event.first_seen_at, event.first_claim_id, values["outlets"],
            event.independent_outlets, event.appearance_count, event.updated_at, values["appearances"])
        state = None if before is None else (before.appearance_count, before.independent_outlets, before.outlets,
                                             before.updated_at)
        if not feedlog.ledger_changed(state, event):
            return
        latest = feedlog.latest_appearance(event)
        facets = feedlog.cluster_facets(event.cluster_id, known.cluster_claims.get(event.cluster_id), event.text,
                                        event.outlets, event.independent_outlets,
                                        latest.seen_at if latest else event.first_seen_at, event.updated_at)
        self._feed("cluster", event.cluster_id, None, facets, feedlog.cluster_payload(event))
        alert = feedlog.velocity_alert(event, self.rules)
        if alert is None or alert.alert_id in known.alerts:
            return  # below the threshold, or fired before (here, by another replica, or before a restart)
        self._store_alert(alert, facets)
        self.writes.outbox.append(feedlog.outbox_row("alerts", ClusterKey(cluster_id=event.cluster_id), alert))
        self.effects.outbox_rows += 1
        self.effects.alerts_fired += 1

    def _store_alert(self, alert: AlertFired, facets: dict) -> None:
        payload = feedlog.alert_payload(alert)
        self.known.alerts.add(alert.alert_id)
        self.writes.alerts.append({"alert_id": alert.alert_id, "cluster_id": alert.cluster_id,
                                   "fired_at": alert.fired_at, "payload": payload})
        self._feed("alert", alert.cluster_id, None, dict(facets, at=feedlog._iso(alert.fired_at)), payload)

    def _alert_read_back(self, alert: AlertFired) -> None:
        """An alert read from the alerts topic: stored (and logged) unless this replica has it already."""
        if alert.alert_id in self.known.alerts:
            return
        claims = self.known.cluster_claims.get(alert.cluster_id)
        ledger = self.known.ledgers.get(alert.cluster_id)
        if ledger is not None:
            seen = [datetime.fromisoformat(a["seen_at"]) for a in ledger.appearances or () if a.get("seen_at")]
            facets = feedlog.cluster_facets(alert.cluster_id, claims, alert.text, ledger.outlets,
                                            ledger.independent_outlets or alert.independent_outlets,
                                            max(seen) if seen else alert.reached_at, alert.fired_at)
        else:
            facets = feedlog.cluster_facets(alert.cluster_id, claims, alert.text, alert.outlets,
                                            alert.independent_outlets, alert.reached_at, alert.fired_at)
        self._store_alert(alert, facets)

    # ---------------------------------------------------------------- feedback and the log

    def _feedback(self, feedback: FeedbackRecorded) -> None:
        if feedback.feedback_id in self.known.feedback:
            return
        self.known.feedback.add(feedback.feedback_id)
        self.writes.feedback.append(feedlog.feedback_values(feedback))
        self.effects.feedback_rows += 1

    def _feed(self, kind: str, cluster_id: str, claim_id: str | None, facets: dict, payload: dict) -> None:
        self.writes.feed.append(FeedEvent(kind, cluster_id, claim_id, facets, payload))
        self.effects.feed_events += 1
