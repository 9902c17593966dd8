"""Every dashboard query and every alert rule, proven against a real Prometheus scraping the real services.

A Prometheus (Debian's package; scripts/install_test_tools.sh) is started on a free port with its
own data directory. Its configuration is deploy/prometheus/prometheus.yml itself, with the
targets pointed at the `stack` services and a 1 s scrape and evaluation interval, and it loads
deploy/prometheus/alerts.yml. A short run is then driven through the stack: two waves of
articles from three outlets repeating the same claims, two refused articles, and an
undecodable message written straight to the claims topic (rejected by the query projection)
and one to the candidates topic (dead-lettered by the processors).

The rule applied to every expression, through Prometheus's /api/v1/query:

* Dashboard targets (deploy/grafana/dashboards/*.json) are evaluated exactly as written. Each
  must parse (status "success") and return a non-empty result with at least one finite value
  (a ratio or quantile with nothing behind it is NaN, which does not count). The run above
  makes every one of them legitimately non-empty; counters whose labels are known in advance
  are created at zero by the services, so "nothing happened" is a 0, not an absent series.
* Alert rules (deploy/prometheus/alerts.yml) are conditions that are normally false, so the
  whole expression must parse, and then each *signal* must return data: the expression is split
  at its top-level and/or/unless and comparison operators, and every operand that is not a
  number is evaluated on its own with the same requirement as a dashboard target. A misspelt
  metric or label in any part of a rule therefore fails here.
* Prometheus itself must have loaded every rule of the file with health "ok", and the two
  alerts the run provokes (dead letters, query rejections) must be pending or firing, while
  the service-down alert must not be.

The one exception, reported as a skip: the feedback-precision panel needs a reviewer's verdict.
The run posts one when the query service offers `POST /claims/{claim_id}/feedback`; until it
does, that panel's query is checked to parse but its data is skipped (see FEEDBACK_METRIC).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer

from schemas import TOPICS, topic_name
from tests.conftest import OUTPUT, free_port, wait_for
from tests.tools import find_tool

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
FEEDBACK_METRIC = "claimstream_query_feedback_precision_ratio"
DATA_TIMEOUT = 30.0


# ---------------------------------------------------------------- tools



# ---------------------------------------------------------------- the expressions under test

def dashboard_targets() -> list[tuple[str, str, str]]:
    out = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for t in panel.get("targets", []):
                out.append((f"{path.stem}#{panel['id']} {panel['title']} [{t['refId']}]", t["refId"], t["expr"]))
    return out


def alert_rules() -> list[tuple[str, str]]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [(rule["alert"], rule["expr"]) for group in rules["groups"] for rule in group["rules"] if "alert" in rule]


_COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")
_SET_OPERATORS = ("and", "or", "unless")
_MODIFIERS = ("bool", "on", "ignoring", "group_left", "group_right")
_IDENT = re.compile(r"[A-Za-z0-9_:]")


def _word_at(expr: str, i: int, word: str) -> bool:
    return (expr.startswith(word, i) and (i == 0 or not _IDENT.match(expr[i - 1]))
            and (i + len(word) == len(expr) or not _IDENT.match(expr[i + len(word)])))


def _skip_modifiers(expr: str, i: int) -> int:
    """Skip `bool`, `on (...)`, `ignoring (...)`, `group_left (...)` after a binary operator."""
    while True:
        while i < len(expr) and expr[i].isspace():
            i += 1
        word = next((w for w in _MODIFIERS if _word_at(expr, i, w)), None)
        if word is None:
            return i
        i += len(word)
        while i < len(expr) and expr[i].isspace():
            i += 1
        if i < len(expr) and expr[i] == "(":
            i = expr.index(")", i) + 1


def signals(expr: str) -> list[str]:
    """The operands of the top-level and/or/unless and comparison operators that are not numbers."""
    parts, depth, start, quote, i = [], 0, 0, None, 0
    while i < len(expr):
        char = expr[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0:
            op = next((c for c in _COMPARISONS if expr.startswith(c, i)), None) \
                or next((w for w in _SET_OPERATORS if _word_at(expr, i, w)), None)
            if op:
                parts.append(expr[start:i])
                i = start = _skip_modifiers(expr, i + len(op))
                continue
        i += 1
    parts.append(expr[start:])
    out = []
    for part in (p.strip() for p in parts):
        try:
            float(part)
        except ValueError:
            out.append(part)
    return out


def test_signal_splitting_keeps_label_matchers_and_drops_modifiers() -> None:
    expr = ('sum by (a) (x{l!="v", m=~"a|b"}) > 0 and on (a) (y or z * 0) == 0 '
            'unless ignoring (b) group_left (c) w >= bool 3')
    assert signals(expr) == ['sum by (a) (x{l!="v", m=~"a|b"})', "(y or z * 0)", "w"]
    assert signals("histogram_quantile(0.95, sum by (le) (rate(h_bucket[5m]))) > 30") == [
        "histogram_quantile(0.95, sum by (le) (rate(h_bucket[5m])))"]
    assert signals("metric_with_and_or_in_name_total") == ["metric_with_and_or_in_name_total"]


# ---------------------------------------------------------------- promtool (no stack needed)

def test_promtool_accepts_the_alert_rules() -> None:
    promtool = find_tool("promtool")
    result = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout, result.stdout


@pytest.mark.parametrize("name", ["prometheus.yml", "prometheus-compose.yml"])
def test_promtool_accepts_the_scrape_config(name: str) -> None:
    promtool = find_tool("promtool")
    result = subprocess.run([promtool, "check", "config", str(PROMETHEUS_DIR / name)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- a real Prometheus on the stack

class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str) -> dict:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        assert body.get("status") == "success", f"Prometheus refused {expr!r}: {body.get('error', body)}"
        return body["data"]

    def finite_values(self, expr: str) -> list[float]:
        data = self.query(expr)
        if data["resultType"] in ("scalar", "string"):
            values = [data["result"][1]]
        elif data["resultType"] == "vector":
            values = [sample["value"][1] for sample in data["result"]]
        else:  # matrix: a bare range selector
            values = [v for series in data["result"] for _, v in series["values"]]
        floats = [float(v) for v in values]
        return [v for v in floats if math.isfinite(v)]

    def require_data(self, expr: str, timeout: float = DATA_TIMEOUT) -> list[float]:
        """Poll until the expression returns a finite value (the last scrapes may still be coming)."""
        deadline = time.monotonic() + timeout
        while True:
            values = self.finite_values(expr)  # a parse error fails at once
            if values or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert values, f"no data (empty result or only NaN) for {expr!r}; raw: {self.query(expr)['result']!r:.500}"
        return values

    def get(self, path: str) -> dict:
        body = httpx.get(f"{self.url}{path}", timeout=10).json()
        assert body["status"] == "success", body
        return body["data"]


def _scrape_config(stack, own_port: int) -> dict:
    """deploy/prometheus/prometheus.yml with its targets moved to the stack's ports and 1 s intervals."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    ports = {
        "127.0.0.1:8001": stack.ingest, "127.0.0.1:8000": stack.query, "127.0.0.1:6066": stack.processors,
        "127.0.0.1:9090": f"http://127.0.0.1:{own_port}",
    }
    config["global"].update(scrape_interval="1s", evaluation_interval="1s", scrape_timeout="1s")
    config["rule_files"] = [str(ALERTS)]
    for job in config["scrape_configs"]:
        for group in job["static_configs"]:
            missing = [t for t in group["targets"] if t not in ports]
            assert not missing, f"job {job['job_name']}: no stack service for target(s) {missing}"
            group["targets"] = [ports[t].removeprefix("http://") for t in group["targets"]]
    return config


