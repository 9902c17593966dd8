"""Observability files and helpers, checked without a broker.

* deploy/grafana/dashboards/*.json: written by scripts/build_dashboards.py and not stale; every
  panel on the datasource uid "prometheus", unique ids, a unit, a gridPos inside the 24-column
  grid with no overlap, targets with unique refIds and plain PromQL (no Grafana variables: the
  integration test evaluates each expression as written).
* deploy/grafana/provisioning: the datasource has uid "prometheus".
* deploy/prometheus/alerts.yml: unique names, a severity, a `for`, a summary and a description.
* every claimstream_* metric the dashboards and rules use is defined in the services' code.
* the helpers behind the metrics: init_labels, TopK, the lag arithmetic, the leaderboards.

tests/integration/test_prometheus.py proves the expressions against a real Prometheus.
"""

from __future__ import annotations

import importlib.util
import json
import re
from datetime import datetime, timedelta, timezone
from itertools import combinations
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, Gauge

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "deploy" / "grafana" / "dashboards"
DASHBOARDS = sorted(DASHBOARD_DIR.glob("*.json"))
DATASOURCES = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
# Metrics the panels need that another change is still adding; their panels are reported, not failed.
PENDING_METRICS = {"claimstream_query_feedback_precision_ratio": "the feedback work in services/query"}


def _builder():
    spec = importlib.util.spec_from_file_location("build_dashboards", ROOT / "scripts" / "build_dashboards.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _panels():
    return [(path.name, panel) for path in DASHBOARDS for panel in json.loads(path.read_text())["panels"]]


def _alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def _expressions() -> list[str]:
    return [t["expr"] for _, panel in _panels() for t in panel["targets"]] + [r["expr"] for r in _alert_rules()]


# ---------------------------------------------------------------- dashboards

def test_dashboards_are_generated_and_up_to_date() -> None:
    builder = _builder()
    assert {path.name for path in DASHBOARDS} == set(builder.DASHBOARDS)
    for name, build in builder.DASHBOARDS.items():
        assert (DASHBOARD_DIR / name).read_text() == builder.render(build), (
            f"{name} is stale: run python scripts/build_dashboards.py")


def test_dashboards_have_unique_uids() -> None:
    uids = [json.loads(path.read_text())["uid"] for path in DASHBOARDS]
    assert len(set(uids)) == len(uids) and all(uids)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_panel_ids_are_unique_integers(path: Path) -> None:
    ids = [panel["id"] for panel in json.loads(path.read_text())["panels"]]
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids), ids


@pytest.mark.parametrize("name,panel", _panels(), ids=lambda v: v["title"] if isinstance(v, dict) else v)
def test_panel_structure(name: str, panel: dict) -> None:
    assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}
    assert panel["title"].strip() and panel.get("description", "").strip()
    assert panel["type"] in {"timeseries", "stat", "bargauge", "table", "gauge"}
    unit = panel["fieldConfig"]["defaults"].get("unit")
    assert isinstance(unit, str) and unit, f"{panel['title']}: no unit"
    grid = panel["gridPos"]
    assert set(grid) == {"x", "y", "w", "h"} and all(isinstance(v, int) for v in grid.values())
    assert grid["w"] >= 1 and grid["h"] >= 1 and grid["x"] >= 0 and grid["y"] >= 0 and grid["x"] + grid["w"] <= 24
    targets = panel["targets"]
    assert targets, f"{panel['title']}: no target"
    assert len({t["refId"] for t in targets}) == len(targets)
    for target in targets:
        assert target["datasource"]["uid"] == "prometheus"
        assert target["expr"].strip()
        assert "$" not in target["expr"], "Grafana variables are not evaluated by the Prometheus test"
        assert target["expr"].count("(") == target["expr"].count(")")


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_panels_do_not_overlap(path: Path) -> None:
    panels = json.loads(path.read_text())["panels"]
    for a, b in combinations(panels, 2):
        ga, gb = a["gridPos"], b["gridPos"]
        apart = (ga["x"] + ga["w"] <= gb["x"] or gb["x"] + gb["w"] <= ga["x"]
                 or ga["y"] + ga["h"] <= gb["y"] or gb["y"] + gb["h"] <= ga["y"])
        assert apart, f"{a['title']!r} overlaps {b['title']!r}"


