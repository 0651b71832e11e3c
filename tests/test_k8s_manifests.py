"""The Kubernetes manifests, Dockerfile and production deployment file under k8s/.

They are checked against what they describe: the Kubernetes OpenAPI schema (offline, with
kubernetes-validate), the project's own validation of topics.yaml, the hub's HTTP routes,
its CLI and the secrets the deployment file names.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import kubernetes_validate  # type: ignore[import-untyped]  # ships no py.typed
import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from hub.cli import main
from hub.config import Deployment, load_config, validate_file
from hub.db import async_url
from hub.http.app import HubInfo, create_app

REPO = Path(__file__).resolve().parent.parent
K8S = REPO / "k8s"
CONFIG = K8S / "topics.yaml"
NAMESPACE = "tsunagu"
# The oldest Kubernetes release the manifests are meant for, and the newest schema known.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
# Custom resources: no schema in the Kubernetes OpenAPI document.
CRD_KINDS = {"ServiceMonitor"}

Manifest = dict[str, Any]


def _manifest_files() -> list[Path]:
    # topics.yaml is the hub's deployment file and kustomization.yaml kustomize's own
    # input: neither is a Kubernetes object.
    skip = {"topics.yaml", "kustomization.yaml"}
    return sorted(p for p in K8S.glob("*.yaml") if p.name not in skip)


def _load_all(path: Path) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _kustomization() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text("utf-8"))
    return data


def _one(kind: str, file: str) -> Manifest:
    found = [doc for doc in _load_all(K8S / file) if doc["kind"] == kind]
    assert len(found) == 1, f"{file}: expected one {kind}, found {len(found)}"
    return found[0]


def _deployment() -> Manifest:
    return _one("Deployment", "deployment.yaml")


def _hub_container() -> Manifest:
    containers = _deployment()["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: Manifest = containers[0]
    return container


def _config() -> Deployment:
    # Without a schema catalogue: the model and cross-references only, so these checks do
    # not depend on schemas/avro/ (test_config_passes_validation_with_the_schemas does).
    return load_config(CONFIG)


def _env_references(node: object) -> Iterator[str]:
    """Every value of a `*_env` key in the deployment file: the secrets it needs."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.endswith("_env") and isinstance(value, str):
                yield value
            else:
                yield from _env_references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _env_references(item)


def _secret_keys(name: str) -> set[str]:
    """The keys of the Secret `name`, as secret.example.yaml documents it."""
    secret = _one("Secret", "secret.example.yaml")
    assert secret["metadata"]["name"] == name, f"envFrom names {name}, the example another"
    return set(secret.get("stringData", {})) | set(secret.get("data", {}))


def _pod_labels() -> dict[str, str]:
    labels: dict[str, str] = _deployment()["spec"]["template"]["metadata"]["labels"]
    return labels


def _selects_pods(match_labels: dict[str, str]) -> bool:
    labels = _pod_labels()
    return bool(match_labels) and all(labels.get(k) == v for k, v in match_labels.items())


def _container_port(name_or_number: str | int) -> int:
    for port in _hub_container()["ports"]:
        if name_or_number in (port["name"], port["containerPort"]):
            number: int = port["containerPort"]
            return number
    raise AssertionError(f"the hub container has no port {name_or_number!r}")


