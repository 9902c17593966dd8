"""Entities: spaCy NER plus canonical names."""

import pytest

from services.nlp import entities
from services.nlp.entities import canonical_name, extract_entities


@pytest.fixture(scope="module", autouse=True)
def _need_model():
    try:
        entities.load_nlp()
    except RuntimeError as exc:
        pytest.skip(str(exc))


def test_us_variants_share_canonical():
    (ents,) = extract_entities(["The U.S. and the United States are the same."])
    assert [e.canonical for e in ents] == ["United States", "United States"]
    text = "The U.S. and the United States are the same."
    assert all(text[e.start:e.end] == e.text for e in ents)


def test_person_label():
    (ents,) = extract_entities(["Russian President Vladimir Putin said both countries would deepen ties."])
    putin = [e for e in ents if "Putin" in e.text]
    assert putin and putin[0].label == "PERSON" and putin[0].canonical == "Vladimir Putin"


def test_no_entities():
    assert extract_entities(["it was a quiet day and nothing much happened."]) == [[]]
    assert extract_entities([]) == []


def test_batch_keeps_order():
    out = extract_entities(["Iran denied it.", "no names here at all.", "NATO met in Brussels."])
    assert [e.canonical for e in out[0]] == ["Iran"]
    assert out[1] == []
    assert "NATO" in [e.canonical for e in out[2]]


@pytest.mark.parametrize(
    "text,label,expected",
    [
        ("USA", "GPE", "United States"),
        ("America", "GPE", "United States"),
        ("the United States of America", "GPE", "United States"),
        ("Britain", "GPE", "United Kingdom"),
        ("U.K.", "GPE", "United Kingdom"),
        ("EU", "ORG", "European Union"),
        ("the U.N.", "ORG", "United Nations"),
        ("DPRK", "ORG", "North Korea"),
        ("Russian", "NORP", "Russia"),
        ("Russia's", "GPE", "Russia"),
        ("the  Kremlin", "ORG", "Kremlin"),
        ("iPhone", "PRODUCT", "iPhone"),
        ("kharkiv", "GPE", "Kharkiv"),
    ],
)
def test_canonical_name(text, label, expected):
    assert canonical_name(text, label) == expected


def test_demonym_only_for_norp():
    assert canonical_name("Russian", "LANGUAGE") == "Russian"
