"""The simulated cluster's object store: an in-memory etcd with apiserver semantics.

Every write goes through here, so the rules a client can observe live in one place: server-set
uid/resourceVersion/creationTimestamp/generation, AlreadyExists/NotFound/Conflict, dry runs,
owner-reference cascade on delete, label and field selectors, paging; open watches are
``irkit.sim.watch``.

Stored objects are never mutated in place: a write stores a fresh copy, so readers may hold and
serialise a reference without copying while other threads write.
"""

from __future__ import annotations

import base64
import bisect
import copy
import itertools
import json
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from irkit.model.kinds import BY_KIND, ResourceType
from irkit.model.selectors import FieldSelector, LabelSelector
from irkit.sim import status
from irkit.sim.admission import admit
from irkit.sim.watch import Watch, Watches

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name); namespace is "" for cluster-scoped objects

NAMESPACES = BY_KIND[("", "Namespace")]
EVENTS = BY_KIND[("", "Event")]


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    """Thread-safe object store. ``on_write`` runs (under the lock) after every stored change."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock or (lambda: datetime.now(UTC))
        self._objects: dict[tuple[str, str], dict[Key, Obj]] = {}
        # Each bucket's keys, kept sorted on every write (bisect), so a page of a list costs
        # O(log n + page) instead of sorting the whole bucket again for every page.
        self._sorted: dict[tuple[str, str], list[Key]] = {}
        self._rv = itertools.count(1000)
        self._last_rv = 1000
        self._watches = Watches()
        self.on_write: list[Callable[[], None]] = []
        self._in_hooks = False

    # ---- reads -------------------------------------------------------------------------------
    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        with self.lock:
            obj = self._objects.get(rt.key, {}).get((namespace if rt.namespaced else "", name))
        if obj is None:
            raise status.not_found(rt, name)
        return obj

    def find(self, rt: ResourceType, namespace: str, name: str) -> Obj | None:
        with self.lock:
            return self._objects.get(rt.key, {}).get((namespace if rt.namespaced else "", name))

    def objects(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        labels: LabelSelector | None = None,
        fields: FieldSelector | None = None,
    ) -> list[Obj]:
        with self.lock:
            objs = list(self._walk(rt, namespace, None))
        if labels is not None:
            objs = [o for o in objs if labels.matches(o["metadata"].get("labels") or {})]
        if fields is not None:
            objs = [o for o in objs if fields.matches(o)]
        return objs

    def list_page(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: LabelSelector | None,
        fields: FieldSelector | None,
        limit: int | None,
        continue_token: str | None,
    ) -> tuple[list[Obj], str, str | None]:
        """A page of a list, the list's resourceVersion, and the token for the next page."""
        # Like etcd3's, the token holds the last key served, not an offset: objects created or
        # deleted before it between two pages neither repeat nor skip an item.
        after = _decode_continue(continue_token) if continue_token else None
        wanted = limit if limit is not None and limit > 0 else None
        page: list[Obj] = []
        more = False
        with self.lock:
            rv = str(self._last_rv)
            for obj in self._walk(rt, namespace, after):
                if labels is not None and not labels.matches(obj["metadata"].get("labels") or {}):
                    continue
                if fields is not None and not fields.matches(obj):
                    continue
                if wanted is not None and len(page) == wanted:
                    more = True  # one match past the page: there is a next page
                    break
                page.append(obj)
        return page, rv, _encode_continue(_key_of(page[-1])) if more else None

    def _walk(self, rt: ResourceType, namespace: str | None, after: Key | None) -> Iterator[Obj]:
        """The bucket's objects in key order, from just after ``after``; call under the lock."""
        keys = self._sorted.get(rt.key, [])
        bucket = self._objects.get(rt.key, {})
        start = bisect.bisect_right(keys, after) if after is not None else 0
        if namespace:
            start = max(start, bisect.bisect_left(keys, (namespace, "")))
        for i in range(start, len(keys)):
            key = keys[i]
            if namespace and key[0] != namespace:
                return
            yield bucket[key]

    @property
    def resource_version(self) -> str:
        return str(self._last_rv)

    # ---- writes ------------------------------------------------------------------------------
    def create(self, rt: ResourceType, namespace: str, obj: Obj, dry_run: bool = False) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise status.bad_request("metadata must be an object")
        with self.lock:
            admit(rt, namespace, obj)
            key = (meta.get("namespace", ""), meta["name"])
            if key in self._objects.get(rt.key, {}):
                raise status.already_exists(rt, meta["name"])
            if rt.namespaced and not self.find(NAMESPACES, "", key[0]):
                raise status.not_found(NAMESPACES, key[0])
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = rfc3339(self.clock())
            meta["generation"] = 1
            meta.pop("deletionTimestamp", None)
            if dry_run:
                meta["resourceVersion"] = str(self._last_rv)
                return obj
            self._store(rt, key, obj, "ADDED")
        return obj

    def replace(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        obj: Obj,
        dry_run: bool = False,
        part: str = "",
    ) -> Obj:
        """PUT: check resourceVersion, keep server-owned fields; ``part="status"``: status only."""
        obj = copy.deepcopy(obj)
        with self.lock:
            old = self.get(rt, namespace, name)
            meta = obj.setdefault("metadata", {})
            sent_rv = meta.get("resourceVersion")
            if sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
                raise status.conflict(rt, name)
            if meta.get("name", name) != name:
                raise status.bad_request(
                    f"the name of the object ({meta.get('name')}) does not match "
                    f"the name on the URL ({name})"
                )
            new = self._merge_parts(rt, old, obj, part)
            if dry_run:
                return new
            self._store(rt, (new["metadata"].get("namespace", ""), name), new, "MODIFIED")
        return new

    def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        change: Callable[[Obj], Obj],
        dry_run: bool = False,
        part: str = "",
    ) -> Obj:
        """Read, apply ``change`` to a copy, write; atomic (patches and controllers use it)."""
        with self.lock:
            old = self.get(rt, namespace, name)
            changed = change(copy.deepcopy(old))
            if not isinstance(changed, dict) or not isinstance(changed.get("metadata", {}), dict):
                raise status.bad_request("the patch produced something that is not an object")
            changed.setdefault("metadata", {})["resourceVersion"] = old["metadata"][
                "resourceVersion"
            ]
            return self.replace(rt, namespace, name, changed, dry_run, part)

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        propagation: str = "Background",
        dry_run: bool = False,
    ) -> Obj:
        with self.lock:
            obj = self.get(rt, namespace, name)
            if dry_run:
                return obj
            self._delete_tree(rt, obj, propagation)
            self._run_hooks()
        return obj

    def record_event(
        self,
        involved: Obj,
        reason: str,
        message: str,
        kind_type: str = "Normal",
        component: str = "irkit-sim",
    ) -> None:
        """Write a core/v1 Event about ``involved``, as controllers and the kubelet do."""
        meta = involved["metadata"]
        namespace = meta.get("namespace") or "default"
        now = rfc3339(self.clock())
        event: Obj = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{secrets.token_hex(8)}", "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion", "v1"),
                "kind": involved.get("kind", ""),
                "name": meta["name"],
                "namespace": meta.get("namespace", ""),
                "uid": meta.get("uid", ""),
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message,
            "type": kind_type,
            "source": {"component": component},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "eventTime": None,
            "count": 1,
            "reportingComponent": component,
            "reportingInstance": "",
        }
        if self.find(NAMESPACES, "", namespace) is not None:
            self.create(EVENTS, namespace, event)

    # ---- watches -----------------------------------------------------------------------------
    def watch(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: LabelSelector | None,
        fields: FieldSelector | None,
        send_initial: bool,
    ) -> Watch:
        w = Watch(rt, namespace, labels, fields)
        with self.lock:
            initial = self.objects(rt, namespace, labels, fields) if send_initial else []
            return self._watches.open(w, initial)

    def stop_watch(self, w: Watch) -> None:
        with self.lock:
            self._watches.close(w)

    def iter_all(self) -> Iterator[tuple[tuple[str, str], Obj]]:
        with self.lock:
            snapshot = [(k, o) for k, bucket in self._objects.items() for o in bucket.values()]
        yield from snapshot

    # ---- internals ---------------------------------------------------------------------------
    def _merge_parts(self, rt: ResourceType, old: Obj, new: Obj, part: str) -> Obj:
        if part == "status":
            merged = copy.deepcopy(old)
            merged["status"] = new.get("status", {})
        else:
            merged = new
            if "status" in rt.subresources and "status" in old:
                merged["status"] = copy.deepcopy(old["status"])
            merged["apiVersion"], merged["kind"] = rt.group_version, rt.kind
        meta, old_meta = merged["metadata"], old["metadata"]
        for owned in ("uid", "creationTimestamp", "name", "namespace", "generation"):
            if owned in old_meta:
                meta[owned] = old_meta[owned]
            else:
                meta.pop(owned, None)
        if part != "status" and _spec(merged) != _spec(old):
            meta["generation"] = old_meta.get("generation", 1) + 1
        return merged

    def _store(self, rt: ResourceType, key: Key, obj: Obj, event: str) -> None:
        self._last_rv = next(self._rv)
        obj["metadata"]["resourceVersion"] = str(self._last_rv)
        bucket = self._objects.setdefault(rt.key, {})
        if key not in bucket:
            bisect.insort(self._sorted.setdefault(rt.key, []), key)
        bucket[key] = obj
        self._watches.notify(rt, event, obj)
        self._run_hooks()

    def _delete_tree(self, rt: ResourceType, obj: Obj, propagation: str) -> None:
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        if self._objects.get(rt.key, {}).pop(key, None) is None:
            return
        keys = self._sorted[rt.key]
        del keys[bisect.bisect_left(keys, key)]
        self._last_rv = next(self._rv)
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = str(self._last_rv)
        gone["metadata"]["deletionTimestamp"] = rfc3339(self.clock())
        self._watches.notify(rt, "DELETED", gone)
        if rt.key == NAMESPACES.key:
            for dep_rt, dep in self._in_namespace(meta["name"]):
                self._delete_tree(dep_rt, dep, "Background")
            return
        for dep_rt, dep in self._dependents(meta.get("uid", "")):
            if propagation == "Orphan":
                self._orphan(dep_rt, dep, meta["uid"])
            else:
                self._delete_tree(dep_rt, dep, propagation)

    def _dependents(self, uid: str) -> list[tuple[ResourceType, Obj]]:
        out = []
        for rt_key, bucket in self._objects.items():
            for obj in list(bucket.values()):
                refs = obj["metadata"].get("ownerReferences") or []
                if any(r.get("uid") == uid for r in refs):
                    out.append((_rt_for(rt_key), obj))
        return out

    def _in_namespace(self, namespace: str) -> list[tuple[ResourceType, Obj]]:
        return [
            (_rt_for(rt_key), obj)
            for rt_key, bucket in self._objects.items()
            for (ns, _), obj in list(bucket.items())
            if ns == namespace
        ]

    def _orphan(self, rt: ResourceType, obj: Obj, owner_uid: str) -> None:
        new = copy.deepcopy(obj)
        refs = [r for r in new["metadata"].get("ownerReferences", []) if r.get("uid") != owner_uid]
        new["metadata"]["ownerReferences"] = refs
        if not refs:  # Go's omitempty: an emptied list is not served at all
            del new["metadata"]["ownerReferences"]
        self._store(
            rt, (new["metadata"].get("namespace", ""), new["metadata"]["name"]), new, "MODIFIED"
        )

    def _run_hooks(self) -> None:
        # Controllers write through the store too; the flag keeps them from re-entering themselves.
        if self._in_hooks:
            return
        self._in_hooks = True
        try:
            for hook in self.on_write:
                hook()
        finally:
            self._in_hooks = False


def _spec(obj: Obj) -> Any:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _rt_for(rt_key: tuple[str, str]) -> ResourceType:
    from irkit.model.kinds import RESOURCE_TYPES

    return next(rt for rt in RESOURCE_TYPES if rt.key == rt_key)


def _key_of(obj: Obj) -> Key:
    return (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def _encode_continue(after: Key) -> str:
    return base64.urlsafe_b64encode(json.dumps({"start": list(after)}).encode()).decode()


def _decode_continue(token: str) -> Key:
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["start"]
    except (ValueError, KeyError, TypeError) as e:
        raise status.bad_request(f"continue key is not valid: {e}") from e
    if not (isinstance(after, list) and len(after) == 2 and all(isinstance(k, str) for k in after)):
        raise status.bad_request("continue key is not valid")
    return (after[0], after[1])
