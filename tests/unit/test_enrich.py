"""Claim enrichment: type, attribution, quantities, dates (own sentences; no spaCy needed)."""

import json
from dataclasses import asdict
from datetime import datetime, timezone

import pytest

from services.nlp.enrich import CLAIM_TYPES, Enrichment, enrich_claim
from services.nlp.types import EntityMention

TUE = datetime(2026, 8, 11, 7, 30, tzinfo=timezone.utc)  # a Tuesday
FRI_NOV = datetime(2026, 11, 6, 14, 0, tzinfo=timezone.utc)


def ent(text, sub, label):
    start = text.index(sub)
    return EntityMention(sub, label, sub, start, start + len(sub))


def enrich(text, pub=TUE, ents=()):
    return enrich_claim(text, list(ents), pub)


def quantity(text, pub=TUE):
    (q,) = enrich(text, pub).quantities
    return q


# ---------------------------------------------------------------- quantities

@pytest.mark.parametrize(
    "text,value,unit,approx",
    [
        ("It earned £136 billion from oil.", 1.36e11, "GBP", False),
        ("Russia earned 136bn pounds from oil.", 1.36e11, "GBP", False),
        ("The fund holds $2.5bn in cash.", 2.5e9, "USD", False),
        ("A grant of €40 million was approved.", 4e7, "EUR", False),
        ("Inflation reached 3.5% in the spring.", 3.5, "percent", False),
        ("Turnout was 61 per cent.", 61, "percent", False),
        ("The rate is up 0.25 percentage points.", 0.25, "percentage points", False),
        ("Pyongyang has sold millions of rockets to Russia.", 1e6, "rockets", True),
        ("Tens of thousands of people marched.", 1e4, "people", True),
        ("The plan will cost billions of dollars.", 1e9, "USD", True),
        ("Firefighters evacuated 2,400 residents.", 2400, "residents", False),
        ("The fire burned about 3,100 hectares of forest.", 3100, "hectares", True),
        ("Three villages were emptied.", 3, "villages", False),
        ("One million voters stayed home.", 1e6, "voters", False),
        ("Two hundred and fifty thousand homes lost power.", 250000, "homes", False),
        ("Nearly half of the new jobs went to women.", 0.5, "fraction", True),
        ("Crews laid 40 km of new track.", 40, "km", False),
        ("Officials sent 12 water-dropping aircraft to the fire.", 12, "aircraft", False),
        ("The shares paid 50 cents each.", 0.5, "USD", False),
        ("It raised 1.5 million Australian dollars.", 1.5e6, "AUD", False),
        ("More than 500 people were hurt.", 500, "people", True),
    ],
)
def test_quantities(text, value, unit, approx):
    q = quantity(text)
    assert q.value == pytest.approx(value)
    assert q.unit == unit
    assert q.approximate is approx
    assert text[q.start:q.end] == q.text


def test_quantity_span_and_scale():
    text = "North Korea has shipped more than one million artillery shells to Russia."
    q = quantity(text)
    assert q.text == "more than one million artillery shells"
    assert (q.value, q.unit, q.scale, q.approximate) == (1e6, "shells", "million", True)


def test_two_quantities_in_order():
    qs = enrich("The fire service said 180 firefighters and 12 aircraft were deployed.").quantities
    assert [(q.value, q.unit) for q in qs] == [(180, "firefighters"), (12, "aircraft")]


@pytest.mark.parametrize(
    "text",
    [
        "Prices rose and then fell.",  # "rose" / "fell" are not quantities
        "Greece recorded its hottest July since 1960.",  # a year is a date
        "Covid-19 spread after the F-16 deal.",  # numbers inside names
        "Article 5 was invoked.",
        "The final score was 3-1.",
        "She came third, one of the best results.",  # "one of" is a pronoun
        "The talks start at 10:30.",
        "Growth in the 1990s was strong.",
    ],
)
def test_not_quantities(text):
    assert enrich(text).quantities == ()


