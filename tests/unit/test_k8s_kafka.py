"""Kafka in the Kubernetes manifests: an external cluster by default (deploy/k8s), or three brokers in
the namespace (deploy/k8s-with-kafka = deploy/k8s + the component deploy/k8s/kafka). Either way the
services create every topic with 3 copies and min.insync.replicas 2.

Static checks with PyYAML; when kubectl is on the PATH, `kubectl kustomize` renders both too."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (pip install pyyaml)")

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "deploy" / "k8s"
COMPONENT = BASE / "kafka"
OVERLAY = ROOT / "deploy" / "k8s-with-kafka"
NAMESPACE = "claimstream"


def _load(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _component_docs() -> list[dict]:
    kustomization = _load(COMPONENT / "kustomization.yaml")[0]
    return [doc for name in kustomization["resources"] for doc in _load(COMPONENT / name)]


def _statefulset(docs: list[dict]) -> dict:
    (found,) = [d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "kafka"]
    return found


def _env(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", [])}


def _base_config() -> dict[str, str]:
    (config,) = [d for d in _load(BASE / "configmap.yaml") if d["kind"] == "ConfigMap"]
    return config["data"]


def _patched_config() -> dict[str, str]:
    """The ConfigMap as the overlay makes it: the component's patch merged over the base's data."""
    kustomization = _load(COMPONENT / "kustomization.yaml")[0]
    data = dict(_base_config())
    for patch in kustomization["patches"]:
        (doc,) = _load(COMPONENT / patch["path"])
        assert doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "claimstream-config"
        data.update(doc["data"])
    return data


def test_overlay_is_the_base_plus_the_kafka_component():
    overlay = _load(OVERLAY / "kustomization.yaml")[0]
    assert overlay["kind"] == "Kustomization"
    assert [(OVERLAY / r).resolve() for r in overlay["resources"]] == [BASE.resolve()]
    assert [(OVERLAY / c).resolve() for c in overlay["components"]] == [COMPONENT.resolve()]
    component = _load(COMPONENT / "kustomization.yaml")[0]
    assert component["kind"] == "Component"
    for name in component["resources"] + [p["path"] for p in component["patches"]]:
        assert (COMPONENT / name).is_file(), name
    # The base does not pull the brokers in: without the overlay Kafka is external.
    base = _load(BASE / "kustomization.yaml")[0]
    assert "kafka" not in " ".join(base.get("resources", []) + base.get("components", []))


def test_every_topic_gets_three_copies_either_way():
    assert _base_config()["KAFKA_REPLICATION_FACTOR"] == "3"
    assert _patched_config()["KAFKA_REPLICATION_FACTOR"] == "3"


def test_external_cluster_is_a_bootstrap_list_of_three():
    servers = _base_config()["KAFKA_BOOTSTRAP_SERVERS"].split(",")
    assert len(servers) == 3 and all(s.rsplit(":", 1)[1].isdigit() for s in servers)


def test_three_kraft_nodes_with_stable_names_volumes_and_the_project_kafka_version():
    docs = _component_docs()
    assert all(d["metadata"]["namespace"] == NAMESPACE for d in docs)
    kafka = _statefulset(docs)
    spec = kafka["spec"]
    assert spec["replicas"] == 3
    assert spec["podManagementPolicy"] == "Parallel"  # a node waits for a quorum of voters
    (service,) = [d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == spec["serviceName"]]
    assert service["spec"]["clusterIP"] == "None"  # headless: per-pod DNS names
    assert service["spec"]["publishNotReadyAddresses"] is True
    assert service["spec"]["selector"] == spec["selector"]["matchLabels"]
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    (container,) = spec["template"]["spec"]["containers"]
    pom = (ROOT / "deploy" / "kafka" / "pom.xml").read_text()
    version = container["image"].split(":")[1]
    assert container["image"] == f"apache/kafka:{version}" and f"<kafka.version>{version}</kafka.version>" in pom
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert [t["metadata"]["name"] for t in spec["volumeClaimTemplates"]] == ["data"]
    assert _env(container)["KAFKA_LOG_DIRS"] == mounts["data"]
    (pdb,) = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    assert pdb["spec"]["maxUnavailable"] == 1


def test_quorum_voters_are_the_three_pods_and_node_ids_follow_the_ordinal():
    kafka = _statefulset(_component_docs())
    (container,) = kafka["spec"]["template"]["spec"]["containers"]
    env = _env(container)
    suffix = f"{kafka['spec']['serviceName']}.{NAMESPACE}.svc.cluster.local"
    voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert voters == [f"{i + 1}@kafka-{i}.{suffix}:9093" for i in range(kafka["spec"]["replicas"])]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    script = container["command"][-1]
    assert "KAFKA_NODE_ID=$(( ${HOSTNAME##*-} + 1 ))" in script  # kafka-0 -> node 1, as in the voters
    assert f"PLAINTEXT://${{HOSTNAME}}.{suffix}:9092" in script


def test_durability_one_broker_may_be_down():
    (container,) = _statefulset(_component_docs())["spec"]["template"]["spec"]["containers"]
    env = _env(container)
    for key in ("KAFKA_DEFAULT_REPLICATION_FACTOR", "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
                "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"):
        assert env[key] == "3", key
    assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"


def test_the_services_bootstrap_on_every_broker_of_the_statefulset():
    kafka = _statefulset(_component_docs())
    suffix = f"{kafka['spec']['serviceName']}.{NAMESPACE}.svc.cluster.local"
    servers = _patched_config()["KAFKA_BOOTSTRAP_SERVERS"].split(",")
    assert servers == [f"kafka-{i}.{suffix}:9092" for i in range(kafka["spec"]["replicas"])]
    (container,) = kafka["spec"]["template"]["spec"]["containers"]
    assert {"client": 9092, "controller": 9093} == {p["name"]: p["containerPort"] for p in container["ports"]}


def test_the_settings_accept_the_patched_bootstrap_list(monkeypatch):
    from services.common.settings import KafkaSettings

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", _patched_config()["KAFKA_BOOTSTRAP_SERVERS"])
    monkeypatch.setenv("KAFKA_REPLICATION_FACTOR", _patched_config()["KAFKA_REPLICATION_FACTOR"])
    settings = KafkaSettings()
    assert settings.replication_factor == 3 and settings.bootstrap_servers.count(",") == 2


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not on the PATH (the static checks above run)")
@pytest.mark.parametrize("root, brokers", [(BASE, 0), (OVERLAY, 3)])
def test_kubectl_kustomize_renders_both(root, brokers):
    done = subprocess.run(["kubectl", "kustomize", str(root)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    sets = [d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "kafka"]
    assert sum(s["spec"]["replicas"] for s in sets) == brokers
    (config,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "claimstream-config"]
    expected = _patched_config() if brokers else _base_config()
    assert config["data"]["KAFKA_BOOTSTRAP_SERVERS"] == expected["KAFKA_BOOTSTRAP_SERVERS"]


def test_pyproject_has_pyyaml_for_these_checks():
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    assert any(d.lower().startswith("pyyaml") for d in dev)
