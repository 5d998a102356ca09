"""The subresources and special resources of the simulated apiserver: ``scale``, ``pods/log`` and
SelfSubjectAccessReview.

Its own module because each is a small API of its own (a Scale object, a log stream, an access
review) beside the plain verbs on objects in ``irkit.sim.api``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from irkit.model.kinds import BY_KIND
from irkit.sim import status
from irkit.sim.logbook import LogBook, default_log
from irkit.sim.logstream import LogOptions, stream_log
from irkit.sim.protobuf import ProtobufError, decode_access_review
from irkit.sim.rbac import RbacObjects, self_subject_access_review
from irkit.sim.request import PROTOBUF, Reply, Request, content_type, json_body, patcher
from irkit.sim.routing import Target
from irkit.sim.store import Obj, Store

PODS = BY_KIND[("", "Pod")]
ROLES = BY_KIND[("rbac.authorization.k8s.io", "Role")]
CLUSTER_ROLES = BY_KIND[("rbac.authorization.k8s.io", "ClusterRole")]
ROLE_BINDINGS = BY_KIND[("rbac.authorization.k8s.io", "RoleBinding")]
CLUSTER_ROLE_BINDINGS = BY_KIND[("rbac.authorization.k8s.io", "ClusterRoleBinding")]


def rbac_objects(store: Store) -> RbacObjects:
    return RbacObjects(
        roles=store.objects(ROLES),
        cluster_roles=store.objects(CLUSTER_ROLES),
        role_bindings=store.objects(ROLE_BINDINGS),
        cluster_role_bindings=store.objects(CLUSTER_ROLE_BINDINGS),
    )


def scale(store: Store, req: Request, t: Target) -> Reply:
    """``.../scale``: read or set a workload's replicas through an autoscaling/v1 Scale."""
    method = req.method.upper()
    if method == "GET":
        return Reply(200, _to_scale(store.get(t.rt, t.namespace, t.name)))
    if method not in ("PUT", "PATCH"):
        raise status.method_not_allowed()
    current = _to_scale(store.get(t.rt, t.namespace, t.name))
    if method == "PUT":
        wanted = json_body(req)
        sent_rv = (wanted.get("metadata") or {}).get("resourceVersion")
        if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
            raise status.conflict(t.rt, t.name)
    else:
        wanted = patcher(req, "Scale")(current)
    replicas = (wanted.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise status.invalid(
            t.rt,
            t.name,
            "spec.replicas",
            f"Invalid value: {replicas!r}: must be a non-negative integer",
        )

    def change(obj: Obj) -> Obj:
        obj.setdefault("spec", {})["replicas"] = replicas
        return obj

    updated = store.update(t.rt, t.namespace, t.name, change, req.dry_run)
    return Reply(200, _to_scale(updated))


def log(store: Store, logbook: LogBook, req: Request, t: Target) -> Reply:
    """``pods/{name}/log``: choose the container and its source, stream it as asked."""
    if req.method.upper() != "GET":
        raise status.method_not_allowed()
    pod = store.get(PODS, t.namespace, t.name)
    containers = _all_containers(pod)
    container = req.param("container")
    if not container:
        if len(pod["spec"].get("containers", [])) != 1:
            names = " ".join(c["name"] for c in pod["spec"].get("containers", []))
            raise status.bad_request(
                f"a container name must be specified for pod {t.name}, choose one of: [{names}]"
            )
        container = pod["spec"]["containers"][0]["name"]
    if container not in containers:
        raise status.bad_request(f"container {container} is not valid for pod {t.name}")
    previous = req.param("previous") in ("1", "true", "True")
    source = logbook.find(t.namespace, t.name, container, previous)
    if source is None and previous:
        raise status.bad_request(
            f'previous terminated container "{container}" in pod "{t.name}" not found'
        )
    if source is None:
        started = datetime.fromisoformat(
            pod["metadata"]["creationTimestamp"].replace("Z", "+00:00")
        )
        source = default_log(t.name, container, containers[container], started)
    try:
        options = LogOptions.from_query(req.query)
    except ValueError as e:
        raise status.bad_request(str(e)) from e
    return Reply(
        200, stream=stream_log(source, options, datetime.now(UTC)), content_type="text/plain"
    )


def access_review(store: Store, req: Request) -> Reply:
    """A SelfSubjectAccessReview (JSON or protobuf): may the caller do this?"""
    if req.method.upper() != "POST":
        raise status.method_not_allowed()
    if content_type(req) == PROTOBUF:
        try:
            review = decode_access_review(req.body)
        except ProtobufError as e:
            raise status.bad_request(f"error decoding protobuf SelfSubjectAccessReview: {e}") from e
    else:
        review = json_body(req)
    spec = review.get("spec") or {}
    try:
        review["status"] = self_subject_access_review(req.user, spec, rbac_objects(store))
    except ValueError as e:
        raise status.invalid(
            BY_KIND[("authorization.k8s.io", "SelfSubjectAccessReview")], "", "spec", str(e)
        ) from e
    review.setdefault("metadata", {})["creationTimestamp"] = None
    review["apiVersion"], review["kind"] = "authorization.k8s.io/v1", "SelfSubjectAccessReview"
    return Reply(201, review)


def _to_scale(obj: Obj) -> Obj:
    meta = obj["metadata"]
    sel = (obj.get("spec") or {}).get("selector") or {}
    selector = ",".join(f"{k}={v}" for k, v in (sel.get("matchLabels") or {}).items())
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
        "status": {"replicas": (obj.get("status") or {}).get("replicas", 0), "selector": selector},
    }


def _all_containers(pod: Obj) -> dict[str, str]:
    spec = pod.get("spec", {})
    return {
        c["name"]: c.get("image", "")
        for key in ("initContainers", "containers", "ephemeralContainers")
        for c in spec.get(key) or []
    }
