"""scripts/eval_dedup.py: the claim-matching eval runs, reports every section in range, and its own set holds.

The script runs once per module with --quick (5,000-claim cost run, 200 MSRP / STS pairs, the whole own
sets, 40 devset clusters) into a temporary file.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "eval_dedup.py"
OWN_SET = ROOT / "samples" / "dedup_eval.jsonl"

pytestmark = pytest.mark.timeout(900)  # a loaded two-core machine: the --quick run takes about a minute


def _load_script():
    spec = importlib.util.spec_from_file_location("eval_dedup", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ev():
    return _load_script()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval_dedup") / "eval_dedup.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=850)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "in-domain (trained on)" in proc.stdout and "cost" in proc.stdout, proc.stdout[-2000:]
    return json.loads(out.read_text())


def _unit(x):
    return isinstance(x, float | int) and 0.0 <= x <= 1.0


def _run(report, encoder="hashed", policy="default", part="dedup_eval"):
    return next(r for r in report["sets"][part]["runs"] if r["encoder"] == encoder and r["policy"] == policy)


# --- the own set itself -----------------------------------------------------------------------------

def test_own_set_is_well_formed(ev):
    claims, pairs = ev.load_set(OWN_SET)
    ids = [c["id"] for c in claims]
    assert len(ids) == len(set(ids))
    clusters = defaultdict(list)
    for c in claims:
        assert set(c) >= {"id", "cluster", "outlet", "published_at", "text"}
        ev.epoch(c["published_at"])
        clusters[c["cluster"]].append(c)
    multi = {k: v for k, v in clusters.items() if len(v) > 1}
    assert sum(len(v) for v in multi.values()) >= 60
    for members in multi.values():
        assert 2 <= len(members) <= 5
        assert len({m["outlet"] for m in members}) == len(members), "one claim per outlet in a cluster"
    by_id = {c["id"]: c for c in claims}
    assert len(pairs) >= 40
    assert {p["kind"] for p in pairs} >= {"number", "year", "place", "negation", "direction", "update"}
    for p in pairs:
        a, b = by_id[p["a"]], by_id[p["b"]]
        assert a["cluster"] != b["cluster"]
        if p.get("expect_update"):
            assert b["published_at"] > a["published_at"], p
    for c in claims:
        if c.get("copy_of"):
            assert by_id[c["copy_of"]]["cluster"] == c["cluster"]


# --- metric helpers ---------------------------------------------------------------------------------

def test_pairwise_and_bcubed_on_a_known_partition(ev):
    gold = {"a": "x", "b": "x", "c": "x", "d": "y"}
    pred = {"a": "1", "b": "1", "c": "2", "d": "2"}
    pw = ev.pairwise(gold, pred)
    assert (pw["tp"], pw["fp"], pw["fn"]) == (1, 1, 2)
    assert math.isclose(pw["precision"], 0.5) and math.isclose(pw["recall"], 1 / 3)
    b3 = ev.bcubed(gold, gold)
    assert b3["precision"] == b3["recall"] == b3["f1"] == 1.0


def test_spearman_averages_ties_and_pearson_is_scale_free(ev):
    import numpy as np

    x = np.array([1.0, 2.0, 2.0, 3.0])
    assert list(ev.ranks(x)) == [0.0, 1.5, 1.5, 3.0]
    assert math.isclose(ev.spearman(x, x ** 3), 1.0)
    assert math.isclose(ev.pearson(x, 10 * x + 4), 1.0)
    assert math.isclose(ev.spearman(x, -x), -1.0)


def test_readers_keep_quotes_and_strip_the_bom(ev, tmp_path):
    sts = tmp_path / "sts.tsv"
    sts.write_text('genre\tfile\tyear\tid\tscore\tsentence1\tsentence2\n'
                   'main-news\tf\t2012\t0001\t3.5\t"Quoted," he said.\tAn "odd quote\n', encoding="utf-8")
    assert ev.read_sts(sts, None) == [(3.5, '"Quoted," he said.', 'An "odd quote')]
    msrp = tmp_path / "msrp.txt"
    msrp.write_text("\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tOne \"a\".\tTwo.\n", encoding="utf-8")
    assert ev.read_msrp(msrp, None) == [(1, 'One "a".', "Two.")]


def test_missing_data_skips_with_a_reason(ev, tmp_path):
    hashed = {"hashed": None}
    sections = (ev.eval_msrp(tmp_path, hashed, 5), ev.eval_sts(tmp_path, hashed, 5))
    for section in sections:
        assert section["status"] == "skipped" and str(tmp_path) in section["reason"]


def test_a_missing_repository_set_is_an_error_not_a_skip(ev, tmp_path):
    with pytest.raises(FileNotFoundError):
        ev.eval_sets({"dedup_eval": tmp_path / "gone.jsonl"}, None, {"hashed": None}, quick=True)


def test_two_claim_and_stream_use_the_new_index(ev):
    """ClaimIndex({}, policy): a reprint joins its original, a fresh claim does not; the stream reports
    each claim's candidates (neighbour recall) and final clusters."""
    from services.nlp import matching

    gen = ev.Generator(3)
    text, ents = gen.claim(0)
    fa = matching.features("a", text, ents, "o1", 1.0e9)
    fb = matching.features("b", *gen.reprint(0, 0), "o2", 1.0e9 + 60)
    fc = matching.features("c", *gen.claim(1), "o3", 1.0e9 + 120)
    policy = matching.MatchPolicy(pair_model=False)
    m_a, m_b = ev.two_claim(fa, fb, policy)
    assert m_a.cluster_id == m_b.cluster_id
    claims = [{"id": k, "cluster": g} for k, g in (("a", "x"), ("b", "x"), ("c", "y"))]
    run = ev.stream(claims, {"a": fa, "b": fb, "c": fc}, policy)
    assert run.neighbours["a"] == set() and "a" in run.neighbours["b"]
    assert ev.neighbour_recall(claims, run) == 1.0
    assert run.cluster["a"] == run.cluster["b"] != run.cluster["c"]
    why = ev.explain(fa, fc, matching.MatchPolicy(), together=False, neighbours=True)
    assert {"probability", "cosine", "conflicts", "neighbours", "why"} <= set(why)
    assert 0.0 <= why["probability"] <= 1.0


