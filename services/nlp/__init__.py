"""Pure NLP and matching functions over plain types (types.py).

Nothing in this package imports Kafka, faust, a web framework, a database or the wire events
(`schemas`; tests/unit/test_nlp_purity.py checks it): services/stages turns events into these
types, so the stream processors, `claimstream annotate` and the tests call the same functions.
"""
