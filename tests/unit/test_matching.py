"""Cross-outlet matching: paraphrases join, look-alikes with a different fact stay apart."""

from __future__ import annotations

import pytest

from services.nlp import matching
from services.nlp.entities import extract_entities


def _index():
    return matching.ClaimIndex({})


def _feed(index, texts_outlets, start=0.0):
    texts = [t for t, _ in texts_outlets]
    out = []
    for n, ((text, outlet), ents) in enumerate(zip(texts_outlets, extract_entities(texts), strict=True)):
        f = matching.features(f"k{n}-{outlet}", text, ents, outlet, start + n * 60.0)
        out.append(index.match(f))
    return out


SAME = [
    [("Firefighters evacuated 2,400 residents from three villages near Patras on Tuesday.", "A"),
     ("ATHENS - Firefighters evacuated 2,400 residents from three villages near Patras on Tuesday.", "B"),
     ("On Tuesday firefighters evacuated 2,400 residents from three villages near Patras, the fire service said.",
      "C")],
    [("Russia earned £136 billion from oil exports, a US official told the Associated Press.", "A"),
     ("According to US intelligence, Russia earned 136bn pounds from oil exports.", "B"),
     ("Russia earned £136bn from oil exports.", "C")],
    [("The unemployment rate fell to 3.9% in October, the Labor Department said.", "A"),
     ("In October the unemployment rate fell to 3.9%.", "B")],
    [("North Korea has sold millions of rockets and artillery shells to Russia.", "A"),
     ("Pyongyang has sold millions of rockets and artillery shells to Russia, officials say.", "B")],
]


@pytest.mark.parametrize("group", SAME, ids=["reorder+dateline", "numbers+attribution", "fronted", "metonymy"])
def test_the_same_claim_from_several_outlets_lands_in_one_cluster(group):
    matches = _feed(_index(), group)
    assert len({m.cluster_id for m in matches}) == 1, matches


HARD_NEGATIVES = [
    ("The unemployment rate fell to 3.9% in October.", "The unemployment rate rose to 3.9% in October."),
    ("The unemployment rate fell to 3.9% in October.", "The unemployment rate fell to 4.9% in October."),
    ("Greece recorded its hottest July since 1960.", "Greece recorded its hottest July since 1977."),
    ("Firefighters evacuated 2,400 residents near Patras.", "Firefighters evacuated 2,400 residents near Corinth."),
    ("Russia bought weapons from North Korea.", "Russia denied buying weapons from North Korea."),
    ("The council approved the budget on Thursday.", "The council did not approve the budget on Thursday."),
]


@pytest.mark.parametrize("a, b", HARD_NEGATIVES, ids=["direction", "number", "year", "place", "denial", "negation"])
def test_claims_that_only_look_alike_stay_apart(a, b):
    first, second = _feed(_index(), [(a, "A"), (b, "B")])
    assert first.cluster_id != second.cluster_id


def test_an_updated_figure_is_a_new_claim_marked_as_an_update():
    first, second = _feed(_index(), [("The storm killed 12 people in Sichuan province, officials said.", "A"),
                                      ("The storm killed 19 people in Sichuan province, officials said.", "B")])
    assert second.cluster_id != first.cluster_id
    assert second.update_of == first.cluster_id


def test_a_reprint_is_a_copy_of_the_original_and_a_rewrite_is_independent():
    original = "The port authority said 40,000 containers were delayed by the three-day strike."
    matches = _feed(_index(), [(original, "Wire"), (original, "Aggregator"),
                               ("About 40,000 containers were held up during the strike, which lasted three days.",
                                "Rewriter")])
    wire, copy, rewrite = matches
    assert copy.cluster_id == wire.cluster_id and copy.copy_of == "k0-Wire"
    assert rewrite.copy_of is None


def test_replays_get_the_first_decision_and_the_index_stays_bounded():
    index = matching.ClaimIndex({}, matching.MatchPolicy(max_claims=3))
    ents = extract_entities(["Exports rose by 5% last year."])[0]
    first = index.match(matching.features("k1", "Exports rose by 5% last year.", ents, "A", 0.0))
    assert index.match(matching.features("k1", "Exports rose by 5% last year.", ents, "A", 0.0)) == first
    for n in range(10):
        index.match(matching.features(f"x{n}", f"Exports rose by 5% in region {n}.", [], "B", float(n)))
    assert len(index) == 3 and len(index.records) == 3  # the oldest left the ANN index and the records


