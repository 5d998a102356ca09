"""The ``Cluster`` port over the Kubernetes API: the adapter every command talks through.

Requests go through one urllib3 pool (``irkit.cluster.http``) configured from the kubeconfig
(``irkit.cluster.kubeconfig``: contexts, TLS, tokens, client certificates, the in-cluster
service account; ``exec``/``auth-provider`` plugins through the official client's loader).
Bodies stay raw JSON. Every failure becomes an irkit error here, with ``transient`` and
``retry_after`` set (``irkit.cluster.errors``).

Retries. The engine owns the retry of a step (``irkit.engine.execution``), deciding on those
two fields. This adapter keeps one more, deliberately: a short retry of the *single request*
(``ClusterSettings.retry``: a few attempts, bounded by ``total_seconds``, never longer than a
Retry-After within that budget), for two reasons. Direct commands and the read-heavy parts of a
step (a collect lists hundreds of objects and pages) must ride out one 429 without redoing the
whole step; and repeating a request irkit sends cannot change anything twice: reads are
idempotent, patches set the same fields again, and a create or delete whose first answer was
lost meets 409 or 404 on the repeat (isolate checks such a policy is its own). Narrowing this
to reads would change what direct commands survive today (tests pin a throttled scale). The
decision reads ``e.transient`` only, never the class; a step's ``retries:`` starts after it.
"""

from __future__ import annotations

import json
import random
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
)

from irkit.cluster.errors import RequestInfo, from_status, from_transport
from irkit.cluster.http import Transport, in_cluster
from irkit.cluster.kubeconfig import in_cluster_available, load
from irkit.cluster.port import Identity, Obj, PatchType
from irkit.errors import ClusterError, ConfigError, IrkitError, Remedy, cut
from irkit.model.kinds import ResourceType, api_path, by_name
from irkit.settings import ClusterSettings, RetrySettings

T = TypeVar("T")
PATCH_CONTENT_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}


def connect(settings: ClusterSettings | None = None) -> KubeCluster:
    """Build a cluster client from a kubeconfig (or the in-cluster service account)."""
    settings = settings or ClusterSettings()
    try:
        if in_cluster_available(settings.kubeconfig):
            creds = in_cluster()
        else:
            creds = load(settings.kubeconfig, settings.context)
        transport = Transport(creds, settings.pool_size)
    except ConfigError:
        raise
    except Exception as e:  # the plugin loader's ConfigException, a bad CA or key file, ...
        raise ConfigError(
            f"cannot load Kubernetes credentials: {type(e).__name__}: {e}",
            remedy=Remedy("kubeconfig-load"),
        ) from e
    return KubeCluster(transport, Identity(creds.user, creds.context, creds.server), settings)


def kubectl_flags(settings: ClusterSettings) -> tuple[str, ...]:
    """The kubectl flags that reach the same cluster as the user: ``--context`` when one was
    given, ``--kubeconfig`` when given and not the default file."""
    flags: tuple[str, ...] = ()
    if (
        settings.kubeconfig
        and Path(settings.kubeconfig).expanduser() != Path("~/.kube/config").expanduser()
    ):
        flags += ("--kubeconfig", settings.kubeconfig)
    if settings.context:
        flags += ("--context", settings.context)
    return flags


