"""Static checks of the deployment files: docker-compose.yml (through `docker compose config`),
the Prometheus scrape/alert configs and the Grafana provisioning and dashboard.

Nothing is started: `docker compose config` needs the docker client and its compose plugin only,
no engine. scripts/install_compose.sh (run by `make test`) builds the plugin into the git-ignored
.tools/docker/cli-plugins/; it is used through DOCKER_CONFIG=.tools/docker (or run standalone when
there is no docker client), and the user's own `docker compose` is the fallback. The YAML checks
need PyYAML (not a declared dependency of the project: they are skipped with a note when it is
missing; the dashboard is JSON and always checked).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
GRAFANA_DIR = ROOT / "deploy" / "grafana"
TOOLS_DOCKER_CONFIG = Path(os.environ.get("CLAIMSTREAM_TOOLS") or ROOT / ".tools") / "docker"  # see install_compose.sh
TOOLS_COMPOSE_PLUGIN = TOOLS_DOCKER_CONFIG / "cli-plugins" / "docker-compose"
DASHBOARD = GRAFANA_DIR / "dashboards" / "claimstream.json"
DATASOURCE = GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml"

SERVICES = {"kafka", "topics", "ingest", "processors", "query", "prometheus", "grafana"}
APP_SERVICES = {"ingest": 8001, "processors": 6066, "query": 8000}


def _yaml():
    return pytest.importorskip("yaml", reason="PyYAML is not installed (pip install pyyaml) -- YAML checks skipped")


def _compose_command() -> tuple[list[str], dict[str, str]]:
    """The `docker compose` command to run and its environment: the project's plugin first, else the user's."""
    docker = shutil.which("docker")
    env = dict(os.environ)
    if os.access(TOOLS_COMPOSE_PLUGIN, os.X_OK):
        if docker is None:
            return [str(TOOLS_COMPOSE_PLUGIN)], env  # the compose v2 binary also runs standalone
        env["DOCKER_CONFIG"] = str(TOOLS_DOCKER_CONFIG)
        return [docker, "compose"], env
    if docker is None:
        pytest.skip("the docker client is not installed and neither is .tools/docker/cli-plugins/docker-compose "
                    "(bash scripts/install_compose.sh)")
    version = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, env=env)
    if version.returncode != 0:
        pytest.skip(f"the docker compose plugin is not installed (bash scripts/install_compose.sh): "
                    f"{' '.join(version.stderr.split())[:200]}")
    return [docker, "compose"], env


@pytest.fixture(scope="module")
def compose() -> dict:
    command, env = _compose_command()
    version = subprocess.run([*command, "version"], capture_output=True, text=True, env=env, timeout=60)
    assert version.returncode == 0, f"{' '.join(command)} version failed:\n{version.stderr}"
    result = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=env,
    )
    assert result.returncode == 0, f"docker compose config rejected docker-compose.yml:\n{result.stderr}"
    return json.loads(result.stdout)


def test_compose_has_all_services(compose: dict) -> None:
    assert SERVICES <= set(compose["services"]), sorted(compose["services"])


def test_kafka_is_kraft_single_node_with_healthcheck(compose: dict) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "kafka:29092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert "localhost:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@")
    assert "kafka-broker-api-versions.sh" in " ".join(kafka["healthcheck"]["test"])


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_app_services_have_healthcheck_and_wait_for_kafka(compose: dict, name: str) -> None:
    service = compose["services"][name]
    test = " ".join(service["healthcheck"]["test"])
    assert f":{APP_SERVICES[name]}/healthz" in test
    depends = service["depends_on"]
    assert depends["kafka"]["condition"] == "service_healthy"
    assert depends["topics"]["condition"] == "service_completed_successfully"
    assert service["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:29092"
    assert "build" in service


def test_topics_job_waits_for_kafka(compose: dict) -> None:
    topics = compose["services"]["topics"]
    assert topics["command"] == ["claimstream", "topics", "create"]
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_bind_mounts_exist(compose: dict) -> None:
    for name in ("prometheus", "grafana"):
        for volume in compose["services"][name]["volumes"]:
            if volume["type"] == "bind":
                assert Path(volume["source"]).exists(), f"{name}: missing {volume['source']}"


def _check_prometheus(path: Path, targets: dict[str, str]) -> None:
    config = _yaml().safe_load(path.read_text())
    assert "alerts.yml" in config["rule_files"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for job, target in targets.items():
        static = [t for group in jobs[job]["static_configs"] for t in group["targets"]]
        assert target in static, (path.name, job, static)
        assert jobs[job].get("metrics_path", "/metrics") == "/metrics"


def test_prometheus_local_scrape_config() -> None:
    _check_prometheus(PROMETHEUS_DIR / "prometheus.yml",
                      {"ingest": "127.0.0.1:8001", "query": "127.0.0.1:8000", "processors": "127.0.0.1:6066"})


def test_prometheus_compose_scrape_config() -> None:
    _check_prometheus(PROMETHEUS_DIR / "prometheus-compose.yml",
                      {"ingest": "ingest:8001", "query": "query:8000", "processors": "processors:6066"})


def test_prometheus_alerts() -> None:
    rules = _yaml().safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    by_name = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    assert "up" in by_name["ClaimStreamServiceDown"]["expr"]
    assert "claimstream_processor_deadletters_total" in by_name["ClaimStreamDeadLettersIncreasing"]["expr"]
    assert "claimstream_query_freshness_seconds_bucket" in by_name["ClaimStreamFreshnessHigh"]["expr"]
    for rule in by_name.values():
        assert rule["expr"].strip() and rule["annotations"]["summary"]


def test_dashboard_panels() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]
    assert panels
    ids = [panel.get("id") for panel in panels]
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids), ids
    exprs = []
    for panel in panels:
        assert panel["datasource"]["uid"] == "prometheus", panel["title"]
        targets = [t for t in panel.get("targets", []) if t.get("expr", "").strip()]
        assert targets, f"panel {panel['title']!r} has no target with an expr"
        exprs += [t["expr"] for t in targets]
    for metric in ("claimstream_ingest_articles_published_total", "claimstream_processor_claims_detected_total",
                   "claimstream_query_freshness_seconds_bucket", "claimstream_processor_deadletters_total",
                   "claimstream_processor_stage_duration_seconds_bucket"):
        assert any(metric in e for e in exprs), metric


def test_grafana_datasource_uid() -> None:
    config = _yaml().safe_load(DATASOURCE.read_text())
    (source,) = [s for s in config["datasources"] if s["type"] == "prometheus"]
    assert source["uid"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"


def test_grafana_dashboard_provider_points_at_mounted_folder() -> None:
    config = _yaml().safe_load((GRAFANA_DIR / "provisioning" / "dashboards" / "dashboards.yml").read_text())
    (provider,) = config["providers"]
    assert provider["options"]["path"] == "/etc/grafana/dashboards"
