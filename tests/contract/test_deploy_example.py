"""examples/deploy: the hardened deployment of irkit serve, checked as far as we can here.

Every manifest passes ``kubectl apply --dry-run=server`` against the simulated cluster (which
stores nothing), and the hardening is asserted on what the server answered. The sim checks
kinds, namespaces and names but not every field of a Deployment's schema, so each manifest is
also walked against the official client's models (the Kubernetes OpenAPI types): a misspelt
field such as ``readOnlyRootFilesytem`` (which a lenient server would drop) fails here. The RBAC
manifest must be exactly what ``irkit rbac`` prints; the Dockerfile, the Alertmanager receiver
(``amtool check-config``) and the Falcosidekick config are checked against the manifests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from irkit.sim import SimCluster

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "examples" / "deploy"
MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
KUBECTL = shutil.which("kubectl")
AMTOOL = shutil.which("amtool")
NAMESPACE = "irkit"
SERVICE_URL = "http://irkit.irkit.svc:8080"
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def every_document() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in documents(path)]


def one(kind: str) -> dict[str, Any]:
    [found] = [doc for doc in every_document() if doc["kind"] == kind]
    return found


def kubectl(sim: SimCluster, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [str(KUBECTL), "--kubeconfig", sim.kubeconfig_path, "--cache-dir", str(cache), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def dry_run(empty_sim: SimCluster, tmp_path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Every object as the server answered ``kubectl apply --dry-run=server`` (the namespace is
    dry-run first, then created for real: the others need it to exist), by (kind, name)."""
    ns = kubectl(empty_sim, tmp_path, "apply", "--dry-run=server", "-f", str(MANIFESTS[0]))
    assert ns.returncode == 0, ns.stderr
    assert ns.stdout.strip() == "namespace/irkit created (server dry run)"
    assert kubectl(empty_sim, tmp_path, "apply", "-f", str(MANIFESTS[0])).returncode == 0
    done = kubectl(
        empty_sim, tmp_path, "apply", "--dry-run=server", "-f", str(DEPLOY / "kubernetes"), "-o",
        "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answered = json.loads(done.stdout)["items"]
    left = kubectl(empty_sim, tmp_path, "get", "deployments,services,networkpolicies", "-A")
    assert "irkit" not in left.stdout, "a server dry run stored something"
    return {(o["kind"], o["metadata"]["name"]): o for o in answered}


@needs_kubectl
def test_every_manifest_passes_a_server_dry_run(dry_run: dict[tuple[str, str], Any]) -> None:
    kinds = sorted({kind for kind, _ in dry_run})
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Namespace",
        "NetworkPolicy",
        "Service",
        "ServiceAccount",
    ]
    assert len(dry_run) == len(every_document())


@needs_kubectl
def test_deployment_is_hardened(dry_run: dict[tuple[str, str], Any]) -> None:
    pod = dry_run[("Deployment", "irkit")]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod.get("hostNetwork", False) is False and pod.get("hostPID", False) is False
    [container] = pod["containers"]
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["privileged"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}


@needs_kubectl
def test_deployment_probes_volumes_and_token(dry_run: dict[tuple[str, str], Any]) -> None:
    pod = dry_run[("Deployment", "irkit")]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    args = container["args"]
    assert args[0] == "serve"
    [port] = container["ports"]
    assert _flag(args, "--listen") == f"0.0.0.0:{port['containerPort']}"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    # the root filesystem is read-only: every path irkit writes is an emptyDir
    for path in (_flag(args, "--state"), "/tmp"):
        assert "emptyDir" in volumes[mounts[path]["name"]], path
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["IRKIT_HOME"] == _flag(args, "--state")
    # the token: a Secret's key mounted read-only as a file, passed with --token-file
    token_file = Path(_flag(args, "--token-file"))
    mount = mounts[str(token_file.parent)]
    assert mount["readOnly"] is True
    secret = volumes[mount["name"]]["secret"]
    approver_file = Path(_flag(args, "--approver-token-file"))
    assert approver_file.parent == token_file.parent  # one Secret, two different tokens
    assert secret["items"] == [
        {"key": "token", "path": token_file.name},
        {"key": "approver-token", "path": approver_file.name},
    ]
    assert secret["defaultMode"] & 0o007 == 0, "the token file is not world-readable"
    assert not any("TOKEN" in e["name"] for e in container["env"])
    # the API token only where it is used: the pod asks for it, the account does not hand it out
    assert pod["automountServiceAccountToken"] is True
    account = dry_run[("ServiceAccount", pod["serviceAccountName"])]
    assert account["automountServiceAccountToken"] is False
    assert account["metadata"]["namespace"] == NAMESPACE