def test_four_digit_count_is_a_quantity_not_a_year():
    e = enrich("In 2023, 500 people died, compared with 2000 people in 1999.")
    assert [q.value for q in e.quantities] == [500, 2000]
    assert [d.text for d in e.dates] == ["2023", "1999"]


# --------------------------------------------------------------------- dates

@pytest.mark.parametrize(
    "text,pub,expected",
    [
        ("Villages were evacuated on Tuesday.", TUE, [("Tuesday", "2026-08-11", "day")]),  # same day
        ("It has burned since Sunday.", TUE, [("Sunday", "2026-08-09", "day")]),
        ("Officials expect the heat to last until Friday.", TUE, [("Friday", "2026-08-14", "day")]),
        ("The service said so last week.", TUE, [("last week", "2026-08-03", "relative")]),  # Monday
        ("Greece recorded its hottest July since 1960.", TUE,
         [("July", "2026-07-01", "month"), ("1960", "1960-01-01", "year")]),
        ("The rate fell in October.", FRI_NOV, [("October", "2026-10-01", "month")]),
        ("The rate fell in December.", FRI_NOV, [("December", "2025-12-01", "month")]),  # most recent
        ("The Fed may keep rates unchanged in December.", FRI_NOV, [("December", "2026-12-01", "month")]),
        ("Wages rose over the past year.", FRI_NOV, [("past year", "2025-11-06", "relative")]),
        ("The deal was signed on 3 March 2025.", TUE, [("3 March 2025", "2025-03-03", "day")]),
        ("The deal was signed on Aug. 11, 2025.", TUE, [("Aug. 11, 2025", "2025-08-11", "day")]),
        ("The report came out on March 3rd.", TUE, [("March 3rd", "2026-03-03", "day")]),
        ("Data from 2026-07-30 show it.", TUE, [("2026-07-30", "2026-07-30", "day")]),
        ("It happened yesterday.", TUE, [("yesterday", "2026-08-10", "day")]),
        ("Prices fell three days ago.", TUE, [("three days ago", "2026-08-08", "day")]),
        ("The vote is next Tuesday.", TUE, [("next Tuesday", "2026-08-18", "day")]),
        ("Sales fell last month.", TUE, [("last month", "2026-07-01", "month")]),
        ("Sales fell last year.", TUE, [("last year", "2025-01-01", "year")]),
        ("It rained in May.", TUE, [("May", "2026-05-01", "month")]),
    ],
)
def test_dates(text, pub, expected):
    got = [(d.text, d.resolved, d.granularity) for d in enrich(text, pub).dates]
    assert got == expected
    for d in enrich(text, pub).dates:
        assert text[d.start:d.end] == d.text


def test_may_the_verb_and_the_name_are_not_months():
    assert enrich("Theresa May said prices may rise.").dates == ()


def test_relative_dates_need_a_publication_time():
    e = enrich_claim("The fire started on Tuesday, two years after the 2024 floods.", [], None)
    assert [(d.text, d.resolved) for d in e.dates] == [("Tuesday", None), ("2024", "2024-01-01")]


def test_dateparser_fallback_on_date_entity():
    text = "The figures were released on 10/03/2025 by the ministry."
    e = enrich(text, TUE, [ent(text, "10/03/2025", "DATE")])
    assert [(d.text, d.granularity) for d in e.dates] == [("10/03/2025", "day")]
    assert e.dates[0].resolved is not None
    assert e.quantities == ()


# --------------------------------------------------------------- attribution

