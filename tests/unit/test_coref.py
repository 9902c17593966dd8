"""In-article name coreference (coref.resolve_article) and its use in stages.annotate.annotate_sentences."""

from datetime import datetime, timezone

import pytest

from schemas import ArticleReceived
from services.nlp import coref
from services.nlp.entities import LinkedEntity
from services.stages import annotate


def ent(text, sentence, label, nth=0, entity_id=None, canonical=None, entity_type=None):
    start = -1
    for _ in range(nth + 1):
        start = sentence.index(text, start + 1)
    return LinkedEntity(text, label, canonical or text, start, start + len(text), entity_id, entity_type)


def resolved(sentences):
    return [[(e.text, e.label, e.canonical) for e in ents] for ents in coref.resolve_article(sentences)]


def test_surname_takes_the_full_name_and_the_person_label():
    s1 = "Prime Minister Tomas Valadares won the most seats."
    s2 = "Valadares has ruled out a coalition."
    s3 = "Supporters cheered Valadares in Lisbon."
    out = resolved([(s1, [ent("Tomas Valadares", s1, "PERSON")]),
                    (s2, [ent("Valadares", s2, "ORG")]),  # the small model's usual mislabel
                    (s3, [ent("Valadares", s3, "PERSON"), ent("Lisbon", s3, "GPE", entity_id="city:lisbon",
                                                              canonical="Lisbon", entity_type="city")])])
    assert out[1] == [("Valadares", "PERSON", "Tomas Valadares")]
    assert out[2] == [("Valadares", "PERSON", "Tomas Valadares"), ("Lisbon", "GPE", "Lisbon")]


def test_partial_names_and_widened_spans():
    s1 = "PS leader Ines Correia Lobo conceded defeat."
    s2 = "Correia Lobo said she would not be a crutch."
    s3 = "President Henrique Mota Barreiros will meet the parties."
    s4 = "Henrique Mota Barreiros is expected to decide soon, aides to Henrique Mota Barreiros said."
    out = coref.resolve_article([
        (s1, [ent("Ines Correia Lobo", s1, "PERSON")]),
        (s2, [ent("Correia Lobo", s2, "PERSON")]),
        (s3, [ent("Henrique Mota Barreiros", s3, "PERSON")]),
        (s4, [ent("Henrique Mota", s4, "PERSON"), ent("Henrique Mota Barreiros", s4, "PERSON", nth=1)]),
    ])
    assert [(e.text, e.canonical) for e in out[1]] == [("Correia Lobo", "Ines Correia Lobo")]
    first = out[3][0]
    assert (first.text, first.canonical) == ("Henrique Mota Barreiros", "Henrique Mota Barreiros")
    assert s4[first.start:first.end] == "Henrique Mota Barreiros"


def test_ambiguous_surname_is_left_alone():
    s1 = "Anna Berg and Lars Berg both spoke."
    s2 = "Berg said the plan was sound."
    out = resolved([(s1, [ent("Anna Berg", s1, "PERSON"), ent("Lars Berg", s1, "PERSON")]),
                    (s2, [ent("Berg", s2, "PERSON")])])
    assert out[1] == [("Berg", "PERSON", "Berg")]


def test_acronym_defined_in_brackets_resolves_later_and_missed_mentions_are_added():
    s1 = "The AD took 32.6% of the vote, according to the Ministry of Internal Administration (MAI)."
    s2 = "Turnout was 60.9%, MAI figures showed, and the MAI said counting was over."
    out = coref.resolve_article([
        (s1, [ent("AD", s1, "ORG"), ent("Ministry of Internal Administration", s1, "ORG")]),
        (s2, [ent("MAI", s2, "GPE")]),  # the model mislabels one and misses the other
    ])
    assert [(e.text, e.label, e.canonical) for e in out[1]] == [
        ("MAI", "ORG", "Ministry of Internal Administration"),
        ("MAI", "ORG", "Ministry of Internal Administration"),
    ]
    assert out[1][1].added and not out[1][0].added
    # the acronym inside the brackets is a mention of the ministry too
    assert ("MAI", "ORG", "Ministry of Internal Administration") in [(e.text, e.label, e.canonical) for e in out[0]]