def test_three_orders_are_published_and_two_seeded_shuffles(ev):
    claims = [{"id": f"k{i}", "cluster": "x"} for i in range(20)]
    orders = ev.shuffled_orders(claims)
    assert list(orders) == ["published", "shuffle-1", "shuffle-2"]
    assert orders["published"] == [c["id"] for c in claims]
    assert all(sorted(o) == sorted(orders["published"]) for o in orders.values())
    assert orders == ev.shuffled_orders(claims)  # seeded


# --- the --quick report -----------------------------------------------------------------------------

def test_report_has_every_section_in_range(report):
    sets = report["sets"]
    own = sets["dedup_eval"]
    assert own["negative_pairs"] >= 40 and own["clustered_claims"] >= 60
    encoders = ["hashed"] + (["minilm"] if not report["encoders"]["minilm"].startswith("left out") else [])
    for name in ("dedup_eval", "dedup_heldout", "dedup_fresh", "dedup_fresh2"):
        part = sets[name]
        assert part["status"] == "ok" and part["label"] == "in-domain (trained on)"
        for enc in encoders:
            for policy in ("default", "cosine-only"):
                run = _run(report, enc, policy, name)
                for key in ("precision", "recall", "f1"):
                    assert _unit(run["pairwise"][key]) and _unit(run["bcubed"][key])
                for key in ("neighbour_recall", "hard_negative_accuracy", "hard_negative_accuracy_isolated"):
                    assert _unit(run[key]), key
                assert sum(v["pairs"] for v in run["hard_negative_by_kind"].values()) == part["negative_pairs"]
                assert "missed_pairs" in run["failures"] and "false_merges" in run["failures"]
        orders = part["orders"]
        for label in ("default", "no-eviction"):
            assert set(orders[label]["orders"]) == {"published", "shuffle-1", "shuffle-2"}
            b3 = [o["bcubed_f1"] for o in orders[label]["orders"].values()]
            assert all(_unit(x) for x in b3)
            assert math.isclose(orders[label]["bcubed_spread"], max(b3) - min(b3))
    dev = sets["devset"]
    assert dev["label"] == "in-domain (trained on)"
    assert dev["status"] == "ok" or dev["reason"]
    # nothing the pair model was trained on is called held-out or unseen
    text = json.dumps({k: (v.get("label"), v.get("status")) for k, v in sets.items()})
    assert "held-out" not in text and "unseen" not in text
    assert set(report["pair_model"]["trained_on"]) >= {"dedup_eval", "dedup_heldout", "dedup_fresh", "dedup_fresh2"}

    for section, keys in (("msrp", ("accuracy", "precision", "recall", "f1")), ("sts", ("pearson", "spearman"))):
        part = report[section]
        if part["status"] == "skipped":
            assert part["reason"]
            continue
        assert {r["encoder"] for r in part["rows"]} == set(encoders)
        for row in part["rows"]:
            for key in keys:
                lo = -1.0 if section == "sts" else 0.0
                assert lo <= row[key] <= 1.0, (section, key, row[key])

    rows = report["cost"]["rows"]
    assert rows and all("error" not in r for r in rows), rows
    for r in rows:
        assert r["claims"] == 5000 and r["indexed"] == 5000 and r["rss_mb"]["filled"] > 0
        assert r["usearch"]["memory_usage_mb"] > 0 and r["fill_claims_per_s"] > 0
        for scenario in ("warm", "cold"):
            for what in ("candidates_ms", "candidates_cpu_ms", "match_ms", "match_cpu_ms"):
                q = r[scenario][what]
                assert 0 <= q["p50"] <= q["p99"], (scenario, what, q)
            assert r[scenario]["candidates_per_query"]["p50"] > 0
        assert r["decide_cpu_ms"]["p50"] >= 0
    assert {"cache_size", "cached_after", "bounded"} <= set(report["cost"]["cache_bound"])


