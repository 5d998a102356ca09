"""API errors of the simulated server, rendered as Kubernetes ``Status`` objects.

Messages follow kube-apiserver's wording, because clients (kubectl, the Python client, irkit's own
error translation) show or parse them.
"""

from __future__ import annotations

from typing import Any

from irkit.model.kinds import ResourceType


def qualified(rt: ResourceType) -> str:
    """``pods`` for the core group, ``deployments.apps`` elsewhere, as the apiserver prints them."""
    return f"{rt.plural}.{rt.group}" if rt.group else rt.plural


class ApiError(Exception):
    """An error answer: HTTP code, Status reason and message, optional details."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def _details(rt: ResourceType, name: str) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": rt.plural}
    if name:
        out["name"] = name
    if rt.group:
        out["group"] = rt.group
    return out


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{qualified(rt)} "{name}" not found', _details(rt, name))


def already_exists(rt: ResourceType, name: str) -> ApiError:
    msg = f'{qualified(rt)} "{name}" already exists'
    return ApiError(409, "AlreadyExists", msg, _details(rt, name))


def conflict(rt: ResourceType, name: str) -> ApiError:
    msg = (
        f'Operation cannot be fulfilled on {qualified(rt)} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    return ApiError(409, "Conflict", msg, _details(rt, name))


def invalid(rt: ResourceType, name: str, field: str, problem: str) -> ApiError:
    msg = f'{rt.kind} "{name}" is invalid: {field}: {problem}'
    details = _details(rt, name) | {"causes": [{"field": field, "message": problem}]}
    return ApiError(422, "Invalid", msg, details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed(
    message: str = "the server does not allow this method on the requested resource",
) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, "
        f"application/strategic-merge-patch+json (got {content_type!r})",
    )


def page_not_found(path: str) -> ApiError:
    return ApiError(
        404, "NotFound", "the server could not find the requested resource", {"path": path}
    )
