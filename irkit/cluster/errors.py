"""Translate the Kubernetes API's answers and transport failures into irkit's error tree.

Kept apart from the adapter so the wording (what a responder reads at 3 a.m.) is tested on its
own. Remote text is cut (``irkit.errors.cut``, 256 characters): cluster data is not trusted
to be short.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from irkit.errors import (
    ClusterError,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    Request,
    Unavailable,
    cut,
)

TRANSIENT_CODES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RequestInfo:
    """What was asked, so an error can say it in the responder's terms."""

    verb: str
    resource: str  # plural, with ``/subresource`` when there is one
    namespace: str
    name: str
    user: str
    kubectl: tuple[str, ...] = ()  # --context/--kubeconfig as given, so a TIP works when pasted

    @property
    def request(self) -> Request:
        return Request(self.verb, self.resource, self.namespace, self.name, self.user)


def status_message(body: bytes | str) -> str:
    """The ``message`` of a Status body, or the body itself, cut."""
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return cut(data["message"])
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return cut(text) or "(no message)"


def retry_after(headers: Any) -> float | None:
    raw = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def from_status(code: int, body: bytes | str, headers: Any, req: RequestInfo) -> ClusterError:
    message = status_message(body)
    where = f' in namespace "{req.namespace}"' if req.namespace else ""
    what = f"{req.resource}/{req.name}" if req.name else req.resource
    if code == 404:
        return NotFound(f"not found: {what}{where} ({message})", status=code, request=req.request)
    if code == 403:
        return Forbidden(
            f'forbidden: user "{req.user}" may not {req.verb} {req.resource}{where} ({message})',
            status=code,
            request=req.request,
            hint="check with: "
            + shlex.join(
                ["kubectl", "auth", "can-i", req.verb, req.resource]
                + (["-n", req.namespace] if req.namespace else [])
                + list(req.kubectl)
            ),
        )
    if code == 401:
        return Forbidden(
            f"unauthorized: the cluster did not accept the credentials of {req.user!r}",
            status=code,
            request=req.request,
            hint="refresh your kubeconfig credentials (e.g. aws eks update-kubeconfig)",
        )
    if code == 409:
        return Conflict(f"conflict on {what}{where}: {message}", status=code, request=req.request)
    if code in (400, 422):
        return Invalid(
            f"rejected {req.verb} of {what}{where}: {message}", status=code, request=req.request
        )
    if code in TRANSIENT_CODES:
        return Unavailable(
            f"the API server answered {code} to {req.verb} {what}{where}: {message}",
            status=code,
            request=req.request,
            retry_after=retry_after(headers),
        )
    return ClusterError(
        f"{req.verb} {what}{where} failed with HTTP {code}: {message}",
        status=code,
        request=req.request,
    )


def from_transport(exc: BaseException, req: RequestInfo, server: str) -> ClusterError:
    """Connection refused, reset, timeout: transient; the message names the server."""
    what = f"{req.resource}/{req.name}" if req.name else req.resource
    return Unavailable(
        f"cannot reach the API server {server} ({req.verb} {what}): {type(exc).__name__}: "
        f"{cut(str(exc), 160)}",
        request=req.request,
    )
