"""Tables: the propagation ledger of each cluster, changelog-backed."""

from __future__ import annotations

from schemas import TOPICS
from services.processors.app import app

# cluster id -> ClusterUpdated as a JSON dict. Keyed like the claims topic, so
# each worker owns the ledgers of the clusters on its partitions.
cluster_ledgers = app.Table("cluster_ledgers", default=None, partitions=TOPICS["claims"].partitions)
