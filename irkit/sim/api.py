"""The REST semantics of one resource request: verbs on collections, objects and subresources.

Input is a parsed request and the authenticated user; output is a ``Reply`` (JSON or a byte
stream). HTTP framing, authentication, audit and faults are the server's job (``server.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from irkit.model.kinds import BY_KIND, ResourceType
from irkit.model.selectors import (
    COMMON_FIELDS,
    EVENT_FIELDS,
    POD_FIELDS,
    FieldSelector,
    LabelSelector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from irkit.sim import patch as patches
from irkit.sim import status, tables
from irkit.sim.logbook import LogBook, default_log
from irkit.sim.logstream import LogOptions, stream_log
from irkit.sim.protobuf import ProtobufError, decode_access_review
from irkit.sim.rbac import RbacObjects, UserInfo, self_subject_access_review
from irkit.sim.routing import Target
from irkit.sim.store import Obj, Store
from irkit.sim.watch import Watch

PODS = BY_KIND[("", "Pod")]
ROLES = BY_KIND[("rbac.authorization.k8s.io", "Role")]
CLUSTER_ROLES = BY_KIND[("rbac.authorization.k8s.io", "ClusterRole")]
ROLE_BINDINGS = BY_KIND[("rbac.authorization.k8s.io", "RoleBinding")]
CLUSTER_ROLE_BINDINGS = BY_KIND[("rbac.authorization.k8s.io", "ClusterRoleBinding")]
MAX_BODY = 3 * 1024 * 1024
FIELDS_BY_KIND = {"Pod": POD_FIELDS, "Event": EVENT_FIELDS}
PROTOBUF = "application/vnd.kubernetes.protobuf"
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    user: UserInfo

    def param(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default

    @property
    def dry_run(self) -> bool:
        """True for ``dryRun=All``; any other value is a 400, as upstream (never a real write)."""
        values = list(self.query.get("dryRun", []))
        # kubectl sends a DELETE's dry run inside the DeleteOptions body, not the query.
        if self.method.upper() == "DELETE" and self.body:
            try:
                options = json.loads(self.body)
            except (ValueError, UnicodeDecodeError):
                options = None
            sent = options.get("dryRun") if isinstance(options, dict) else None
            if isinstance(sent, list):
                values += sent
            elif sent:
                values.append(sent)
        for value in values:
            if value != "All":
                raise status.bad_request(
                    f'dryRun: Unsupported value: {json.dumps(str(value))}: supported values: "All"'
                )
        return bool(values)


@dataclass
class Reply:
    code: int
    body: Any = None  # JSON-able, or None when ``stream`` is set
    stream: Iterator[bytes] | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    watch: Watch | None = None


def rbac_objects(store: Store) -> RbacObjects:
    return RbacObjects(
        roles=store.objects(ROLES),
        cluster_roles=store.objects(CLUSTER_ROLES),
        role_bindings=store.objects(ROLE_BINDINGS),
        cluster_role_bindings=store.objects(CLUSTER_ROLE_BINDINGS),
    )


class ResourceApi:
    def __init__(self, store: Store, logbook: LogBook) -> None:
        self.store = store
        self.logbook = logbook

    def handle(self, req: Request, t: Target) -> Reply:
        if t.subresource == "log":
            return self._log(req, t)
        if t.subresource == "scale":
            return self._scale(req, t)
        if t.rt.kind == "SelfSubjectAccessReview":
            return self._ssar(req)
        method = req.method.upper()
        if t.is_collection:
            if method == "GET":
                return self._list(req, t)
            if method == "POST":
                if t.rt.namespaced and not t.namespace:
                    # Upstream serves no cluster-wide create for namespaced types.
                    raise status.method_not_allowed()
                obj = self.store.create(t.rt, t.namespace, _json_body(req), req.dry_run)
                return Reply(201, obj)
            if method == "DELETE":
                return self._delete_collection(req, t)
            raise status.method_not_allowed()
        part = "status" if t.subresource == "status" else ""
        if method == "GET":
            obj = self.store.get(t.rt, t.namespace, t.name)
            if tables.wants_table(req.headers.get("accept", "")) and not part:
                meta = {"resourceVersion": obj["metadata"]["resourceVersion"]}
                return Reply(200, tables.to_table(t.rt, [obj], meta))
            return Reply(200, obj)
        if method == "PUT":
            return Reply(
                200,
                self.store.replace(t.rt, t.namespace, t.name, _json_body(req), req.dry_run, part),
            )
        if method == "PATCH":
            change = _precondition(_patcher(req, t.rt.kind), t)
            return Reply(
                200, self.store.update(t.rt, t.namespace, t.name, change, req.dry_run, part)
            )
        if method == "DELETE":
            obj = self.store.delete(t.rt, t.namespace, t.name, _propagation(req), req.dry_run)
            if t.rt is PODS:
                return Reply(200, obj)
            return Reply(200, _success(t, obj))
        raise status.method_not_allowed()

    # ---- collections -------------------------------------------------------------------------
    def _list(self, req: Request, t: Target) -> Reply:
        labels, fields = _selectors(req, t.rt)
        ns = t.namespace or None
        if req.param("watch") in ("1", "true", "True"):
            timeout = req.param("timeoutSeconds")
            # Checked here: once the watch stream has started, a 400 can no longer be sent.
            if timeout and re.fullmatch(r"[+-]?[0-9]+", timeout) is None:
                raise status.bad_request(
                    f'timeoutSeconds: Invalid value: "{timeout}": must be an integer'
                )
            rv = req.param("resourceVersion")
            w = self.store.watch(t.rt, ns, labels, fields, send_initial=rv in ("", "0"))
            return Reply(200, watch=w)
        limit = int(req.param("limit") or 0) if req.param("limit").isdigit() else None
        items, rv, cont = self.store.list_page(
            t.rt, ns, labels, fields, limit, req.param("continue") or None
        )
        meta: dict[str, Any] = {"resourceVersion": rv}
        if cont:
            meta["continue"] = cont
        if tables.wants_table(req.headers.get("accept", "")):
            return Reply(200, tables.to_table(t.rt, items, meta))
        # A real apiserver leaves kind/apiVersion off list items.
        bare = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in items]
        return Reply(
            200,
            {
                "kind": f"{t.rt.kind}List",
                "apiVersion": t.rt.group_version,
                "metadata": meta,
                "items": bare,
            },
        )

    def _delete_collection(self, req: Request, t: Target) -> Reply:
        labels, fields = _selectors(req, t.rt)
        dry_run, propagation = req.dry_run, _propagation(req)  # a bad value fails before any write
        with self.store.lock:
            items = self.store.objects(t.rt, t.namespace or None, labels, fields)
            for obj in items:
                meta = obj["metadata"]
                if self.store.find(t.rt, meta.get("namespace", ""), meta["name"]) is not None:
                    self.store.delete(
                        t.rt,
                        meta.get("namespace", ""),
                        meta["name"],
                        propagation,
                        dry_run,
                    )
        bare = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in items]
        return Reply(
            200,
            {
                "kind": f"{t.rt.kind}List",
                "apiVersion": t.rt.group_version,
                "metadata": {"resourceVersion": self.store.resource_version},
                "items": bare,
            },
        )

    # ---- subresources ------------------------------------------------------------------------
    def _scale(self, req: Request, t: Target) -> Reply:
        method = req.method.upper()
        if method == "GET":
            return Reply(200, _to_scale(self.store.get(t.rt, t.namespace, t.name)))
        if method not in ("PUT", "PATCH"):
            raise status.method_not_allowed()
        current = _to_scale(self.store.get(t.rt, t.namespace, t.name))
        if method == "PUT":
            wanted = _json_body(req)
            sent_rv = (wanted.get("metadata") or {}).get("resourceVersion")
            if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
                raise status.conflict(t.rt, t.name)
        else:
            wanted = _patcher(req, "Scale")(current)
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

        updated = self.store.update(t.rt, t.namespace, t.name, change, req.dry_run)
        return Reply(200, _to_scale(updated))

    def _log(self, req: Request, t: Target) -> Reply:
        if req.method.upper() != "GET":
            raise status.method_not_allowed()
        pod = self.store.get(PODS, t.namespace, t.name)
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
        source = self.logbook.find(t.namespace, t.name, container, previous)
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

    def _ssar(self, req: Request) -> Reply:
        if req.method.upper() != "POST":
            raise status.method_not_allowed()
        if _content_type(req) == PROTOBUF:
            try:
                review = decode_access_review(req.body)
            except ProtobufError as e:
                raise status.bad_request(
                    f"error decoding protobuf SelfSubjectAccessReview: {e}"
                ) from e
        else:
            review = _json_body(req)
        spec = review.get("spec") or {}
        try:
            review["status"] = self_subject_access_review(req.user, spec, rbac_objects(self.store))
        except ValueError as e:
            raise status.invalid(
                BY_KIND[("authorization.k8s.io", "SelfSubjectAccessReview")], "", "spec", str(e)
            ) from e
        review.setdefault("metadata", {})["creationTimestamp"] = None
        review["apiVersion"], review["kind"] = "authorization.k8s.io/v1", "SelfSubjectAccessReview"
        return Reply(201, review)


# ---- helpers -------------------------------------------------------------------------------------
def _content_type(req: Request) -> str:
    return req.headers.get("content-type", "").split(";")[0].strip().lower()


def _json_body(req: Request) -> Obj:
    if _content_type(req) == PROTOBUF:
        raise status.ApiError(
            415,
            "UnsupportedMediaType",
            "the irkit simulator reads JSON request bodies only (protobuf just for access "
            "reviews): write the object to a file and use kubectl create -f or apply -f",
        )
    if len(req.body) > MAX_BODY:
        raise status.ApiError(
            413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728"
        )
    try:
        data = json.loads(req.body or b"null")
    except (ValueError, UnicodeDecodeError) as e:
        raise status.bad_request(f"error decoding request body: invalid JSON: {e}") from e
    if not isinstance(data, dict):
        raise status.bad_request("error decoding request body: the body must be a JSON object")
    return data


def _precondition(change: Any, t: Target) -> Any:
    """A patch that sets ``metadata.resourceVersion`` makes it a precondition, as upstream."""

    def checked(obj: Obj) -> Obj:
        current = obj["metadata"].get("resourceVersion")
        result: Obj = change(obj)
        meta = result.get("metadata") if isinstance(result, dict) else None
        sent = meta.get("resourceVersion") if isinstance(meta, dict) else None
        if sent and sent != current:
            raise status.conflict(t.rt, t.name)
        return result

    return checked


def _patcher(req: Request, kind: str) -> Any:
    ctype = req.headers.get("content-type", "").split(";")[0].strip()
    kind_of_patch = PATCH_TYPES.get(ctype)
    if kind_of_patch is None:
        raise status.unsupported_media_type(ctype)
    try:
        body = json.loads(req.body or b"null")
    except (ValueError, UnicodeDecodeError) as e:
        raise status.bad_request(f"error decoding patch: invalid JSON: {e}") from e

    def change(obj: Obj) -> Obj:
        try:
            if kind_of_patch == "json":
                return patches.json_patch(obj, body)  # type: ignore[no-any-return]
            if kind_of_patch == "merge":
                return patches.json_merge_patch(obj, body)  # type: ignore[no-any-return]
            return patches.strategic_merge_patch(obj, body, kind=kind)  # type: ignore[no-any-return]
        except patches.PatchError as e:
            raise status.ApiError(422, "Invalid", f"the patch could not be applied: {e}") from e

    return change


def _selectors(req: Request, rt: ResourceType) -> tuple[LabelSelector | None, FieldSelector | None]:
    allowed = FIELDS_BY_KIND.get(rt.kind, COMMON_FIELDS)
    label_text, field_text = req.param("labelSelector"), req.param("fieldSelector")
    try:
        labels = parse_label_selector(label_text) if label_text else None
        fields = parse_field_selector(field_text, allowed) if field_text else None
    except SelectorError as e:
        raise status.bad_request(str(e)) from e
    return labels, fields


def _propagation(req: Request) -> str:
    policy = req.param("propagationPolicy")
    if req.body:
        try:
            opts = json.loads(req.body)
            policy = opts.get("propagationPolicy") or policy
            if opts.get("orphanDependents") is True:
                policy = "Orphan"
        except (ValueError, AttributeError):
            raise status.bad_request("error decoding DeleteOptions") from None
    if policy and policy not in ("Background", "Foreground", "Orphan"):
        raise status.bad_request(f"propagationPolicy {policy!r} is not supported")
    return policy or "Background"


def _success(t: Target, obj: Obj) -> Obj:
    details: dict[str, Any] = {
        "name": t.name,
        "kind": t.rt.plural,
        "uid": obj["metadata"].get("uid"),
    }
    if t.rt.group:
        details["group"] = t.rt.group
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }


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