@needs_kubectl
def test_network_policy_admits_only_alertmanager_and_falcosidekick(
    dry_run: dict[tuple[str, str], Any],
) -> None:
    policy = dry_run[("NetworkPolicy", "irkit")]["spec"]
    deployment = dry_run[("Deployment", "irkit")]
    assert policy["podSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    [ingress] = policy["ingress"]
    peers = {
        (p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
         p["podSelector"]["matchLabels"]["app.kubernetes.io/name"])
        for p in ingress["from"]
    }  # fmt: skip
    # one peer = namespace AND pod label; no ipBlock, no bare namespace or pod selector
    assert all(set(p) == {"namespaceSelector", "podSelector"} for p in ingress["from"])
    assert peers == {("monitoring", "alertmanager"), ("falco", "falcosidekick")}
    [port] = deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert ingress["ports"] == [{"protocol": "TCP", "port": port["containerPort"]}]
    api_server, dns = policy["egress"]
    assert [set(p) for p in api_server["to"]] == [{"ipBlock"}]
    assert {p["port"] for p in api_server["ports"]} == {443, 6443}
    [dns_peer] = dns["to"]
    assert dns_peer["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}


@needs_kubectl
def test_service_reaches_the_webhook_port(dry_run: dict[tuple[str, str], Any]) -> None:
    service = dry_run[("Service", "irkit")]["spec"]
    deployment = dry_run[("Deployment", "irkit")]["spec"]
    assert service["selector"] == deployment["selector"]["matchLabels"]
    [port] = service["ports"]
    [container_port] = deployment["template"]["spec"]["containers"][0]["ports"]
    assert port["targetPort"] == container_port["name"]
    assert f"http://irkit.{NAMESPACE}.svc:{port['port']}" == SERVICE_URL


def test_rbac_manifest_is_what_irkit_rbac_prints() -> None:
    generator = _generator()
    assert generator.OUT.read_text() == generator.render(), (
        "examples/deploy/kubernetes/20-rbac.yaml differs from irkit rbac: run make deploy-rbac"
    )
    routed = {path.stem for path in generator.routed_runbooks()}
    assert routed, "no shipped runbook has a match block"
    bindings = [doc for doc in documents(generator.OUT) if doc["kind"].endswith("Binding")]
    assert {b["metadata"]["name"] for b in bindings} == {f"irkit-{name}" for name in routed}
    pod = one("Deployment")["spec"]["template"]["spec"]
    for binding in bindings:
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": pod["serviceAccountName"], "namespace": NAMESPACE}
        ]


def test_rbac_check_fails_on_drift(tmp_path: Path) -> None:
    generator = _generator()
    generator.OUT = tmp_path / "20-rbac.yaml"
    generator.OUT.write_text(generator.render().replace("verbs: [get, list", "verbs: [get", 1))
    assert generator.main(["--check"]) == 1
    generator.OUT.write_text(generator.render())
    assert generator.main(["--check"]) == 0


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_fields_are_in_the_kubernetes_schema(path: Path) -> None:
    for doc in documents(path):
        assert unknown_fields(doc, f"V1{doc['kind']}", doc["kind"]) == []


def test_schema_walk_finds_a_misspelt_field() -> None:
    deployment = json.loads(json.dumps(one("Deployment")))
    security = deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    security["readOnlyRootFilesytem"] = security.pop("readOnlyRootFilesystem")
    assert unknown_fields(deployment, "V1Deployment", "Deployment") == [
        "Deployment.spec.template.spec.containers[0].securityContext.readOnlyRootFilesytem"
    ]


def unknown_fields(value: Any, type_name: str, where: str) -> list[str]:
    """Paths in ``value`` that the official client's model ``type_name`` has no field for."""
    if found := re.fullmatch(r"(?:list|List)\[(.+)\]", type_name):
        return [
            bad
            for i, item in enumerate(value)
            for bad in unknown_fields(item, found.group(1), f"{where}[{i}]")
        ]
    if found := re.fullmatch(r"(?:dict|Dict)\(str, (.+)\)|Dict\[str, (.+)\]", type_name):
        inner = found.group(1) or found.group(2)
        return [b for k, v in value.items() for b in unknown_fields(v, inner, f"{where}.{k}")]
    model = getattr(client, type_name, None)
    if model is None:  # str, int, bool, object (int-or-string), datetime
        return []
    assert isinstance(value, dict), f"{where}: expected an object ({type_name})"
    fields = {json_name: attr for attr, json_name in model.attribute_map.items()}
    bad: list[str] = []
    for key, item in value.items():
        if key not in fields:
            bad.append(f"{where}.{key}")
        else:
            bad += unknown_fields(item, model.openapi_types[fields[key]], f"{where}.{key}")
    return bad


def test_dockerfile_is_hardened() -> None:
    lines = _instructions(DEPLOY / "Dockerfile")
    bases = [args.split()[0] for op, args in lines if op == "FROM"]
    assert bases, "no FROM"
    for base in bases:  # an exact version tag or a digest, never latest or a moving minor
        assert "@sha256:" in base or re.search(r":\d+\.\d+\.\d+[-\w.]*$", base), base
    users = [args for op, args in lines if op == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[-1]), "last USER: numeric, non-root"
    installs = [args for op, args in lines if op == "RUN" and "pip install" in args]
    assert installs and all("-c constraints.txt" in args for args in installs)
    entry = [json.loads(args) for op, args in lines if op == "ENTRYPOINT"]
    assert entry and entry[-1][0].startswith("/"), "exec form, no shell"
    assert not [op for op, _ in lines if op in ("HEALTHCHECK", "ADD")]
    run_stage = lines[max(i for i, (op, _) in enumerate(lines) if op == "FROM") :]
    assert not [args for op, args in run_stage if op == "RUN"], "nothing run in the final image"


def _instructions(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            op, _, args = line.strip().partition(" ")
            out.append((op.upper(), args.strip()))
    return out


@pytest.mark.skipif(AMTOOL is None, reason="amtool (Debian's prometheus-alertmanager) is missing")
def test_alertmanager_receiver_is_valid_and_points_at_irkit() -> None:
    path = DEPLOY / "alertmanager.yml"
    checked = subprocess.run(
        [str(AMTOOL), "check-config", str(path)], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    receivers = {r["name"]: r for r in yaml.safe_load(path.read_text())["receivers"]}
    [webhook] = receivers["irkit"]["webhook_configs"]
    assert webhook["url"] == f"{SERVICE_URL}/v1/alerts/alertmanager"
    assert webhook["send_resolved"] is True
    auth = webhook["http_config"]["authorization"]
    assert auth["type"] == "Bearer" and set(auth) == {"type", "credentials_file"}


def test_falcosidekick_sends_to_irkit_with_the_token_header() -> None:
    config = yaml.safe_load((DEPLOY / "falcosidekick.yaml").read_text())
    assert config["webhook"]["address"] == f"{SERVICE_URL}/v1/alerts/falco"
    assert list(config["webhook"]["customHeaders"]) == ["X-Irkit-Token"]
    text = (DEPLOY / "falcosidekick.yaml").read_text()
    assert f"WEBHOOK_ADDRESS={SERVICE_URL}/v1/alerts/falco" in text
    assert 'WEBHOOK_CUSTOMHEADERS="X-Irkit-Token:' in text


def _flag(args: list[str], name: str) -> str:
    return str(args[args.index(name) + 1])


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("generate_rbac", DEPLOY / "generate_rbac.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_token_file_as_the_kubelet_mounts_it_is_accepted(tmp_path: Path) -> None:
    from irkit.server.auth import load_token

    pod = one("Deployment")["spec"]["template"]["spec"]
    mode = pod["volumes"][-1]["secret"]["defaultMode"] | 0o440  # the kubelet's fsGroup mask
    # the kubelet's AtomicWriter: the key in a timestamped folder, reached through ..data
    data = tmp_path / "..2026_12_04_17_00_00.000000001"
    data.mkdir()
    (data / "token").write_text("a-token-from-the-secret-0123456789\n")
    (data / "token").chmod(mode)
    (tmp_path / "..data").symlink_to(data.name)
    (tmp_path / "token").symlink_to("..data/token")
    assert load_token({}, tmp_path / "token") == "a-token-from-the-secret-0123456789"


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
@pytest.mark.parametrize(("owner", "mode", "ok"), [
    (0, 0o440, True), (0, 0o640, True), (65534, 0o600, True),
    (65534, 0o640, False), (0, 0o460, False), (0, 0o444, False), (0, 0o604, False),
])  # fmt: skip
def test_a_group_may_read_a_token_file_only_when_root_owns_it(
    tmp_path: Path, owner: int, mode: int, ok: bool
) -> None:
    from irkit.errors import UsageError
    from irkit.server.auth import load_token

    token = tmp_path / "token"
    token.write_text("a-token-from-the-secret-0123456789\n")
    os.chown(token, owner, 0)
    token.chmod(mode)
    if ok:
        assert load_token({}, token) == "a-token-from-the-secret-0123456789"
    else:
        with pytest.raises(UsageError, match="readable by group or others"):
            load_token({}, token)
