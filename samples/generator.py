#!/usr/bin/env python
"""Invented news articles for load and fault tests (scripts/bench.py, scripts/chaos.py).

Every outlet, person, place and figure is fictional and every sentence comes from the
templates below. Articles are built around *stories*: one story is a set of facts
(figures, places, people) that several outlets report in their own words, so the
claims spread from outlet to outlet the way the pipeline expects. Each article mixes
check-worthy sentences (figures, dates, comparisons) with quotes, opinion and
scene-setting that should not score as claims.

Deterministic: the same seed and index always give the same article. No two
sentences of one article are the same (a claim id is a hash of article id and
wording, so a repeated sentence would be one claim, not two).

    .venv/bin/python samples/generator.py -n 50 --seed 7 --prefix demo > articles.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

OUTLETS = [
    ("Harbor Daily", "harbor-daily.example"), ("The Northern Ledger", "northern-ledger.example"),
    ("Metro Courier", "metro-courier.example"), ("Valley Gazette", "valley-gazette.example"),
    ("Coastline Post", "coastline-post.example"), ("The Evening Lantern", "evening-lantern.example"),
    ("Riverside Herald", "riverside-herald.example"), ("Upland Tribune", "upland-tribune.example"),
    ("The Weekly Compass", "weekly-compass.example"), ("Granite City News", "granite-city.example"),
    ("Bayfront Observer", "bayfront-observer.example"), ("Prairie Signal", "prairie-signal.example"),
]
TOWNS = ["Port Avery", "Kestrel Bay", "Lindenholm", "Marrowdale", "Ashcombe", "Vellmar", "Oakridge Falls",
         "Saltmere", "Brennick", "Corvale", "Duneham", "Halvorsen", "Eastwick Green", "Quillon", "Rosmoor",
         "Tarrow", "Wexley", "Fenwater", "Glenhollow", "Ironbridge"]
REGIONS = ["Northmark", "Calder Province", "the Western Reach", "Southvale", "the Lake District of Orrin",
           "Easthaven", "the Highland Territory", "Marisco"]
FIRST = ["Dana", "Eleni", "Tomas", "Priya", "Ravi", "Ingrid", "Kofi", "Mara", "Jonah", "Lucia", "Omar", "Freya",
         "Tariq", "Nadia", "Soren", "Amaka", "Beatriz", "Hugo", "Yara", "Callum"]
LAST = ["Okafor", "Markou", "Lindqvist", "Raman", "Castell", "Brightwater", "Mensah", "Vasquez", "Holloway",
        "Adeyemi", "Sørby", "Kowalczyk", "Fairbairn", "Tanaka", "Delacroix", "Mbeki", "Ostrander", "Quinlan"]
ROLES = ["Mayor", "Regional governor", "Health minister", "Transport secretary", "Council leader",
         "Chief economist", "Fire chief", "Police commissioner", "Schools inspector", "Energy regulator"]
AGENCIES = ["the national statistics office", "the regional fire service", "the transport authority",
            "the health ministry", "the central bank", "the environment agency", "the housing board",
            "the electoral commission", "the ports authority", "the education department"]
COMPANIES = ["Halcyon Motors", "Brightline Foods", "Northwind Logistics", "Corvale Steel", "Avery Biotech",
             "Tidewater Energy", "Lumen Textiles", "Kestrel Aerospace", "Oakridge Paper", "Marrow Pharma"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


@dataclass
class Story:
    topic: dict[str, Any]
    facts: dict[str, Any]


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _money(rng: random.Random, lo: float, hi: float) -> str:
    value = rng.uniform(lo, hi)
    return f"${value:,.1f} million" if value < 1000 else f"${value / 1000:,.2f} billion"


def _story(rng: random.Random, n: int) -> Story:
    """The facts of one story; every outlet that covers it reports the same figures."""
    topic = TOPICS[n % len(TOPICS)]
    f: dict[str, Any] = {
        "town": rng.choice(TOWNS), "town2": rng.choice(TOWNS), "region": rng.choice(REGIONS),
        "person": _person(rng), "person2": _person(rng), "role": rng.choice(ROLES), "role2": rng.choice(ROLES),
        "agency": rng.choice(AGENCIES), "company": rng.choice(COMPANIES), "day": rng.choice(DAYS),
        "month": rng.choice(MONTHS), "year": rng.randint(1961, 2019),
        "n1": rng.randint(120, 9800), "n2": rng.randint(3, 95), "n3": rng.randint(11, 480),
        "pct": round(rng.uniform(0.4, 19.5), 1), "pct2": round(rng.uniform(0.2, 9.9), 1),
        "money": _money(rng, 4, 4800), "money2": _money(rng, 1, 300),
        "ha": rng.randint(200, 25000), "hours": rng.randint(6, 72), "story": n,
    }
    if f["town2"] == f["town"]:
        f["town2"] = TOWNS[(TOWNS.index(f["town"]) + 7) % len(TOWNS)]
    return Story(topic, f)


# Per topic: titles, claims (check-worthy, with figures) and topic colour (not claims).
# Fields in braces come from the story's facts.
TOPICS: list[dict[str, Any]] = [
    {
        "name": "wildfire",
        "titles": ["Wildfire forces evacuations near {town}", "Fire spreads through forest outside {town}",
                   "Thousands leave homes as blaze nears {town}"],
        "claims": [
            "Firefighters evacuated {n1:,} residents from {n2} villages near {town} on {day}.",
            "The blaze has burned about {ha:,} hectares of forest since {day}, according to {agency}.",
            "{role} {person} said {n3} firefighters and {n2} aircraft had been deployed overnight.",
            "The region recorded its hottest {month} since {year}, the weather service said.",
            "Damage to farms and homes is estimated at {money}, officials said.",
            "Wind speeds reached {n2} kilometres per hour on {day} afternoon.",
        ],
        "colour": ["Smoke could be seen from {town2} by the evening.",
                   "Residents gathered at a sports hall on the edge of {town}.",
                   "\"We have never seen anything like this,\" a farmer from {town2} said.",
                   "It is not yet clear what started the fire near {town}."],
    },
    {
        "name": "budget",
        "titles": ["{town} council approves budget rise", "Council in {town} passes new spending plan",
                   "Budget vote in {town} splits councillors"],
        "claims": [
            "The council of {town} approved a budget of {money} on {day}, a rise of {pct}% on last year.",
            "{role} {person} said the extra money would pay for {n3} new teachers.",
            "Property taxes have not been raised since {year}, the finance office said.",
            "Spending on road repairs will fall by {pct2}% under the plan.",
            "The plan passed by {n2} votes to {n3}, council records show.",
            "Debt repayments now take {pct}% of the city's revenue, according to {agency}.",
        ],
        "colour": ["Opposition councillors in {town} called the plan reckless.",
                   "The meeting in {town} ran late into the evening.",
                   "\"This is a budget for families,\" {person2} told reporters.",
                   "Further debate is expected in {month}."],
    },
    {
        "name": "jobs",
        "titles": ["Unemployment falls in {region}", "Jobs report surprises economists",
                   "{region} adds jobs for a third month"],
        "claims": [
            "Unemployment in {region} fell to {pct2}% in {month}, the lowest rate since {year}.",
            "Employers added {n1:,} jobs last month, according to {agency}.",
            "Average weekly wages rose {pct}% over the past year, the figures showed.",
            "{company} said it would hire {n3} workers at its plant in {town}.",
            "Manufacturing output grew by {pct2}% in the second quarter.",
            "Youth unemployment remains above {n2}%, the report said.",
        ],
        "colour": ["Economists in {region} had expected a weaker month.",
                   "\"The trend is encouraging, but fragile,\" said {person2}.",
                   "Markets barely moved on the news from {region}.",
                   "Some analysts warned that the data for {month} may be revised."],
    },
    {
        "name": "transit",
        "titles": ["New tram line opens in {town}", "{town} commuters get faster trains",
                   "Transit authority unveils timetable for {town}"],
        "claims": [
            "The new line between {town} and {town2} cost {money} and took {n2} months to build.",
            "Trains will run every {n2} minutes at peak times, the transport authority said.",
            "Ridership rose {pct}% in the first week, according to {agency}.",
            "Fares will increase by {pct2}% from {month}, {role} {person} said.",
            "About {n1:,} passengers used the service on its opening {day}.",
            "The journey time to {town2} drops from {n3} minutes to {n2} minutes.",
        ],
        "colour": ["Some commuters in {town} complained about crowded platforms.",
                   "\"It feels like {town} finally caught up,\" one passenger said.",
                   "Work on a second line to {town2} has not started.",
                   "The opening ceremony in {town} was held in light rain."],
    },
    {
        "name": "health",
        "titles": ["Hospital waiting lists grow in {region}", "{region} opens new clinics",
                   "Health service under strain in {region}"],
        "claims": [
            "Waiting lists in {region} reached {n1:,} patients in {month}, the health ministry said.",
            "The government will open {n2} new clinics at a cost of {money}.",
            "Emergency admissions rose {pct}% compared with the same month last year.",
            "{role} {person} said {n3} nurses had been recruited since {year}.",
            "The average wait for surgery is now {n2} weeks, according to {agency}.",
            "Vaccination rates among children fell to {pct2}% below target.",
        ],
        "colour": ["Doctors' unions in {region} have threatened to strike.",
                   "\"Staff are doing their best,\" said {person2}.",
                   "Patients described long queues at the main hospital in {town}.",
                   "The ministry did not respond to a request for comment on {day}."],
    },
    {
        "name": "housing",
        "titles": ["House prices climb in {town}", "Rents reach new high in {town}",
                   "Housing shortage deepens across {region}"],
        "claims": [
            "Average house prices in {town} rose {pct}% over the past year to {money2}.",
            "Only {n3} new homes were completed in {region} last quarter, according to {agency}.",
            "Rents have increased by {pct2}% since {month}, the housing board said.",
            "{company} plans to build {n1:,} flats on former industrial land near {town2}.",
            "Mortgage approvals fell by {n2}% in {month}, the central bank reported.",
            "First-time buyers now need an average deposit of {money2}.",
        ],
        "colour": ["Estate agents in {town} described a frantic market.",
                   "\"We simply cannot find anywhere to live in {town},\" a young couple said.",
                   "Planning rules remain a source of friction in {region}.",
                   "Some neighbourhoods of {town2} have changed beyond recognition."],
    },
    {
        "name": "flood",
        "titles": ["Floods cut off villages near {town}", "River bursts banks in {region}",
                   "Heavy rain swamps {town}"],
        "claims": [
            "The river at {town} rose {n2} centimetres above its previous record, set in {year}.",
            "Rescue teams moved {n1:,} people to emergency shelters on {day}.",
            "{n3} millimetres of rain fell in {hours} hours, the weather service said.",
            "Flood damage is estimated at {money}, according to {agency}.",
            "{role} {person} said {n2} bridges had been closed in {region}.",
            "Power was cut to {n1:,} homes in {town2} overnight.",
        ],
        "colour": ["Volunteers in {town} filled sandbags through the night.",
                   "\"The water came in so fast,\" one shopkeeper in {town2} said.",
                   "More rain is forecast for {region} over the weekend.",
                   "Schools around {town} were closed as a precaution."],
    },
    {
        "name": "energy",
        "titles": ["Energy bills to rise in {region}", "Regulator sets new power price cap",
                   "{company} reports record profit as prices soar"],
        "claims": [
            "Household energy bills will rise by {pct}% from {month}, the energy regulator said.",
            "{company} reported a profit of {money} for the first half of the year.",
            "Wind farms supplied {n2}% of the region's electricity last year, according to {agency}.",
            "Gas imports fell by {pct2}% compared with {year}.",
            "{role} {person} said {n1:,} households were behind on their bills.",
            "The new solar park near {town} will produce {n3} megawatts at full capacity.",
        ],
        "colour": ["Consumer groups in {region} called the rise unacceptable.",
                   "\"People will have to choose between heating and eating,\" said {person2}.",
                   "{company} declined to comment on its pricing.",
                   "The debate over energy policy in {region} is far from over."],
    },
    {
        "name": "schools",
        "titles": ["Exam results improve in {region}", "{town} schools report better grades",
                   "Teacher shortage hits {region} schools"],
        "claims": [
            "The pass rate in {region} rose to {n2}% this year, the education department said.",
            "Schools in {town} are short of {n3} teachers, according to {agency}.",
            "Class sizes have grown by {pct2}% since {year}.",
            "The government will spend {money} on new school buildings over {n2} years.",
            "{role} {person} said {n1:,} pupils had enrolled in summer classes.",
            "Spending per pupil fell by {pct}% in real terms over the decade.",
        ],
        "colour": ["Head teachers in {town} welcomed the news cautiously.",
                   "\"Our pupils worked incredibly hard,\" said {person2}.",
                   "Parents queued outside the gates in {town2} on results day.",
                   "Some schools in {region} are still waiting for repairs."],
    },
    {
        "name": "trade",
        "titles": ["Exports hit record in {region}", "Port traffic slows at {town}",
                   "Trade deficit widens for second month"],
        "claims": [
            "Exports from {region} reached {money} in {month}, up {pct}% on a year earlier.",
            "The port of {town} handled {n1:,} containers last month, according to {agency}.",
            "Imports of machinery fell by {pct2}% in the second quarter.",
            "{company} said its overseas sales had grown {n2}% since {year}.",
            "The trade deficit widened to {money2} in {month}, the statistics office said.",
            "{role} {person} said {n3} ships were waiting to unload.",
        ],
        "colour": ["Dock workers in {town} described the pace as relentless.",
                   "\"Global demand is shifting quickly,\" said {person2}.",
                   "Shipping firms in {town2} are watching fuel prices closely.",
                   "Talks between {region} and its neighbours on a new trade agreement continue."],
    },
]
OPINION = [
    "Critics in {town} say the figures tell only part of the story.",
    "What happens next in {town} remains uncertain.",
    "Many residents of {town2} remain sceptical.",
    "Observers in {region} will be watching closely in the coming weeks.",
    "The mood in {town} was tense but calm.",
    "Questions remain about who will pay, {person2} said.",
    "\"We will keep listening to people,\" {person2} said.",
    "Nobody in {town} expects a quick solution.",
]
# Background that fits any story: some with figures (claims), most without.
BACKGROUND = [
    "{town} has a population of about {n1:,}, according to the last census.",
    "The area was hit by a similar crisis in {year}.",
    "{agency} publishes its figures on the first {day} of each month.",
    "Local officials held an emergency meeting on {day} morning.",
    "{person2}, who has lived in {town} for {n2} years, said little had changed.",
    "A spokesperson for {agency} in {town} said more details would follow on {day}.",
    "Opposition parties have demanded a full inquiry into events in {town}.",
    "The story has dominated local radio in {town} all week.",
    "Neighbouring {town2} faces many of the same problems.",
    "Campaigners plan to march through the centre of {town} on {day}.",
    "The last comparable report, published in {year}, was largely ignored.",
    "{role2} {person2} is expected to visit {town} later this week.",
    "Businesses on the high street in {town} said trade had slowed.",
    "It was announcement number {n2} of its kind this year in {town2}.",
    "The figures were compiled before the latest developments in {town}.",
    "A public consultation will run until the end of {month}.",
]


def _fill(template: str, facts: dict) -> str:
    return template.format(**facts)


def make_article(index: int, seed: int = 0, prefix: str = "gen", stories: int = 80,
                 start: datetime | None = None) -> dict:
    """Article number `index` of a run: a dict for POST /articles (ArticleIn fields)."""
    rng = random.Random(f"{seed}:{index}")
    story_no = rng.randrange(stories)
    story = _story(random.Random(f"{seed}:story:{story_no}"), story_no)
    topic = story.topic
    outlet, host = OUTLETS[rng.randrange(len(OUTLETS))]
    claim_count = rng.randint(3, len(topic["claims"]))
    colour_count = rng.randint(1, len(topic["colour"]))
    claims = rng.sample(topic["claims"], claim_count)
    colour = rng.sample(topic["colour"], colour_count)
    opinion = rng.sample(OPINION, rng.randint(0, 2))
    background = rng.sample(BACKGROUND, rng.randint(2, 7))
    sentences = []
    seen = set()
    for template in [*claims, *colour, *opinion, *background]:
        text = _fill(template, story.facts)
        if text not in seen:
            seen.add(text)
            sentences.append(text)
    # Claims first, the rest shuffled in, paragraphs of two or three sentences.
    lead, rest = sentences[:2], sentences[2:]
    rng.shuffle(rest)
    ordered = [*lead, *rest]
    paragraphs, i = [], 0
    while i < len(ordered):
        size = rng.choice((2, 3))
        paragraphs.append(" ".join(ordered[i:i + size]))
        i += size
    title = _fill(rng.choice(topic["titles"]), story.facts)
    start = start or datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc)
    published = start + timedelta(minutes=index * 3 + rng.randint(0, 2))
    article_id = f"{prefix}-{index:06d}"
    return {
        "id": article_id,
        "url": f"https://{host}/{topic['name']}/{story_no}/{article_id}",
        "outlet": outlet,
        "title": title,
        "published_at": published.isoformat().replace("+00:00", "Z"),
        "body": "\n\n".join(paragraphs),
    }


def generate(n: int, seed: int = 0, prefix: str = "gen", start_index: int = 0, stories: int = 80) -> list[dict]:
    return [make_article(i, seed, prefix, stories) for i in range(start_index, start_index + n)]


def word_count(article: dict) -> int:
    return len(article["body"].split())


class ArticleSupply:
    """An endless supply of generated articles for a load run, each id used once per run."""

    def __init__(self, prefix: str, seed: int):
        self.prefix, self.seed, self.next = prefix, seed, 0

    def take(self, n: int) -> list[dict]:
        out = [make_article(i, self.seed, self.prefix) for i in range(self.next, self.next + n)]
        self.next += n
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20, help="articles to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prefix", default="gen", help="article id prefix")
    parser.add_argument("--stories", type=int, default=80, help="distinct stories the articles cover")
    args = parser.parse_args(argv)
    for article in generate(args.n, args.seed, args.prefix, stories=args.stories):
        sys.stdout.write(json.dumps(article, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
