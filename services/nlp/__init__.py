"""Pure NLP and matching functions.

Nothing in this package imports Kafka, faust or a web framework: the stream
processors, the `claimstream annotate` command and the tests all call the
same functions.
"""