def test_acronym_definition_the_model_missed_and_a_swallowed_bracket():
    s1 = "Portugal's centre-right Democratic Alliance (AD) won 93 seats."
    s2 = "China's General Administration of Customs (GACC) said imports would resume."
    s3 = "The AD and the GACC both declined to comment."
    out = coref.resolve_article([
        (s1, [ent("Portugal", s1, "GPE", entity_id="country:portugal", entity_type="country")]),
        (s2, [LinkedEntity("General Administration of Customs (GACC", "ORG",
                           "General Administration of Customs (GACC", s2.index("General"),
                           s2.index("GACC") + 4, None, None)]),
        (s3, [ent("AD", s3, "ORG"), ent("GACC", s3, "ORG")]),
    ])
    assert ("Democratic Alliance", "ORG", "Democratic Alliance") in [(e.text, e.label, e.canonical) for e in out[0]]
    assert [(e.text, e.canonical) for e in out[1]][0] == ("General Administration of Customs",
                                                          "General Administration of Customs")
    assert [(e.text, e.canonical) for e in out[2]] == [("AD", "Democratic Alliance"),
                                                       ("GACC", "General Administration of Customs")]


def test_acronym_without_brackets_by_initials():
    s1 = "About 130 homes flooded, the Environment Agency said."
    s2 = "The EA had 48 flood warnings in force."
    out = resolved([(s1, [ent("Environment Agency", s1, "ORG")]), (s2, [ent("EA", s2, "ORG")])])
    assert out[1] == [("EA", "ORG", "Environment Agency")]


def test_short_organisation_name():
    s1 = "Halden Motors recalled 412,000 cars."
    s2 = "Halden said no injuries had been reported."
    s3 = "Cambridgeshire County Council opened a rest centre in Cambridgeshire."
    out = resolved([(s1, [ent("Halden Motors", s1, "ORG")]), (s2, [ent("Halden", s2, "GPE")]),
                    (s3, [ent("Cambridgeshire County Council", s3, "ORG"), ent("Cambridgeshire", s3, "GPE", nth=1)])])
    assert out[1] == [("Halden", "ORG", "Halden Motors")]
    assert out[2][1] == ("Cambridgeshire", "GPE", "Cambridgeshire")  # not short for its council


def test_gazetteer_links_are_kept():
    s1 = "The Lisbon Marathon drew 30,000 runners."
    s2 = "Lisbon said the roads would reopen."
    lisbon = ent("Lisbon", s2, "GPE", entity_id="country:portugal", canonical="Portugal", entity_type="country")
    out = resolved([(s1, [ent("Lisbon Marathon", s1, "EVENT")]), (s2, [lisbon])])
    assert out[1] == [("Lisbon", "GPE", "Portugal")]


def test_label_majority_party_names_and_common_words():
    s1 = "The far-right Chega party won 56 seats."
    s2 = "Chega said it was ready to govern."
    s3 = "Turnout was 60.9%, and turnout abroad was lower."
    out = resolved([(s1, [ent("Chega", s1, "PERSON")]), (s2, [ent("Chega", s2, "PERSON")]),
                    (s3, [ent("Turnout", s3, "PERSON")])])
    assert out[0] == [("Chega", "ORG", "Chega")] and out[1] == [("Chega", "ORG", "Chega")]
    assert out[2] == []


def test_outlet_name_is_an_organisation():
    s1 = "LISBON, March 2 (Continental Press) - Deforestation fell."
    [ents] = coref.resolve_article([(s1, [LinkedEntity("Continental Press) - Deforestation", "ORG", "x",
                                                       s1.index("Continental"), s1.index(" fell"), None, None)])],
                                   outlet="Continental Press")
    assert [(e.text, e.label) for e in ents] == [("Continental Press", "ORG")]


def test_names_carry_over_between_calls_of_one_article():
    names = coref.ArticleNames()
    s1 = "Adaeze Okonkwo chairs the committee."
    s2 = "Okonkwo said the vote would be held on Friday."
    coref.resolve_article([(s1, [ent("Adaeze Okonkwo", s1, "PERSON")])], names)
    [[e]] = coref.resolve_article([(s2, [ent("Okonkwo", s2, "PERSON")])], names)
    assert e.canonical == "Adaeze Okonkwo"
    [[e]] = coref.resolve_article([(s2, [ent("Okonkwo", s2, "PERSON")])])  # a fresh context: unresolved
    assert e.canonical == "Okonkwo"


