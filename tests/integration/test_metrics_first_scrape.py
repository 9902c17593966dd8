"""Every claimstream_* metric a Grafana panel or an alert rule reads is on the services' /metrics
from their start, before any article: a labelled counter with known label values exists at 0, so
a fresh stack shows 0 rather than "No data" and `rate()`-based rules have a series to work on.

The names come from the files themselves (deploy/grafana/**/*.json, deploy/prometheus/alerts.yml),
so a new panel or rule that reads a series no service creates at start-up fails here.

The one exception: the top-k gauges (DATA_KEYED) are labelled by the data (the current top
entities and clusters); a fresh stack has none, so they must be registered (`# TYPE`) only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DATA_KEYED = {"claimstream_query_top_entity_claims", "claimstream_query_trending_cluster_appearances",
              "claimstream_query_trending_cluster_outlets"}
SERVICE = {"ingest": "ingest", "processor": "processors", "query": "query"}


def _expressions() -> list[str]:
    out = []
    for path in sorted((ROOT / "deploy" / "grafana").rglob("*.json")):
        for panel in json.loads(path.read_text()).get("panels", []):
            out += [t["expr"] for t in panel.get("targets", []) if "expr" in t]
    for group in yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())["groups"]:
        out += [rule["expr"] for rule in group["rules"]]
    return out


def referenced_metrics() -> list[str]:
    names: set[str] = set()
    for expr in _expressions():
        # {__name__=~"claimstream_(ingest|processor|query)_event_loop_lag_max_seconds"}
        for alternatives, rest in re.findall(r"claimstream_\(([a-z|]+)\)_([a-z0-9_]+)", expr):
            names.update(f"claimstream_{a}_{rest}" for a in alternatives.split("|"))
        for name in re.findall(r"\bclaimstream_[a-z][a-z0-9_]*", expr):
            names.add(re.sub(r"_(bucket|count|sum)$", "", name))
    return sorted(names)


def test_the_names_are_read_from_the_files() -> None:
    names = referenced_metrics()
    # The four that a fresh stack used to lack, and one from a __name__ regex.
    for name in ("claimstream_ingest_articles_published_total", "claimstream_ingest_articles_rejected_total",
                 "claimstream_query_feedback_precision_ratio", "claimstream_query_messages_in_total",
                 "claimstream_processor_event_loop_lag_max_seconds"):
        assert name in names


@pytest.fixture(scope="module")
def scrapes(stack) -> dict[str, str]:
    urls = {"ingest": stack.ingest, "processors": stack.processors, "query": stack.query}
    return {service: httpx.get(f"{url}/metrics", timeout=10).text for service, url in urls.items()}


@pytest.mark.parametrize("name", referenced_metrics())
def test_every_metric_the_dashboards_and_rules_read_is_exported(scrapes, name) -> None:
    service = SERVICE[re.match(r"claimstream_([a-z]+)_", name).group(1)]
    text = scrapes[service]
    if name in DATA_KEYED:
        assert re.search(rf"^# TYPE {name} gauge$", text, re.M), f"{name} is not registered on {service}"
        return
    samples = re.findall(rf"^{name}(?:_bucket|_count|_sum)?(?:\{{[^\n]*\}})? \S+$", text, re.M)
    assert samples, f"{name} has no series on {service}'s /metrics: initialise its known label values at start-up"


def test_labelled_series_exist_for_every_known_label_value(scrapes) -> None:
    ingest, query = scrapes["ingest"], scrapes["query"]
    for source in ("http", "batch", "feed", "file"):
        assert re.search(rf'^claimstream_ingest_articles_published_total\{{source="{source}"\}} ', ingest, re.M)
    for reason in ("too_large", "empty", "invalid"):
        assert re.search(rf'^claimstream_ingest_articles_rejected_total\{{reason="{reason}"\}} ', ingest, re.M)
    for thing in ("articles", "annotations", "claims", "clusters", "alerts", "feedback", "revisions"):
        assert re.search(rf'^claimstream_query_messages_in_total\{{topic="{thing}"\}} ', query, re.M)
        for reason in ("empty", "not_json", "schema_mismatch"):
            assert re.search(rf'^claimstream_query_messages_rejected_total\{{reason="{reason}",topic="{thing}"\}} ',
                             query, re.M)
    # The configured claim model's precision, before any verdict: NaN (0 of 0 judged), judged 0.
    for kind in ("claim", "cluster"):
        assert re.search(rf'^claimstream_query_feedback_precision_ratio\{{kind="{kind}",model_version="[^"]+"\}} ',
                         query, re.M)
        assert re.search(rf'^claimstream_query_feedback_judged_items\{{kind="{kind}",model_version="[^"]+"\}} ',
                         query, re.M)
