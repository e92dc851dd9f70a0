"""deploy/: the Dockerfile, compose, Kubernetes manifests and systemd units agree with the code.

There is no container engine, cluster or systemd where these tests run (deploy/README.md
says so): every file is parsed and checked against the code's own facts — the CLI parser,
``load_config``, the dev PKI's agencies and ports, the server's grace period. The two
pieces of code the files carry, compose's PKI step and the health check one-liner, are run
for real against a dev PKI, a gateway and a gRPC health server.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from concurrent import futures
from functools import cache
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from borderx.cli import build_parser
from borderx.config import FederationConfig, GatewayConfig, load_config
from borderx.identity.devpki import DEFAULT_AGENCIES, DEFAULT_BASE_PORT
from borderx.server.app import GRACE_SECONDS
from tests.conftest import creds_for
from tests.unit.deploy_helpers import (
    DEPLOY,
    K8S,
    ROOT,
    Instruction,
    dockerfile_args,
    k8s_object,
    k8s_objects,
    parse_dockerfile,
    parse_unit,
    port_of,
    substitute,
    yaml_documents,
)

GRPC_PORT = DEFAULT_BASE_PORT  # 50051: the dev PKI's first gateway, and every container's port
HEALTH_PORT, METRICS_PORT = 8081, 9090
UID = 10001
CONFIG_PATH = "/etc/borderx/gateway.toml"
STORE_DIR = "/var/lib/borderx"
UNITS = ("borderx-gateway.service", "borderx-gateway@.service")


# ---- shared parsing ------------------------------------------------------------------


@cache
def dockerfile() -> tuple[Instruction, ...]:
    return tuple(parse_dockerfile((DEPLOY / "Dockerfile").read_text()))


def final_stage(keyword: str) -> list[Instruction]:
    last = max(i.stage for i in dockerfile())
    return [i for i in dockerfile() if i.keyword == keyword and i.stage == last]


def one(keyword: str) -> Instruction:
    found = final_stage(keyword)
    assert len(found) == 1, f"expected one {keyword} in the final stage, found {len(found)}"
    return found[0]


def entrypoint() -> list[str]:
    command = one("ENTRYPOINT").exec_form()
    assert command is not None, "ENTRYPOINT must be exec form, so SIGTERM reaches borderx as PID 1"
    return command


def healthcheck_command() -> list[str]:
    command = one("HEALTHCHECK").exec_form()
    assert command is not None
    return command


@cache
def compose() -> dict[str, Any]:
    (doc,) = yaml_documents(DEPLOY / "compose.yaml")
    return dict(doc)


def gateway_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose()["services"].items() if "pki" in s.get("depends_on", {})}


def parse_cli(argv: list[str]) -> Any:
    """Parse ``argv`` (after the program name) with the real ``borderx`` parser."""
    try:
        return build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse reports a usage error this way
        pytest.fail(f"borderx {shlex.join(argv)} does not parse (exit {exc.code})")


def container() -> dict[str, Any]:
    (gateway,) = k8s_object("Deployment")["spec"]["template"]["spec"]["containers"]
    return dict(gateway)


def configmap_config(tmp_path: Path) -> GatewayConfig:
    text = k8s_object("ConfigMap")["data"]["gateway.toml"]
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return load_config(path)


# ---- Dockerfile ----------------------------------------------------------------------


def test_dockerfile_is_multi_stage_on_a_pinned_slim_python() -> None:
    variables = dockerfile_args(list(dockerfile()))
    froms = [substitute(i.args, variables).split() for i in dockerfile() if i.keyword == "FROM"]
    assert len(froms) >= 2
    for words in froms:
        # a version tag and the image digest (the tag alone can be re-pointed)
        assert re.fullmatch(r"python:3\.1[12]\.\d+-slim(-[a-z]+)?@sha256:[0-9a-f]{64}", words[0]), words
    assert {w[0] for w in froms} == {froms[0][0]}, "both stages must share one interpreter"
    build_runs = " ".join(i.args for i in dockerfile() if i.keyword == "RUN" and i.stage == 0)
    assert "pip wheel" in build_runs
    install = " ".join(i.args for i in final_stage("RUN"))
    assert "python -m venv /opt/borderx" in install
    assert "--no-index" in install and "/opt/borderx/bin/pip install" in install


def test_dockerfile_build_context_is_the_repository_root() -> None:
    """COPY sources exist relative to the repo root: `docker build -f deploy/Dockerfile .`."""
    sources = [
        word
        for ins in dockerfile()
        if ins.keyword == "COPY" and "--from" not in ins.args
        for word in ins.args.split()[:-1]
    ]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository root"
    assert re.search(
        r"docker build -f deploy/Dockerfile( \S+)* \.$", (DEPLOY / "Dockerfile").read_text(), re.M
    )


def test_dockerfile_runs_as_a_fixed_non_root_user_without_login() -> None:
    assert one("USER").args == f"{UID}:{UID}"  # numeric, so runAsNonRoot can verify it
    setup = " ".join(i.args for i in final_stage("RUN"))
    assert f"groupadd --system --gid {UID} borderx" in setup
    assert re.search(rf"useradd --system --uid {UID} --gid {UID} .*--shell /usr/sbin/nologin borderx", setup)
    assert f"install -d -o {UID} -g {UID}" in setup and STORE_DIR in setup
    assert one("WORKDIR").args == STORE_DIR
    assert one("VOLUME").exec_form() == [STORE_DIR]


def test_dockerfile_exposes_grpc_health_and_metrics() -> None:
    assert {int(p) for p in one("EXPOSE").args.split()} == {GRPC_PORT, HEALTH_PORT, METRICS_PORT}


def test_dockerfile_entrypoint_is_the_serve_command() -> None:
    command = entrypoint()
    cmd = one("CMD").exec_form()
    assert cmd is not None
    assert command == ["borderx", "serve"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts[command[0]] == "borderx.cli:main"
    args = parse_cli([*command[1:], *cmd])
    assert args.command == "serve"
    assert args.config == Path(CONFIG_PATH)
    assert one("STOPSIGNAL").args == "SIGTERM"
    assert "/opt/borderx/bin" in substitute(one("ENV").args, {"PATH": "/usr/bin"})


def test_environment_names_are_ones_something_reads() -> None:
    """Deploy files set only PATH, PYTHON* and PIP_*; a BORDERX_* name must be read in src/."""
    names = {m for ins in dockerfile() if ins.keyword == "ENV" for m in re.findall(r"(\w+)=", ins.args)}
    for unit in UNITS:
        for value in parse_unit((DEPLOY / "systemd" / unit).read_text())["Service"].get("Environment", []):
            names |= set(re.findall(r"(\w+)=", value))
    for service in compose()["services"].values():
        names |= set(service.get("environment", {}))
    names |= {e["name"] for e in container().get("env", [])}
    src = "\n".join(p.read_text() for p in (ROOT / "src" / "borderx").rglob("*.py"))
    for name in names:
        assert name == "PATH" or name.startswith(("PYTHON", "PIP_")) or name in src, name


def test_healthcheck_uses_grpc_health_on_the_plaintext_port() -> None:
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"]
    assert f"127.0.0.1:{HEALTH_PORT}" in command[2]
    flags = one("HEALTHCHECK").flags()
    assert {"interval", "timeout", "start-period", "retries"} <= set(flags)
    assert compose()["x-gateway"]["healthcheck"]["test"] == ["CMD", *command]


@pytest.fixture
def health_server() -> Iterator[tuple[int, health.HealthServicer]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port, servicer
    server.stop(None)


def run_healthcheck(port: int) -> int:
    """Run the HEALTHCHECK one-liner as `python -c` would, aimed at ``port``; its exit status."""
    code = healthcheck_command()[2]
    assert code.count(f"'127.0.0.1:{HEALTH_PORT}'") == 1
    code = code.replace(f"'127.0.0.1:{HEALTH_PORT}'", f"'127.0.0.1:{port}'")
    try:
        exec(compile(code, "<healthcheck>", "exec"), {"__name__": "__main__"})
    except SystemExit as exc:
        return 0 if exc.code in (None, False, 0) else 1
    except grpc.RpcError:
        return 1  # `python -c` exits 1 on an uncaught exception
    return 0


def test_healthcheck_one_liner_exits_by_serving_status(
    health_server: tuple[int, health.HealthServicer],
) -> None:
    port, servicer = health_server
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    assert run_healthcheck(port) == 0
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)  # what SIGTERM does first
    assert run_healthcheck(port) == 1


def test_healthcheck_one_liner_fails_when_nothing_listens() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    server.stop(None).wait()
    assert run_healthcheck(port) == 1


# ---- compose -------------------------------------------------------------------------


def test_compose_runs_the_dev_pki_agencies_on_their_ports_in_order() -> None:
    services = gateway_services()
    assert list(services) == [a.lower() for a in DEFAULT_AGENCIES]
    for index, (agency, (name, service)) in enumerate(zip(DEFAULT_AGENCIES, services.items(), strict=True)):
        published = DEFAULT_BASE_PORT + index  # the endpoint the dev directory lists
        assert service["ports"] == [f"127.0.0.1:{published}:{GRPC_PORT}"], name
        assert service["depends_on"]["pki"] == {"condition": "service_completed_successfully"}
        assert service["healthcheck"]["test"][0] == "CMD"
        volumes = dict(reversed(v.split(":", 1)) for v in service["volumes"])
        assert volumes[STORE_DIR] == f"{name}-store", "each gateway keeps its own store volume"
        assert volumes["/etc/borderx/pki:ro"] == "pki"
        assert f"{name}-store" in compose()["volumes"]
        args = parse_cli([*entrypoint()[1:], *service["command"]])
        assert args.config == Path(f"/etc/borderx/pki/{agency}/gateway.toml")
        assert service.get("entrypoint") is None, "gateways run the image's `borderx serve`"
    assert published == 50055


def test_compose_pki_step_makes_the_pki_once_and_fits_it_to_containers() -> None:
    pki = compose()["services"]["pki"]
    (script,) = pki["command"]
    assert pki["entrypoint"] == ["/bin/sh", "-ec"]
    mounts = dict(v.split(":", 1) for v in pki["volumes"])
    assert mounts["pki"] == STORE_DIR  # an image folder owned by uid 10001
    init = next(line.strip() for line in script.splitlines() if line.strip().startswith("borderx pki init"))
    args = parse_cli(shlex.split(init)[1:])
    assert args.command == "pki" and args.out == Path(STORE_DIR)
    assert f"-e {STORE_DIR}/directory.json" in script, "a second `up` keeps the PKI it made"
    (step,) = [line.split() for line in script.splitlines() if "containerize_pki.py" in line]
    host = next(src for src, dst in mounts.items() if dst.removesuffix(":ro") == step[1])
    assert (DEPLOY / host).resolve() == DEPLOY / "compose" / "containerize_pki.py"
    assert step[2] == STORE_DIR
    assert compose()["x-image"]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}


@cache
def containerize_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "containerize_pki", DEPLOY / "compose" / "containerize_pki.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def compose_pki(pki: Path, tmp_path: Path) -> Path:
    """The session's dev PKI, copied and fitted to compose as its `pki` service does."""
    out = tmp_path / "pki"
    shutil.copytree(pki, out)
    assert containerize_module().main([str(out)]) == 0
    return out