# ------------------------------------------------------------- through the pipeline (spaCy model needed)

@pytest.fixture(scope="module")
def _model():
    from services.nlp import entities

    try:
        entities.load_nlp()
    except RuntimeError as exc:
        pytest.skip(str(exc))


T0 = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)


def _article(article_id, body):
    return ArticleReceived(article_id=article_id, version=1, content_hash="h", outlet="Harbor Daily", body=body,
                           published_at=T0, received_at=T0)


def test_pipeline_resolves_names_per_article_and_across_batches(_model):
    a = _article("a1", "Finance minister Adaeze Okonkwo presented the budget on Monday. "
                       "Okonkwo said the deficit would narrow to 3.1% next year.")
    b = _article("b1", "Okonkwo, a local farmer, said his fields were under water.")
    sentences = annotate.split_article(a) + annotate.split_article(b)
    out = annotate.annotate_sentences(sentences, threshold=0.5)
    canon = {(s.article_id, e.text): e.canonical for s in out for e in s.entities if e.label == "PERSON"}
    assert canon[("a1", "Okonkwo")] == "Adaeze Okonkwo"
    assert canon.get(("b1", "Okonkwo"), "Okonkwo") == "Okonkwo"  # another article: not linked
    # the same article in two batches: the memory carries the introduction
    memory = annotate.ArticleMemory()
    first, second = annotate.split_article(a)
    annotate.annotate_sentences([first], threshold=0.5, memory=memory)
    [later] = annotate.annotate_sentences([second], threshold=0.5, memory=memory)
    assert [e.canonical for e in later.entities if e.text == "Okonkwo"] == ["Adaeze Okonkwo"]
    [alone] = annotate.annotate_sentences([second], threshold=0.5)
    assert [e.canonical for e in alone.entities if e.text == "Okonkwo"] in (["Okonkwo"], [])


def test_article_memory_is_bounded():
    memory = annotate.ArticleMemory(size=2)
    for i in range(5):
        memory.get((f"a{i}", 1)).people.append(f"Person {i}")
    assert memory.get(("a4", 1)).people == ["Person 4"]
    assert memory.get(("a0", 1)).people == []  # evicted


def test_person_span_widened_over_the_rest_of_a_long_name():
    from services.nlp.entities import link_entities
    from services.nlp.types import EntityMention

    text = "President Henrique Mota Barreiros will begin meeting party leaders on Tuesday."
    start = text.index("Henrique")
    [e, *_] = link_entities(text, [EntityMention("Henrique Mota", "PERSON", "Henrique Mota", start, start + 13)],
                            add_missing=False)
    assert (e.text, e.label) == ("Henrique Mota Barreiros", "PERSON")
    headline = "Valadares Wins Snap Election But Falls Short Of Majority"
    [h] = link_entities(headline, [EntityMention("Valadares", "PERSON", "Valadares", 0, 9)], add_missing=False)
    assert h.text == "Valadares"  # a title-cased headline is not widened


def test_a_place_after_a_place_preposition_is_not_a_company_short_name():
    s1 = "Analysts at Bosphorus Capital expect more contracts."
    s2 = "Exports through the Bosphorus rose 12%."
    s3 = "Shares in Bosphorus fell 2%."
    out = resolved([(s1, [ent("Bosphorus Capital", s1, "ORG")]), (s2, [ent("Bosphorus", s2, "LOC")]),
                    (s3, [ent("Bosphorus", s3, "GPE")])])
    assert out[1] == [("Bosphorus", "LOC", "Bosphorus")]
    assert out[2] == [("Bosphorus", "ORG", "Bosphorus Capital")]  # "shares in" names the company


def test_gazetteer_names_joined_by_and_are_found_one_by_one():
    from services.nlp.entities import link_entities
    from services.nlp.types import EntityMention

    text = "Ankara would press Moscow and Kyiv to extend the corridor."
    start = text.index("Moscow")
    out = link_entities(text, [EntityMention("Moscow", "GPE", "Moscow", start, start + 6)])
    assert [(e.text, e.canonical, e.added) for e in out if e.text in ("Moscow", "Kyiv")] == [
        ("Moscow", "Russia", False), ("Kyiv", "Ukraine", True)]