def test_claims_stored_longer_ago_than_the_window_leave_the_index():
    day, now = 24 * 3600.0, [0.0]
    index = matching.ClaimIndex({}, matching.MatchPolicy(window_s=2 * day), clock=lambda: now[0])
    old = index.match(matching.features("old", "The port handled 4,100 ships in March.", [], "A", 0.0))
    now[0] = 3 * day
    index.match(matching.features("other", "The mayor opened a new library.", [], "B", 3 * day))
    again = index.match(matching.features("new", "The port handled 4,100 ships in March.", [], "C", 3 * day))
    assert "old" not in index.records and again.cluster_id != old.cluster_id


def test_a_backfilled_claim_is_not_evicted_by_newer_publication_dates():
    day = 24 * 3600.0
    index = matching.ClaimIndex({}, matching.MatchPolicy(window_s=2 * day))
    index.match(matching.features("recent", "The mayor opened a new library.", [], "B", 400 * day))
    first = index.match(matching.features("a", "The port handled 4,100 ships in March.", [], "A", 10 * day))
    second = index.match(matching.features("b", "The port handled 4,100 ships in March.", [], "C", 10 * day))
    assert second.cluster_id == first.cluster_id


def test_a_restarted_index_rebuilds_its_neighbours_from_the_records():
    records: dict = {}
    first = matching.ClaimIndex(records)
    texts = [("Firefighters evacuated 2,400 residents from three villages near Patras on Tuesday.", "A"),
             ("The council approved a new budget for schools.", "B")]
    for n, ((text, outlet), ents) in enumerate(zip(texts, extract_entities([t for t, _ in texts]), strict=True)):
        first.match(matching.features(f"k{n}", text, ents, outlet, float(n)))
    restarted = matching.ClaimIndex(records)  # as after a restart: only the table survives
    text = "On Tuesday firefighters evacuated 2,400 residents from three villages near Patras, officials said."
    m = restarted.match(matching.features("k9", text, extract_entities([text])[0], "C", 9.0))
    assert m.cluster_id == first.decided("k0").cluster_id and len(restarted) == 3


def test_records_survive_a_round_trip_through_json():
    import json

    ents = extract_entities(["Russia earned £136 billion from oil exports."])[0]
    f = matching.features("k1", "Russia earned £136 billion from oil exports.", ents, "A", 5.0)
    m = matching.Match(cluster_id="c_1", copy_of=None)
    g, n = matching.from_record("k1", json.loads(json.dumps(matching.to_record(f, m))))
    assert g == f and n.cluster_id == "c_1"  # everything the pair model reads survives
    assert (g.vector == f.vector).all() and (g.minhash == f.minhash).all()


def test_a_place_named_only_in_the_attribution_still_routes_the_claim():
    a, b = _feed(_index(), [("The mayor of Vellmar said the new bridge cost 48 million euros.", "A"),
                            ("The new bridge in Vellmar cost 48 million euros, the mayor said.", "B")])
    assert a.cluster_id == b.cluster_id


def test_the_stream_decides_as_the_offline_index_does_and_replays_repeat_it():
    from services.stages import match

    scored, now = _wildfire_claims()
    assert len({c.block for c in scored}) == 1  # one routing key: one index meets every claim
    offline = match.match_claims(matching.ClaimIndex({}), scored, now)
    stream_index = matching.ClaimIndex({})
    published = [match.match_step(stream_index, c, now) for c in scored]
    assert [(c.claim_id, c.cluster_id, c.copy_of) for c in published] == \
           [(c.claim_id, c.cluster_id, c.copy_of) for c in offline]
    again = [match.match_step(stream_index, c, now) for c in scored]
    assert [c.cluster_id for c in again] == [c.cluster_id for c in published]
    assert len({c.cluster_id for c in offline}) == 1  # every pair is the same claim


