"""The processors' in-memory state stays bounded: RocksDB's memtables and block cache per table
partition (measured by RocksDB itself), and the matcher's cache of decoded claims."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from faust.stores.rocksdb import RocksDBOptions

from services.nlp import matching
from services.processors.settings import ProcessorSettings

MB = 1 << 20


def _fill_and_read(options: dict, path, values: int = 10_000, size: int = 3000) -> tuple[int, int]:
    """Write `values` values (about 30 MB), read each back at random; (memtable bytes, block cache bytes)."""
    db = RocksDBOptions(**options, use_rocksdict=True).open(path)
    rng = random.Random(7)
    payload = rng.randbytes(size)
    most_memtable = 0
    for i in range(values):
        db[f"claim-{i}".encode()] = payload[:-8] + i.to_bytes(8, "big")
        if i % 500 == 0:
            most_memtable = max(most_memtable, db.property_int_value("rocksdb.cur-size-all-mem-tables"))
    db.flush()
    for i in rng.sample(range(values), values):
        assert db[f"claim-{i}".encode()][-8:] == i.to_bytes(8, "big")
    cache = db.property_int_value("rocksdb.block-cache-usage")
    db.close()
    return most_memtable, cache


def test_rocksdb_options_cap_memtables_and_block_cache(tmp_path):
    settings = ProcessorSettings(store="rocksdb://")
    options = settings.rocksdb_options()
    assert options == {"write_buffer_size": 2 * MB, "max_write_buffer_number": 2, "block_cache_size": 4 * MB}
    memtable, cache = _fill_and_read(options, tmp_path / "capped.db")
    assert memtable <= 2 * 2 * MB + MB  # two memtables of 2 MB (plus an arena block)
    assert 0 < cache <= 4 * MB


def test_faust_default_rocksdb_options_grow_with_the_data(tmp_path):
    """What the cap is for: with faust's defaults the same data stays in memory."""
    memtable, cache = _fill_and_read({}, tmp_path / "default.db")
    assert memtable + cache > 25 * MB


def test_memory_store_gets_no_rocksdb_options():
    assert ProcessorSettings(store="memory://").rocksdb_options() == {}


def test_rocksdb_options_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("PROCESSORS_ROCKSDB_BLOCK_CACHE_MB", "32")
    monkeypatch.setenv("PROCESSORS_ROCKSDB_WRITE_BUFFER_MB", "16")
    options = ProcessorSettings(store="rocksdb://").rocksdb_options()
    assert options["block_cache_size"] == 32 * MB and options["write_buffer_size"] == 16 * MB
    monkeypatch.setenv("PROCESSORS_ROCKSDB_WRITE_BUFFERS", "1")
    with pytest.raises(ValueError):
        ProcessorSettings()


def test_every_table_is_opened_with_the_caps(tmp_path):
    """In a fresh interpreter with the RocksDB store (the tests' default store is memory://): faust builds
    each table's store with the capped options."""
    script = (
        "from services.processors import tables\n"
        "from services.processors.app import app\n"
        "for name, table in sorted(app.tables.items()):\n"
        "    o = table.data.rocksdb_options\n"
        "    print(name, type(table.data).__module__, o.write_buffer_size, o.max_write_buffer_number, "
        "o.block_cache_size)\n")
    env = {**os.environ, "PROCESSORS_STORE": "rocksdb://", "PROCESSORS_DATA_DIR": str(tmp_path),
           "PROCESSORS_ROCKSDB_BLOCK_CACHE_MB": "16"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[:3] == [
        f"{name} faust.stores.rocksdb {2 * MB} 2 {16 * MB}"
        for name in ("article_versions", "claim_records", "cluster_ledgers")]


def _features(i: int, rng: np.random.Generator) -> matching.ClaimFeatures:
    vector = rng.integers(-127, 127, matching.VECTOR_DIM).astype(np.float32)
    return matching.features(f"c{i}", f"Officials counted {i} boats in harbour number {i % 7}.", [], "Outlet",
                             1_000_000.0 + i, vector=vector / np.linalg.norm(vector))


def test_the_matchers_decoded_claim_cache_holds_its_cap():
    records: dict = {}
    index = matching.ClaimIndex(records, cache_size=50)
    rng = np.random.default_rng(3)
    for i in range(300):
        index.match(_features(i, rng))
        assert index.footprint()["cached"] <= 50
    footprint = index.footprint()
    assert footprint["claims"] == 300 == len([k for k in records if not k.startswith("merged:")])
    assert footprint["cached"] == 50 and footprint["ann_bytes"] > 0
    # A claim that left the cache is decoded again from its record: the same decision.
    assert index.decided("c0") is not None and index.decided("c0").cluster_id == records["c0"]["c"]


def test_the_processors_cache_setting_reaches_the_matcher():
    assert ProcessorSettings().match_cache_claims == 5_000
    assert ProcessorSettings(match_cache_claims=0).match_cache_claims == 0
