"""Just enough OpenAPI v3 for kubectl: it reads it to learn that writes accept ``fieldValidation``.

``kubectl apply`` and ``kubectl create`` validate manifests before sending them. When the
server's OpenAPI says its PATCH endpoints take the ``fieldValidation`` query parameter, kubectl
leaves validation to the server instead of downloading full schemas. We publish exactly that:
one path per resource with its group-version-kind and the parameter, and no schemas. The
simulator does not validate fields (see docs/sim.md), so this claim is about parameters only.
"""

from __future__ import annotations

import hashlib
from typing import Any

from irkit.model.kinds import ResourceType, group_versions, resources_in

_PARAMS = [
    {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for name in ("dryRun", "fieldManager", "fieldValidation", "pretty")
]


def _gv_key(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def root() -> dict[str, Any]:
    paths = {}
    for group, versions in group_versions().items():
        for version in versions:
            key = _gv_key(group, version)
            digest = hashlib.sha256(key.encode()).hexdigest()[:16].upper()
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": paths}


def _item_path(rt: ResourceType) -> str:
    prefix = f"/{_gv_key(rt.group, rt.version)}"
    ns = "/namespaces/{namespace}" if rt.namespaced else ""
    return f"{prefix}{ns}/{rt.plural}/{{name}}"


def group_version_doc(key: str) -> dict[str, Any] | None:
    parts = key.strip("/").split("/")
    if parts[:1] == ["api"] and len(parts) == 2:
        group, version = "", parts[1]
    elif parts[:1] == ["apis"] and len(parts) == 3:
        group, version = parts[1], parts[2]
    else:
        return None
    types = [rt for rt in resources_in(group, version) if "patch" in rt.verbs]
    if not resources_in(group, version):
        return None
    paths = {}
    for rt in types:
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        paths[_item_path(rt)] = {
            "patch": {
                "parameters": _PARAMS,
                "operationId": f"patch{rt.kind}",
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
                "responses": {"200": {"description": "OK"}},
            },
        }
    info = {"title": "Kubernetes (irkit sim)", "version": "v1.32.0"}
    return {"openapi": "3.0.0", "info": info, "paths": paths, "components": {"schemas": {}}}
