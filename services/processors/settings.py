"""Processor settings, env prefix `PROCESSORS_`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ProcessorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROCESSORS_", extra="ignore")

    app_id: str = Field("claimstream-processors", description="faust app id = Kafka consumer group")
    instance_id: str | None = Field(
        None, description="Static group membership (KIP-345): a worker that its supervisor restarts in place "
                          "(same id) takes its partitions back at once instead of after the session timeout. "
                          "Unique per worker; leave unset for workers that are added and removed (a static "
                          "member does not leave the group on stop, so its partitions wait for the timeout)")
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    store: str = Field("rocksdb://", description="faust table store (rocksdb:// via rocksdict, or memory://); "
                                                 "tables are changelog-backed either way")
    data_dir: Path | None = Field(None, description="Default: <state dir>/processors/<app id>/<web_port>, one per "
                                                    "worker and consumer group")

    def worker_dir(self, app_id: str) -> Path:
        """Where this worker's RocksDB tables live.

        Keyed by app id too: the tables record the changelog offsets they hold, so a second namespace
        started on the same port would otherwise open the first one's files and fail recovery with
        faust's ConsistencyError (persisted offset above the new changelog's end).
        """
        from services.common.state import state_dir

        return self.data_dir or state_dir() / "processors" / app_id / str(self.web_port)
    claim_threshold: float | None = Field(
        None, ge=0.0, le=1.0,
        description="claim_score at or above which a sentence is a claim; default: the model's tuned threshold")

    def threshold(self) -> float:
        from services.nlp.claims import DEFAULT_THRESHOLD

        return DEFAULT_THRESHOLD if self.claim_threshold is None else self.claim_threshold
    checkworthy_threshold: float | None = Field(
        None, ge=0.0, le=1.0,
        description="checkworthy_score at or above which a claim is check-worthy; default: the model's tuned threshold")

    def checkworthy(self) -> float:
        from services.nlp.claims import DEFAULT_CHECKWORTHY_THRESHOLD

        return DEFAULT_CHECKWORTHY_THRESHOLD if self.checkworthy_threshold is None else self.checkworthy_threshold
    nlp_mode: Literal["process", "thread"] = Field(
        "process", description="Where the NLP runs: a child process of the worker (a core of its own beside "
                               "the event loop) or a thread of the worker (one process, less memory)")
    max_appearances: int = Field(500, ge=1, description="Appearances kept per cluster ledger")
    match_max_claims: int = Field(2_000_000, ge=1, description="Claims kept in the matching index (oldest leave first)")
    match_window_days: float = Field(14.0, gt=0, description="Claims older than this are no longer candidates")
    match_cache_claims: int = Field(
        5_000, ge=0, description="Decoded claims the matcher keeps on the heap (least recently used out; 3-4 KB "
                                 "each); other neighbours are read again from claim_records (RocksDB) and decoded")
    # RocksDB's own memory, per table partition: faust's defaults (64 MB x 3 memtables, a 2 GB block
    # cache) let every written partition grow with its data; these cap it.
    rocksdb_write_buffer_mb: int = Field(2, ge=1, description="Memtable size per table partition (MB)")
    rocksdb_write_buffers: int = Field(2, ge=2, description="Memtables per table partition (one fills while "
                                                            "one flushes)")
    rocksdb_block_cache_mb: int = Field(4, ge=1, description="Block cache per table partition (MB)")

    def rocksdb_options(self) -> dict:
        """Options for app.Table(options=...): faust's RocksDB store reads them (RocksDBOptions)."""
        if not self.store.startswith("rocksdb:"):
            return {}
        return {"write_buffer_size": self.rocksdb_write_buffer_mb << 20,
                "max_write_buffer_number": self.rocksdb_write_buffers,
                "block_cache_size": self.rocksdb_block_cache_mb << 20}
    watchdog_stall_s: float = Field(
        60.0, ge=0, description="A partition of this worker with lag and no new commit for this long stops the "
                                "worker (exit code 1) for its supervisor to restart; 0 turns the watchdog off")
    watchdog_rebalance_stall_s: float = Field(
        300.0, ge=0, description="The same rule while the worker is rebalancing or restoring its tables: a fresh "
                                 "worker after an outage must not be restarted before it could commit once")
    watchdog_exit_after_s: float = Field(20.0, gt=0, description="Longest clean stop after the watchdog "
                                                                "trips before the process exits anyway")