def _probes() -> dict[str, Manifest]:
    container = _hub_container()
    kinds = ("startupProbe", "livenessProbe", "readinessProbe")
    return {kind: container[kind]["httpGet"] for kind in kinds}


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (K8S / "Dockerfile").read_text("utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending = f"{pending} {line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        word, _, rest = pending.partition(" ")
        instructions.append((word.upper(), rest.strip()))
        pending = ""
    return instructions


# --- the files parse and are valid Kubernetes ------------------------------------------


@pytest.mark.parametrize("path", _manifest_files(), ids=lambda p: p.name)
def test_every_manifest_parses_into_named_objects(path: Path) -> None:
    docs = _load_all(path)
    assert docs, f"{path.name} holds no object"
    for doc in docs:
        assert {"apiVersion", "kind", "metadata"} <= doc.keys()
        assert doc["metadata"]["name"]


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", _manifest_files(), ids=lambda p: p.name)
def test_manifests_match_the_kubernetes_openapi_schema(path: Path, version: str) -> None:
    for doc in _load_all(path):
        if doc["kind"] in CRD_KINDS:
            continue
        # strict: an unknown or misspelt field is an error, as `kubectl apply` would make it.
        kubernetes_validate.validate(doc, version, strict=True)


def test_kustomization_lists_the_manifests_and_generates_the_config() -> None:
    kustomization = _kustomization()
    assert kustomization["namespace"] == NAMESPACE
    resources = kustomization["resources"]
    for resource in resources:
        assert (K8S / resource).is_file(), f"kustomization.yaml lists missing {resource}"
    # Everything else is in, except what must not be applied with every `apply -k`.
    left_out = {"secret.example.yaml", "servicemonitor.yaml"}
    assert set(resources) == {p.name for p in _manifest_files()} - left_out
    generators = kustomization["configMapGenerator"]
    assert len(generators) == 1
    assert generators[0]["files"] == ["topics.yaml"]
    volumes = _deployment()["spec"]["template"]["spec"]["volumes"]
    config_maps = [v["configMap"]["name"] for v in volumes if "configMap" in v]
    assert config_maps == [generators[0]["name"]]
    images = {image["name"] for image in kustomization["images"]}
    assert _hub_container()["image"] in images


def test_kustomize_build_renders_valid_objects_in_the_namespace() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its built-in kustomize) is not installed")
    rendered = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    docs = [doc for doc in yaml.safe_load_all(rendered) if doc]
    kinds = sorted(doc["kind"] for doc in docs)
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "Namespace",
        "PodDisruptionBudget",
        "Service",
    ]
    by_kind = {doc["kind"]: doc for doc in docs}
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSIONS[-1], strict=True)
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == NAMESPACE
    # The generated ConfigMap (name with a content hash) is the one the pods mount, and it
    # holds k8s/topics.yaml unchanged.
    config_map = by_kind["ConfigMap"]
    assert config_map["data"]["topics.yaml"] == CONFIG.read_text("utf-8")
    volumes = by_kind["Deployment"]["spec"]["template"]["spec"]["volumes"]
    assert config_map["metadata"]["name"] in {v.get("configMap", {}).get("name") for v in volumes}


# --- the deployment file ---------------------------------------------------------------


def test_config_passes_validation_with_the_schemas() -> None:
    # Fails while schemas/avro/ lacks a schema the topics name: that is the point.
    problems = validate_file(CONFIG, REPO / "schemas" / "avro")
    assert problems == [], "\n".join(str(p) for p in problems)


# Areas of the demo that only replay the sample feeds packaged with the hub (and bridge
# them): a real deployment has no use for them.
DEMO_REPLAY_AREAS = {"tampa", "city-os"}


def test_config_is_the_demo_on_a_real_cluster_and_postgresql() -> None:
    config = _config()
    demo = load_config(REPO / "topics.yaml")
    real_areas = {n: a for n, a in demo.areas.items() if n not in DEMO_REPLAY_AREAS}
    assert config.areas == real_areas
    assert config.topics.keys() == {
        n for n, t in demo.topics.items() if t.area not in DEMO_REPLAY_AREAS
    }
    for name, topic in config.topics.items():
        assert topic.schema_name == demo.topics[name].schema_name, name
        assert topic.replication_factor >= 3, f"{name}: one broker's loss would lose data"
    assert not config.uses_embedded_broker
    assert config.kafka is not None
    assert config.kafka.security_protocol == "SASL_SSL"
    assert config.kafka.sasl_username_env is not None
    assert config.kafka.sasl_password_env is not None
    # The store URL holds a password: only its variable's name may be in the file.
    assert config.hub.store.url_env is not None
    # Loopback would be unreachable for the kubelet's probes and the Service.
    assert config.hub.http.host == "0.0.0.0"


def test_every_secret_the_config_names_is_provided_to_the_container() -> None:
    raw = yaml.safe_load(CONFIG.read_text("utf-8"))
    needed = set(_env_references(raw))
    assert {"KAFKA_USERNAME", "KAFKA_PASSWORD", "TSUNAGU_STORE_URL"} <= needed
    container = _hub_container()
    provided = {var["name"] for var in container.get("env", [])}
    for source in container.get("envFrom", []):
        assert "secretRef" in source, "only Secrets are expected as envFrom sources"
        provided |= _secret_keys(source["secretRef"]["name"])
    assert needed <= provided, f"not provided to the container: {sorted(needed - provided)}"


def test_secret_is_only_an_example_outside_the_kustomization() -> None:
    secret = _one("Secret", "secret.example.yaml")
    assert secret["metadata"]["namespace"] == NAMESPACE
    assert "secret.example.yaml" not in _kustomization()["resources"]
    store_url = secret["stringData"]["TSUNAGU_STORE_URL"]
    # PostgreSQL, through the async driver the hub installs (asyncpg).
    assert async_url(store_url).startswith("postgresql+asyncpg://")


# --- the container and its probes ------------------------------------------------------


