"""Entities: spaCy NER, canonical names, linking on model output, CoNLL scoring."""

from pathlib import Path

import pytest

from services.nlp import entities
from services.nlp.entities import canonical_name, extract_entities, link_texts


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
        ("Russian", "NORP", "Russian"),  # a demonym is its own canonical (its id names Russia), as linked
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


@pytest.mark.parametrize(
    "text,label,expected",
    [
        ("Deutschland", "GPE", "Germany"),  # gazetteer aliases beyond the original table
        ("Trump", "PERSON", "Donald Trump"),
        ("Reuters", "ORG", "Reuters"),
        ("Pyongyang", "GPE", "Pyongyang"),  # the city; it is North Korea only when it acts (link_entities)
        ("Jordan", "PERSON", "Jordan"),
        ("Ukrainians", "NORP", "Ukrainians"),
    ],
)
def test_canonical_name_uses_gazetteer(text, label, expected):
    assert canonical_name(text, label) == expected


def test_one_table_of_names_the_raw_and_the_linked_mention_agree():
    # canonical_name (raw mentions) and link_entities read the same gazetteer: no second table disagrees.
    text = "Russian officials said the U.K. and Nato would meet in Pyongyang."
    raw = extract_entities([text])[0]
    linked = {e.text: e.canonical for e in link_texts([text])[0]}
    assert all(linked.get(m.text, m.canonical) == m.canonical for m in raw), (raw, linked)


def test_link_texts_on_model_output():
    out = link_texts([
        "Pyongyang has sold millions of rockets to Russia.",
        "Russia is still attacking parts of Ukraine, including the Kharkiv area.",
        "A US official told this to the Associated Press.",
    ])
    first = {e.text: e for e in out[0]}
    assert first["Pyongyang"].entity_id == "country:north-korea" and first["Pyongyang"].metonymy
    assert first["Russia"].entity_id == "country:russia" and not first["Russia"].metonymy
    kharkiv = [e for e in out[1] if e.text == "Kharkiv"]
    assert kharkiv and kharkiv[0].entity_id == "city:kharkiv" and not kharkiv[0].metonymy
    ap = [e for e in out[2] if e.entity_id == "media:associated-press"]
    assert ap and ap[0].text == "Associated Press"


# --------------------------------------------------------------- CoNLL scoring

CONLL_SAMPLE = """-DOCSTART- -X- O O

Harbor NNP I-NP I-ORG
Daily NNP I-NP I-ORG
reported VBD I-VP O
that IN I-SBAR O
Maria NNP I-NP I-PER
Lopez NNP I-NP I-PER
left VBD I-VP O
Madrid NNP I-NP I-LOC
for IN I-PP O
Lisbon NNP I-NP I-LOC
. . O O

Greek JJ I-NP I-MISC
firefighters NNS I-NP O
flew VBD I-VP O
to TO I-PP O
Athens NNP I-NP I-LOC
. . O O
"""


def test_gold_spans_iob1():
    from services.nlp.ner_eval import gold_spans

    text, spans = gold_spans(["Anna", "met", "Bob", "Carl", "in", "Oslo"],
                             ["I-PER", "O", "I-PER", "B-PER", "O", "I-LOC"])
    assert text == "Anna met Bob Carl in Oslo"
    assert {(text[s:e], t) for s, e, t in spans} == {("Anna", "PER"), ("Bob", "PER"), ("Carl", "PER"), ("Oslo", "LOC")}


def test_conll_f1_on_own_sample(tmp_path):
    from services.nlp.ner_eval import conll_ner_f1

    path = tmp_path / "sample.conll"
    path.write_text(CONLL_SAMPLE, encoding="utf-8")
    for linked in (False, True):
        r = conll_ner_f1(path, linked=linked)
        assert set(r) >= {"precision", "recall", "f1", "words_per_s"}
        assert r["sentences"] == 2 and r["gold"] == 6 and r["words"] == 17
        assert r["linked" if not linked else "plain"]["f1"] >= 0
        assert 0.5 <= r["f1"] <= 1.0 and r["words_per_s"] > 0


CONLL_DEV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "conll2003" / "eng.testa"


@pytest.mark.skipif(not CONLL_DEV.exists(), reason="CoNLL-2003 dev set not present")
def test_conll_dev_slice_linking_does_not_hurt():
    from services.nlp.ner_eval import conll_ner_f1

    plain = conll_ner_f1(CONLL_DEV, limit=200)
    linked = conll_ner_f1(CONLL_DEV, limit=200, linked=True)
    assert plain["f1"] > 0.3  # the opening documents are sports tables, hard for the small model
    assert linked["f1"] >= plain["f1"]
