"""The ``Cluster`` port over the official ``kubernetes`` client: the one module that imports it.

Requests go through the client's configuration (kubeconfig, contexts, exec plugins, in-cluster
service account, TLS) and its urllib3 pool, but bodies stay raw JSON. Every failure becomes an
irkit error here; transient ones are retried here and nowhere else.
"""

from __future__ import annotations

import base64
import json
import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
)

from irkit.cluster.errors import RequestInfo, from_status, from_transport
from irkit.cluster.port import Identity, Obj, PatchType
from irkit.errors import ClusterError, ConfigError, Unavailable
from irkit.model.kinds import ResourceType, api_path, by_name
from irkit.settings import ClusterSettings, RetrySettings

T = TypeVar("T")
PATCH_CONTENT_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}
SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def connect(settings: ClusterSettings | None = None) -> KubeCluster:
    """Build a cluster client from a kubeconfig (or the in-cluster service account)."""
    settings = settings or ClusterSettings()
    configuration = k8s_client.Configuration()
    try:
        user, context, server = _load(settings, configuration)
    except (ConfigException, OSError, ValueError, TypeError) as e:
        raise ConfigError(
            f"cannot load Kubernetes credentials: {e}",
            hint="pass --kubeconfig/--context, or set KUBECONFIG",
        ) from e
    # One place retries (tenacity, below); urllib3 must not retry underneath it.
    configuration.retries = False
    configuration.connection_pool_maxsize = settings.pool_size
    api = k8s_client.ApiClient(configuration)
    return KubeCluster(api, Identity(user, context, server), settings)


def _load(settings: ClusterSettings, configuration: Any) -> tuple[str, str, str]:
    kubeconfig = settings.kubeconfig or os.environ.get("KUBECONFIG") or ""
    default = Path("~/.kube/config").expanduser()
    if not kubeconfig and not default.exists() and (SA_DIR / "token").exists():
        k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        return _service_account_user(), "in-cluster", str(configuration.host)
    path = kubeconfig or str(default)
    k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=path,
        context=settings.context,
        client_configuration=configuration,
        persist_config=False,
    )
    contexts, current = k8s_config.list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
    chosen = next((c for c in contexts if c["name"] == settings.context), current)
    return str(chosen["context"].get("user", "")), str(chosen["name"]), str(configuration.host)


def _service_account_user() -> str:
    """``system:serviceaccount:ns:name`` from the mounted token's claims (not verified)."""
    try:
        payload = (SA_DIR / "token").read_text().split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(claims.get("sub", "in-cluster service account"))
    except (OSError, IndexError, ValueError):
        return "in-cluster service account"


class KubeCluster:
    def __init__(self, api: Any, identity: Identity, settings: ClusterSettings) -> None:
        self._api = api
        self.identity = identity
        self.settings = settings

    # ---- the port ----------------------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str, subresource: str = "") -> Obj:
        rt = _kind(kind)
        info = self._info("get", rt, namespace, name, subresource)
        path = api_path(rt, namespace, name, subresource)
        return self._retrying(lambda: self._json("GET", path, info))

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
        return RequestInfo(verb, resource, namespace, name, self.identity.user)

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
            request = self._api.param_serialize(
                method=method,
                resource_path=path,
                query_params=list((query or {}).items()),
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            response = self._api.call_api(
                *request, _request_timeout=self.settings.request_timeout
            ).response
        except urllib3.exceptions.HTTPError as e:
            raise from_transport(e, info, self.identity.server) from e
        except k8s_client.exceptions.ApiException as e:  # status 0: TLS or request-building trouble
            raise ClusterError(f"cannot talk to {self.identity.server}: {e.reason}") from e
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
        except urllib3.exceptions.HTTPError as e:
            raise from_transport(e, info, self.identity.server) from e

    def _retrying(self, call: Callable[[], T]) -> T:
        retry = self.settings.retry
        retrying = Retrying(
            retry=retry_if_exception_type(Unavailable),
            stop=stop_after_attempt(retry.attempts) | stop_after_delay(retry.total_seconds),
            wait=_backoff(retry),
            reraise=True,
        )
        return retrying(call)


def _backoff(retry: RetrySettings) -> Callable[[RetryCallState], float]:
    """Exponential backoff with full jitter; a server's Retry-After is a floor, not a hint.

    No wait outlasts what is left of ``total_seconds``: a Retry-After of a day must not put an
    incident responder to sleep (the stop condition then ends the retries)."""

    def wait(state: RetryCallState) -> float:
        ceiling = min(retry.backoff_max, retry.backoff_initial * 2 ** (state.attempt_number - 1))
        delay = random.uniform(0, ceiling)  # noqa: S311 - jitter, not security
        exc = state.outcome.exception() if state.outcome else None
        hint = getattr(exc, "retry_after", None)
        wanted = max(delay, float(hint)) if hint is not None else delay
        remaining = retry.total_seconds - (state.seconds_since_start or 0.0)
        return min(wanted, max(remaining, 0.0))

    return wait


def _kind(name: str) -> ResourceType:
    rt = by_name(name)
    if rt is None:
        raise ClusterError(f"unknown resource kind {name!r}")
    return rt
