"""The faust app. Agents, topics and tables live in their own modules.

Run with `python -m services.processors` (creates the topics first), or
`faust -A services.processors.app worker` when the topics exist.
"""

from __future__ import annotations

import faust

from services.common.logging import configure_logging
from services.common.settings import CommonSettings, KafkaSettings
from services.processors.settings import ProcessorSettings

settings = ProcessorSettings()
common = CommonSettings()
kafka = KafkaSettings()
configure_logging(common.log_level, common.log_json)
app_id = settings.app_id if common.namespace == "claimstream" else f"{common.namespace}-processors"
settings.worker_dir(app_id).mkdir(parents=True, exist_ok=True)

app = faust.App(
    app_id,
    broker=f"kafka://{kafka.bootstrap_servers}",
    store=settings.store,
    datadir=str(settings.worker_dir(app_id)),
    autodiscover=["services.processors"],
    origin="services.processors",
    # At-least-once with deterministic ids and idempotent writes downstream;
    # faust's exactly_once mode has open duplication and hang bugs.
    processing_guarantee="at_least_once",
    producer_acks=-1,
    consumer_auto_offset_reset="earliest",
    topic_partitions=4,
    topic_replication_factor=kafka.replication_factor,
    topic_allow_declare=True,
    web_host=settings.web_host,
    web_port=settings.web_port,
    web_in_thread=False,
    # A killed worker's partitions move only after this long (the chaos stall bound of 10 s is
    # missed because of it), but shorter sessions (6 s measured) made the survivor of a graceful
    # leave miss its own session during the rebalance and never settle. Static membership would
    # let a restarted worker take its partitions back at once: not available through faust.
    broker_session_timeout=30.0,
    consumer_group_instance_id=settings.instance_id,
    broker_heartbeat_interval=3.0,
    # faust's default (5 min) left a consumer that joined before the broker knew a changelog with
    # 0 partitions for it, and every table write failing, for minutes; a fresh view every 10 s bounds
    # such a stall (the worker also waits for its topics before it joins, see __main__).
    consumer_metadata_max_age_ms=10_000,
    # What a killed worker's successor processes again, and how long the committed offsets (which
    # the lag gauges and the chaos stall read) trail the work done: 1 s instead of faust's 2.8 s.
    broker_commit_interval=1.0,
)


def main() -> None:
    app.main()