def test_containerized_configs_listen_for_containers_and_name_peers_by_service(compose_pki: Path) -> None:
    assert containerize_module().GRPC_PORT == GRPC_PORT
    for agency in DEFAULT_AGENCIES:
        config = load_config(compose_pki / agency / "gateway.toml")
        assert config.listen == f"0.0.0.0:{GRPC_PORT}"
        assert config.observability.health_listen == f"0.0.0.0:{HEALTH_PORT}"
        assert config.observability.metrics_listen == f"0.0.0.0:{METRICS_PORT}"
        assert config.store_url == f"sqlite:///{STORE_DIR}/{agency.lower()}.db"
        assert config.federation.endpoints == {
            other: f"{other.lower()}:{GRPC_PORT}" for other in DEFAULT_AGENCIES if other != agency
        }
        assert set(config.federation.endpoints.values()) <= {
            f"{name}:{GRPC_PORT}" for name in gateway_services()
        }


def test_containerized_certificates_add_the_service_name_and_keep_key_and_identity(
    pki: Path, compose_pki: Path
) -> None:
    for agency in DEFAULT_AGENCIES:
        old = x509.load_pem_x509_certificate((pki / agency / "gateway.pem").read_bytes())
        new = x509.load_pem_x509_certificate((compose_pki / agency / "gateway.pem").read_bytes())
        ca = x509.load_pem_x509_certificate((compose_pki / agency / "ca.pem").read_bytes())
        new.verify_directly_issued_by(ca)
        key = serialization.load_pem_private_key((compose_pki / agency / "gateway.key").read_bytes(), None)
        assert new.public_key() == key.public_key() == old.public_key()
        old_san = old.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        new_san = new.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert new_san.get_values_for_type(x509.DNSName) == ["localhost", agency.lower()]
        assert new_san.get_values_for_type(x509.UniformResourceIdentifier) == (
            old_san.get_values_for_type(x509.UniformResourceIdentifier)
        )
        assert new.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == (
            old.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        )