def _wildfire_claims():
    from datetime import datetime, timezone

    from schemas import SentenceAnnotated
    from services.stages import annotate

    texts = [("Three villages near Patras were emptied on Tuesday as a wildfire spread through pine forest in "
              "western Greece.", "Ledger"),
             ("ATHENS - Firefighters evacuated 2,400 residents from three villages near Patras on Tuesday.", "Wire"),
             ("Firefighters evacuated 2,400 residents from three villages near Patras on Tuesday.", "Harbor"),
             ("Firefighters evacuated 2,400 residents from three villages near Patras on Tuesday, the fire "
              "service said.", "Ledger")]
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    annotated = [
        SentenceAnnotated(sentence_id=f"s{n}", article_id=f"a-{outlet}", version=1, index=n, count=1, text=text,
                          start=0, end=len(text), outlet=outlet, received_at=now, language="en", claim_score=0.9,
                          is_claim=True, model_version="m",
                          entities=[{"text": e.text, "label": e.label, "canonical": e.canonical, "start": e.start,
                                     "end": e.end} for e in found])
        for n, ((text, outlet), found) in enumerate(zip(texts, extract_entities([t for t, _ in texts]), strict=True))]
    return annotate.scored_claims(annotated), now


@pytest.mark.parametrize("seed", range(6))
def test_a_claim_that_links_two_clusters_merges_them_whatever_the_order(seed):
    """Two wordings that are each the same claim as a third: arriving first, they may start two clusters;
    the third then merges them, so every order ends in one cluster, and the old id redirects."""
    import random

    from services.stages import match

    scored, now = _wildfire_claims()
    order = list(scored)
    random.Random(seed).shuffle(order)
    index = matching.ClaimIndex({})
    published = [match.match_step(index, c, now) for c in order]
    final = {c.claim_id: index.decided(c.claim_id).cluster_id for c in order}
    assert len(set(final.values())) == 1, final
    for c in published:
        assert index.cluster_of(c.cluster_id) == next(iter(set(final.values())))
    for c in published:
        for gone in c.merged_clusters:
            assert index.cluster_of(gone) == c.cluster_id


def test_ledgers_fold_when_clusters_merge_and_replays_change_nothing():
    from services.stages import match
    from services.stages.ledgers import track_ledgers

    scored, now = _wildfire_claims()
    index, ledgers, events = matching.ClaimIndex({}), {}, []
    for claim in scored:
        detected = match.match_step(index, claim, now)
        merges, writes = track_ledgers(ledgers, detected, now)
        events += merges
        for cid, ledger in writes.items():
            if ledger is None:
                ledgers.pop(cid, None)
            else:
                ledgers[cid] = ledger
    assert len(ledgers) == 1
    [ledger] = ledgers.values()
    assert ledger.appearance_count == 4 and {a.claim_id for a in ledger.appearances} == {c.claim_id for c in scored}
    assert set(ledger.merged_from) == {m.merged_id for m in events}
    replayed = match.match_step(index, scored[-1], now)
    assert track_ledgers(ledgers, replayed, now) == ([], {})


# --- years and figures: a year is written as four bare digits -------------------------------------

def _one(text, seen_at=0.0):
    return matching.features("k", text, extract_entities([text])[0], "A", seen_at)


def _values(f):
    """The claim's figures as plain values ("1950"), whatever their unit and rounding."""
    from services.nlp.normalise import Figure

    values = (Figure.from_key(k).value for k in f.numbers)
    return {str(int(v)) if v == int(v) else f"{v:g}" for v in values}


@pytest.mark.parametrize("text, numbers, years", [
    ("Health officials counted 1,950 cholera cases.", {"1950"}, set()),
    ("The region counted 2,010 new cases in 2011.", {"2010"}, {"2011"}),
    ("Customs seized 1,984 kilos of cocaine in 1984.", {"1984"}, {"1984"}),
    ("The bridge opened in 1931.", set(), {"1931"}),
    ("The airport handled 2.0 thousand flights and 1990m passengers.", {"2000", "1990000000"}, set()),
])
def test_a_figure_with_a_thousands_comma_is_a_figure_not_a_year(text, numbers, years):
    f = _one(text)
    assert _values(f) >= numbers and f.years == years


