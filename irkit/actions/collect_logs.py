"""Container logs into a bundle: every container of every pod, current and previous, in parallel.

A pod is one task on a bounded thread pool; its logs are streamed one after the other straight
into the bundle (never whole in memory). One log that cannot be read (RBAC, a kubelet that is
gone, a stream cut twice) becomes a manifest failure and the rest carries on: a responder wants
the 199 logs that could be read, and to be told exactly which one could not.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

from irkit.cluster.port import Cluster, Obj
from irkit.errors import IrkitError
from irkit.evidence.bundle import BundleWriter
from irkit.model.evidence import safe_name
from irkit.model.kinds import api_path, by_name

STREAM_ATTEMPTS = 2  # opening is retried by the adapter; a stream cut mid-way starts over once
_CONTAINER_KEYS = (
    ("initContainers", "initContainerStatuses"),
    ("containers", "containerStatuses"),
    ("ephemeralContainers", "ephemeralContainerStatuses"),
)


class Progress(Protocol):
    """What the collector reports as it goes; called from worker threads."""

    def started(self, pods: int) -> None: ...
    def pod_done(self, pod: str) -> None: ...
    def wrote(self, nbytes: int) -> None: ...


class NoProgress:
    def started(self, pods: int) -> None:
        pass

    def pod_done(self, pod: str) -> None:
        pass

    def wrote(self, nbytes: int) -> None:
        pass


@dataclass(frozen=True)
class LogRef:
    pod: str
    container: str
    previous: bool

    @property
    def relpath(self) -> str:
        suffix = ".previous.log" if self.previous else ".log"
        return f"logs/{safe_name(self.pod)}/{safe_name(self.container)}{suffix}"


def log_refs(pod: Obj) -> list[LogRef]:
    """Every container's log, and its previous one when the status shows it restarted."""
    name = pod["metadata"]["name"]
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    refs: list[LogRef] = []
    for spec_key, status_key in _CONTAINER_KEYS:
        statuses = {s.get("name"): s for s in status.get(status_key) or []}
        for container in spec.get(spec_key) or []:
            cname = str(container.get("name", ""))
            refs.append(LogRef(name, cname, False))
            if _restarted(statuses.get(cname) or {}):
                refs.append(LogRef(name, cname, True))
    return refs


def _restarted(status: dict[str, Any]) -> bool:
    last = status.get("lastState") or {}
    return int(status.get("restartCount") or 0) > 0 or bool(last.get("terminated"))


def collect_logs(
    cluster: Cluster,
    writer: BundleWriter,
    namespace: str,
    pods: list[Obj],
    *,
    concurrency: int,
    progress: Progress,
) -> None:
    progress.started(len(pods))
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="logs") as pool:
        futures = {
            pool.submit(_pod_logs, cluster, writer, namespace, pod, progress): pod for pod in pods
        }
        try:
            for future in as_completed(futures):
                future.result()
                progress.pod_done(futures[future]["metadata"]["name"])
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _pod_logs(
    cluster: Cluster, writer: BundleWriter, namespace: str, pod: Obj, progress: Progress
) -> None:
    for ref in log_refs(pod):
        source = _source(namespace, ref)
        for attempt in range(1, STREAM_ATTEMPTS + 1):
            try:
                with cluster.stream_log(
                    namespace, ref.pod, ref.container, previous=ref.previous, timestamps=True
                ) as chunks:
                    writer.add_stream(ref.relpath, _counted(chunks, progress), source)
                break
            except IrkitError as e:
                if e.transient and attempt < STREAM_ATTEMPTS:
                    continue  # a stream broken midway: restart this one log, not the step
                writer.record_failure(ref.relpath, source, str(e))
                break


def _counted(chunks: Iterable[bytes], progress: Progress) -> Iterator[bytes]:
    for chunk in chunks:
        progress.wrote(len(chunk))
        yield chunk


def _source(namespace: str, ref: LogRef) -> str:
    pods = by_name("pods")
    assert pods is not None
    query = {"container": ref.container, "timestamps": "true"}
    if ref.previous:
        query["previous"] = "true"
    return f"{api_path(pods, namespace, ref.pod, 'log')}?{urlencode(query)}"
