"""Metonymy read from the dependency parse: a capital or seat acting stands for its state or institution."""

import pytest

from services.nlp import entities
from services.nlp.entities import link_texts


@pytest.fixture(scope="module", autouse=True)
def _need_model():
    try:
        entities.load_nlp()
    except RuntimeError as exc:
        pytest.skip(str(exc))


def roles(text):
    [ents] = link_texts([text])
    return {e.text: (e.label, e.canonical, e.metonymy) for e in ents
            if e.label not in ("DATE", "CARDINAL", "TIME", "MONEY", "PERCENT", "QUANTITY")}


@pytest.mark.parametrize("text, name, expected", [
    # subject of a verb of supplying, saying, agreeing, sending; the referent's label
    ("Pyongyang has supplied more than a million shells to Moscow, officials in Seoul believe.",
     "Pyongyang", ("GPE", "North Korea", True)),
    ("Pyongyang has supplied more than a million shells to Moscow, officials in Seoul believe.",
     "Moscow", ("GPE", "Russia", True)),  # the receiving state
    ("Pyongyang has supplied more than a million shells to Moscow, officials in Seoul believe.",
     "Seoul", ("GPE", "Seoul", False)),  # "officials in Seoul": a place
    ("Officials in Seoul believe Beijing has sent advisers to the region.", "Beijing", ("GPE", "China", True)),
    ("Officials in Seoul believe Beijing has sent advisers to the region.", "Seoul", ("GPE", "Seoul", False)),
    ("Brussels agreed a new sanctions package on Tuesday.", "Brussels", ("ORG", "European Union", True)),
    ("Moscow said the talks had failed.", "Moscow", ("GPE", "Russia", True)),
    ("The report credits Beijing with most of the growth.", "Beijing", ("GPE", "China", True)),
    ("Talks between Washington and Beijing stalled again.", "Washington", ("GPE", "United States", True)),
    ("Talks between Washington and Beijing stalled again.", "Beijing", ("GPE", "China", True)),
    ("Frankfurt is unlikely to lose much sleep over the revision.", "Frankfurt",
     ("ORG", "European Central Bank", True)),
    ("Belem has given no hint of when a decision will come.", "Belem", ("ORG", "Portuguese Presidency", True)),
    ("Whitehall said ministers were monitoring the situation.", "Whitehall", ("ORG", "UK government", True)),
    ("The warning to Beijing was blunt.", "Beijing", ("GPE", "China", True)),
    ("The West kept up pressure on Moscow.", "Moscow", ("GPE", "Russia", True)),
    ("Lawmakers called on Beijing to release the activists.", "Beijing", ("GPE", "China", True)),
    ("Moscow-backed separatists shelled the town.", "Moscow", ("GPE", "Russia", True)),
    ("The plan was rejected, according to Tokyo.", "Tokyo", ("GPE", "Japan", True)),
    ("Kyiv's allies pledged more air defence systems.", "Kyiv", ("GPE", "Ukraine", True)),  # the model missed it
    ("Diplomats said pressure from Washington had been decisive.", "Washington", ("GPE", "United States", True)),
    ("Beijing hit back, calling the measures economic bullying.", "Beijing", ("GPE", "China", True)),
    ("Westminster is expected to vote on the bill next week.", "Westminster", ("ORG", "UK Parliament", True)),
    ("A No 10 spokesman said the plan was on track.", "No 10", ("ORG", "UK government", True)),
    # literal uses stay places
    ("The Beijing-based company reported a loss.", "Beijing", ("GPE", "Beijing", False)),
    ("Tokyo stocks fell 2% on Monday.", "Tokyo", ("GPE", "Tokyo", False)),
    ("Nairobi hosted the summit last year.", "Nairobi", ("GPE", "Nairobi", False)),
    ("A visit to Beijing is planned for May.", "Beijing", ("GPE", "Beijing", False)),
    ("Thousands of tourists flock to Beijing every spring.", "Beijing", ("GPE", "Beijing", False)),
    ("Thousands protested in Beijing on Sunday.", "Beijing", ("GPE", "Beijing", False)),
    ("Flights from Lisbon to Frankfurt were cancelled.", "Lisbon", ("GPE", "Lisbon", False)),
    ("Flights from Lisbon to Frankfurt were cancelled.", "Frankfurt", ("GPE", "Frankfurt", False)),
    ("The storm hit Lisbon overnight.", "Lisbon", ("GPE", "Lisbon", False)),
])
def test_capital_as_actor_or_place(text, name, expected):
    assert roles(text)[name] == expected


def test_dateline_is_a_place():
    got = roles("BEIJING, March 2 (Reuters) - Customs officials said imports would resume.")
    assert got["BEIJING"][2] is False


def test_parse_runs_only_where_a_capital_or_seat_is_named():
    entities._PARSED.clear()
    link_texts(["Prices rose 3% in February, the statistics office said.", "Moscow denied the report."])
    assert list(entities._PARSED) == ["Moscow denied the report."]


def test_a_count_is_not_number_ten():
    assert "No 10" not in roles("No 10 people were hurt in the crash.")
