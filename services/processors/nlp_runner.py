"""Where the worker runs the NLP: a child process by default, or a thread of the worker.

The NLP of an article (spaCy, the claim model, the sentence encoder) is pure Python and ONNX work
that holds the GIL for much of its time. In a thread it competes with the event loop (matching,
faust, Kafka I/O): one worker then never uses more than one core, and the measured throughput of
one worker stayed near half of the same functions in a plain loop (`make bench`). In a child
process the NLP has a core of its own while the event loop goes on.

The child is started with `spawn` (the worker has threads: forking it is unsafe), loads the models
while the worker joins its group, and exits when the worker is gone, even after a kill -9. If the
child dies (out of memory, a crash in native code), the pool is replaced and the call tried once
more; if it dies again the call fails and the caller retries the article one sentence at a time,
so only the sentence that kills it is dead-lettered.

Nothing here imports faust or Kafka: the child imports only this module and the NLP.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from services.common.logging import get_logger

log = get_logger("processors.nlp")

# Names each recent article version introduced (full names, acronyms): an article is annotated in one
# call, so this only matters when a failing article is retried one sentence at a time. It lives in the
# process that runs the NLP and is used from its one thread; a restarted worker starts empty.
_memory = None


def load_models() -> str:
    """Load every model the NLP uses (in the process that calls it); returns the claim model's version."""
    from services.nlp import claims, embeddings, entities, normalise

    entities.load_nlp()
    claims.score_claims(["warm up"])
    embeddings.embed(["warm up"])
    normalise.load_units()
    return claims.model_version()


def annotate_and_score(sentences: list, threshold: float, checkworthy_threshold: float | None = None
                       ) -> tuple[list, list]:
    """The NLP of one article's sentences, then the sentence vectors of its claims."""
    global _memory
    from services.stages import annotate

    if _memory is None:
        _memory = annotate.ArticleMemory()
    annotated = annotate.annotate_sentences(sentences, threshold, checkworthy_threshold, memory=_memory)
    return annotated, annotate.scored_claims(annotated)


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _child_start(parent: int) -> None:
    """In the child: stop when the worker that started it is gone (a killed worker cannot tell it),
    and leave SIGINT/SIGTERM to the worker: a stop signalled to the whole process group must not kill
    the child mid-article while the worker finishes its event (the executor ends it at exit)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True, name="parent-watch").start()


class NlpRunner:
    """One NLP executor for the worker: `mode` is "process" (a child process) or "thread"."""

    def __init__(self, mode: str = "process") -> None:
        if mode not in ("process", "thread"):
            raise ValueError(f"NLP mode must be 'process' or 'thread', not {mode!r}")
        self.mode = mode
        self._executor: Executor | None = None
        self._lock = threading.Lock()

    def _new_executor(self) -> Executor:
        if self.mode == "thread":
            return ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlp")
        return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_child_start, initargs=(os.getpid(),))

    def executor(self) -> Executor:
        with self._lock:
            if self._executor is None:
                self._executor = self._new_executor()
            return self._executor

    def start(self) -> Future:
        """Start the executor and begin loading the models in it; returns the load's future.

        A child process loads while the worker joins its group (the first article waits in the
        child's queue; heartbeats are not in the way): a restarted worker is back seconds sooner.
        In a thread, loading would hold the interpreter while faust starts: wait for it first.
        """
        loading = self.executor().submit(load_models)
        if self.mode == "thread":
            loading.result()
        return loading

    def _replace(self, broken: Executor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args) in the executor.

        A dead child is replaced (models reloaded) and the call tried once more on the new one: the
        child may have died of something else (memory, or idle). A second death raises, and the
        caller isolates the input that kills it. A replacement that cannot load its models stops the
        worker (its supervisor restarts it): without them every sentence would be dead-lettered.
        """
        for attempt in (1, 2):
            executor = self.executor()
            try:
                return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
            except BrokenProcessPool:
                log.error("the NLP process died; starting a new one", attempt=attempt)
                self._replace(executor)
                try:
                    await asyncio.get_running_loop().run_in_executor(self.executor(), load_models)
                except Exception as exc:  # noqa: BLE001 - any failure to load is fatal to the worker
                    log.error("the new NLP process could not load its models; stopping", error=repr(exc))
                    os._exit(1)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