@pytest.mark.parametrize(
    "text,source,via,hedged",
    [
        ("North Korea shipped shells to Russia, a US official told the Associated Press.",
         "US official", "Associated Press", False),
        ("A US official told this to the Associated Press.", "US official", "Associated Press", False),
        ("Greece recorded its hottest July since 1960, according to the national weather service.",
         "national weather service", None, True),
        ("According to US intelligence, the shells went by rail.", "US intelligence", None, True),
        ("Firefighters evacuated 2,400 residents, the fire service said.", "fire service", None, False),
        ("The unemployment rate fell to 3.9%, the Labor Department said on Friday.", "Labor Department", None, False),
        ("The fire service said 180 firefighters were deployed.", "fire service", None, False),
        ("Regional governor Eleni Markou told reporters that the blaze grew.",
         "Regional governor Eleni Markou", None, False),  # reporters relay nothing: no via
        ('"We have never seen winds this strong," she said.', "she", None, False),
        ('"This is a disaster," said Eleni Markou, the regional governor.', "Eleni Markou", None, False),
        ("Russian President Vladimir Putin said that both countries would deepen ties.",
         "Russian President Vladimir Putin", None, False),
        ("But reports say that drones have many technical problems.", "reports", None, True),
        ("Reuters reported, citing two officials, that the talks failed.", "two officials", "Reuters", False),
        ("According to a report by Reuters, the talks failed.", "Reuters", None, True),
        ("The minister told the BBC on Monday that prices would fall.", "minister", "BBC", False),
        ("The study found that 40% of adults were affected.", "study", None, False),
    ],
)
def test_attribution(text, source, via, hedged):
    a = enrich(text).attribution
    assert (a.source, a.via, a.hedged) == (source, via, hedged)


@pytest.mark.parametrize(
    "text",
    [
        "New York Times reportedly got a tip-off.",
        "The factory allegedly dumped waste into the river.",
        "The minister is said to be furious.",
        "He claimed the vote was rigged.",
        "Sources say the minister will resign.",
    ],
)
def test_hedged(text):
    assert enrich(text).attribution.hedged


@pytest.mark.parametrize(
    "text",
    [
        "Firefighters evacuated 2,400 residents from three villages.",
        "Employers added 210,000 jobs during the month.",  # "added" is not speech here
        "This also shows that North Korea is an ally of Russia.",  # "this" is not a source
        "Russia buying weapons shows a different picture.",
    ],
)
def test_no_attribution(text):
    a = enrich(text).attribution
    assert (a.source, a.via, a.hedged) == (None, None, False)


def test_numbers_in_the_attribution_are_not_the_claims():
    assert enrich("Reuters reported, citing two officials, that the talks failed.").quantities == ()


# ---------------------------------------------------------------- claim type

@pytest.mark.parametrize(
    "text,ents,expected",
    [
        ("The unemployment rate fell to 3.9% in October, the Labor Department said.", [], "statistic"),
        ("Firefighters evacuated 2,400 residents from three villages near Patras on Tuesday.", [], "statistic"),
        ("It earned £136 billion from the surge in oil prices.", [], "statistic"),
        ('"We have never seen winds this strong in August," she said.', [], "quote"),
        ("Russian President Vladimir Putin said that both countries would deepen ties.", [], "quote"),
        ("As a result, North Korea and Iran will deepen their ties with Russia.", [], "causal"),
        ("Prices rose because of the war.", [], "causal"),
        ("Greece recorded its hottest July since 1960.", [], "comparison"),
        ("Employers added 210,000 jobs, more than the 150,000 economists had expected.", [], "comparison"),
        ("Crime is lower than it was compared with last year.", [], "comparison"),
        ("The United States imposed sanctions on five shipping companies on Monday.", [], "event"),
        ("Protesters marched in Athens.", [("Athens", "GPE")], "event"),
        ("What does this mean for the economy?", [], "other"),
    ],
)
def test_claim_type(text, ents, expected):
    mentions = [ent(text, s, label) for s, label in ents]
    assert enrich(text, TUE, mentions).claim_type == expected


def test_more_than_a_number_is_not_a_comparison():
    assert enrich("North Korea has shipped more than one million shells.").claim_type == "statistic"


def test_json_friendly():
    e = enrich("It earned £136 billion on Tuesday, a US official told the AP.")
    assert isinstance(e, Enrichment) and e.claim_type in CLAIM_TYPES
    as_json = json.loads(json.dumps(asdict(e)))
    assert as_json["attribution"]["via"] == "AP"
    assert as_json == json.loads(json.dumps(e.to_dict()))
    assert isinstance(e.to_dict()["quantities"], list)


def test_empty_text():
    e = enrich_claim("", [], None)
    assert (e.claim_type, e.quantities, e.dates, e.attribution.source) == ("other", (), (), None)
