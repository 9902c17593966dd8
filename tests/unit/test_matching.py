"""Cross-outlet matching: paraphrases join, look-alikes with a different fact stay apart."""

from __future__ import annotations

import pytest

from services.nlp import matching
from services.nlp.entities import extract_entities


def _index():
    return matching.ClaimIndex({}, {})


def _feed(index, texts_outlets, start=0.0):
    texts = [t for t, _ in texts_outlets]
    out = []
    for n, ((text, outlet), ents) in enumerate(zip(texts_outlets, extract_entities(texts))):
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


def test_replays_get_the_first_decision_and_buckets_stay_bounded():
    index = matching.ClaimIndex({}, {}, matching.MatchPolicy(max_bucket=3))
    ents = extract_entities(["Exports rose by 5% last year."])[0]
    first = index.match(matching.features("k1", "Exports rose by 5% last year.", ents, "A", 0.0))
    assert index.match(matching.features("k1", "Exports rose by 5% last year.", ents, "A", 0.0)) == first
    for n in range(10):
        index.match(matching.features(f"x{n}", f"Exports rose by 5% in region {n}.", [], "B", float(n)))
    assert all(len(bucket) <= 3 for bucket in index.buckets.values())


def test_records_survive_a_round_trip_through_json():
    import json

    ents = extract_entities(["Russia earned £136 billion from oil exports."])[0]
    f = matching.features("k1", "Russia earned £136 billion from oil exports.", ents, "A", 5.0)
    m = matching.Match(cluster_id="c_1", copy_of=None)
    g, n = matching.from_record("k1", json.loads(json.dumps(matching.to_record(f, m))))
    assert g == f and n.cluster_id == "c_1"
    assert (g.vector == f.vector).all() and (g.minhash == f.minhash).all()


def test_a_place_named_only_in_the_attribution_still_routes_the_claim():
    a, b = _feed(_index(), [("The mayor of Vellmar said the new bridge cost 48 million euros.", "A"),
                            ("The new bridge in Vellmar cost 48 million euros, the mayor said.", "B")])
    assert a.cluster_id == b.cluster_id
