"""The REST semantics of one resource request: verbs on collections and objects (and status).

Input is a parsed request and the authenticated user; output is a ``Reply`` (JSON or a byte
stream). HTTP framing, authentication, audit and faults are the handler's job
(``irkit.sim.handler``); requests and replies are ``irkit.sim.request``, and scale, logs and
access reviews ``irkit.sim.subresources``.
"""

from __future__ import annotations

import json
import re
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
from irkit.sim import status, subresources, tables
from irkit.sim.logbook import LogBook
from irkit.sim.request import Reply, Request, json_body, patcher
from irkit.sim.routing import Target
from irkit.sim.store import Obj, Store

PODS = BY_KIND[("", "Pod")]
FIELDS_BY_KIND = {"Pod": POD_FIELDS, "Event": EVENT_FIELDS}


class ResourceApi:
    def __init__(self, store: Store, logbook: LogBook) -> None:
        self.store = store
        self.logbook = logbook

    def handle(self, req: Request, t: Target) -> Reply:
        if t.subresource == "log":
            return subresources.log(self.store, self.logbook, req, t)
        if t.subresource == "scale":
            return subresources.scale(self.store, req, t)
        if t.rt.kind == "SelfSubjectAccessReview":
            return subresources.access_review(self.store, req)
        method = req.method.upper()
        if t.is_collection:
            if method == "GET":
                return self._list(req, t)
            if method == "POST":
                if t.rt.namespaced and not t.namespace:
                    # Upstream serves no cluster-wide create for namespaced types.
                    raise status.method_not_allowed()
                obj = self.store.create(t.rt, t.namespace, json_body(req), req.dry_run)
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
                self.store.replace(t.rt, t.namespace, t.name, json_body(req), req.dry_run, part),
            )
        if method == "PATCH":
            change = _precondition(patcher(req, t.rt.kind), t)
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


# ---- helpers -------------------------------------------------------------------------------------
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
