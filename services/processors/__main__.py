"""`python -m services.processors [faust worker args]`: create the topics, then run the worker."""

from __future__ import annotations

import asyncio
import os
import sys
import time

from schemas import TOPICS, topic_name
from services.common.kafka import ensure_topics, wait_for_broker, wait_for_topics
from services.common.settings import CommonSettings, KafkaSettings


def load_models() -> None:
    """Start the NLP executor and its model loading before the worker joins the consumer group.

    Loading takes seconds of CPU. In a child process (the default) it goes on while the worker
    joins; in a thread it is awaited first, so that the new worker does not hold partitions while
    the loading holds the interpreter (and, on a loaded machine, misses heartbeats).
    """
    from services.processors.agents import NLP

    started = time.monotonic()

    def report(loading) -> None:
        if loading.exception() is not None:
            # Without its models the worker would dead-letter every sentence: stop, for the supervisor.
            print(f"models failed to load: {loading.exception()!r}", file=sys.stderr, flush=True)
            os._exit(1)
        print(f"models loaded in {time.monotonic() - started:.1f} s ({loading.result()}, NLP in a {NLP.mode})",
              file=sys.stderr, flush=True)

    NLP.start().add_done_callback(report)
    # Matching runs here, on the event loop: its models load now rather than on the first claim.
    from services.nlp import normalise, pairmodel

    normalise.load_units()
    pairmodel.get_pair_model()


def changelog_topics() -> dict[str, tuple[int, dict[str, str]]]:
    """The tables' changelog topics, made here rather than by faust at start-up.

    faust declares them while its consumer is already fetching metadata; on a fresh broker the
    consumer could miss a just-made changelog for its whole metadata age (5 min), and every
    event that touched the table crashed its agent with PartitionsMismatch meanwhile.
    """
    from services.processors import tables  # noqa: F401 - registers the tables with the app
    from services.processors.app import app

    return {table.changelog_topic.get_topic_name(): (table.partitions or app.conf.topic_partitions,
                                                     {"cleanup.policy": "compact"})
            for table in app.tables.values()}


def main() -> None:
    kafka, common = KafkaSettings(), CommonSettings()
    asyncio.run(wait_for_broker(kafka.bootstrap_servers, 60))
    changelogs = changelog_topics()
    asyncio.run(ensure_topics(kafka.bootstrap_servers, common.namespace, extra=changelogs))
    # Join only once the cluster describes the agents' input topics and the changelogs (faust checks
    # that their partition counts agree): a consumer that joins before records 0 partitions for a
    # changelog (see wait_for_topics).
    expected = {topic_name(thing, common.namespace): TOPICS[thing].partitions for thing in ("articles", "candidates")}
    expected |= {name: partitions for name, (partitions, _) in changelogs.items()}
    asyncio.run(wait_for_topics(kafka.bootstrap_servers, expected, 60))
    # faust's own CLI parses the rest: `worker -l info` by default.
    sys.argv = [sys.argv[0], *(sys.argv[1:] or ["worker", "-l", "info"])]
    if sys.argv[1] == "worker":
        load_models()
    from services.processors.app import app

    app.main()


if __name__ == "__main__":
    main()