def test_containerize_is_idempotent(compose_pki: Path) -> None:
    before = {p: p.read_bytes() for p in compose_pki.rglob("*") if p.is_file()}
    assert containerize_module().main([str(compose_pki)]) == 0
    assert {p: p.read_bytes() for p in compose_pki.rglob("*") if p.is_file()} == before


def test_containerized_gateway_passes_hostname_checks_by_service_name(
    compose_pki: Path, tmp_path: Path, start_gateway: Callable[..., Any]
) -> None:
    """A partner dialing `au-abf:50051` verifies the name; the dev certificate alone would fail."""
    config = load_config(compose_pki / "AU-ABF" / "gateway.toml").with_overrides(
        listen="127.0.0.1:0", store_url=f"sqlite:///{tmp_path / 'au-abf.db'}"
    )
    gateway = start_gateway(config=dataclasses.replace(config, federation=FederationConfig(enabled=False)))
    creds = creds_for(compose_pki, "US-CBP", "gateway", server_agency="AU-ABF")

    def check(name: str) -> grpc.StatusCode:
        tls = grpc.ssl_channel_credentials(
            root_certificates=creds.ca, private_key=creds.key, certificate_chain=creds.cert
        )
        options = [("grpc.ssl_target_name_override", name)]
        with grpc.secure_channel(f"127.0.0.1:{gateway.port}", tls, options=options) as ch:
            try:
                health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
            except grpc.RpcError as exc:
                return exc.code()  # type: ignore[no-any-return]
            return grpc.StatusCode.OK

    assert check("au-abf") == grpc.StatusCode.OK
    assert check("nz-cs") == grpc.StatusCode.UNAVAILABLE  # another agency's name: refused


