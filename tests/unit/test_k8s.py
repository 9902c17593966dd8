"""Static checks of the Kubernetes manifests in deploy/k8s: they parse, and they refer only to what
exists in the repository -- the image docker-compose.yml builds, the ports the settings and the
Dockerfile use, environment variables that are fields of the pydantic settings classes (with values
those classes accept), commands and modules that exist, and routes the services serve.

No cluster is needed (no kubectl); PyYAML is (dev extra).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (pip install pyyaml)")

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
NAMESPACE = "claimstream"
SETTINGS_MODULES = ["services.common.settings", "services.ingest.settings", "services.query.settings",
                    "services.processors.settings"]
# The services in the image: python -m <module> -> the package whose routes and settings apply.
SERVICES = {"services.ingest": ("ingest", "port"), "services.query": ("query", "port"),
            "services.processors": ("processors", "web_port")}
INPUT_TOPICS = ["articles", "sentences", "claims"]


def _documents() -> list[tuple[str, dict]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":  # kustomize's own file, not a resource
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found.append((path.name, doc))
    return found


DOCS = _documents()


def _kind(kind: str) -> list[dict]:
    return [doc for _, doc in DOCS if doc["kind"] == kind]


def _workloads() -> list[dict]:
    return _kind("Deployment") + _kind("Job")


def _pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def _containers(workload: dict) -> list[dict]:
    return _pod_spec(workload)["containers"] + _pod_spec(workload).get("initContainers", [])


def _deployment(name: str) -> dict:
    (found,) = [d for d in _kind("Deployment") if d["metadata"]["name"] == name]
    return found


def _service_module(container: dict) -> str | None:
    command = container.get("command", []) + container.get("args", [])
    if command[:2] == ["python", "-m"]:
        return command[2]
    return None


def _configmap() -> dict[str, str]:
    (config,) = _kind("ConfigMap")
    return config["data"]


def _settings_classes() -> list[type[BaseSettings]]:
    classes = []
    for name in SETTINGS_MODULES:
        module = importlib.import_module(name)
        classes += [obj for _, obj in inspect.getmembers(module, inspect.isclass)
                    if issubclass(obj, BaseSettings) and obj is not BaseSettings and obj.__module__ == name]
    return classes


def _env_names() -> dict[str, tuple[type[BaseSettings], str]]:
    names = {}
    for cls in _settings_classes():
        prefix = cls.model_config.get("env_prefix", "")
        for field in cls.model_fields:
            names[(prefix + field).upper()] = (cls, field)
    return names


def _default(cls_field: tuple[type[BaseSettings], str]):
    cls, field = cls_field
    return cls.model_fields[field].default


# ---------------------------------------------------------------------------------------------------


def test_manifests_parse_and_live_in_the_namespace():
    assert DOCS, "no manifests in deploy/k8s"
    kinds = {doc["kind"] for _, doc in DOCS}
    assert {"Namespace", "ConfigMap", "Job", "Deployment", "Service"} <= kinds
    for name, doc in DOCS:
        assert doc.get("apiVersion") and doc["metadata"]["name"], name
        if doc["kind"] == "Namespace":
            assert doc["metadata"]["name"] == NAMESPACE
        else:
            assert doc["metadata"].get("namespace") == NAMESPACE, (name, doc["kind"], doc["metadata"]["name"])


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(files)


def test_every_container_runs_the_image_compose_builds():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    image = compose["services"]["ingest"]["image"]
    assert {compose["services"][s]["image"] for s in ("topics", "ingest", "processors", "query")} == {image}
    for workload in _workloads():
        for container in _containers(workload):
            assert container["image"] == image, workload["metadata"]["name"]


def test_the_three_services_and_the_topics_job_are_deployed():
    modules = {_service_module(c) for d in _kind("Deployment") for c in _containers(d)}
    assert modules == set(SERVICES)
    (job,) = _kind("Job")
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert _containers(job)[0]["command"] == compose["services"]["topics"]["command"] == \
        ["claimstream", "topics", "create"]
    assert _pod_spec(job)["restartPolicy"] in ("OnFailure", "Never")


def test_commands_exist():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for workload in _workloads():
        for container in _containers(workload):
            command = container.get("command", []) + container.get("args", [])
            if command[:2] == ["python", "-m"]:
                spec = importlib.util.find_spec(command[2])
                assert spec is not None, command
                if spec.submodule_search_locations is not None:  # a package: needs __main__
                    assert importlib.util.find_spec(command[2] + ".__main__") is not None, command
            elif command[0] in scripts:
                module = scripts[command[0]].split(":")[0]
                assert importlib.util.find_spec(module) is not None, command
                # argparse accepts the arguments (an unknown subcommand or choice exits with 2 before --help).
                check = subprocess.run([sys.executable, "-m", module, *command[1:], "--help"], cwd=ROOT,
                                       capture_output=True, text=True, timeout=60)
                assert check.returncode == 0, (command, check.stderr)
            else:
                pytest.fail(f"{workload['metadata']['name']}: unknown command {command}")


def test_environment_names_are_settings_fields():
    known = _env_names()
    for name in _configmap():
        assert name in known, f"ConfigMap key {name} is not a field of any settings class"
    for workload in _workloads():
        for container in _containers(workload):
            for env in container.get("env", []):
                assert env["name"] in known, f"{workload['metadata']['name']}: env {env['name']} is not a setting"
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] == _kind("ConfigMap")[0]["metadata"]["name"]


def test_the_settings_classes_accept_the_configmap_values(monkeypatch):
    for name, value in _configmap().items():
        monkeypatch.setenv(name, value)
    for cls in _settings_classes():
        cls()  # raises ValidationError on a value the service would refuse at start-up
    config = _configmap()
    from services.ingest.settings import IngestSettings

    assert IngestSettings().feed_allow_private is False
    assert config["CLAIMSTREAM_NAMESPACE"] == NAMESPACE


def test_ports_match_settings_dockerfile_services_and_probes():
    exposed = set(re.search(r"^EXPOSE (.+)$", (ROOT / "Dockerfile").read_text(), re.M).group(1).split())
    known = _env_names()
    config = _configmap()
    for deployment in _kind("Deployment"):
        (container,) = _containers(deployment)
        package, port_field = SERVICES[_service_module(container)]
        env_name = next(name for name, (cls, field) in known.items()
                        if field == port_field and cls.__module__ == f"services.{package}.settings")
        default = _default(known[env_name])
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert list(ports.values()) == [default], (package, ports, default)
        assert str(default) in exposed
        assert config[env_name] == str(default)  # the service binds where the pod says it listens
        assert config[env_name.replace("PORT", "HOST")] == "0.0.0.0"
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(default)
        assert annotations["prometheus.io/path"] == "/metrics"
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            if probe == "startupProbe" and probe not in container:
                continue
            get = container[probe]["httpGet"]
            assert get["path"] == "/healthz", (package, probe)
            assert ports.get(get["port"], get["port"]) == default, (package, probe)
    deployments = {d["metadata"]["name"]: d for d in _kind("Deployment")}
    for service in _kind("Service"):
        (target,) = [d for d in deployments.values()
                     if service["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        (container,) = _containers(target)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports or port["targetPort"] in ports.values(), service["metadata"]["name"]
            assert port["port"] == ports.get(port["targetPort"], port["targetPort"])


def test_probed_and_scraped_routes_exist():
    for package, _ in SERVICES.values():
        source = "\n".join(p.read_text() for p in (ROOT / "services" / package).rglob("*.py"))
        assert '"/healthz"' in source, package
        assert '"/metrics"' in source or "add_metrics_route(app)" in source, package


def test_every_container_has_requests_and_limits_and_runs_as_the_image_user():
    uid = int(re.search(r"--uid (\d+)", (ROOT / "Dockerfile").read_text()).group(1))
    for workload in _workloads():
        security = _pod_spec(workload)["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] == uid
        for container in _containers(workload):
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), (workload["metadata"]["name"], kind)
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_processors_replicas_equal_the_input_partitions():
    from schemas.topics import TOPICS

    partitions = {TOPICS[thing].partitions for thing in INPUT_TOPICS}
    assert len(partitions) == 1, "the article-keyed topics must have the same partition count"
    assert _deployment("processors")["spec"]["replicas"] == partitions.pop()


POSTGRES_SECRET = "claimstream-postgres"


def _env(deployment: dict) -> dict[str, dict]:
    (container,) = _containers(deployment)
    return {e["name"]: e for e in container.get("env", [])}


@pytest.mark.parametrize("name, db_setting", [("ingest", "INGEST_DB_URL"), ("query", "QUERY_DB_URL")])
def test_ingest_and_query_keep_their_state_in_postgresql(name, db_setting):
    deployment = _deployment(name)
    # The URL (with its password) comes from a secret, never from the ConfigMap or a SQLite file.
    assert db_setting not in _configmap()
    ref = _env(deployment)[db_setting]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == POSTGRES_SECRET and ref["key"] == f"{name}-url"
    # ... and the kustomization's instructions create that key, with a PostgreSQL URL.
    instructions = (K8S / "kustomization.yaml").read_text()
    assert re.search(rf"create secret generic {POSTGRES_SECRET}\b", instructions)
    (url,) = re.findall(rf"--from-literal={name}-url=(\S+)", instructions)
    from services.common.database import normalise_url

    assert normalise_url(url).startswith("postgresql+psycopg://"), url
    # No volume holds state any more: a rescheduled pod finds everything in the database.
    assert not [v for v in _pod_spec(deployment)["volumes"] if "persistentVolumeClaim" in v]
    assert not _kind("PersistentVolumeClaim")


def test_query_runs_several_replicas_on_one_database_and_ingest_one():
    query = _deployment("query")
    assert query["spec"]["replicas"] >= 2
    # Replicas come and go one at a time: the writer lease moves to a running replica.
    assert query["spec"]["strategy"]["type"] == "RollingUpdate"
    assert query["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] < query["spec"]["replicas"]
    ingest = _deployment("ingest")
    assert ingest["spec"]["replicas"] == 1 and ingest["spec"]["strategy"]["type"] == "Recreate"
    # The image the manifests run carries the PostgreSQL driver.
    assert re.search(r"pip install '\.\[postgres\]'", (ROOT / "Dockerfile").read_text())


def test_secrets_are_referenced_not_shipped():
    assert not _kind("Secret")
    names = {env["valueFrom"]["secretKeyRef"]["name"] for w in _workloads() for c in _containers(w)
             for env in c.get("env", []) if "secretKeyRef" in env.get("valueFrom", {})}
    assert names == {"claimstream-api-keys", POSTGRES_SECRET}
    ingest_env = {e["name"] for e in _containers(_deployment("ingest"))[0]["env"]}
    assert "INGEST_API_KEY" in ingest_env
