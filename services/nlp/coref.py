"""In-article name coreference: short names take the full name the article gives.

News introduces a name once in full and then shortens it: "Tomas Valadares" then
"Valadares", "Halden Motors" then "Halden", "the Ministry of Internal Administration
(MAI)" then "MAI". A sentence alone cannot tell that "Valadares" is Tomas Valadares,
so `resolve_article` looks at one article's linked mentions, sentence by sentence in
reading order, and rewrites:

- a surname, first name or partial name ("Correia Lobo") that belongs to exactly one
  PERSON full name (two words or more) of the article -> that name, labelled PERSON
  (the small model often tags a lone surname ORG or GPE); a partial span followed in
  the text by the rest of the full name is widened to it ("Henrique Mota" + "Barreiros");
- an acronym defined in the article, "Full Name (ACR)", -> the full name and its label,
  wherever it occurs later (mentions the model missed are added, flagged `added`);
  a span that swallowed the bracket ("Customs (GACC") is cut back;
- the first word(s) of exactly one multi-word organisation of the article ("Halden"
  for "Halden Motors") -> the organisation, labelled ORG;
- a name the model labels differently across the article ("Chega" PERSON twice, ORG
  three times) gets its majority label.

Mentions linked to the gazetteer (a country, a capital, a known organisation) keep their
link: "Lisbon" is not short for "Lisbon Marathon". Nothing is resolved across articles.

The function is pure: `ArticleNames` carries what one article introduced, so a caller that
sees an article's sentences in several batches (the stream) can pass the same object
again; a fresh object per call resolves within what it is given.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace

from services.nlp.entities import LinkedEntity
from services.nlp.gazetteer import VALUE_LABELS, clean_name

_NAME_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "PRODUCT", "EVENT", "WORK_OF_ART"})
# Lower-case particles inside names; they are never a short form on their own.
_PARTICLES = frozenset("de da do dos das di du del della van von der den la le bin al el ibn y e of and the".split())
# First words of organisation names that do not name one organisation on their own.
_GENERIC_HEADS = frozenset(
    "national international european american british federal royal central united general public state "
    "new world global first north south east west northern southern eastern western great university "
    "ministry department bank office agency council committee commission institute association union "
    "party court city county the a an high supreme chief human green labour liberal democratic social "
    "socialist conservative republican people peoples people's free independent christian".split())
# A question or clause opener the model took for a first name: "Will SkyNord ...?", "Can Halden ...".
_OPENING_WORDS = frozenset("will can could would should shall may might must does did do is are was were has have "
                           "had why how what when where who which whether if as so but and after before "
                           "while".split())
# "through the Bosphorus": after a place preposition a name is not a company's short name.
_PLACE_BEFORE = re.compile(r"(?<!shares )(?<!stake )(?<!stakes )(?<!investment )(?<!interest )"
                           r"\b(?:in|at|near|through|across|from|to|into|over|along|off)\s+(?:the\s+)?\Z",
                           re.IGNORECASE)
_ACRONYM_DEF = re.compile(r"\s*\(\s*(?:the\s+)?([A-Z][A-Za-z&]{1,9})\s*\)")
_ACRONYM = re.compile(r"^[A-Z][A-Z&]*[a-z]?[A-Z&]*$")  # "MAI", "GACC", "DfE"-like, "INPE"
_CAP_RUN_BEFORE = re.compile(
    r"((?:[A-Z][\w'’&.-]*)(?:\s+(?:(?:of|and|for|the|on|de|do|da|des|du|del|la|le|&)\s+)*[A-Z][\w'’&.-]*)*)\s*\Z")


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"\s+", name.strip()) if w]


def _is_acronym(text: str) -> bool:
    bare = text.replace(".", "")
    return 2 <= len(bare) <= 10 and bool(_ACRONYM.match(bare)) and sum(c.isupper() for c in bare) >= 2


# "Cambridgeshire County Council" is not what "Cambridgeshire" shortens.
_PLACE_BODIES = frozenset("council county police university city airport hospital court district borough school "
                          "college club fc station port province region state marathon assembly parliament "
                          "government".split())


def _initials(name: str) -> str:
    return "".join(w[0].upper() for w in _words(name) if w.lower() not in _PARTICLES and w[0].isalpha())


def _initials_fit(acronym: str, name: str) -> bool:
    """Do the acronym's letters appear, in order, among the name's word initials (or letters)?"""
    letters = [c for c in acronym.upper() if c.isalpha()]
    words = [w for w in _words(name) if w.lower() not in _PARTICLES] or _words(name)
    initials = "".join(w[0].upper() for w in words)
    if "".join(letters) == initials or (len(letters) > 1 and sorted(letters) == sorted(initials)):
        return True  # in order, or translated ("AD" for Democratic Alliance, Alianca Democratica)
    # Looser: every acronym letter in order within the name, the first one opening it.
    flat = name.upper()
    if not letters or not flat.startswith(letters[0]):
        return False
    pos = 0
    for c in letters:
        pos = flat.find(c, pos)
        if pos < 0:
            return False
        pos += 1
    return len(letters) <= len(words) + 2


@dataclass
class ArticleNames:
    """What an article has introduced so far (full names, acronyms, labels seen)."""

    people: list[str] = field(default_factory=list)  # full PERSON names, in order of appearance
    orgs: list[tuple[str, str]] = field(default_factory=list)  # (multi-word name, label)
    acronyms: dict[str, tuple[str, str]] = field(default_factory=dict)  # "MAI" -> (full name, label)
    labels: dict[str, Counter] = field(default_factory=dict)  # name -> label counts

    def person_for(self, name: str) -> str | None:
        """The one full name `name` shortens (surname, first name, or a run of its words)."""
        words = _words(name)
        if not words or all(w.lower() in _PARTICLES for w in words):
            return None
        hits = set()
        for full in self.people:
            fw = _words(full)
            if len(fw) <= len(words) or full == name:
                continue
            n = len(words)
            if fw[-n:] == words or fw[:n] == words or any(fw[i:i + n] == words for i in range(1, len(fw) - n)):
                hits.add(full)
        # "Dereje" in "Selamawit Dereje" and in "Selamawit Dereje Tesfaye": the longer one extends the other.
        hits = {h for h in hits if not any(h != o and h in o for o in hits)} if len(hits) > 1 else hits
        return hits.pop() if len(hits) == 1 else None

    def org_for(self, name: str) -> tuple[str, str] | None:
        words = _words(name)
        if not words or words[0].lower() in _GENERIC_HEADS or name.isupper():
            return None
        hits = {(full, label) for full, label in self.orgs
                if len(_words(full)) > len(words) and _words(full)[:len(words)] == words
                and not any(w.lower().strip(".,") in _PLACE_BODIES for w in _words(full)[len(words):])}
        return hits.pop() if len(hits) == 1 else None

    def initials_for(self, acronym: str) -> tuple[str, str] | None:
        """An acronym never defined in brackets: the one organisation of the article with those initials."""
        hits = {(full, label) for full, label in self.orgs
                if label == "ORG" and _initials(full) == acronym.replace(".", "").replace("&", "")}
        return hits.pop() if len(hits) == 1 else None


def _key(e: LinkedEntity) -> str:
    return clean_name(e.text)


def _learn(names: ArticleNames, text: str, ents: list[LinkedEntity]) -> list[LinkedEntity]:
    """Record what this sentence introduces; returns its mentions with bracket spans repaired."""
    out = []
    for e in ents:
        # "General Administration of Customs (GACC": the model took the bracket in.
        cut = e.text.find(" (")
        if cut > 0 and e.label not in VALUE_LABELS:
            e = replace(e, text=e.text[:cut], end=e.start + cut, canonical=clean_name(e.text[:cut])
                        if e.entity_id is None else e.canonical)
        out.append(e)
    for e in out:
        if e.label in VALUE_LABELS:
            continue
        name = _key(e)
        if (e.label == "PERSON" and len([w for w in _words(name) if w.lower() not in _PARTICLES]) >= 2
                and not (_words(name)[0].lower() in _OPENING_WORDS and not text[:e.start].strip(" \"“'‘"))):
            full = e.canonical if e.entity_id else name
            if full not in names.people:
                names.people.append(full)
        elif e.label in ("ORG", "EVENT", "FAC") and len(_words(name)) >= 2 and not e.metonymy:
            if (e.canonical, e.label) not in names.orgs:
                names.orgs.append((e.canonical, e.label))
        if not e.metonymy and e.entity_id is None:
            names.labels.setdefault(name, Counter())[e.label] += 1
    # Acronym definitions: "Full Name (ACR)".
    for m in _ACRONYM_DEF.finditer(text):
        acr = m.group(1)
        if not _is_acronym(acr) or acr in names.acronyms:
            continue
        before = [e for e in out if e.end <= m.start() and not text[e.end:m.start()].strip()
                  and e.label in _NAME_LABELS]
        if before:
            e = before[-1]
            if e.label == "PERSON" and not _initials_fit(acr, e.text):
                continue
            names.acronyms[acr] = (e.canonical, "ORG" if e.label in ("GPE", "PERSON", "NORP") else e.label)
            continue
        run = _CAP_RUN_BEFORE.search(text[:m.start()])
        if run:
            words = _words(run.group(1))
            # Trim openers until the initials fit: "Portugal's centre-right Democratic Alliance (AD)".
            while words and not _initials_fit(acr, " ".join(words)):
                words = words[1:]
            if len(words) >= 2:
                full = " ".join(words)
                names.acronyms[acr] = (full, "ORG")
                start = m.start() - len(text[:m.start()]) + len(text[:m.start()].rstrip()) - len(full)
                if text[start:start + len(full)] == full and not any(x.start < start + len(full) and start < x.end
                                                                     for x in out):
                    out.append(LinkedEntity(full, "ORG", full, start, start + len(full), None, None, added=True))
    return sorted(out, key=lambda x: (x.start, x.end))


def _rewrite(names: ArticleNames, text: str, ents: list[LinkedEntity]) -> list[LinkedEntity]:
    out = []
    for e in ents:
        if e.label in VALUE_LABELS or e.metonymy:
            out.append(e)
            continue
        name = _key(e)
        acr = name.replace(".", "")
        if acr in names.acronyms and _is_acronym(acr):
            full, label = names.acronyms[acr]
            out.append(replace(e, canonical=full, label=label))
            continue
        if e.entity_id is not None and e.entity_type != "person":
            out.append(e)
            continue
        if e.entity_id is None and _is_acronym(acr) and len(acr) >= 2:
            hit = names.initials_for(acr)
            if hit is not None:
                out.append(replace(e, canonical=hit[0], label=hit[1]))
                continue
        if e.label in ("PERSON", "ORG", "GPE", "NORP", "LOC") and (e.entity_id is None or e.entity_type == "person"):
            person = names.person_for(name)
            if person is not None:
                rest = person[len(name):] if person.startswith(name) else ""
                # "Henrique Mota" followed by "Barreiros": widen the span to the full name.
                if rest and text[e.end:e.end + len(rest)] == rest:
                    e = replace(e, text=text[e.start:e.end + len(rest)], end=e.end + len(rest))
                out.append(replace(e, canonical=person, label="PERSON"))
                continue
        if (e.label in ("ORG", "GPE", "PERSON") and e.entity_id is None and name not in names.people
                and not _PLACE_BEFORE.search(text[:e.start])):
            hit = names.org_for(name)
            if hit is not None:
                out.append(replace(e, canonical=hit[0], label=hit[1] if hit[1] == "ORG" else e.label))
                continue
        counts = names.labels.get(name)
        if e.entity_id is None and counts and len(counts) > 1:
            (best, n), *rest_ = counts.most_common()
            if rest_ and n > rest_[0][1] and best != e.label:
                e = replace(e, label=best)
        out.append(e)
    return out


def _missed_acronyms(names: ArticleNames, text: str, ents: list[LinkedEntity]) -> list[LinkedEntity]:
    """Defined acronyms the model did not tag in this sentence."""
    out = list(ents)
    for acr, (full, label) in names.acronyms.items():
        for m in re.finditer(r"(?<![\w&])" + re.escape(acr) + r"(?![\w&])", text):
            if not any(e.start < m.end() and m.start() < e.end for e in out):
                out.append(LinkedEntity(acr, label, full, m.start(), m.end(), None, None, added=True))
    return sorted(out, key=lambda x: (x.start, x.end))


def _outlet(outlet: str | None, text: str, ents: list[LinkedEntity]) -> list[LinkedEntity]:
    """The article's own outlet is an organisation: "(Continental Press) -" in a dateline or credit."""
    if not outlet or len(outlet) < 3 or outlet not in text:
        return ents
    out = list(ents)
    for m in re.finditer(r"(?<![\w'’-])" + re.escape(outlet) + r"(?![\w'’-])", text):
        over = [e for e in out if e.start < m.end() and m.start() < e.end]
        if any(e.entity_id for e in over) or any(e.label in VALUE_LABELS for e in over):
            continue
        out = [e for e in out if e not in over]
        out.append(LinkedEntity(outlet, "ORG", outlet, m.start(), m.end(), None, None, added=not over))
    return sorted(out, key=lambda x: (x.start, x.end))


