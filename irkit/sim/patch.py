"""The three Kubernetes patch types, applied to plain JSON values by the simulated API server.

kubectl and the official Python client send PATCH requests in three content types; the simulated
server must apply each the way a real kube-apiserver would, or drills that patch workloads
(isolate, scale, roll back) would pass against the simulator and fail against a cluster.

- ``application/merge-patch+json``: :func:`json_merge_patch`, RFC 7386.
- ``application/json-patch+json``: :func:`json_patch`, RFC 6902.
- ``application/strategic-merge-patch+json``: :func:`strategic_merge_patch`.

No function mutates its inputs; every result is a fresh value sharing nothing with them.

Strategic merge patch, as implemented here (the subset kubectl and the Python client send):

- Maps merge recursively. A ``null`` value deletes the key.
- ``{"$patch": "replace", ...}`` inside a map replaces that map with the rest of the patch map;
  ``{"$patch": "delete"}`` makes it an empty map.
- ``"$retainKeys": [...]`` drops every key of the original map that is not listed.
- A list whose field name has a merge key in ``MERGE_KEYS`` is merged element by element:
  a patch element whose merge-key value matches an existing element is merged into it, any other
  element is appended, and ``{"$patch": "delete", <key>: v}`` removes the element with that key.
  An element ``{"$patch": "replace"}`` replaces the whole list with the other patch elements.
  A patch element without the merge key is an error.
- ``ports`` merges by ``containerPort`` inside a container (``containers``, ``initContainers``,
  ``ephemeralContainers``) and by ``port`` at ``spec.ports`` when ``kind="Service"``; anywhere
  else ``ports`` is replaced whole.
- A list whose field name is in ``PRIMITIVE_MERGE_FIELDS`` (``finalizers``) is merged as a set
  union: original values first, then new patch values in patch order.
- ``"$deleteFromPrimitiveList/<field>": [...]`` removes those values from the list ``<field>``.
- ``"$setElementOrder/<field>": [...]`` (which kubectl always sends) orders the merged list: the
  elements it names are placed in its order, in the slots those elements occupy; elements it does
  not name keep their positions. Names are merge-key values (``{"name": "app"}``) for keyed lists
  and the values themselves for primitive lists.
- Every other list is replaced whole by the patch's list.
- No directive key (``$patch``, ``$retainKeys``, ``$setElementOrder/...``,
  ``$deleteFromPrimitiveList/...``) survives in the result, at any depth.
"""

from __future__ import annotations

import copy
import json
from typing import Any


class PatchError(ValueError):
    """A patch is malformed or cannot be applied to its target."""


MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey",
}
PRIMITIVE_MERGE_FIELDS = frozenset({"finalizers"})
_CONTAINER_FIELDS = frozenset({"containers", "initContainers", "ephemeralContainers"})
_ORDER = "$setElementOrder/"
_DELETE_FROM = "$deleteFromPrimitiveList/"


# --- RFC 7386 -----------------------------------------------------------------------------------


def json_merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 JSON merge patch: maps merge, ``null`` deletes, anything else replaces."""
    return _merge_patch_into(copy.deepcopy(target), patch)


def _merge_patch_into(target: Any, patch: Any) -> Any:
    """RFC 7386 on a ``target`` the caller owns (it may be modified)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch_into(result.get(key), value)
    return result


# --- RFC 6902 -----------------------------------------------------------------------------------


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchError(f"invalid JSON pointer {path!r}: must be empty or start with '/'")
    tokens = path.split("/")[1:]
    for token in tokens:
        if "~" in token.replace("~0", "").replace("~1", ""):
            raise PatchError(f"invalid JSON pointer {path!r}: '~' must be followed by 0 or 1")
    # ~1 first: "~01" must decode to "~1", not "/".
    return [t.replace("~1", "/").replace("~0", "~") for t in tokens]


def _index(part: str, size: int, *, inserting: bool) -> int:
    if part == "-" and inserting:
        return size
    # RFC 6901: "0" or digits without a leading zero; str.isdigit alone would accept "²".
    if not (part.isascii() and part.isdigit()) or (part != "0" and part.startswith("0")):
        raise PatchError(f"{part!r} is not an array index")
    index = int(part)
    if index > size or (index == size and not inserting):
        raise PatchError(f"array index {index} is out of range (length {size})")
    return index


