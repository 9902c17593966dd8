"""Write the Grafana dashboards of deploy/grafana/dashboards/ from the panel list below.

    python scripts/build_dashboards.py           # rewrite the JSON files
    python scripts/build_dashboards.py --check   # exit 1 when a file differs from what this script writes

The JSON is under version control and provisioned as is (docker-compose.yml
mounts the folder); tests/unit/test_dashboards.py fails when it is stale.
tests/integration/test_prometheus.py evaluates every expression below against
a real Prometheus scraping the real services, so each one must return data
after a short run.

Conventions: every panel queries the datasource with uid "prometheus"; rates
use fixed 5m windows (the same as the alert rules, and plain PromQL that
Prometheus evaluates as written); processor gauges are reported by every
worker of the group, so they are combined with `max by (...)`, never `sum`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "deploy" / "grafana" / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
GRID_COLUMNS = 24


def target(expr: str, legend: str = "", *, instant: bool = False, table: bool = False) -> dict:
    out = {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend or "__auto", "range": not instant,
           "instant": instant}
    if table:
        out["format"] = "table"
    return out


def timeseries(title: str, description: str, targets: list[dict], unit: str, *, w: int = 12, h: int = 8,
               min_value: float | None = 0, max_value: float | None = None, stack: bool = False) -> dict:
    defaults: dict[str, Any] = {"unit": unit, "custom": {
        "drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never", "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"}}}
    if min_value is not None:
        defaults["min"] = min_value
    if max_value is not None:
        defaults["max"] = max_value
    return {"type": "timeseries", "title": title, "description": description, "w": w, "h": h,
            "targets": targets, "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}}}


SERVICES_UP = {
    "type": "stat", "title": "Services up", "description": "1 = Prometheus scrapes the service's /metrics",
    "w": 24, "h": 4,
    "targets": [target('up{system="claimstream"}', "{{service}} {{instance}}", instant=True)],
    "fieldConfig": {"defaults": {
        "unit": "none",
        "mappings": [{"type": "value", "options": {"0": {"text": "DOWN", "color": "red"},
                                                    "1": {"text": "UP", "color": "green"}}}],
        "thresholds": {"mode": "absolute", "steps": [{"color": "red", "value": None}, {"color": "green", "value": 1}]},
    }, "overrides": []},
    "options": {"colorMode": "background", "graphMode": "none", "textMode": "value_and_name",
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
}

TOP_ENTITIES = {
    "type": "bargauge", "title": "Top entities (claims received, last 24 h)",
    "description": "claimstream_query_top_entity_claims: the 20 entities named by most claims received in the "
                   "query service's entity window (QUERY_LEADERBOARD_ENTITY_WINDOW_S, 24 h by default)",
    "w": 10, "h": 11,
    "targets": [target("sort_desc(topk(20, max by (entity) (claimstream_query_top_entity_claims)))", "{{entity}}",
                       instant=True)],
    "fieldConfig": {"defaults": {"unit": "short", "min": 0, "color": {"mode": "continuous-BlYlRd"},
                                 "thresholds": {"mode": "absolute", "steps": [{"color": "blue", "value": None}]}},
                    "overrides": []},
    "options": {"orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True, "valueMode": "color",
                "namePlacement": "left", "sizing": "auto",
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
}

TRENDING = {
    "type": "table", "title": "Trending clusters (last 6 h)",
    "description": "claimstream_query_trending_cluster_appearances / _outlets: the 10 clusters with most "
                   "appearances received in the cluster window (QUERY_LEADERBOARD_CLUSTER_WINDOW_S, 6 h by default). "
                   "Open one at /clusters/<cluster id> on the query service, or on its page.",
    "w": 14, "h": 11,
    "targets": [
        target("topk(10, max by (cluster_id, claim) (claimstream_query_trending_cluster_appearances))",
               instant=True, table=True),
        target("max by (cluster_id, claim) (claimstream_query_trending_cluster_outlets)", instant=True, table=True),
    ],
    "transformations": [
        {"id": "merge", "options": {}},
        {"id": "organize", "options": {
            "excludeByName": {"Time": True},
            "indexByName": {"claim": 0, "Value #A": 1, "Value #B": 2, "cluster_id": 3},
            "renameByName": {"claim": "Claim", "Value #A": "Appearances", "Value #B": "Outlets",
                             "cluster_id": "Cluster"}}},
        {"id": "sortBy", "options": {"sort": [{"field": "Appearances", "desc": True}]}},
    ],
    "fieldConfig": {"defaults": {"unit": "short", "custom": {"align": "auto", "cellOptions": {"type": "auto"}}},
                    "overrides": [{"matcher": {"id": "byName", "options": "Claim"},
                                   "properties": [{"id": "custom.width", "value": 520}]}]},
    "options": {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}},
}

RATE = "[5m]"


def panels() -> list[dict]:
    """The ClaimStream dashboard, top to bottom; gridPos and ids are assigned by `layout`."""
    return [
        SERVICES_UP,
        timeseries("Ingest rate (articles / s)",
                   "Article versions published to Kafka by ingest, by source; refused articles by reason",
                   [target(f"sum by (source) (rate(claimstream_ingest_articles_published_total{RATE}))",
                           "published {{source}}"),
                    target(f"sum by (reason) (rate(claimstream_ingest_articles_rejected_total{RATE}))",
                           "refused {{reason}}")],
                   "cps", w=8),
        timeseries("Claims per second",
                   "Sentences annotated and sentences scored as claims by the processors",
                   [target(f"sum(rate(claimstream_processor_claims_detected_total{RATE}))", "claims"),
                    target(f"sum(rate(claimstream_processor_sentences_total{RATE}))", "sentences")],
                   "cps", w=8),
        timeseries("Claim ratio (claims / sentences)",
                   "Share of annotated sentences that score as claims",
                   [target(f"sum(rate(claimstream_processor_claims_detected_total{RATE})) / "
                           f"sum(rate(claimstream_processor_sentences_total{RATE}))", "claim ratio")],
                   "percentunit", w=8, max_value=1),
        timeseries("Freshness (article received → claim queryable)",
                   "Ingest's received_at to the claim committed in the query database; p50, p95, p99",
                   [target(f"histogram_quantile({q}, sum by (le) "
                           f"(rate(claimstream_query_freshness_seconds_bucket{RATE})))", f"p{round(q * 100)}")
                    for q in (0.5, 0.95, 0.99)],
                   "s"),
        timeseries("Dead letters (per 5m, by stage and reason)",
                   "Messages the processors could not decode or process, written to the deadletter topic",
                   [target(f"sum by (stage, reason) (increase(claimstream_processor_deadletters_total{RATE}))",
                           "{{stage}} {{reason}}")],
                   "short"),
        timeseries("Processor consumer lag (messages)",
                   "End offset minus the processors' committed offset, per topic and partition "
                   "(read from the broker every few seconds)",
                   [target("max by (topic, partition) (claimstream_processor_consumer_lag_messages)",
                           "{{topic}}/{{partition}}")],
                   "short", stack=True),
        timeseries("Query projection lag (messages)",
                   "Messages not yet written to the query database, per topic and query instance",
                   [target("sum by (instance, topic) (claimstream_query_consumer_lag_messages)",
                           "{{topic}} {{instance}}")],
                   "short", stack=True),
        timeseries("Error rate",
                   "Processor errors / messages in, per stage; query messages rejected / projected, per topic",
                   [target(f"sum by (stage) (rate(claimstream_processor_errors_total{RATE})) / "
                           f"sum by (stage) (rate(claimstream_processor_messages_in_total{RATE}))",
                           "processor {{stage}}"),
                    target(f"sum by (topic) (rate(claimstream_query_messages_rejected_total{RATE})) / "
                           f"sum by (topic) (rate(claimstream_query_messages_in_total{RATE}))",
                           "query {{topic}}")],
                   "percentunit"),
        timeseries("Throughput by stage (messages / s)",
                   "Messages consumed and produced by each processor stage; messages projected by the query service",
                   [target(f"sum by (stage) (rate(claimstream_processor_messages_in_total{RATE}))", "in {{stage}}"),
                    target(f"sum by (stage) (rate(claimstream_processor_messages_out_total{RATE}))",
                           "out {{stage}}"),
                    target(f"sum by (topic) (rate(claimstream_query_messages_in_total{RATE}))",
                           "projected {{topic}}")],
                   "cps"),
        timeseries("Stage processing time p95",
                   "95th percentile of the time one stage spends on a message or NLP batch",
                   [target("histogram_quantile(0.95, sum by (le, stage) "
                           f"(rate(claimstream_processor_stage_duration_seconds_bucket{RATE})))", "{{stage}}")],
                   "s"),
        timeseries("Publish and write time p95",
                   "Ingest: one request's articles acknowledged by Kafka. Query: one batch written to the database",
                   [target("histogram_quantile(0.95, sum by (le) "
                           f"(rate(claimstream_ingest_publish_duration_seconds_bucket{RATE})))", "ingest publish"),
                    target("histogram_quantile(0.95, sum by (le) "
                           f"(rate(claimstream_query_write_duration_seconds_bucket{RATE})))", "query write")],
                   "s"),
        timeseries("Event-loop lag (worst of the last minute)",
                   "How late each service's event loop woke a probe that slept 0.25 s: time a handler held "
                   "the loop. Over 1 s, heartbeats, requests and live streams waited",
                   [target('max by (service, instance) ({__name__=~"claimstream_(ingest|processor|query)'
                           '_event_loop_lag_max_seconds"})', "{{service}} {{instance}}")],
                   "s"),
        timeseries("Watchdog and restarts (per 30m)",
                   "Processor workers restarted (a watchdog stop or a crash; counted from their start time) "
                   "and query projection consumers restarted by the query watchdog",
                   [target('changes(process_start_time_seconds{service="processors"}[30m])',
                           "processors restarts {{instance}}"),
                    target("sum by (instance) (increase(claimstream_query_watchdog_restarts_total[30m]))",
                           "query projection restarts {{instance}}")],
                   "short"),
        TOP_ENTITIES,
        TRENDING,
        timeseries("Feedback precision per model version",
                   "claimstream_query_feedback_precision_ratio: share of claims that reviewers confirmed, "
                   "per claim model version and feedback kind",
                   [target("max by (model_version, kind) (claimstream_query_feedback_precision_ratio)",
                           "{{model_version}} {{kind}}")],
                   "percentunit", w=24, max_value=1),
    ]


def layout(items: list[dict]) -> list[dict]:
    """Number the panels and place them left to right in rows of 24 columns."""
    out, x, y, row_h = [], 0, 0, 0
    for number, item in enumerate(items, start=1):
        item = dict(item)
        w, h = item.pop("w"), item.pop("h")
        if x + w > GRID_COLUMNS:
            x, y, row_h = 0, y + row_h, 0
        refs = iter("ABCDEFGHIJ")
        panel = {"id": number, "type": item.pop("type"), "title": item.pop("title"),
                 "description": item.pop("description"), "datasource": DATASOURCE,
                 "gridPos": {"h": h, "w": w, "x": x, "y": y},
                 "targets": [{**t, "refId": next(refs)} for t in item.pop("targets")]}
        panel.update(item)
        out.append(panel)
        x, row_h = x + w, max(row_h, h)
    return out


def claimstream_dashboard() -> dict:
    return {
        "uid": "claimstream",
        "title": "ClaimStream",
        "description": "Generated by scripts/build_dashboards.py; edit that script, not this file.",
        "tags": ["claimstream"],
        "editable": False,
        "schemaVersion": 39,
        "version": 1,
        "graphTooltip": 1,
        "timezone": "browser",
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "10s",
        "annotations": {"list": []},
        "templating": {"list": []},
        "links": [],
        "panels": layout(panels()),
    }


DASHBOARDS = {"claimstream.json": claimstream_dashboard}


def render(build) -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when a file is stale")
    args = parser.parse_args(argv)
    stale = []
    for name, build in DASHBOARDS.items():
        path, text = OUT / name, render(build)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"stale: {', '.join(stale)}; run python scripts/build_dashboards.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