def test_figures_that_look_like_years_keep_their_claims_apart_or_together():
    same = [("Health officials counted 1,950 cholera cases in the province.", "A"),
            ("In the province, health officials counted 1,950 cases of cholera.", "B")]
    assert len({m.cluster_id for m in _feed(_index(), same)}) == 1
    a, b = _feed(_index(), [("Health officials counted 1,950 cholera cases in the province.", "A"),
                            ("Health officials counted 1,970 cholera cases in the province.", "B")])
    assert a.cluster_id != b.cluster_id  # two figures (a number conflict), where both were once "years"
    assert matching.conflicts(_one("Health officials counted 1,950 cholera cases."),
                              _one("Health officials counted 1,970 cholera cases.")) == ["number"]


# --- direction: opposite changes of the same quantity -------------------------------------------

OPPOSITE_DIRECTIONS = [
    ("The trade gap widened to 2.1 billion euros in the second quarter.",
     "The trade gap narrowed to 2.1 billion euros in the second quarter."),
    ("The manufacturing sector expanded by 0.8% in the spring.",
     "The manufacturing sector shrank by 0.8% in the spring."),
    ("The ruling coalition gained nine seats in the regional vote.",
     "The ruling coalition lost nine seats in the regional vote."),
    ("Copper futures are up 6% this quarter.", "Copper futures are down 6% this quarter."),
    ("Wage growth accelerated to 5.2% in the spring.", "Wage growth slowed to 5.2% in the spring."),
    ("A season ticket now costs 30% more than before the merger.",
     "A season ticket now costs 30% less than before the merger."),
    ("Output at the smelter increased 12% over the summer.", "Output at the smelter decreased 12% over the summer."),
]


@pytest.mark.parametrize("a, b", OPPOSITE_DIRECTIONS,
                         ids=["widened", "expanded", "gained", "up", "accelerated", "more", "increased"])
def test_opposite_directions_keep_claims_apart(a, b):
    fa, fb = _one(a), _one(b)
    assert fa.direction == -fb.direction != 0
    first, second = _feed(_index(), [(a, "A"), (b, "B")])
    assert first.cluster_id != second.cluster_id


@pytest.mark.parametrize("text", [
    "Up to 40 people were injured when the stand gave way.",
    "More than 40 people lost their lives when the stand gave way.",
    "The club set up a fund for the 40 people hurt in the collapse.",
    "The mayor stepped down after 40 people were hurt.",
])
def test_phrases_that_tell_no_change_have_no_direction(text):
    assert _one(text).direction == 0


def test_the_same_direction_in_other_words_still_joins():
    same = [("The trade gap widened to 2.1 billion euros in the second quarter.", "A"),
            ("In the second quarter the trade gap increased to 2.1 billion euros.", "B")]
    assert len({m.cluster_id for m in _feed(_index(), same)}) == 1


# --- negation idioms ------------------------------------------------------------------------------

NEGATION_IDIOMS = [
    ("Parliament passed the pension reform on Friday.", "Parliament failed to pass the pension reform on Friday."),
    ("The union signed the wage deal on Monday.", "The union refused to sign the wage deal on Monday."),
    ("The insurer has paid the flood claims.", "The insurer has yet to pay the flood claims."),
    ("The club confirmed it will sell the stadium.", "The club denied it will sell the stadium."),
    ("Investigators said sabotage caused the blackout.",
     "Investigators ruled out sabotage as the cause of the blackout."),
    ("The regulator approved the merger of the two ferry operators.",
     "The regulator was unable to approve the merger of the two ferry operators."),
]


@pytest.mark.parametrize("a, b", NEGATION_IDIOMS, ids=["failed to", "refused to", "yet to", "denied", "ruled out",
                                                       "unable to"])
def test_negation_idioms_mark_a_claim_as_negated(a, b):
    assert not _one(a).negated and _one(b).negated
    assert "negation" in matching.conflicts(_one(a), _one(b))


@pytest.mark.parametrize("text, negated, direction", [
    ("The minister declined to comment on the ferry merger.", True, 0),
    ("Ferry passenger numbers declined to 3.1 million.", False, -1),
    ("Passenger numbers fell to no fewer than 3.1 million.", False, -1),
    ("The strike was the longest in decades, not least for the ferries.", False, 0),
])
def test_declined_to_is_a_refusal_only_before_a_verb(text, negated, direction):
    f = _one(text)
    assert (f.negated, f.direction) == (negated, direction)