def _common_words(texts: list[str]) -> frozenset[str]:
    """Words the article also writes in lower case: "Turnout was 60.9%" opens with a common noun."""
    return frozenset(w for t in texts for w in re.findall(r"(?<![\w'’-])[a-z][a-z'’-]+", t))


def _not_a_name(e: LinkedEntity, text: str, common: frozenset[str]) -> bool:
    if e.entity_id or e.added or e.label in VALUE_LABELS or " " in e.text.strip():
        return False
    opening = not text[:e.start].strip(" \"“‘'([")
    return opening and e.text.lower() in common


def _party_names(texts: list[str]) -> frozenset[str]:
    """Names written as "<Name> party" ("the far-right Chega party"): organisations."""
    return frozenset(m.group(1) for t in texts
                     for m in re.finditer(r"\b([A-Z][\w'’-]+)\s+(?:party|Party|movement|alliance)\b", t))


def resolve_article(sentences: list[tuple[str, list[LinkedEntity]]],
                    names: ArticleNames | None = None, outlet: str | None = None) -> list[list[LinkedEntity]]:
    """One article's sentences (text, linked mentions), in reading order -> the mentions rewritten.

    Every sentence is read first (full names and acronyms can be given after a first short use,
    e.g. in a headline), then every mention is rewritten. `names` carries an earlier call's
    introductions of the same article and is updated in place. `outlet`, the publishing outlet's
    name, is tagged ORG wherever the text names it. A one-word mention that opens a sentence and
    that the article also writes in lower case ("Turnout was ...") is dropped.
    """
    names = names if names is not None else ArticleNames()
    texts = [t for t, _ in sentences]
    common, parties = _common_words(texts), _party_names(texts)
    cleaned = [[e for e in ents if not _not_a_name(e, text, common)] for text, ents in sentences]
    cleaned = [[replace(e, label="ORG") if e.entity_id is None and e.text in parties and e.label != "ORG" else e
                for e in ents] for ents in cleaned]
    learned = [_learn(names, text, _outlet(outlet, text, ents)) for text, ents in zip(texts, cleaned, strict=True)]
    return [_rewrite(names, text, _missed_acronyms(names, text, ents))
            for text, ents in zip(texts, learned, strict=True)]