@pytest.fixture(scope="module")
def prometheus(stack, tmp_path_factory):
    binary = find_tool("prometheus")
    workdir = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(_scrape_config(stack, port)))
    log = workdir / "prometheus.log"
    proc = subprocess.Popen(
        [binary, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h", "--log.level=warn"],
        cwd=workdir, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"prometheus exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
            try:
                if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"prometheus not ready:\n{log.read_text()[-3000:]}"
            time.sleep(0.3)
        yield Prometheus(url)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        OUTPUT.mkdir(exist_ok=True)
        shutil.copy(log, OUTPUT / "prometheus.log")


def _metric_lines(url: str, name: str) -> list[str]:
    return [line for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines()
            if line.startswith(name + "{") or line.startswith(name + " ")]


def _post_feedback_if_offered(stack, claim_id: str) -> bool:
    """Post one verdict when the query service has the claim feedback endpoint; True when it did."""
    paths = httpx.get(f"{stack.query}/openapi.json", timeout=10).json().get("paths", {})
    operation = paths.get("/claims/{claim_id}/feedback", {}).get("post")
    if operation is None:
        return False
    response = httpx.post(f"{stack.query}/claims/{claim_id}/feedback", json={"check_worthy": True}, timeout=10)
    assert response.status_code < 300, response.text
    return True


@pytest.fixture(scope="module")
def driven(stack, prometheus):
    """A short run through the stack once Prometheus scrapes every service."""
    def down():
        targets = prometheus.get("/api/v1/targets")["activeTargets"]
        return [(t["labels"]["job"], t["scrapeUrl"], t["health"], t["lastError"]) for t in targets
                if t["health"] != "up"] if targets else ["no targets"]

    deadline = time.monotonic() + 60
    while (not_up := down()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not not_up, f"scrape targets not up: {not_up}"

    run = uuid.uuid4().hex[:8]
    outlets = [f"Prom Herald {run}", f"Prom Gazette {run}", f"Prom Wire {run}"]
    waves = [
        ("Germany's unemployment rate fell to 5.2 percent in March, the Federal Statistics Office said.",
         "The European Union imported 12 billion euros of steel from China in 2025, officials in Brussels said."),
        ("France raised its minimum wage by 2.1 percent on Monday, the labour ministry in Paris said.",
         "Italy's economy grew 0.3 percent in the first quarter, the national statistics agency Istat said."),
    ]
    # Two waves: a labelled counter that appears with the first wave only has a rate from the second on.
    for wave, (claim, other) in enumerate(waves):
        for n, outlet in enumerate(outlets):
            article = {"id": f"prom-{run}-{wave}-{n}", "outlet": outlet, "title": f"Economy report {wave}.{n}",
                       "url": f"https://prom-{n}.example/{run}/{wave}", "body": f"{claim}\n\n{other}"}
            response = httpx.post(f"{stack.ingest}/articles", json=article, timeout=30)
            assert response.status_code == 202, response.text
        ids = {f"prom-{run}-{wave}-{n}" for n in range(len(outlets))}
        wait_for(lambda ids=ids: ids <= {c["article_id"] for c in httpx.get(
                     f"{stack.query}/claims", params={"limit": 200}, timeout=10).json()["items"]},
                 timeout=90, message=f"the claims of wave {wave}")
        time.sleep(2)  # at least one scrape between the waves
    # Refused by ingest: nothing is left once the boilerplate line is removed; and an invalid batch item.
    httpx.post(f"{stack.ingest}/articles", json={"outlet": outlets[0], "body": "Advertisement"}, timeout=30)
    httpx.post(f"{stack.ingest}/articles/batch", json=[{"outlet": outlets[0]}], timeout=30)
    # Undecodable on the claims topic (the query projection rejects it) and on the candidates topic
    # (the processors' match stage dead-letters it).
    async def poison() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            for thing in ("claims", "candidates"):
                await producer.send_and_wait(topic_name(thing, stack.namespace), key=f"prom-{run}".encode(),
                                             value=b"{not json " + run.encode())
        finally:
            await producer.stop()

    asyncio.run(poison())

    claims = wait_for(lambda: [c for c in httpx.get(f"{stack.query}/claims", params={"limit": 200}).json()["items"]
                               if c["outlet"] in outlets], timeout=90, message="the run's claims in the feed")
    feedback = _post_feedback_if_offered(stack, claims[0]["claim_id"])
    wait_for(lambda: httpx.get(f"{stack.query}/leaderboards").json()["clusters"], timeout=60,
             message="the trending clusters computed")
    # The series exists at 0 from start-up: wait for the poison's count on the claims topic.
    wait_for(lambda: any(not line.endswith(" 0.0")
                         for line in _metric_lines(stack.query, "claimstream_query_messages_rejected_total")
                         if 'topic="claims"' in line and 'reason="not_json"' in line),
             timeout=60, message="the poison rejected by the query projection")
    wait_for(lambda: any(not line.endswith(" 0.0")
                         for line in _metric_lines(stack.processors, "claimstream_processor_deadletters_total")
                         if 'stage="match"' in line and 'reason="not_json"' in line),
             timeout=60, message="the poison dead-lettered by the processors")
    # Everything consumed and committed: the lag gauges read 0 on every partition.
    wait_for(lambda: (lines := _metric_lines(stack.processors, "claimstream_processor_consumer_lag_messages"))
             and all(line.endswith(" 0.0") for line in lines), timeout=90, message="processor lag back to 0")
    # And Prometheus has scraped the latest state.
    prometheus.require_data('claimstream_query_messages_rejected_total{topic="claims",reason="not_json"} > 0',
                            timeout=60)
    prometheus.require_data("claimstream_query_trending_cluster_appearances", timeout=60)
    return {"run": run, "outlets": outlets, "claims": claims, "feedback": feedback}


@pytest.mark.parametrize("title,ref,expr", dashboard_targets(), ids=[t[0] for t in dashboard_targets()])
def test_dashboard_query_returns_data(prometheus, driven, stack, title, ref, expr) -> None:
    if FEEDBACK_METRIC in expr and not driven["feedback"]:
        prometheus.query(expr)  # it must parse all the same
        pytest.skip(f"{title}: {FEEDBACK_METRIC} needs a reviewer's verdict and the query service has no "
                    "POST /claims/{claim_id}/feedback yet")
    prometheus.require_data(expr)


@pytest.mark.parametrize("name,expr", alert_rules(), ids=[r[0] for r in alert_rules()])
def test_alert_rule_parses_and_each_signal_returns_data(prometheus, driven, name, expr) -> None:
    prometheus.query(expr)
    parts = signals(expr)
    assert parts, f"{name}: no signal found in {expr!r}"
    for part in parts:
        prometheus.require_data(part)


def test_prometheus_loaded_every_rule_and_evaluates_it_cleanly(prometheus, driven) -> None:
    expected = {name for name, _ in alert_rules()}

    def loaded():
        rules = [r for g in prometheus.get("/api/v1/rules")["groups"] for r in g["rules"]]
        evaluated = [r for r in rules if not r.get("lastEvaluation", "").startswith("0001-")]
        return rules if len(evaluated) == len(rules) else None

    rules = wait_for(loaded, timeout=30, message="every rule evaluated once")
    assert {r["name"] for r in rules} == expected
    unhealthy = {r["name"]: r.get("lastError") for r in rules if r["health"] != "ok"}
    assert not unhealthy, unhealthy


def test_the_run_provokes_the_dead_letter_and_rejection_alerts_only(prometheus, driven) -> None:
    def active():
        alerts = prometheus.get("/api/v1/alerts")["alerts"]
        found = {(a["labels"]["alertname"], a["labels"].get("stage") or a["labels"].get("topic"),
                  a["labels"].get("reason")) for a in alerts if a["state"] in ("pending", "firing")}
        wanted = {("ClaimStreamDeadLettersIncreasing", "match", "not_json"),
                  ("ClaimStreamQueryRejectingMessages", "claims", "not_json")}
        return found if wanted <= found else None

    found = wait_for(active, timeout=30, message="the dead-letter and rejection alerts pending")
    assert not any(name == "ClaimStreamServiceDown" for name, *_ in found), found


def test_processor_lag_covers_every_partition_of_the_consumed_topics(stack, driven) -> None:
    lines = _metric_lines(stack.processors, "claimstream_processor_consumer_lag_messages")
    seen = {tuple(re.findall(r'(partition|topic)="([^"]*)"', line)) for line in lines}
    by_topic: dict[str, set[str]] = {}
    for labels in seen:
        values = dict(labels)
        by_topic.setdefault(values["topic"], set()).add(values["partition"])
    assert set(by_topic) == {"articles", "candidates"}, by_topic  # one message per article, then the claims
    for thing in ("articles", "candidates"):
        assert by_topic.get(thing) == {str(p) for p in range(TOPICS[thing].partitions)}, by_topic
    committed = _metric_lines(stack.processors, "claimstream_processor_consumer_committed_offset")
    assert len(committed) == len(lines)
    assert any(not line.endswith(" 0.0") for line in committed), "no committed offset moved during the run"


def test_each_service_exports_its_own_subsystem_and_no_created_series(stack) -> None:
    """claimstream_<subsystem>_...: the subsystem is the service's (names and units: tests/unit/test_dashboards.py)."""
    subsystems = {"ingest": ("ingest", "http"), "processors": ("processor",), "query": ("query", "http")}
    for service, allowed in subsystems.items():
        text = httpx.get(f"{getattr(stack, service)}/metrics", timeout=10).text
        names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE claimstream_")}
        assert names, service
        assert not [n for n in names if n.endswith("_created")], "created series are disabled (common/metrics.py)"
        for name in names:
            assert name.split("_")[1] in allowed, f"{service} exports {name}"