def test_the_dashboard_has_the_panels_the_operators_asked_for() -> None:
    exprs = " ".join(t["expr"] for _, panel in _panels() for t in panel["targets"])
    for needed in ("claimstream_ingest_articles_published_total", "claimstream_processor_claims_detected_total",
                   "claimstream_processor_sentences_total", "histogram_quantile(0.5,", "histogram_quantile(0.95,",
                   "histogram_quantile(0.99,", "claimstream_query_freshness_seconds_bucket",
                   "claimstream_processor_consumer_lag_messages", "claimstream_query_consumer_lag_messages",
                   "claimstream_processor_deadletters_total", "claimstream_query_top_entity_claims",
                   "claimstream_query_trending_cluster_appearances", "claimstream_query_feedback_precision_ratio",
                   "claimstream_processor_errors_total"):
        assert needed in exprs, needed


def test_grafana_datasource_has_the_uid_the_dashboards_use() -> None:
    (source,) = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    assert source["uid"] == "prometheus" and source["type"] == "prometheus"


# ---------------------------------------------------------------- alert rules

def test_alert_rules_are_complete() -> None:
    rules = _alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(set(names)) == len(names), names
    for rule in rules:
        assert rule["alert"].startswith("ClaimStream")
        assert rule["expr"].strip() and re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"].strip() and rule["annotations"]["description"].strip()
    for needed in ("ClaimStreamProcessorLagGrowing", "ClaimStreamProcessorStalled", "ClaimStreamQueryStalled",
                   "ClaimStreamProcessorErrorRateHigh", "ClaimStreamFreshnessHigh", "ClaimStreamDeadLettersIncreasing",
                   "ClaimStreamEventLoopBlocked"):
        assert needed in names


def test_the_local_and_compose_scrape_configs_have_the_same_jobs_and_labels() -> None:
    def jobs(name: str) -> dict:
        config = yaml.safe_load((ROOT / "deploy" / "prometheus" / name).read_text())
        assert config["rule_files"] == ["alerts.yml"]
        return {job["job_name"]: [group.get("labels", {}) for group in job["static_configs"]]
                for job in config["scrape_configs"]}

    assert jobs("prometheus.yml") == jobs("prometheus-compose.yml")


# ---------------------------------------------------------------- the metrics exist in code

def _metric_names() -> list[str]:
    names = set()
    for expr in _expressions():
        for name in re.findall(r"\bclaimstream_[a-z0-9_]+", expr):
            names.add(re.sub(r"_(bucket|count|sum)$", "", name))
    return sorted(names)


@pytest.mark.parametrize("name", _metric_names())
def test_every_metric_used_is_defined_in_the_code(name: str) -> None:
    sources = "\n".join(p.read_text() for p in (ROOT / "services").rglob("*.py"))
    if f'"{name}"' in sources or f"'{name}'" in sources:
        return
    # Names built from a subsystem: stage_metrics("processor") defines claimstream_processor_messages_in_total.
    stage = re.fullmatch(r"claimstream_(\w+?)_(messages_in_total|messages_out_total|errors_total|"
                         r"stage_duration_seconds)", name)
    if stage and f'stage_metrics("{stage.group(1)}")' in sources:
        return
    if name in PENDING_METRICS:
        pytest.skip(f"{name} is not defined yet ({PENDING_METRICS[name]})")
    pytest.fail(f"{name} is used by a dashboard or an alert rule and defined nowhere in services/")


# ---------------------------------------------------------------- naming

UNITS = ("_seconds", "_bytes", "_ratio", "_messages", "_offset")
COUNT_NOUNS = ("_claims", "_appearances", "_outlets", "_clients", "_events", "_items", "_deliveries",
               "_partitions")