class KubeCluster:
    def __init__(self, transport: Transport, identity: Identity, settings: ClusterSettings) -> None:
        self._transport = transport
        self.identity = identity
        self.settings = settings
        self._kubectl = kubectl_flags(settings)

    # ---- the port ----------------------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str, subresource: str = "") -> Obj:
        rt = _kind(kind)
        info = self._info("get", rt, namespace, name, subresource)
        path = api_path(rt, namespace, name, subresource)
        return self._retrying(lambda: self._json("GET", path, info))

    def server_version(self) -> Obj:
        """``GET /version``: the API server's build (gitVersion, platform), for custody."""
        info = RequestInfo("get", "/version", "", "", self.identity.user)
        return self._retrying(lambda: self._json("GET", "/version", info))

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        labels: str | None = None,
        fields: str | None = None,
    ) -> list[Obj]:
        return list(self.iterate(kind, namespace, labels=labels, fields=fields))

    def iterate(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        labels: str | None = None,
        fields: str | None = None,
    ) -> Iterator[Obj]:
        rt = _kind(kind)
        info = self._info("list", rt, namespace or "", "")
        path = api_path(rt, namespace or "")
        query: dict[str, Any] = {"limit": self.settings.page_size}
        if labels:
            query["labelSelector"] = labels
        if fields:
            query["fieldSelector"] = fields
        while True:
            page = self._retrying(partial(self._json, "GET", path, info, query=dict(query)))
            # One page at a time: the next one is asked for when this one has been consumed.
            for item in page.get("items") or []:
                item.setdefault("apiVersion", rt.group_version)
                item.setdefault("kind", rt.kind)
                yield item
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return
            query["continue"] = token

    def create(self, kind: str, namespace: str, obj: Obj, *, dry_run: bool = False) -> Obj:
        rt = _kind(kind)
        name = (obj.get("metadata") or {}).get("name", "")
        info = self._info("create", rt, namespace, name)
        query = {"dryRun": "All"} if dry_run else {}
        path = api_path(rt, namespace)
        return self._retrying(lambda: self._json("POST", path, info, query=query, body=obj))

    def patch(
        self,
        kind: str,
        namespace: str,
        name: str,
        patch: Any,
        *,
        patch_type: PatchType = "merge",
        subresource: str = "",
        dry_run: bool = False,
    ) -> Obj:
        rt = _kind(kind)
        info = self._info("patch", rt, namespace, name, subresource)
        query = {"dryRun": "All"} if dry_run else {}
        path = api_path(rt, namespace, name, subresource)
        ctype = PATCH_CONTENT_TYPES[patch_type]
        return self._retrying(
            lambda: self._json("PATCH", path, info, query=query, body=patch, content_type=ctype)
        )

    def delete(self, kind: str, namespace: str, name: str, *, dry_run: bool = False) -> None:
        rt = _kind(kind)
        info = self._info("delete", rt, namespace, name)
        query = {"dryRun": "All"} if dry_run else {}
        path = api_path(rt, namespace, name)
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        self._retrying(lambda: self._json("DELETE", path, info, query=query, body=body))

    @contextmanager
    def stream_log(
        self,
        namespace: str,
        pod: str,
        container: str,
        *,
        previous: bool = False,
        timestamps: bool = True,
    ) -> Iterator[Iterator[bytes]]:
        rt = _kind("pods")
        info = self._info("get", rt, namespace, pod, "log")
        query: dict[str, Any] = {"container": container}
        if previous:
            query["previous"] = "true"
        if timestamps:
            query["timestamps"] = "true"
        path = api_path(rt, namespace, pod, "log")
        # Only opening the stream is retried: bytes already written cannot be taken back.
        response = self._retrying(lambda: self._open("GET", path, info, query=query))
        try:
            yield self._chunks(response, info)
        finally:
            response.release_conn()

    def can_i(
        self, verb: str, kind: str, namespace: str = "", *, subresource: str = "", name: str = ""
    ) -> bool:
        rt = _kind(kind)
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "verb": verb,
                    "group": rt.group,
                    "resource": rt.plural,
                    "subresource": subresource,
                    "namespace": namespace,
                    "name": name,
                }
            },
        }
        ssar = _kind("selfsubjectaccessreviews")
        info = self._info("create", ssar, "", "")
        path = api_path(ssar)
        answer = self._retrying(lambda: self._json("POST", path, info, body=review))
        return bool((answer.get("status") or {}).get("allowed"))

    # ---- plumbing ----------------------------------------------------------------------------
    def _info(
        self, verb: str, rt: ResourceType, namespace: str, name: str, sub: str = ""
    ) -> RequestInfo:
        resource = f"{rt.plural}/{sub}" if sub else rt.plural
        return RequestInfo(verb, resource, namespace, name, self.identity.user, self._kubectl)

    def _json(
        self,
        method: str,
        path: str,
        info: RequestInfo,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Obj:
        response = self._open(method, path, info, query=query, body=body, content_type=content_type)
        try:
            data = response.data
        except urllib3.exceptions.SSLError as e:  # a bad CA or server name: retrying won't help
            raise ConfigError(
                f"TLS with {self.identity.server} failed: {cut(str(e), 200)}",
                hint="check the kubeconfig's certificate-authority and tls-server-name",
            ) from e
        except urllib3.exceptions.HTTPError as e:
            raise from_transport(e, info, self.identity.server) from e
        finally:
            response.release_conn()
        try:
            parsed = json.loads(data) if data else {}
        except ValueError as e:
            raise ClusterError(f"the API server sent something that is not JSON for {path}") from e
        if not isinstance(parsed, dict):
            raise ClusterError(f"the API server sent a JSON {type(parsed).__name__} for {path}")
        return parsed

    def _open(
        self,
        method: str,
        path: str,
        info: RequestInfo,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        try:
            response = self._transport.request(
                method,
                path,
                query=query,
                headers=headers,
                body=body,
                timeout=self.settings.request_timeout,
            )
        except urllib3.exceptions.SSLError as e:  # a bad CA or server name: retrying won't help
            raise ConfigError(
                f"TLS with {self.identity.server} failed: {cut(str(e), 200)}",
                hint="check the kubeconfig's certificate-authority and tls-server-name",
            ) from e
        except urllib3.exceptions.HTTPError as e:
            raise from_transport(e, info, self.identity.server) from e
        except (OSError, ssl.SSLError) as e:  # a credential file gone, TLS set-up trouble
            raise ClusterError(f"cannot talk to {self.identity.server}: {e}") from e
        if response.status >= 400:
            try:
                data = response.data
            finally:
                response.release_conn()
            raise from_status(response.status, data, response.headers, info)
        return response

    def _chunks(self, response: Any, info: RequestInfo) -> Iterator[bytes]:
        try:
            yield from response.stream(64 * 1024, decode_content=True)
        except urllib3.exceptions.SSLError as e:  # a bad CA or server name: retrying won't help
            raise ConfigError(
                f"TLS with {self.identity.server} failed: {cut(str(e), 200)}",
                hint="check the kubeconfig's certificate-authority and tls-server-name",
            ) from e
        except urllib3.exceptions.HTTPError as e:
            raise from_transport(e, info, self.identity.server) from e

    def _retrying(self, call: Callable[[], T]) -> T:
        retry = self.settings.retry
        retrying = Retrying(
            retry=retry_if_exception(_transient),
            stop=stop_after_attempt(retry.attempts) | stop_after_delay(retry.total_seconds),
            wait=_backoff(retry),
            reraise=True,
        )
        return retrying(call)


def _transient(e: BaseException) -> bool:
    return isinstance(e, IrkitError) and e.transient


def _backoff(retry: RetrySettings) -> Callable[[RetryCallState], float]:
    """Exponential backoff with full jitter; a server's Retry-After is a floor, not a hint.

    No wait outlasts what is left of ``total_seconds``: a Retry-After of a day must not put an
    incident responder to sleep (the stop condition then ends the retries)."""

    def wait(state: RetryCallState) -> float:
        ceiling = min(retry.backoff_max, retry.backoff_initial * 2 ** (state.attempt_number - 1))
        delay = random.uniform(0, ceiling)  # noqa: S311 - jitter, not security
        exc = state.outcome.exception() if state.outcome else None
        hint = exc.retry_after if isinstance(exc, IrkitError) else None
        wanted = max(delay, float(hint)) if hint is not None else delay
        remaining = retry.total_seconds - (state.seconds_since_start or 0.0)
        return min(wanted, max(remaining, 0.0))

    return wait


def _kind(name: str) -> ResourceType:
    rt = by_name(name)
    if rt is None:
        raise ClusterError(f"unknown resource kind {name!r}")
    return rt
