"""Feed filters, the velocity rule, webhook address checks, feedback precision and the schema migrations.

No broker: the pure functions, SQLite files under tmp_path and databases of the session's
PostgreSQL server (tests/databases.py); tests taking `fresh_db_url` run on both.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError
from sqlalchemy import insert, select, text as sql_text

from schemas import ClusterAppearance, ClusterUpdated
from services.query.db import ClaimRow, FeedbackRow, fts_enabled, make_engine
from services.query.feedback import summary
from services.query.feedlog import alert_id, velocity_window
from services.query.filters import FeedFilter, apply_sql, fold, fts_query, matcher, terms
from services.query.models import WatchlistCreate
from services.query.webhooks import address_refusal, host_refusal

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def facets(**overrides) -> dict:
    base = {"cluster_id": "c1", "outlets": ["Harbor Daily"], "entities": ["north korea", "russia"],
            "claim_types": ["statistic"], "score": 0.8, "independent_outlets": 2,
            "text": "North Korea shipped 1,000 containers to Russia.", "seen_at": T0.isoformat()}
    return base | overrides


def test_terms_fold_case_and_accents_and_split_like_fts5():
    assert terms("Élysée Palace, U.S. 2,400 snake_case") == \
        ["elysee", "palace", "u", "s", "2400", "snake", "case"]  # a grouped figure is one word
    assert fold("Straße İstanbul Œuvre") == "straße istanbul œuvre"  # lower case and marks dropped, as FTS5
    assert fts_query('bridge "OR" collapse*') == '"bridge" AND "or" AND "collapse"'


@pytest.mark.parametrize("f, expected", [
    ({}, True),
    ({"entity": "NORTH KOREA"}, True),
    ({"entity": "north"}, False),  # whole canonical names, not parts
    ({"outlet": "Harbor Daily"}, True),
    ({"outlet": "harbor daily"}, True),  # outlets match in any case, like entities
    ({"outlet": "harbor"}, False),  # but whole names
    ({"claim_type": "statistic"}, True),
    ({"claim_type": "quote"}, False),
    ({"min_score": 0.8}, True),
    ({"min_score": 0.81}, False),
    ({"min_outlets": 2}, True),
    ({"min_outlets": 3}, False),
    ({"q": "russia containers"}, True),
    ({"q": "russia tanks"}, False),
    ({"q": "contain"}, False),  # whole words
    ({"types": ["claim", "appearance"]}, True),
    ({"types": ["cluster"]}, False),
    ({"entity": "russia", "min_score": 0.5, "q": "north"}, True),
    ({"entity": "russia", "min_score": 0.9}, False),
])
def test_matcher_applies_every_filter(f, expected):
    assert matcher([FeedFilter(**f)])("claim", facets()) is expected


def test_matcher_ands_the_query_with_a_watchlist_and_handles_missing_facets():
    both = matcher([FeedFilter(entity="russia"), FeedFilter(min_outlets=3, types=["cluster"])])
    assert not both("cluster", facets())
    assert both("cluster", facets(independent_outlets=3))
    assert not both("claim", facets(independent_outlets=3))
    assert not matcher([FeedFilter(min_score=0.1, types=["alert"])])("alert", facets(score=None))
    assert not matcher([FeedFilter(claim_type="statistic")])("claim", facets(claim_types=[]))


def test_without_types_only_claims_pass_and_all_means_every_type():
    default = matcher([FeedFilter(outlet="Harbor Daily")])
    assert [default(kind, facets()) for kind in ("claim", "appearance", "cluster", "alert")] == \
        [True, True, False, False]
    everything = matcher([FeedFilter(types="all")])
    assert all(everything(kind, facets()) for kind in ("claim", "appearance", "cluster", "alert"))
    assert FeedFilter(types="all").types == ["claim", "appearance", "cluster", "alert"]


def test_matcher_time_range_and_cluster():
    m = matcher([], cluster="c1", since=T0, until=T0 + timedelta(hours=1))
    assert m("claim", facets())
    assert not m("claim", facets(cluster_id="c2"))
    assert not m("claim", facets(seen_at=(T0 + timedelta(hours=1)).isoformat()))  # until is exclusive
    naive = matcher([], since=T0.replace(tzinfo=None))
    assert naive("claim", facets()) and not naive("claim", facets(seen_at=(T0 - timedelta(seconds=1)).isoformat()))


@pytest.mark.parametrize("bad", [
    {"q": "!!!"}, {"q": " ".join(["w"] * 17)}, {"types": []}, {"types": ["claim", "rumour"]},
    {"min_score": 1.1}, {"min_outlets": 0}, {"claim_type": "gossip"}, {"entity": ""}, {"surprise": True},
])
def test_invalid_filters_are_refused(bad):
    with pytest.raises(ValidationError):
        FeedFilter(**bad)


def test_types_accept_commas_and_repeats_and_keep_a_stable_order():
    assert FeedFilter(types="alert,claim").types == ["claim", "alert"]
    assert FeedFilter(types=["cluster", "claim,cluster"]).types == ["claim", "cluster"]


def test_a_watchlist_needs_a_filter():
    with pytest.raises(ValidationError, match="at least one filter"):
        WatchlistCreate(name="everything")
    assert WatchlistCreate(name="alerts", types=["alert"]).types == ["alert"]


def test_python_free_text_agrees_with_sqlite_fts5(tmp_path):
    texts = ["The Élysée Palace said 2,400 people were evacuated.", "Prices rose 3% in Zürich, the bank said.",
             "A snake_case identifier and U.S. officials", "ELYSEE statement on bridges", "bridge collapse",
             "Die Straße in İstanbul", "Une œuvre, ÆTHER"]
    texts += ["Officials counted 2300 cases.", "Officials counted 12,300,000 cases in 2026."]
    queries = ["elysee", "ÉLYSÉE palace", "zurich bank", "2 400", "2400", "2,400", "2300", "2,300", "12300000",
               "12,300,000", "300", "2026", "snake", "u s officials", "bridge", "bridges",
               "palace bridge", "rose", "straße", "strasse", "istanbul", "œuvre", "oeuvre", "æther"]
    db = sqlite3.connect(tmp_path / "fts.db")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(text, content='', tokenize='unicode61 remove_diacritics 2')")
    db.executemany("INSERT INTO t(rowid, text) VALUES (?, ?)", list(enumerate(texts)))
    for q in queries:
        in_sql = {row[0] for row in db.execute("SELECT rowid FROM t WHERE t MATCH ?", (fts_query(q),))}
        m = matcher([FeedFilter(q=q)])
        in_python = {i for i, text in enumerate(texts) if m("claim", facets(text=text))}
        assert in_python == in_sql, q


def test_python_free_text_agrees_with_postgres(postgres_server):
    """The PostgreSQL path of `free_text` finds what the live matcher (and FTS5, above) finds."""
    from sqlalchemy.orm import Session

    texts = ["The Élysée Palace said 2,400 people were evacuated.", "Prices rose 3% in Zürich, the bank said.",
             "A snake_case identifier and U.S. officials", "ELYSEE statement on bridges", "bridge collapse",
             "Die Straße in İstanbul", "Une œuvre, ÆTHER", "Officials counted 2300 cases.",
             "Officials counted 12,300,000 cases in 2026.", "São Tomé, Ñandú and Łódź"]
    queries = ["elysee", "ÉLYSÉE palace", "zurich bank", "2 400", "2400", "2,400", "2300", "2,300", "12300000",
               "12,300,000", "300", "2026", "snake", "u s officials", "bridge", "bridges", "palace bridge", "rose",
               "straße", "strasse", "istanbul", "œuvre", "oeuvre", "æther", "sao tome", "nandu", "lodz"]
    engine = make_engine(postgres_server.create_database("fts"))
    with Session(engine) as session, session.begin():
        for i, text in enumerate(texts, start=1):
            session.execute(insert(ClaimRow).values(**_claim_values(i, text)))
    with Session(engine) as session:
        for q in queries:
            in_sql = set(session.scalars(apply_sql(select(ClaimRow.seq), FeedFilter(q=q), engine)))
            m = matcher([FeedFilter(q=q)])
            in_python = {i for i, text in enumerate(texts, start=1) if m("claim", facets(text=text))}
            assert in_python == in_sql, q
    engine.dispose()


def _claim_values(seq: int, text: str, **overrides) -> dict:
    values = dict(seq=seq, claim_id=f"k{seq}", cluster_id=f"c{seq}", article_id="a", version=1, text=text, start=0,
                  end=len(text), outlet="O", claim_score=0.7, model_version="m", entities=[], received_at=T0,
                  detected_at=T0, seen_at=T0)
    return values | overrides


def test_the_claims_list_finds_whole_words(fresh_db_url, db_backend):
    engine = make_engine(fresh_db_url("q"))
    assert fts_enabled(engine) == (db_backend == "sqlite")
    from sqlalchemy import text as sql
    from sqlalchemy.orm import Session

    rows = [_claim_values(1, "The Élysée bridge closed."), _claim_values(2, "Bridges reopened in Lyon.",
                                                                        claim_type="event"),
            _claim_values(3, "The bridge in Lyon reopened.", claim_type="event")]
    with Session(engine) as session, session.begin():
        for values in rows:
            session.execute(insert(ClaimRow).values(**values))
            if fts_enabled(engine):
                session.execute(sql("INSERT INTO claims_fts(rowid, text) VALUES (:s, :t)"),
                                {"s": values["seq"], "t": values["text"]})
    with Session(engine) as session:
        def ids(f: FeedFilter, with_engine=engine) -> list[int]:
            return sorted(session.scalars(apply_sql(select(ClaimRow.seq), f, with_engine)))

        assert ids(FeedFilter(q="bridge")) == [1, 3]
        assert ids(FeedFilter(q="ELYSEE")) == [1]
        assert ids(FeedFilter(q="lyon reopened", claim_type="event")) == [2, 3]
        assert ids(FeedFilter(q="bridge lyon")) == [3]
        assert ids(FeedFilter(q="bridge"), with_engine=None) == [1, 2, 3]  # LIKE fallback: substrings


def _ledger(*apps: tuple[str, int, str | None]) -> ClusterUpdated:
    items = [ClusterAppearance(claim_id=f"k-{o}-{m}", article_id="a", outlet=o, text="t",
                               seen_at=T0 + timedelta(minutes=m), copy_of=cp) for o, m, cp in apps]
    return ClusterUpdated(cluster_id="c", first_outlet=items[0].outlet, first_seen_at=items[0].seen_at,
                          first_claim_id=items[0].claim_id, text="t", outlets=sorted({a.outlet for a in items}),
                          appearance_count=len(items), appearances=items, updated_at=T0)


def test_velocity_counts_independent_outlets_once_within_the_window():
    window = timedelta(minutes=30)
    assert velocity_window(_ledger(("A", 0, None), ("B", 10, None)), 3, window) is None
    found = velocity_window(_ledger(("A", 0, None), ("B", 10, None), ("C", 30, None)), 3, window)
    assert [o for o, _ in found] == ["A", "B", "C"]  # the window's end is included
    assert velocity_window(_ledger(("A", 0, None), ("B", 10, None), ("C", 31, None)), 3, window) is None
    # A copy does not count, and an outlet counts once, at its first appearance.
    assert velocity_window(_ledger(("A", 0, None), ("B", 5, "k-A-0"), ("A", 6, None), ("C", 8, None)), 3,
                           window) is None
    # Any window will do: here the last three.
    late = velocity_window(_ledger(("A", 0, None), ("B", 50, None), ("C", 60, None), ("D", 70, None)), 3, window)
    assert [o for o, _ in late] == ["B", "C", "D"]


def test_alert_ids_are_deterministic_per_cluster_and_rule():
    assert alert_id("c1", 3, 60) == alert_id("c1", 3, 60.0)
    assert len({alert_id("c1", 3, 60), alert_id("c2", 3, 60), alert_id("c1", 4, 60), alert_id("c1", 3, 30)}) == 4


@pytest.mark.parametrize("address, public", [
    ("93.184.216.34", True), ("2606:2800:220:1::1", True), ("127.0.0.1", False), ("10.0.0.7", False),
    ("100.64.1.1", False), ("169.254.169.254", False), ("224.0.0.1", False), ("0.0.0.0", False), ("::1", False),
    ("::ffff:10.0.0.1", False), ("64:ff9b::a00:1", False), ("fe80::1", False), ("fc00::1", False),
])
def test_webhooks_reach_public_addresses_only(address, public):
    assert (address_refusal(address) is None) is public


def test_webhook_hosts_checked_without_dns():
    assert host_refusal("localhost") and host_refusal("api.localhost") and host_refusal("[::1]")
    assert host_refusal("127.0.0.1") and host_refusal("192.168.1.10")
    assert host_refusal("hooks.example.org") is None and host_refusal("8.8.8.8") is None


def test_precision_uses_the_latest_verdict_per_claim_and_membership(fresh_db_url):
    engine = make_engine(fresh_db_url("q"))
    from sqlalchemy.orm import Session

    def fb(i: int, kind: str, claim: str, version: str, verdict: bool, minutes: int, cluster: str = "c1") -> dict:
        return dict(feedback_id=f"f{i}", kind=kind, claim_id=claim, cluster_id=cluster, model_version=version,
                    check_worthy=verdict if kind == "claim" else None,
                    correct_member=verdict if kind == "cluster" else None, note=None,
                    recorded_at=T0 + timedelta(minutes=minutes))

    rows = [fb(1, "claim", "k1", "v1", True, 0), fb(2, "claim", "k2", "v1", True, 1),
            fb(3, "claim", "k2", "v1", False, 2),  # k2 judged again: the later verdict counts
            fb(4, "claim", "k3", "v2", False, 3), fb(5, "cluster", "k1", "v1", True, 4),
            fb(6, "cluster", "k1", "v1", False, 5, cluster="c9"),  # another membership of the same claim
            ]
    with Session(engine) as session, session.begin():
        session.execute(insert(FeedbackRow), rows)
    result = summary(engine)
    assert result.feedback_count == 6
    assert [v.model_version for v in result.versions] == ["v1", "v2"]  # most recently judged first
    v1, v2 = result.versions
    assert (v1.claim.judged, v1.claim.positive, v1.claim.precision) == (2, 1, 0.5)
    assert (v1.cluster.judged, v1.cluster.positive, v1.cluster.precision) == (2, 1, 0.5)
    assert (v2.claim.judged, v2.claim.precision) == (1, 0.0)
    assert (v2.cluster.judged, v2.cluster.precision) == (0, None)


def test_migrations_make_the_schema_and_adopt_a_database_made_before_them(fresh_db_url, db_backend):
    from sqlalchemy.orm import Session

    from services.common.database import create_engine_for, current, head, missing_columns
    from services.query.db import Base

    # A new database: every revision applied, every mapped table and column there.
    engine = make_engine(fresh_db_url("new"))
    assert current(engine) == head("services.query") == "0002"
    with engine.connect() as conn:
        assert missing_columns(conn, Base.metadata) == []
    engine.dispose()
    # A database the last version without migrations made (create_all, no alembic_version) is
    # adopted with its rows; on SQLite the text index is filled with the claims already there.
    url = fresh_db_url("old")
    old = create_engine_for(url)
    Base.metadata.create_all(old)
    with Session(old) as session, session.begin():
        session.execute(insert(ClaimRow).values(**_claim_values(7, "An old bridge claim.")))
    old.dispose()
    engine = make_engine(url)
    assert current(engine) == "0002"
    with Session(engine) as session:
        assert session.scalars(apply_sql(select(ClaimRow.seq), FeedFilter(q="bridge"), engine)).all() == [7]
    assert fts_enabled(engine) == (db_backend == "sqlite")
    engine.dispose()


def test_claims_of_a_database_at_0001_get_their_folded_text_and_are_found(fresh_db_url, db_backend):
    """0002 fills the folded wording of the claims already there, so free text finds them on both databases."""
    from sqlalchemy.orm import Session

    from services.common.database import create_engine_for, current, migrate

    url = fresh_db_url("at0001")
    old = create_engine_for(url)
    migrate(old, "services.query", revision="0001")
    values = _claim_values(3, "Le Président a visité São Tomé.")
    with old.begin() as conn:
        conn.execute(sql_text("INSERT INTO claims (seq, claim_id, cluster_id, article_id, version, text, start, "
                              '"end", outlet, claim_score, checkworthy_score, is_checkworthy, model_version, '
                              "entities, received_at, detected_at, seen_at) VALUES (:seq, :claim_id, :cluster_id, "
                              ":article_id, :version, :text, :start, :end, :outlet, :claim_score, 0.0, false, "
                              ":model_version, '[]', :received_at, :detected_at, :seen_at)"),
                     {k: v for k, v in values.items() if k != "entities"})
    old.dispose()
    engine = make_engine(url)
    assert current(engine) == "0002"
    with Session(engine) as session:
        folded = session.scalar(select(ClaimRow.text_folded).where(ClaimRow.seq == 3))
        assert folded == "le president a visite sao tome."
        for q in ("president", "SAO tomé", "visite"):
            assert session.scalars(apply_sql(select(ClaimRow.seq), FeedFilter(q=q), engine)).all() == [3], q
        assert session.scalars(apply_sql(select(ClaimRow.seq), FeedFilter(q="tom"), engine)).all() == []
    engine.dispose()


def test_postgres_free_text_is_served_by_the_trigram_index(postgres_server):
    """On PostgreSQL `q` reads the pg_trgm index of the folded wording, not every claim."""
    from sqlalchemy.orm import Session

    engine = make_engine(postgres_server.create_database("trgm"))
    with Session(engine) as session, session.begin():
        session.execute(insert(ClaimRow), [_claim_values(i, f"Claim number {i} about the Élysée and {i * 7} homes.")
                                           for i in range(1, 401)])
    with Session(engine) as session, session.begin():
        session.execute(sql_text("SET LOCAL enable_seqscan = off"))
        query = apply_sql(select(ClaimRow.seq), FeedFilter(q="elysee 2800"), engine)
        compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
        plan = "\n".join(session.scalars(sql_text(f"EXPLAIN {compiled}")))
        assert "ix_claims_text_folded_trgm" in plan, plan
        assert session.scalars(query).all() == [400]
    engine.dispose()


def test_a_database_older_than_the_migrations_can_adopt_is_refused_with_the_reason(fresh_db_url):
    from services.common.database import SchemaError, create_engine_for, current

    url = fresh_db_url("ancient")
    old = create_engine_for(url)
    with old.begin() as conn:
        conn.execute(sql_text("CREATE TABLE claims (seq INTEGER PRIMARY KEY, claim_id VARCHAR(40) UNIQUE, "
                              "text TEXT)"))
    with pytest.raises(SchemaError, match=r"claims\.cluster_id.*rebuild it"):
        make_engine(url)
    assert current(old) is None  # nothing half-done: the adoption was rolled back
    old.dispose()


def test_webhook_connections_to_a_private_address_are_refused_at_connect_time():
    """The webhook sender's transport: a name resolving to loopback is refused before connecting."""
    import asyncio

    import httpx

    from services.common.addresses import PublicOnlyTransport
    from services.query.webhooks import WebhookRefused

    async def loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    async def post() -> None:
        async with httpx.AsyncClient(transport=PublicOnlyTransport(loopback, WebhookRefused)) as client:
            await client.post("http://hooks.example.org/x", json={})

    with pytest.raises(WebhookRefused, match="loopback"):
        asyncio.run(post())


def test_the_claims_api_serves_the_checkworthy_score(fresh_db_url):
    from sqlalchemy.orm import Session

    from schemas import ClaimDetected
    from services.query.models import ClaimPublic
    from services.query.projection import _insert_claim

    engine = make_engine(fresh_db_url("q"))
    base = dict(cluster_id="c_1", article_id="a", version=1, text="Exports fell 3%.", start=0, end=16, outlet="O",
                received_at=T0, detected_at=T0, claim_score=0.9, model_version="m")
    with Session(engine) as session, session.begin():
        _insert_claim(session, ClaimDetected(claim_id="k1", sentence_id="s1", checkworthy_score=0.8,
                                             is_checkworthy=True, **base))
        _insert_claim(session, ClaimDetected(claim_id="k2", sentence_id="s2", **base))  # an older event
    with Session(engine) as session:
        rows = {r.claim_id: ClaimPublic.model_validate(r) for r in session.scalars(select(ClaimRow))}
    assert (rows["k1"].checkworthy_score, rows["k1"].is_checkworthy) == (0.8, True)
    assert (rows["k2"].checkworthy_score, rows["k2"].is_checkworthy) == (0.0, False)
    assert "checkworthy_score" in rows["k1"].model_dump(mode="json")
