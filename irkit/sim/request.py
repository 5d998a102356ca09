"""A request to the simulated apiserver as the resource code sees it, the reply it gives, and the
decoding of request bodies (JSON objects, the three patch types) with upstream's errors.

Its own module because the handler (``irkit.sim.handler``) builds these, and both the verbs on
resources (``irkit.sim.api``) and the subresources (``irkit.sim.subresources``) read them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from irkit.sim import patch as patches
from irkit.sim import status
from irkit.sim.rbac import UserInfo
from irkit.sim.store import Obj
from irkit.sim.watch import Watch

MAX_BODY = 3 * 1024 * 1024
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


def content_type(req: Request) -> str:
    return req.headers.get("content-type", "").split(";")[0].strip().lower()


def json_body(req: Request) -> Obj:
    if content_type(req) == PROTOBUF:
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


def patcher(req: Request, kind: str) -> Any:
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