def test_container_command_is_tsunagu_up_with_the_mounted_config() -> None:
    command = _hub_container()["command"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]["scripts"]
    assert scripts[command[0]] == "hub.cli:main"
    sub = main.get_command(click.Context(main), command[1])
    assert sub is not None, f"tsunagu has no command {command[1]!r}"
    # Parsing the arguments as the CLI would: an unknown or misspelt option raises here.
    params = sub.make_context(command[1], list(command[2:])).params
    config_path = params["config_path"]
    assert isinstance(config_path, Path)
    # The file --config names is the ConfigMap's topics.yaml, mounted read-only.
    mounts = {m["name"]: m for m in _hub_container()["volumeMounts"]}
    assert Path(mounts["config"]["mountPath"]) / "topics.yaml" == config_path
    assert mounts["config"]["readOnly"] is True


def test_tsunagu_up_help_runs() -> None:
    result = CliRunner().invoke(main, ["up", "--help"])
    assert result.exit_code == 0, result.output
    assert "--config" in result.output


def test_probes_use_the_hub_routes_and_the_configured_port() -> None:
    routes = {
        route.resource.canonical
        for route in create_app(HubInfo("k:9092", "http://h/registry", "http://h")).router.routes()
        if route.method == "GET" and route.resource is not None
    }
    probes = _probes()
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["startupProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    http_port = _config().hub.http.port
    for kind, probe in probes.items():
        assert probe["path"] in routes, f"{kind} probes {probe['path']}, not a hub route"
        assert _container_port(probe["port"]) == http_port, kind
    annotations = _deployment()["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] in routes
    assert int(annotations["prometheus.io/port"]) == http_port


async def test_every_path_the_manifests_name_answers_on_a_real_server() -> None:
    monitor = _one("ServiceMonitor", "servicemonitor.yaml")
    annotations = _deployment()["spec"]["template"]["metadata"]["annotations"]
    paths = {probe["path"] for probe in _probes().values()}
    paths |= {annotations["prometheus.io/path"], monitor["spec"]["endpoints"][0]["path"]}
    app = create_app(HubInfo("k:9092", "http://h/registry", "http://h"))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        for path in sorted(paths):
            response = await client.get(path)
            assert response.status == 200, path


def test_service_and_disruption_budget_select_the_hub_pods() -> None:
    deployment = _deployment()
    assert _selects_pods(deployment["spec"]["selector"]["matchLabels"])
    service = _one("Service", "service.yaml")
    assert _selects_pods(service["spec"]["selector"])
    (port,) = service["spec"]["ports"]
    assert _container_port(port["targetPort"]) == _config().hub.http.port
    budget = _one("PodDisruptionBudget", "poddisruptionbudget.yaml")
    assert _selects_pods(budget["spec"]["selector"]["matchLabels"])
    # A budget that allows no eviction at all would block every node drain.
    assert budget["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    monitor = _one("ServiceMonitor", "servicemonitor.yaml")
    labels = service["metadata"]["labels"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert all(labels.get(k) == v for k, v in selector.items())
    assert monitor["spec"]["endpoints"][0]["port"] == port["name"]


def test_pods_scale_out_and_run_unprivileged_on_a_read_only_root() -> None:
    deployment = _deployment()
    assert deployment["spec"]["replicas"] >= 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    container = _hub_container()
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= container["resources"][kind].keys()


# --- the image -------------------------------------------------------------------------


def test_dockerfile_installs_the_package_and_runs_tsunagu_up_unprivileged() -> None:
    instructions = _dockerfile_instructions()
    bases = [args.split()[0] for word, args in instructions if word == "FROM"]
    assert bases
    assert all(base == "python:3.11-slim" for base in bases)
    runs = " ".join(args for word, args in instructions if word == "RUN")
    assert "pip install ." in runs
    # The final stage's USER is numeric and the one the pods run as.
    user = [args for word, args in instructions if word == "USER"][-1]
    pod = _deployment()["spec"]["template"]["spec"]
    assert user.split(":")[0] == str(pod["securityContext"]["runAsUser"])
    cmd = json.loads([args for word, args in instructions if word == "CMD"][-1])
    assert cmd == _hub_container()["command"]
    exposed = [args for word, args in instructions if word == "EXPOSE"]
    assert exposed == [str(_config().hub.http.port)]


def test_dockerfile_copies_only_what_its_dockerignore_lets_in() -> None:
    ignore = (K8S / "Dockerfile.dockerignore").read_text("utf-8").splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for word, args in _dockerfile_instructions():
        if word != "COPY" or args.startswith("--from"):
            continue
        *sources, _ = shlex.split(args)
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: not in the repository"
            assert source.rstrip("/") in allowed, f"COPY {source}: excluded from the context"