# ---- Kubernetes ----------------------------------------------------------------------


def test_kustomization_lists_every_manifest_in_the_namespace() -> None:
    (kustomization,) = yaml_documents(K8S / "kustomization.yaml")
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    assert len(kustomization["resources"]) == len(files)
    assert kustomization["namespace"] == "borderx"
    kinds = {doc["kind"] for _, doc in k8s_objects()}
    assert kinds == {
        "Namespace",
        "ConfigMap",
        "Secret",
        "PersistentVolumeClaim",
        "Deployment",
        "Service",
        "NetworkPolicy",
        "PodDisruptionBudget",
    }


def test_every_k8s_object_is_in_the_borderx_namespace() -> None:
    for path, doc in k8s_objects():
        if doc["kind"] == "Namespace":
            assert doc["metadata"]["name"] == "borderx"
        else:
            assert doc["metadata"]["namespace"] == "borderx", path.name


def test_k8s_selectors_match_the_pod_labels() -> None:
    deployment = k8s_object("Deployment")
    selector = deployment["spec"]["selector"]["matchLabels"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert k8s_object("Service")["spec"]["selector"] == selector
    assert k8s_object("PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    assert k8s_object("NetworkPolicy")["spec"]["podSelector"]["matchLabels"] == selector
    for _, doc in k8s_objects():
        if doc["kind"] != "Namespace":
            assert selector.items() <= doc["metadata"]["labels"].items(), doc["kind"]


def test_configmap_toml_loads_and_its_ports_match_container_service_and_probes(tmp_path: Path) -> None:
    config = configmap_config(tmp_path)
    assert config.listen == f"0.0.0.0:{GRPC_PORT}"
    health_port = port_of(config.observability.health_listen)
    metrics_port = port_of(config.observability.metrics_listen)
    assert (health_port, metrics_port) == (HEALTH_PORT, METRICS_PORT)
    ports = {p["name"]: p["containerPort"] for p in container()["ports"]}
    assert ports == {"grpc": port_of(config.listen), "health": health_port, "metrics": metrics_port}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container()[probe]["grpc"] == {"port": health_port}, probe
    service = {p["name"]: p for p in k8s_object("Service")["spec"]["ports"]}
    assert service["grpc"]["port"] == GRPC_PORT and service["grpc"]["targetPort"] == "grpc"
    assert service["metrics"]["port"] == METRICS_PORT and service["metrics"]["targetPort"] == "metrics"
    assert "health" not in service, "health is for the kubelet, not for the Service"


def test_every_file_the_config_names_is_mounted_from_the_secret_or_pvc(tmp_path: Path) -> None:
    config = configmap_config(tmp_path)
    pod = k8s_object("Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in container()["volumeMounts"]}
    secret = k8s_object("Secret")
    secret_keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
    assert secret_keys == {"gateway.pem", "gateway.key", "signing.key", "directory.json"}
    assert config.signing_key is not None
    for path in (config.tls_cert, config.tls_key, config.signing_key, config.directory_path):
        mount = mounts[str(path.parent)]
        assert mount["readOnly"] is True
        source = volumes[mount["name"]]["secret"]
        assert source["secretName"] == secret["metadata"]["name"]
        items = {i["path"]: i["key"] for i in source["items"]}
        assert items[path.name] in secret_keys, path
    # the config file itself: ConfigMap key → the path the image's CMD names
    config_mount = mounts[CONFIG_PATH]
    assert config_mount["subPath"] == "gateway.toml"
    configmap = volumes[config_mount["name"]]["configMap"]
    assert configmap["name"] == k8s_object("ConfigMap")["metadata"]["name"]
    args = parse_cli([*entrypoint()[1:], *container()["args"]])
    assert args.config == Path(CONFIG_PATH)
    # the store on the PVC, the only writable place besides /tmp
    store = PurePosixPath(config.store_url.removeprefix("sqlite:///"))
    store_mount = mounts[str(store.parent)]
    claim = volumes[store_mount["name"]]["persistentVolumeClaim"]["claimName"]
    assert claim == k8s_object("PersistentVolumeClaim")["metadata"]["name"]
    assert store.parent == PurePosixPath(one("WORKDIR").args)
    writable = {m["mountPath"] for m in mounts.values() if not m.get("readOnly")}
    assert writable == {STORE_DIR, "/tmp"}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]


def test_pod_runs_non_root_and_unprivileged_as_the_image_user() -> None:
    pod = k8s_object("Deployment")["spec"]["template"]["spec"]
    image_uid = int(one("USER").args.split(":")[0])
    for context in (pod["securityContext"], container()["securityContext"]):
        assert context["runAsNonRoot"] is True
        assert context["runAsUser"] == image_uid == UID
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    ctx = container()["securityContext"]
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["fsGroup"] == UID
    assert pod["automountServiceAccountToken"] is False
    assert {"requests", "limits"} <= set(container()["resources"])


def test_deployment_is_one_replica_on_sqlite_and_outlives_the_grace_period(tmp_path: Path) -> None:
    deployment = k8s_object("Deployment")
    assert configmap_config(tmp_path).store_url.startswith("sqlite:///")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > GRACE_SECONDS
    assert k8s_object("PersistentVolumeClaim")["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_network_policy_admits_grpc_health_and_monitoring_only() -> None:
    spec = k8s_object("NetworkPolicy")["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    ingress = {port["port"]: rule for rule in spec["ingress"] for port in rule["ports"]}
    assert set(ingress) == {GRPC_PORT, HEALTH_PORT, METRICS_PORT}
    (monitoring,) = ingress[METRICS_PORT]["from"]
    assert monitoring["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
    egress = {(p["port"], p.get("protocol", "TCP")) for rule in spec["egress"] for p in rule["ports"]}
    assert {(53, "UDP"), (53, "TCP"), (443, "TCP"), (GRPC_PORT, "TCP")} <= egress


def test_secret_is_an_opaque_placeholder_with_instructions() -> None:
    secret = k8s_object("Secret")
    assert secret["type"] == "Opaque"
    assert all(v.startswith("PLACEHOLDER") for v in secret["stringData"].values())
    text = (K8S / "secret.yaml").read_text()
    for key in secret["stringData"]:
        assert f"--from-file={key}=" in text, key


# ---- systemd -------------------------------------------------------------------------

HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "CapabilityBoundingSet": "",
    "Restart": "on-failure",
    "KillSignal": "SIGTERM",
    "User": "borderx",
    "ExecReload": "/bin/kill -HUP $MAINPID",
}


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_unit_is_hardened(unit: str) -> None:
    service = parse_unit((DEPLOY / "systemd" / unit).read_text())["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == [value], f"{unit}: {key}={service.get(key)}"
    assert "@system-service" in service["SystemCallFilter"]
    assert float(service["TimeoutStopSec"][0]) > GRACE_SECONDS


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_unit_runs_serve_from_the_venv_with_its_state_writable(unit: str) -> None:
    sections = parse_unit((DEPLOY / "systemd" / unit).read_text())
    service = {k: v[0] for k, v in sections["Service"].items()}
    instance = "us-cbp"
    expand: Callable[[str], str] = lambda s: s.replace("%i", instance)  # noqa: E731
    argv = shlex.split(expand(service["ExecStart"]))
    assert argv[0] == "/opt/borderx/bin/borderx"  # the Dockerfile's venv, same layout
    args = parse_cli(argv[1:])
    assert args.command == "serve" and str(args.config).startswith("/etc/borderx/")
    state = f"/var/lib/{expand(service['StateDirectory'])}"
    assert expand(service["ReadWritePaths"]) == expand(service["WorkingDirectory"]) == state
    assert state.startswith(STORE_DIR)
    assert sections["Install"]["WantedBy"] == ["multi-user.target"]


def test_systemd_units_differ_only_by_instance() -> None:
    single = parse_unit((DEPLOY / "systemd" / UNITS[0]).read_text())["Service"]
    template = parse_unit((DEPLOY / "systemd" / UNITS[1]).read_text())["Service"]
    differ = {k for k in single.keys() | template.keys() if single.get(k) != template.get(k)}
    assert differ == {"ExecStart", "StateDirectory", "WorkingDirectory", "ReadWritePaths"}
    assert all("%i" in template[k][0] for k in differ)


def systemd_analyze() -> str | None:
    """``systemd-analyze`` ≥ 252 (for ``security --offline``), when installed; None otherwise."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        return None
    version = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=30, check=False)
    match = re.match(r"systemd (\d+)", version.stdout)
    return tool if match and int(match.group(1)) >= 252 else None


@pytest.mark.skipif(systemd_analyze() is None, reason="needs systemd-analyze 252 or later")
@pytest.mark.parametrize("unit", UNITS)
def test_systemd_analyze_accepts_the_unit_and_rates_it_ok(unit: str, tmp_path: Path) -> None:
    """systemd's own parser: no unknown key or bad value; exposure at most 2.0 ("OK")."""
    tool = systemd_analyze()
    assert tool is not None
    path = tmp_path / unit.replace("@.", "@us-cbp.")  # a template is checked as an instance
    shutil.copyfile(DEPLOY / "systemd" / unit, path)
    verify = subprocess.run(
        [tool, "verify", "--man=no", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    complaints = [
        line
        for line in (verify.stdout + verify.stderr).splitlines()
        if "/opt/borderx/bin/borderx is not executable" not in line  # not installed here
    ]
    assert complaints == []
    security = subprocess.run(
        [tool, "security", "--offline=yes", "--threshold=20", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert security.returncode == 0, security.stdout[-3000:]


# ---- README --------------------------------------------------------------------------


def test_readme_names_every_file_and_says_files_are_parsed_not_run() -> None:
    text = (DEPLOY / "README.md").read_text()
    assert "no container engine" in text.lower()
    assert "tests/unit/test_deploy.py" in text
    for path in DEPLOY.rglob("*"):
        if path.is_file() and path.name != "README.md" and path.parent.name != "k8s":
            assert path.name in text, path
