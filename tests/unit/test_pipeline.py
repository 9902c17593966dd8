from datetime import datetime, timedelta, timezone

from schemas import ArticleReceived
from services.nlp import matching
from services.stages import annotate, ledgers, match

T0 = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)


def _article(article_id="a1", outlet="Harbor Daily", body=None, published=T0) -> ArticleReceived:
    body = body or ("North Korea has shipped more than one million artillery shells to Russia since August. "
                    "What happens next?\n\nThe United States imposed sanctions on five shipping companies on Monday.")
    return ArticleReceived(article_id=article_id, version=1, content_hash="h", outlet=outlet, body=body,
                           published_at=published, received_at=T0)


def test_split_article_gives_offsets_into_the_body_and_stable_ids():
    article = _article()
    sentences = annotate.split_article(article)
    assert [s.index for s in sentences] == [0, 1, 2]
    assert all(article.body[s.start:s.end] == s.text for s in sentences)
    assert all(s.count == 3 for s in sentences)
    assert [s.sentence_id for s in sentences] == [s.sentence_id for s in annotate.split_article(article)]


def test_annotation_marks_claims_and_matching_gives_them_clusters():
    annotated = annotate.annotate_sentences(annotate.split_article(_article()), threshold=0.5)
    by_text = {a.text: a for a in annotated}
    question = by_text["What happens next?"]
    assert not question.is_claim
    shells = by_text["North Korea has shipped more than one million artillery shells to Russia since August."]
    assert shells.is_claim
    assert {"North Korea", "Russia"} <= {e.canonical for e in shells.entities}
    scored = annotate.scored_from(shells)
    assert scored.block and scored.claim_id.startswith("k-")
    [claim] = match.match_claims(matching.ClaimIndex({}), [scored], T0)
    assert claim.cluster_id.startswith("c_") and claim.sentence_id == shells.sentence_id


INDEX = matching.ClaimIndex({})


def _claim(article_id, outlet, minutes):
    article = _article(article_id=article_id, outlet=outlet, published=T0 + timedelta(minutes=minutes))
    annotated = annotate.annotate_sentences(annotate.split_article(article), threshold=0.5)
    return match.match_claims(INDEX, [annotate.scored_from(annotated[0])], T0)[0]


def test_ledger_keeps_the_earliest_appearance_first_and_ignores_replays():
    later = _claim("a2", "Metro Courier", 30)
    earlier = _claim("a1", "Harbor Daily", 0)
    assert later.cluster_id == earlier.cluster_id
    ledger = ledgers.add_appearance(None, later, T0)
    ledger = ledgers.add_appearance(ledger, earlier, T0)
    assert ledger.first_outlet == "Harbor Daily" and ledger.appearance_count == 2
    assert ledger.outlets == ["Harbor Daily", "Metro Courier"]
    assert ledgers.add_appearance(ledger, earlier, T0) is None  # replay: nothing changes


def test_ledger_appearances_are_bounded_but_counted():
    ledger = None
    for n in range(5):
        claim = _claim(f"a{n}", f"Outlet {n}", n)
        ledger = ledgers.add_appearance(ledger, claim, T0, max_appearances=3)
    assert ledger.appearance_count == 5 and len(ledger.appearances) == 3


def test_articles_not_in_english_keep_their_language_and_are_not_scored():
    from services.ingest.models import ArticleIn
    from services.ingest.prepare import prepare_article

    draft = prepare_article(ArticleIn(id="de-1", outlet="Rheinische Post", body=(
        "Die Arbeitslosenquote ist im Oktober auf 3,9 Prozent gesunken, teilte die Bundesagentur mit. "
        "Die Regierung will die Steuern im nächsten Jahr senken.")))
    assert draft.language == "de"
    article = ArticleReceived(article_id=draft.article_id, version=1, content_hash=draft.content_hash,
                              outlet=draft.outlet, body=draft.body, received_at=T0, language=draft.language)
    annotated = annotate.annotate_sentences(annotate.split_article(article), threshold=0.0)
    assert annotated and all(not a.is_claim and a.language == "de" and not a.entities for a in annotated)


def test_claims_carry_linked_entities_and_enrichment():
    annotated = annotate.annotate_sentences(annotate.split_article(_article()), threshold=0.5)
    shells = next(a for a in annotated if a.text.startswith("North Korea"))
    assert "country:north-korea" in {e.entity_id for e in shells.entities}
    assert shells.enrichment is not None and shells.enrichment.claim_type in (
        "statistic", "event", "quote", "causal", "comparison", "other")
    assert any(q.value == 1e6 for q in shells.enrichment.quantities)


def test_two_scores_per_sentence_and_only_claims_are_checkworthy():
    from services.nlp import claims

    sentences = annotate.split_article(_article())
    annotated = annotate.annotate_sentences(sentences, threshold=0.5)
    assert all(0.0 <= a.checkworthy_score <= 1.0 for a in annotated)
    assert all(a.is_checkworthy == (a.is_claim and a.checkworthy_score >= claims.DEFAULT_CHECKWORTHY_THRESHOLD)
               for a in annotated)
    shells = next(a for a in annotated if a.text.startswith("North Korea"))
    assert shells.is_checkworthy  # a figure about a state's arms shipments
    scored = annotate.scored_from(shells)
    assert (scored.checkworthy_score, scored.is_checkworthy) == (shells.checkworthy_score, True)
    [detected] = match.match_claims(matching.ClaimIndex({}, {}), [scored], T0)
    assert (detected.checkworthy_score, detected.is_checkworthy) == (shells.checkworthy_score, True)
    # The check-worthy threshold is its own setting.
    strict = annotate.annotate_sentences(sentences, threshold=0.5, checkworthy_threshold=1.0)
    assert not any(a.is_checkworthy for a in strict)
    assert [a.is_claim for a in strict] == [a.is_claim for a in annotated]
    loose = annotate.annotate_sentences(sentences, threshold=0.5, checkworthy_threshold=0.0)
    assert [a.is_checkworthy for a in loose] == [a.is_claim for a in loose]


def test_figures_and_dates_are_normalised_once_and_carried_to_matching():
    body = ("The lender approved 2.4 billion euros (about $2.6 billion) for the dam last year.\n\n"
            "The dam will be 480 metres (1,575 feet) tall.")
    annotated = annotate.annotate_sentences(annotate.split_article(_article(body=body)), threshold=0.0)
    loan = annotated[0].enrichment
    assert [(q.base_value, q.base_unit, q.conversion) for q in loan.quantities] == [
        (2.4e9, "EUR", False), (2.6e9, "USD", True)]
    assert [d.resolved for d in loan.dates] == ["2025-01-01"]  # against the publication time, 2 March 2026
    wire = annotated[0].model_dump_json()  # the fields travel in the event
    assert '"base_unit":"EUR"' in wire and '"conversion":true' in wire
    tower = annotated[1].enrichment.quantities
    assert tower[1].conversion and abs(tower[1].base_value - 480.06) < 0.01 and tower[0].base_unit == "meter"
    # Matching reads what the event carries: the same features as computing them again, one figure each.
    scored = annotate.scored_from(annotated[0])
    carried = match._claim_features(scored)
    again = matching.features(scored.claim_id, scored.text, match._mentions(scored), scored.outlet,
                              T0.timestamp())
    assert carried.numbers == again.numbers and len(carried.numbers) == 1 and carried.years == {"2025"}