_DEFINITION = re.compile(r"\b(Counter|Gauge|Histogram|Summary|TopK)\(\s*f?\"(claimstream_[^\"]+)\"")


def _definitions() -> list[tuple[str, str, str]]:
    out = []
    for path in sorted((ROOT / "services").rglob("*.py")):
        for kind, name in _DEFINITION.findall(path.read_text()):
            out.append((str(path.relative_to(ROOT)), kind, name))
    return out


@pytest.mark.parametrize("where,kind,name", _definitions(), ids=[name for _, _, name in _definitions()])
def test_metric_names_follow_the_convention(where: str, kind: str, name: str) -> None:
    """claimstream_<subsystem>_<name>_<unit>: counters end in _total, histograms in a base unit,
    gauges in a base unit or in the plural noun they count."""
    assert re.fullmatch(r"claimstream_(\{subsystem\}|ingest|processor|query|http)_[a-z0-9_{}]+", name), name
    if kind == "Counter":
        assert name.endswith("_total"), f"{where}: counter {name} must end in _total"
    elif kind in ("Histogram", "Summary"):
        assert name.endswith(UNITS), f"{where}: {name} must end in a base unit {UNITS}"
    else:
        assert name.endswith(UNITS + COUNT_NOUNS) and not name.endswith("_total"), (
            f"{where}: gauge {name} must end in a base unit {UNITS} or a counted noun {COUNT_NOUNS}")


def test_every_processor_stage_is_created_at_zero() -> None:
    """The stage labels the agents use are all in STAGES, so init_labels covers them."""
    from services.processors.metrics import STAGES

    source = (ROOT / "services" / "processors" / "agents.py").read_text()
    used = set(re.findall(r'(?:_decode_or_dead_letter|send_all|dead_letter|\.labels)\(\s*"([a-z_]+)"', source))
    # send_groups takes (stage, topic thing, messages) tuples
    used |= set(re.findall(r'\(\s*"([a-z_]+)",\s*"[a-z_]+",\s*\[', source))
    assert used and used <= set(STAGES), f"add {sorted(used - set(STAGES))} to STAGES in services/processors/metrics.py"


# ---------------------------------------------------------------- metric helpers

def test_init_labels_creates_every_combination_at_zero() -> None:
    from prometheus_client import Counter

    from services.common.metrics import init_labels

    registry = CollectorRegistry()
    counter = Counter("t_errors_total", "t", ["stage", "reason"], registry=registry)
    init_labels(counter, ("a", "b"), ("x", "y", "z"))
    assert registry.get_sample_value("t_errors_total", {"stage": "b", "reason": "z"}) == 0.0
    assert len([s for m in registry.collect() for s in m.samples if s.name == "t_errors_total"]) == 6


def test_topk_keeps_only_the_latest_top_k_series(monkeypatch) -> None:
    from services.common import metrics

    registry = CollectorRegistry()
    monkeypatch.setattr(metrics, "Gauge", lambda *a, **kw: Gauge(*a, **kw, registry=registry))
    top = metrics.TopK("t_top_entity_claims", "t", ["entity"], k=2)
    top.update([(("Greece",), 5), (("Russia",), 3), (("Chile",), 1)])
    assert top.series() == {("Greece",): 5.0, ("Russia",): 3.0}
    top.update([(("Chile",), 7), (("Greece",), 6)])
    values = {s.labels["entity"]: s.value for m in registry.collect() for s in m.samples}
    assert values == {"Chile": 7.0, "Greece": 6.0}, "Russia dropped out and its series is gone"
    top.update([(("x" * 500 + "\n<b>",), 1)])
    (label,) = {s.labels["entity"] for m in registry.collect() for s in m.samples}
    assert len(label) <= metrics.MAX_LABEL_CHARS and "\n" not in label


def test_lag_counts_from_the_commit_or_from_the_log_start() -> None:
    from aiokafka import TopicPartition

    from services.processors.lag import partition_positions

    a, b, c, d = (TopicPartition("t", p) for p in range(4))
    end = {a: 100, b: 50, c: 30, d: 10}
    begin = {a: 0, b: 20, c: 0, d: 10}
    committed = {a: 90, b: 5, c: -1}  # b: retention deleted past the commit; c: no commit; d: unknown
    assert partition_positions(end, begin, committed) == {a: (10, 90), b: (30, 20), c: (30, 0), d: (0, 10)}


