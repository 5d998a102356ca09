"""What the simulated apiserver checks and fills in on a new object before storing it.

Its own module because validation is a set of rules a client can read in one place, apart from
the store's bookkeeping (``irkit.sim.store`` calls ``admit`` under its lock on every create):
name or generateName, a lowercase RFC 1123 name, metadata shapes, non-negative replicas, the
namespace matching the request's.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from irkit.model.kinds import ResourceType
from irkit.sim import status

Obj = dict[str, Any]
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def random_suffix(n: int = 5) -> str:
    return "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(n))


def admit(rt: ResourceType, namespace: str, obj: Obj) -> None:
    """Check a new object's metadata as the apiserver would and fill in what it sets: kind,
    apiVersion, a name from generateName, the namespace. Raises the apiserver's errors."""
    meta = obj["metadata"]
    obj["apiVersion"] = rt.group_version
    obj["kind"] = rt.kind
    if not meta.get("name"):
        prefix = meta.get("generateName")
        if not prefix:
            raise status.invalid(
                rt, "", "metadata.name", "Required value: name or generateName is required"
            )
        if not isinstance(prefix, str):
            raise status.invalid(rt, "", "metadata.generateName", "must be a string")
        meta["name"] = prefix + random_suffix()
    name = meta["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise status.invalid(
            rt,
            str(name),
            "metadata.name",
            f"Invalid value: {name!r}: a lowercase RFC 1123 subdomain must consist of lower "
            "case alphanumeric characters, '-' or '.', and must start and end with an "
            "alphanumeric character",
        )
    for key in ("labels", "annotations"):
        if not isinstance(meta.get(key, {}), dict):
            raise status.invalid(rt, name, f"metadata.{key}", "must be a map of strings")
    refs = meta.get("ownerReferences", [])
    if not isinstance(refs, list) or not all(isinstance(r, dict) for r in refs):
        raise status.invalid(rt, name, "metadata.ownerReferences", "must be a list of objects")
    replicas = (
        (obj.get("spec") or {}).get("replicas") if isinstance(obj.get("spec"), dict) else None
    )
    if replicas is not None and (
        not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0
    ):
        raise status.invalid(
            rt,
            name,
            "spec.replicas",
            f"Invalid value: {replicas!r}: must be a non-negative integer",
        )
    if rt.namespaced:
        sent = meta.get("namespace")
        if sent and namespace and sent != namespace:
            raise status.bad_request(
                "the namespace of the provided object does not match "
                "the namespace sent on the request"
            )
        meta["namespace"] = sent or namespace or "default"
    else:
        meta.pop("namespace", None)
