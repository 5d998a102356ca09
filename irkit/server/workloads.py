"""The workload lock key of a new job: what it acts on, as its TOP controller owner.

Two responses must never act on one workload at once, yet a response waiting hours for an
approval must not hold up the containment of every other pod of its namespace. So the key is
exact and canonical: ``NAMESPACE/KIND/NAME`` with the lower-case singular kind of the top
controller (a pod -> its ReplicaSet -> its Deployment; a pod -> its StatefulSet, DaemonSet,
Job), so a Falco event on pod ``api-xyz`` and an alert on ``deploy/api`` share
``production/deployment/api``. Only the API server knows a pod's owner: the lookup is bounded
(``timeout``), shared by concurrent callers and cached briefly (a burst on one pod costs one
lookup); when the cluster cannot answer, a pod keys as itself (``NAMESPACE/pod/NAME``) and a
warning says the exclusion is by pod only. A job naming a label selector, or nothing, acts on
the whole namespace: ``NAMESPACE/*``, which the queues treat as overlapping every key of it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from irkit.cluster.port import Cluster
from irkit.errors import IrkitError
from irkit.model.target import WORKLOAD_KINDS, parse_target
from irkit.server.logs import log

TARGET_PARAMS = ("workload", "target", "pod")
"""The params naming what a runbook acts on, first found wins: ``KIND/NAME`` (a bare ``pod``
is a pod's name)."""
TIMEOUT = 2.0
"""Seconds an alert waits for the owner lookup before keying by pod."""
TTL = 30.0
"""Seconds a looked-up owner (or a fallback) is reused."""
CACHED = 4096
"""Entries kept at most (oldest dropped first)."""
LOOKUPS = 8
"""Threads doing lookups: a hung API server holds these, never the request threads."""
_WALK = {"pod": "pods", "replicaset": "replicasets"}
"""Kinds fetched to go one level further up: a pod, and a ReplicaSet (-> its Deployment).
Other owners are the top in practice (a Job's CronJob is not followed: irkit reads no Jobs)."""


def whole(namespace: str) -> str:
    """The key of a job acting on the whole namespace."""
    return f"{namespace}/*"


def target_of(namespace: str, values: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(singular kind, name)`` the job's params name, or None (a selector, nothing, or a
    target irkit's parser refuses: the whole namespace, the safe side)."""
    for param in TARGET_PARAMS:
        value = values.get(param)
        if not isinstance(value, str) or not value.strip():
            continue
        ref = value.strip()
        if param == "pod" and "/" not in ref:
            ref = f"pod/{ref}"
        try:
            target = parse_target(namespace, ref, None)
        except IrkitError:
            return None
        assert target.kind is not None and target.name is not None
        return WORKLOAD_KINDS[target.kind], target.name
    return None


class WorkloadKeys:
    """``key(namespace, params)``: the lock key of a new job (see the module's docstring)."""

    def __init__(
        self,
        cluster: Cluster | None,
        *,
        timeout: float = TIMEOUT,
        ttl: float = TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cluster = cluster
        self.timeout = timeout
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[tuple[str, str, str], tuple[float, Future[str]]] = {}
        self._guard = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        if cluster is None:
            log(logging.WARNING, "no cluster: the workload lock of a pod is the pod only")

    def key(self, namespace: str, values: Mapping[str, Any]) -> str:
        return self.keys([(namespace, values)])[0]

    def keys(self, jobs: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
        """The keys of several new jobs (an Alertmanager group): their lookups run side by
        side and share one deadline, so a hung API server costs a request ``timeout`` once."""
        pending: list[str | tuple[str, str, Future[str]]] = []
        for namespace, values in jobs:
            found = target_of(namespace, values)
            if found is None:
                pending.append(whole(namespace))
                continue
            kind, name = found
            itself = f"{namespace}/{kind}/{name}"
            if kind not in _WALK or self.cluster is None:  # the top already, or no one to ask
                pending.append(itself)
            else:
                pending.append((itself, kind, self._lookup(namespace, kind, name)))
        deadline = time.monotonic() + self.timeout
        return [item if isinstance(item, str) else self._wait(*item, deadline) for item in pending]

    def _wait(self, itself: str, kind: str, lookup: Future[str], deadline: float) -> str:
        try:
            return lookup.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            _warn(itself.split("/", 1)[0], kind, f"no answer within {self.timeout:g} s")
            return itself

    def close(self, *, wait: bool = False) -> None:
        """Stop the lookups; a hung one is left to its request timeout unless ``wait``."""
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)

    def _lookup(self, namespace: str, kind: str, name: str) -> Future[str]:
        """The cached or in-flight lookup of this object, else a new one."""
        now = self.clock()
        with self._guard:
            entry = self._cache.get((namespace, kind, name))
            if entry is not None and entry[0] > now:
                return entry[1]
            if self._pool is None:
                self._pool = ThreadPoolExecutor(LOOKUPS, thread_name_prefix="irkit-owner")
            future = self._pool.submit(self._top, namespace, kind, name)
            self._cache[(namespace, kind, name)] = (now + self.ttl, future)
            while len(self._cache) > CACHED:
                del self._cache[next(iter(self._cache))]
            return future

    def _top(self, namespace: str, kind: str, name: str) -> str:
        """Walk the controller ownerReferences up from the object; any error keys it as
        itself with a warning (a pod's exclusion is then by pod only)."""
        assert self.cluster is not None
        start = f"{namespace}/{kind}/{name}"
        try:
            for _ in range(len(_WALK)):
                plural = _WALK.get(kind)
                if plural is None:
                    break
                owner = _controller(self.cluster.get(plural, namespace, name))
                if owner is None:
                    break
                kind, name = owner
        except Exception as e:  # a 403, a timeout, a bad answer: all fall back
            _warn(namespace, start.split("/")[1], type(e).__name__)
            return start
        return f"{namespace}/{kind}/{name}"


def _controller(obj: Mapping[str, Any]) -> tuple[str, str] | None:
    """The object's controller owner as ``(lower-case kind, name)``, if any."""
    meta = obj.get("metadata")
    refs = meta.get("ownerReferences") if isinstance(meta, dict) else None
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, dict) and ref.get("controller") is True:
            kind, name = ref.get("kind"), ref.get("name")
            if isinstance(kind, str) and isinstance(name, str) and kind and name:
                return kind.lower(), name
    return None


def _warn(namespace: str, kind: str, why: str) -> None:
    """The cluster's words are not logged: an answer may quote anything."""
    log(
        logging.WARNING,
        f"the owner of a {kind} in namespace {namespace} could not be looked up ({why}):"
        f" its workload lock is the {kind} itself, so the exclusion is by {kind} only",
    )