def test_processor_counters_exist_at_zero_for_every_stage_and_reason() -> None:
    from prometheus_client import REGISTRY

    from services.processors.metrics import REASONS, STAGES

    for stage in STAGES:
        assert REGISTRY.get_sample_value("claimstream_processor_messages_in_total", {"stage": stage}) is not None
        for reason in REASONS:
            labels = {"stage": stage, "reason": reason}
            assert REGISTRY.get_sample_value("claimstream_processor_deadletters_total", labels) is not None


def test_leaderboards_count_named_entities_once_per_claim_in_the_window(tmp_path) -> None:
    from sqlalchemy.orm import Session

    from services.query import leaderboards
    from services.query.db import ClaimRow, ClusterRow, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'q.db'}")
    now = datetime(2026, 5, 1, 12, tzinfo=timezone.utc)

    def claim(n: int, outlet: str, cluster: str, entities: list[tuple[str, str]], age_h: float) -> ClaimRow:
        at = now - timedelta(hours=age_h)
        return ClaimRow(claim_id=f"k-{n}", cluster_id=cluster, article_id=f"a-{n}", version=1, text=f"claim {cluster}",
                        start=0, end=5, outlet=outlet, url=None, claim_score=0.9, model_version="m",
                        entities=[{"text": t, "label": lab, "canonical": t, "start": 0, "end": 1}
                                  for t, lab in entities],
                        published_at=None, received_at=at, detected_at=at, seen_at=at)

    with Session(engine) as session:
        session.add_all([
            claim(1, "A", "c_1", [("Greece", "GPE"), ("Greece", "GPE"), ("Tuesday", "DATE")], 1),
            claim(2, "B", "c_1", [("Greece", "GPE"), ("EU", "ORG")], 2),
            claim(3, "C", "c_1", [("EU", "ORG")], 3),
            claim(4, "A", "c_2", [("Chile", "GPE")], 5),
            claim(5, "A", "c_3", [("Peru", "GPE")], 48),  # outside both windows
        ])
        session.add(ClusterRow(cluster_id="c_1", first_outlet="A", first_seen_at=now, first_claim_id="k-1",
                               text="The ledger's text", outlets=["A", "B", "C"], appearance_count=3, appearances=[],
                               updated_at=now))
        session.commit()
    settings = leaderboards.LeaderboardSettings(entity_window_s=24 * 3600, cluster_window_s=4 * 3600)
    boards = leaderboards.compute(engine, settings, now=now)
    assert boards.entities == [{"entity": "EU", "claims": 2}, {"entity": "Greece", "claims": 2},
                               {"entity": "Chile", "claims": 1}]
    assert boards.clusters == [{"cluster_id": "c_1", "text": "The ledger's text", "appearances": 3, "outlets": 3}]
    engine.dispose()


def test_the_reason_labels_counted_are_the_ones_created_at_start_up() -> None:
    # Series are created at 0 for the known reasons only (tests/integration/test_metrics_first_scrape.py).
    from schemas.codec import DECODE_REASONS
    from services.ingest.service import REJECT_REASONS

    ingest = "\n".join(p.read_text() for p in (ROOT / "services" / "ingest").rglob("*.py"))
    used = set(re.findall(r'REJECTED\.labels\(\s*"([a-z_]+)"', ingest))
    assert used and used <= set(REJECT_REASONS), f"add {sorted(used - set(REJECT_REASONS))} to REJECT_REASONS"
    codec = (ROOT / "schemas" / "codec.py").read_text()
    raised = set(re.findall(r'DecodeError\(\s*"([a-z_]+)"', codec))
    assert raised and raised <= set(DECODE_REASONS), f"add {sorted(raised - set(DECODE_REASONS))} to DECODE_REASONS"