def _walk(doc: Any, tokens: list[str]) -> Any:
    for token in tokens:
        if isinstance(doc, dict):
            if token not in doc:
                raise PatchError(f"member {token!r} does not exist")
            doc = doc[token]
        elif isinstance(doc, list):
            doc = doc[_index(token, len(doc), inserting=False)]
        else:
            raise PatchError(f"cannot descend into a {type(doc).__name__} with {token!r}")
    return doc


def _add(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _walk(doc, tokens[:-1])
    if isinstance(parent, dict):
        parent[tokens[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_index(tokens[-1], len(parent), inserting=True), value)
    else:
        raise PatchError(f"parent is a {type(parent).__name__}, not an object or array")
    return doc


def _remove(doc: Any, tokens: list[str]) -> Any:
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _walk(doc, tokens[:-1])
    _walk(parent, tokens[-1:])  # raises the usual error when the target is missing
    if isinstance(parent, dict):
        return parent.pop(tokens[-1])
    return parent.pop(_index(tokens[-1], len(parent), inserting=False))


def _json_equal(a: Any, b: Any) -> bool:
    # Python's == says True == 1; JSON says a boolean is never a number.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_json_equal, a, b))
    return bool(a == b)


def _show(value: Any) -> str:
    # Cut, because the value may be a whole pod spec and the message ends up in a log line.
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _member(op: dict[str, Any], name: str) -> Any:
    if name not in op:
        raise PatchError(f"missing member {name!r}")
    return op[name]


def _apply_op(doc: Any, op: dict[str, Any]) -> Any:
    name = _member(op, "op")
    path = _pointer(_member(op, "path"))
    if name == "add":
        return _add(doc, path, copy.deepcopy(_member(op, "value")))
    if name == "remove":
        _remove(doc, path)
        return doc
    if name == "replace":
        return _replace(doc, path, copy.deepcopy(_member(op, "value")))
    if name in ("move", "copy"):
        source = _pointer(_member(op, "from"))
        if name == "move" and path[: len(source)] == source and path != source:
            raise PatchError("cannot move a value into one of its own children")
        value = copy.deepcopy(_walk(doc, source))
        if name == "move":
            _remove(doc, source)
        return _add(doc, path, value)
    if name == "test":
        actual, expected = _walk(doc, path), _member(op, "value")
        if not _json_equal(actual, expected):
            raise PatchError(f"test failed: found {_show(actual)}, expected {_show(expected)}")
        return doc
    raise PatchError(f"unknown op {name!r}")


def _replace(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _walk(doc, tokens[:-1])
    _walk(parent, tokens[-1:])  # the target must exist
    if isinstance(parent, dict):
        parent[tokens[-1]] = value
    else:
        parent[_index(tokens[-1], len(parent), inserting=False)] = value
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    """Apply an RFC 6902 JSON patch atomically: the first failing operation raises PatchError
    naming its index, op and path, and nothing is applied."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for i, op in enumerate(operations):
        if not isinstance(op, dict):
            raise PatchError(f"operation {i}: must be an object")
        try:
            doc = _apply_op(doc, op)
        except PatchError as e:
            raise PatchError(f"operation {i} ({op.get('op')} {op.get('path')!r}): {e}") from None
    return doc


# --- strategic merge patch ----------------------------------------------------------------------


def _merge_key(path: tuple[str, ...], kind: str | None) -> str | None:
    if path[-1] != "ports":
        return MERGE_KEYS.get(path[-1])
    if len(path) >= 2 and path[-2] in _CONTAINER_FIELDS:
        return "containerPort"
    return "port" if kind == "Service" and path == ("spec", "ports") else None


def _directive_list(patch: dict[str, Any], key: str) -> list[Any]:
    value = patch[key]
    if not isinstance(value, list):
        raise PatchError(f"{key} must be a list, not {type(value).__name__}")
    return value


def _is_directive(key: str) -> bool:
    return key in ("$patch", "$retainKeys") or key.startswith((_ORDER, _DELETE_FROM))


def _clean(value: Any, path: tuple[str, ...], kind: str | None) -> Any:
    """A fresh copy of a patch value with directives and null map entries removed."""
    if isinstance(value, dict):
        return _merge_map({}, value, path, kind)
    if isinstance(value, list):
        return [_clean(v, path, kind) for v in value]
    return value


def _merge_map(
    original: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...], kind: str | None
) -> dict[str, Any]:
    """Merge ``patch`` into ``original``, which the caller owns and which is modified."""
    directive = patch.get("$patch")
    if directive == "replace":
        return _merge_map({}, {k: v for k, v in patch.items() if k != "$patch"}, path, kind)
    if directive == "delete":
        return {}
    if directive not in (None, "merge"):
        raise PatchError(f"unknown $patch directive {directive!r} at {'.'.join(path) or '.'}")
    if "$retainKeys" in patch:
        keep = _directive_list(patch, "$retainKeys")
        original = {k: v for k, v in original.items() if k in keep}
    for key in patch:
        field = key[len(_DELETE_FROM) :]
        if key.startswith(_DELETE_FROM) and isinstance(original.get(field), list):
            drop = _directive_list(patch, key)
            original[field] = [v for v in original[field] if v not in drop]
    for key, value in patch.items():
        if not _is_directive(key):
            _merge_field(original, key, value, (*path, key), kind)
    for key in patch:
        field = key[len(_ORDER) :]
        if key.startswith(_ORDER) and isinstance(original.get(field), list):
            order = _directive_list(patch, key)
            original[field] = _reorder(original[field], order, _merge_key((*path, field), kind))
    return original


def _merge_field(
    original: dict[str, Any], key: str, value: Any, path: tuple[str, ...], kind: str | None
) -> None:
    current = original.get(key)
    if value is None:
        original.pop(key, None)
    elif isinstance(value, dict):
        original[key] = _merge_map(current if isinstance(current, dict) else {}, value, path, kind)
    elif isinstance(value, list) and key in PRIMITIVE_MERGE_FIELDS:
        merged = list(current) if isinstance(current, list) else []
        for item in _clean(value, path, kind):
            if item not in merged:
                merged.append(item)
        original[key] = merged
    elif isinstance(value, list) and (merge_key := _merge_key(path, kind)) is not None:
        items = current if isinstance(current, list) else []
        original[key] = _merge_list(items, value, merge_key, path, kind)
    else:
        original[key] = _clean(value, path, kind)


def _merge_list(
    original: list[Any], patch: list[Any], merge_key: str, path: tuple[str, ...], kind: str | None
) -> list[Any]:
    """Merge a keyed list element by element; ``original`` is owned by the caller."""
    if any(isinstance(e, dict) and e.get("$patch") == "replace" for e in patch):
        rest = [e for e in patch if not (isinstance(e, dict) and e.get("$patch") == "replace")]
        return _merge_list([], rest, merge_key, path, kind)
    where = ".".join(path)
    for element in patch:
        if not isinstance(element, dict) or merge_key not in element:
            raise PatchError(f"{where}: element does not contain declared merge key: {merge_key}")
        wanted = element[merge_key]
        at = next((i for i, e in enumerate(original) if _keyed(e, merge_key) == wanted), None)
        if element.get("$patch") == "delete":
            original = [e for e in original if _keyed(e, merge_key) != wanted]
        elif at is None:
            original.append(_merge_map({}, element, path, kind))
        else:
            original[at] = _merge_map(original[at], element, path, kind)
    return original


def _keyed(element: Any, merge_key: str) -> Any:
    return element.get(merge_key) if isinstance(element, dict) else None


def _reorder(items: list[Any], order: list[Any], merge_key: str | None) -> list[Any]:
    """Put the elements ``order`` names into its order, within the slots they already hold."""
    names = [_keyed(o, merge_key) if merge_key else o for o in order]
    rank = {repr(name): i for i, name in enumerate(names)}

    def name_of(item: Any) -> str:
        return repr(_keyed(item, merge_key) if merge_key else item)

    slots = [i for i, item in enumerate(items) if name_of(item) in rank]
    named = sorted((items[i] for i in slots), key=lambda item: rank[name_of(item)])
    result = list(items)
    for slot, item in zip(slots, named, strict=True):
        result[slot] = item
    return result


def strategic_merge_patch(target: Any, patch: Any, kind: str | None = None) -> Any:
    """Apply a Kubernetes strategic merge patch (see the module docstring for list handling).

    ``kind`` is the object's kind; it only matters for a Service's ``spec.ports``.
    """
    if not isinstance(target, dict) or not isinstance(patch, dict):
        raise PatchError("a strategic merge patch and its target must both be JSON objects")
    return _merge_map(copy.deepcopy(target), patch, (), kind)
