"""``SimCluster``: a simulated cluster on 127.0.0.1, in-process or as ``irkit sim serve``.

    with SimCluster(load_scenario("examples/scenarios/compromised-pod.yaml")) as sim:
        subprocess.run(["kubectl", "--kubeconfig", sim.kubeconfig_path, "get", "pods", "-A"])

The server binds loopback only and the admin token is random per start, so a simulator left
running is not an open door, even to other local users without the kubeconfig (mode 0600).
Its private files (TLS key, kubeconfig, default audit log) live in a temporary folder that
``stop`` removes, unless ``keep_files`` asks to keep the audit log and kubeconfig.
"""

from __future__ import annotations

import base64
import copy
import os
import secrets
import shutil
import stat
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from irkit.errors import SimError
from irkit.model.kinds import BY_KIND, for_api_version_kind
from irkit.sim.api import ResourceApi
from irkit.sim.audit import AuditLog
from irkit.sim.controller import Controllers
from irkit.sim.faults import FaultInjector, FaultRule
from irkit.sim.logbook import LogBook, LogRule
from irkit.sim.logs import make_source
from irkit.sim.rbac import UserInfo
from irkit.sim.scenario import LogSpec, Scenario, load_scenario
from irkit.sim.seed import base_manifests
from irkit.sim.server import SimHTTPServer, SimState
from irkit.sim.store import Obj, Store
from irkit.sim.tls import ServingCert, make_serving_cert

ADMIN_USER = UserInfo("sim-admin", ("system:masters", "system:authenticated"))
PODS = BY_KIND[("", "Pod")]
NAMESPACES = BY_KIND[("", "Namespace")]
SERVICE_ACCOUNTS = BY_KIND[("", "ServiceAccount")]


