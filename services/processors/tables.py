"""Tables: the matching index and the propagation ledgers, changelog-backed.

A killed or rebalanced worker restores them from their changelog topics (and
from local RocksDB files when PROCESSORS_STORE=rocksdb://), so every cluster
survives a restart.
"""

from __future__ import annotations

from schemas import TOPICS
from services.processors.app import app

# Keyed like the candidates topic (blocking key), so each worker owns the
# buckets of the claims routed to its partitions.
claim_buckets = app.Table("claim_buckets", default=None, partitions=TOPICS["candidates"].partitions)
# claim id -> matching record (features + decision), written from the same partition as its bucket.
claim_records = app.Table("claim_records", default=None, partitions=TOPICS["candidates"].partitions)

# article id -> claims of its newest complete version and of any version being filled (see nlp/revisions.py).
article_versions = app.Table("article_versions", default=None, partitions=TOPICS["annotations"].partitions)

# cluster id -> ClusterUpdated as a JSON dict. Keyed like the claims topic, so
# each worker owns the ledgers of the clusters on its partitions.
cluster_ledgers = app.Table("cluster_ledgers", default=None, partitions=TOPICS["claims"].partitions)