def test_two_negated_reports_of_one_claim_still_join():
    same = [("The Danish parliament failed to pass the pension reform on Friday.", "A"),
            ("On Friday the Danish parliament did not pass the pension reform.", "B")]
    assert len({m.cluster_id for m in _feed(_index(), same)}) == 1


# --- dates relative to the article's publication ----------------------------------------------------

def _at(year, month, day=15):
    from datetime import datetime, timezone

    return datetime(year, month, day, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("text, when, years", [
    ("Coffee exports rose 8% last year.", _at(2026, 3), {"2025"}),
    ("Coffee exports will rise 8% next year.", _at(2026, 3), {"2027"}),
    ("Coffee exports have risen 8% this year.", _at(2026, 3), {"2026"}),
    ("Coffee exports rose 8% last year.", 0.0, set()),  # no known date: nothing resolved
    ("Coffee exports rose 8% in August.", _at(2026, 9), {"2026"}),
    ("Coffee exports rose 8% in November.", _at(2026, 1), {"2025"}),
    ("The coffee auction will be held in December.", _at(2026, 10), {"2026"}),
    ("Coffee exports rose 8% in August 2019.", _at(2026, 9), {"2019"}),
    ("Coffee exports rose 8% in 2019, peaking in August.", _at(2026, 9), {"2019"}),  # the year given wins
    ("Coffee exports may rise 8%.", _at(2026, 9), set()),  # "may" is no month
    ("Coffee exports rose 8% on 3 March.", _at(2026, 9), {"2026"}),
])
def test_relative_years_and_bare_months_are_resolved_against_the_claims_date(text, when, years):
    assert _one(text, when).years == years


def test_last_year_in_a_2026_article_is_the_same_claim_as_2025_and_not_2024():
    texts = [("Brazil's coffee exports rose 8% last year, the trade ministry said.", "A"),
             ("Brazil's coffee exports rose 8% in 2025.", "B"),
             ("Brazil's coffee exports rose 8% in 2024.", "C")]
    a, b, c = _feed(_index(), texts, start=_at(2026, 2))
    assert a.cluster_id == b.cluster_id != c.cluster_id


# --- names compared across labels -----------------------------------------------------------------

def _with(text, *spans):
    from services.nlp.types import EntityMention

    ents = []
    for sub, label in spans:
        start = text.index(sub)
        ents.append(EntityMention(sub, label, sub, start, start + len(sub)))
    return matching.features("k", text, ents, "A", 0.0)


def test_another_place_tagged_with_another_label_still_conflicts():
    a = _with("Chile sent 12 weather satellites into orbit from Vandenberg on Sunday.",
              ("Chile", "GPE"), ("Vandenberg", "LOC"))
    b = _with("Chile sent 12 weather satellites into orbit from Wallops on Sunday.",
              ("Chile", "GPE"), ("Wallops", "PERSON"))  # NER reads the launch site as a person
    assert a.places == {"Chile", "Vandenberg"} and b.names == {"Wallops"}
    assert matching.conflicts(a, b) == ["entity"]


def test_a_report_that_names_fewer_things_across_labels_is_compatible():
    a = _with("Chile sent 12 weather satellites into orbit from Vandenberg on Sunday.",
              ("Chile", "GPE"), ("Vandenberg", "PERSON"))
    b = _with("Chile sent 12 weather satellites into orbit on Sunday.", ("Chile", "GPE"))
    c = _with("Chile sent 12 weather satellites into orbit from Vandenberg on Sunday.",
              ("Chile", "GPE"), ("Vandenberg", "LOC"))
    assert matching.conflicts(a, b) == [] and matching.conflicts(b, a) == []
    assert matching.conflicts(a, c) == []  # one name, two labels: still the same thing


def test_a_name_spelled_in_part_under_another_label_is_not_another_thing():
    a = _with("Floods in China's Sichuan Basin forced 9,000 people from their homes.",
              ("China", "GPE"), ("Sichuan Basin", "LOC"))
    b = _with("Floods in China's Sichuan forced 9,000 people from their homes.", ("China", "GPE"), ("Sichuan", "ORG"))
    assert matching.conflicts(a, b) == []


@pytest.mark.parametrize("spelled, digits", [
    ("Forty-six stranded pilot whales were refloated on Thursday.", "46"),
    ("Ninety people were rescued from the ferry.", "90"),
    ("Twenty one miners were trapped underground.", "21"),
    ("Thirty-two thousand homes lost power.", "32000"),
])
def test_spelled_out_figures_above_twenty_are_the_same_figures(spelled, digits):
    assert _values(_one(spelled)) == {digits}


def test_a_spelled_out_figure_still_differs_from_another_figure():
    a = _one("Forty-six stranded pilot whales were refloated on Thursday.")
    b = _one("Rescuers refloated 64 stranded pilot whales on Thursday.")
    assert "number" in matching.conflicts(a, b)


def test_a_demonym_names_its_place():
    # NER reads "Tasmanian" as NORP and "the Italian Treasury" as one ORG: still Tasmania and Italy.
    a = _with("Rescuers freed 46 pilot whales on a beach in Tasmania.", ("Tasmania", "GPE"))
    b = _with("Forty-six pilot whales were refloated on a Tasmanian beach.", ("Tasmanian", "NORP"))
    assert matching.conflicts(a, b) == []
    c = _with("Italy sold 10 billion euros of seven-year bonds.", ("Italy", "GPE"))
    d = _with("The Italian Treasury sold €10bn of seven-year bonds.", ("Italian Treasury", "ORG"))
    assert matching.conflicts(c, d) == []
    e = _with("The Spanish Treasury sold €10bn of seven-year bonds.", ("Spanish Treasury", "ORG"))
    assert "entity" in matching.conflicts(c, e)


def test_a_shared_weak_word_is_no_common_name():
    a = _with("New Zealand reported 40 new measles cases.", ("New Zealand", "GPE"))
    b = _with("The New York Times reported 40 new measles cases.", ("New York Times", "ORG"))
    assert "entity" in matching.conflicts(a, b)


def test_reversed_roles_keep_claims_apart_and_a_passive_keeps_its_agent():
    hu = _with("Hungary has summoned the Ukrainian ambassador over the remarks.",
               ("Hungary", "GPE"), ("Ukrainian", "NORP"))
    ua = _with("Ukraine has summoned the Hungarian ambassador over the remarks.",
               ("Ukraine", "GPE"), ("Hungarian", "NORP"))
    passive = _with("The Ukrainian envoy was summoned by Hungary over the remarks.",
                    ("Ukrainian", "NORP"), ("Hungary", "GPE"))
    assert (hu.agent, ua.agent, passive.agent) == ("Hungary", "Ukraine", "Hungary")
    assert "roles" in matching.conflicts(hu, ua) and "roles" in matching.conflicts(passive, ua)
    assert matching.conflicts(hu, passive) == []
    # a record keeps the agent, so a claim decoded from a bucket still conflicts
    stored, _ = matching.from_record("k", matching.to_record(hu, matching.Match(cluster_id="c")))
    assert stored.agent == "Hungary" and "roles" in matching.conflicts(stored, ua)


def test_joint_subjects_in_another_order_are_not_reversed_roles():
    a = _with("The US and China agreed to cut tariffs by 10%.", ("US", "GPE"), ("China", "GPE"))
    b = _with("China and the US agreed to cut tariffs by 10%.", ("China", "GPE"), ("US", "GPE"))
    assert a.agent is None and b.agent is None and matching.conflicts(a, b) == []


def test_a_spelled_figure_takes_its_scale():
    assert _values(_one("A colony of roughly nine thousand penguins was found.")) == {"9000"}
    assert _values(_one("A colony of about 9,000 penguins was found.")) == {"9000"}


def test_an_owner_at_the_start_is_not_the_agent():
    a = _with("Kenya's Daniel Kiprop won the London Marathon in 2:03:41.",
              ("Kenya", "GPE"), ("Daniel Kiprop", "PERSON"))
    b = _with("The Philippines' disaster agency put the toll from the typhoon at 14.", ("Philippines", "GPE"))
    assert a.agent is None and b.agent is None