class SimCluster:
    def __init__(
        self,
        scenario: Scenario | str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        audit_log: str | Path | None = None,
        kubeconfig_path: str | Path | None = None,
        seed: int | None = None,
        keep_files: bool = False,
    ) -> None:
        self.keep_files = keep_files
        if isinstance(scenario, str | Path):
            scenario = load_scenario(scenario)
        self.scenario = scenario or Scenario()
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise SimError(f"the simulator only listens on loopback, not {host!r}")
        self._host, self._port = host, port
        self._workdir = Path(tempfile.mkdtemp(prefix="irkit-sim-"))
        spec_audit = self.scenario.spec.audit_log
        if audit_log is None and spec_audit:
            audit_log = self.scenario.base_dir / spec_audit
        self.audit_log_path = Path(audit_log) if audit_log else self._workdir / "audit.log"
        self.kubeconfig_path = str(kubeconfig_path or self._workdir / "kubeconfig")
        self.admin_token = secrets.token_urlsafe(24)
        self.store = Store()
        self.controllers = Controllers(self.store)
        self.store.on_write.append(self.controllers.reconcile)
        self.logbook = LogBook()
        self.faults = FaultInjector(seed=seed)
        self.users: dict[str, UserInfo] = {self.admin_token: ADMIN_USER}
        self.tokens: dict[str, str] = {ADMIN_USER.name: self.admin_token}
        self._server: SimHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._audit: AuditLog | None = None
        self._cert: ServingCert | None = None

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> SimCluster:
        try:
            return self._start()
        except BaseException:
            self.stop()  # no key, open audit file or temp folder outlives a failed start
            raise

    def _start(self) -> SimCluster:
        self._workdir.mkdir(mode=0o700, exist_ok=True)  # again, after a failed start removed it
        self._seed()
        self._audit = AuditLog(self.audit_log_path)
        state = SimState(
            self.store, ResourceApi(self.store, self.logbook), self.users, self.faults, self._audit
        )
        self._cert = make_serving_cert(self._workdir)
        try:
            self._server = SimHTTPServer(
                (self._host, self._port), state, self._cert.server_context()
            )
        except OSError as e:
            raise SimError(
                f"cannot listen on {self._host}:{self._port}: {e.strerror or e}"
            ) from None
        # A short poll keeps stop() quick (the default 0.5 s would dominate a test suite).
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="irkit-sim",
            daemon=True,
        )
        self._thread.start()
        self.write_kubeconfig(self.kubeconfig_path)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.state.stopping.set()
            self._server.shutdown()
            self._server.close_connections()
            # Requests still finishing write their audit lines before the log is closed.
            self._server.join_handlers(timeout=2.0)
            self._server.server_close()
            self._server = None
        if self._audit is not None:
            self._audit.close()
            self._audit = None
        # The key dies with the server; the rest of the folder too, unless asked to keep it.
        for private in ("sim.key", "sim.crt"):
            (self._workdir / private).unlink(missing_ok=True)
        if not self.keep_files:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> SimCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- addresses and credentials -----------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise SimError("the simulator is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"https://{host}:{self.port}"

    @property
    def requests_served(self) -> int:
        return self._server.state.requests_served if self._server else 0

    def add_user(self, name: str, groups: tuple[str, ...] = (), token: str | None = None) -> str:
        token = token or secrets.token_urlsafe(24)
        self.users[token] = UserInfo(name, (*groups, "system:authenticated"))
        self.tokens[name] = token
        return token

    def kubeconfig(self, user: str = ADMIN_USER.name, namespace: str = "default") -> dict[str, Any]:
        if user not in self.tokens:
            raise SimError(
                f"no such simulator user: {user!r}; known: {', '.join(sorted(self.tokens))}"
            )
        contexts = [
            {
                "name": f"irkit-sim-{u}" if u != ADMIN_USER.name else "irkit-sim",
                "context": {"cluster": "irkit-sim", "user": u, "namespace": namespace},
            }
            for u in self.tokens
        ]
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "irkit-sim",
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": base64.b64encode(self.ca_pem).decode(),
                    },
                }
            ],
            "users": [{"name": u, "user": {"token": t}} for u, t in self.tokens.items()],
            "contexts": contexts,
            "current-context": "irkit-sim" if user == ADMIN_USER.name else f"irkit-sim-{user}",
        }

    def write_kubeconfig(self, path: str | Path, user: str = ADMIN_USER.name) -> str:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds bearer tokens
        if stat.S_ISREG(os.fstat(fd).st_mode):  # an existing file keeps its mode otherwise
            os.fchmod(fd, 0o600)  # (and /dev/stdout, a tty, is left alone)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            yaml.safe_dump(self.kubeconfig(user), f, sort_keys=False)
        return str(path)

    @property
    def ca_pem(self) -> bytes:
        if self._cert is None:
            raise SimError("the simulator is not running")
        return self._cert.ca_pem

    # ---- runtime faults ----------------------------------------------------------------------
    def inject(self, **rule: Any) -> FaultRule:
        """Add a fault rule at run time: ``sim.inject(resource="pods", status=429, count=3)``."""
        return self.faults.add(FaultRule(**rule))

    # ---- seeding -----------------------------------------------------------------------------
    def _seed(self) -> None:
        for user in self.scenario.spec.users:
            self.add_user(user.name, tuple(user.groups), user.token)
        for rule in self.scenario.faults:
            self.faults.add(copy.deepcopy(rule))
        manifests = self.scenario.manifests
        has_nodes = any(m.get("kind") == "Node" for m in manifests)
        ordered = sorted(
            [*base_manifests(has_nodes), *manifests],
            # Namespaces hold everything; Nodes must exist before pods are placed on them.
            key=lambda m: {"Namespace": 0, "Node": 1}.get(str(m.get("kind")), 2),
        )
        for manifest in ordered:
            rt = for_api_version_kind(manifest["apiVersion"], manifest["kind"])
            if rt is None:  # checked when the scenario was loaded
                raise SimError(f"unsupported manifest kind {manifest['kind']}")
            ns = manifest["metadata"].get("namespace", "default") if rt.namespaced else ""
            if rt is NAMESPACES and self.store.find(rt, "", manifest["metadata"]["name"]):
                continue
            try:
                self.store.create(rt, ns, manifest)
            except Exception as e:
                raise SimError(
                    f"scenario {self.scenario.path}: cannot create {manifest['kind']} "
                    f"{ns + '/' if ns else ''}{manifest['metadata']['name']}: {e}"
                ) from None
        started = datetime.now(UTC) - timedelta(hours=1)
        for i, spec in enumerate(self.scenario.spec.logs):
            self._seed_log(i, spec, started)

    def _seed_log(self, index: int, spec: LogSpec, started: datetime) -> None:
        raw: dict[str, Any] = {
            k: v for k, v in (("text", spec.text), ("file", spec.file)) if v is not None
        }
        if spec.generate is not None:
            raw["generate"] = spec.generate.model_dump(exclude_none=True)
        raw["interval"] = spec.interval
        seed = f"{self.scenario.spec.seed}/{index}"
        try:
            source = make_source(raw, start=started, seed=seed, base_dir=self.scenario.base_dir)
        except ValueError as e:
            raise SimError(f"scenario {self.scenario.path}: logs[{index}]: {e}") from None
        pods = self._pods_for(spec)
        names = [p["metadata"]["name"] for p in pods] if spec.workload else [spec.pod or "*"]
        for pod_name in names:
            self.logbook.add(
                LogRule(spec.namespace, pod_name, spec.container, spec.previous, source)
            )
        if spec.previous:
            for pod in pods:
                self._mark_restarted(pod, spec)

    def _pods_for(self, spec: LogSpec) -> list[Obj]:
        import fnmatch

        pods = self.store.objects(PODS, spec.namespace)
        if spec.pod is not None:
            return [p for p in pods if fnmatch.fnmatchcase(p["metadata"]["name"], spec.pod)]
        kind, _, name = (spec.workload or "").partition("/")
        owned = [p for p in pods if _owned_by_workload(self.store, p, kind, name)]
        owned.sort(key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"]))
        if spec.replica is None:
            return owned
        if spec.replica >= len(owned):
            raise SimError(
                f"scenario {self.scenario.path}: logs for {spec.workload} replica {spec.replica}, "
                f"but it has {len(owned)} pods"
            )
        return [owned[spec.replica]]

    def _mark_restarted(self, pod: Obj, spec: LogSpec) -> None:
        """A container with a previous log has restarted: its status says so, like the kubelet."""
        import fnmatch

        def change(o: Obj) -> Obj:
            for cs in o.get("status", {}).get("containerStatuses", []):
                if fnmatch.fnmatchcase(cs["name"], spec.container):
                    cs["restartCount"] = spec.restarts
                    running_since = cs.get("state", {}).get("running", {}).get("startedAt")
                    cs["lastState"] = {
                        "terminated": {
                            "exitCode": 137,
                            "reason": "OOMKilled" if spec.restarts > 2 else "Error",
                            "startedAt": o["metadata"]["creationTimestamp"],
                            "finishedAt": running_since or o["metadata"]["creationTimestamp"],
                            "containerID": cs.get("containerID", ""),
                        }
                    }
            return o

        self.store.update(
            PODS, pod["metadata"]["namespace"], pod["metadata"]["name"], change, part="status"
        )
        self.store.record_event(
            pod,
            "BackOff",
            f"Back-off restarting failed container {spec.container} "
            f"in pod {pod['metadata']['name']}",
            kind_type="Warning",
            component="kubelet",
        )


def _owned_by_workload(store: Store, pod: Obj, kind: str, name: str) -> bool:
    refs = pod["metadata"].get("ownerReferences") or []
    for ref in refs:
        if ref.get("kind", "").lower() == kind and ref.get("name") == name:
            return True
        if kind == "deployment" and ref.get("kind") == "ReplicaSet":
            rs = store.find(
                BY_KIND[("apps", "ReplicaSet")], pod["metadata"]["namespace"], ref["name"]
            )
            owners = (rs or {}).get("metadata", {}).get("ownerReferences") or []
            if any(o.get("kind") == "Deployment" and o.get("name") == name for o in owners):
                return True
    return False


def serve_forever(sim: SimCluster, stop: threading.Event) -> None:
    with sim:
        stop.wait()
