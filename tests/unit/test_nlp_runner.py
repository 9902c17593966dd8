"""The worker's NLP executor: a child process that dies is replaced, and its call tried once more."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from services.processors.nlp_runner import NlpRunner


def die_once(marker: str) -> int:
    """Kill the process it runs in the first time (no marker file yet), then answer with its pid."""
    path = Path(marker)
    if not path.exists():
        path.write_text("died")
        os._exit(9)
    return os.getpid()


def die_always() -> None:
    os._exit(9)


def test_a_child_that_died_once_is_replaced_and_the_call_answered(tmp_path):
    runner = NlpRunner("process")
    try:
        first_pid = runner.executor().submit(os.getpid).result()
        answered = asyncio.run(runner.run(die_once, str(tmp_path / "marker")))
        assert answered not in (first_pid, os.getpid())  # a new child answered
    finally:
        runner.shutdown()


def test_a_call_that_kills_every_child_raises_for_the_caller_to_isolate():
    runner = NlpRunner("process")
    try:
        with pytest.raises(BrokenProcessPool):
            asyncio.run(runner.run(die_always))
        assert asyncio.run(runner.run(os.getpid)) != os.getpid()  # and the runner still works after
    finally:
        runner.shutdown()


def test_thread_mode_runs_in_this_process():
    runner = NlpRunner("thread")
    try:
        assert asyncio.run(runner.run(os.getpid)) == os.getpid()
    finally:
        runner.shutdown()


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="process' or 'thread'"):
        NlpRunner("fork")