def test_printed_table_calls_no_trained_on_set_held_out(report, ev, capsys):
    ev.print_table(report)
    out = capsys.readouterr().out.lower()
    for line in out.splitlines():
        if "dedup_" in line or "devset" in line:
            assert "held-out" not in line and "unseen" not in line, line
    assert "in-domain (trained on)" in out


@pytest.mark.xfail(strict=True, reason=(
    "the pair-model matcher (default MatchPolicy, MiniLM vectors) is below target on samples/dedup_eval.jsonl, "
    "a set it was trained on: pairwise precision < 0.95 (false merges of number / entity hard negatives the "
    "model scores above its threshold with the conflict below the veto rules)."))
def test_own_set_meets_the_targets(report):
    enc = report["headline_encoder"]
    run = _run(report, enc)
    assert run["pairwise"]["precision"] >= 0.95, run["pairwise"]
    assert run["pairwise"]["f1"] >= 0.90, run["pairwise"]


def test_the_partition_digest_tells_clusterings_with_equal_counts_apart(ev):
    from services.nlp.matching import Match

    def run(groups):
        return {k: Match(cluster_id=f"c{n}") for n, g in enumerate(groups) for k in g}

    # the same pairwise counts (one pair together), other claims together
    ab, ac = run([["a", "b"], ["c"], ["d"]]), run([["a", "c"], ["b"], ["d"]])
    assert ev.partition_digest({k: m.cluster_id for k, m in ab.items()}) == ev.partition_digest(ab)
    assert ev.partition_digest(ab) != ev.partition_digest(ac)
    assert ev.partition_digest(ab) == ev.partition_digest(run([["d"], ["c"], ["b", "a"]]))  # ids do not matter


def test_each_set_reports_each_encoders_own_vectors(report):
    part = report["sets"]["dedup_heldout"]
    by_encoder = {r["encoder"]: r["gold_pair_cosine_mean"] for r in part["runs"]}
    assert all(math.isfinite(v) for v in by_encoder.values())
    if len(by_encoder) > 1:  # a second encoder scores the same gold pairs differently
        assert len(set(round(v, 6) for v in by_encoder.values())) == len(by_encoder)
