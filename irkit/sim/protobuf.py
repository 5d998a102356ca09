"""The one protobuf body the simulator reads: kubectl's SelfSubjectAccessReview.

``kubectl auth can-i`` always sends its review as protobuf
(``application/vnd.kubernetes.protobuf``). So do kubectl's imperative generators
(``kubectl create namespace|configmap|...``); those get 415 with a hint to use
``kubectl create -f`` or ``apply -f``, which send JSON.
Rather than take on a protobuf dependency and the Kubernetes ``.proto`` files, this decodes the
wire format by hand for exactly the review and turns it into the JSON shape the rest of the
server handles.

Layout (k8s.io/apimachinery runtime.Unknown inside a 4-byte magic):
    "k8s\\0" Unknown{1: TypeMeta{1: apiVersion, 2: kind}, 2: raw, 3: encoding, 4: contentType}
    raw = SelfSubjectAccessReview{1: metadata, 2: spec{1: resourceAttrs, 2: nonResourceAttrs}}
    ResourceAttributes{1 namespace, 2 verb, 3 group, 4 version, 5 resource, 6 subresource, 7 name}
    NonResourceAttributes{1 path, 2 verb}
"""

from __future__ import annotations

from typing import Any

MAGIC = b"k8s\x00"
_RESOURCE_FIELDS = {
    1: "namespace",
    2: "verb",
    3: "group",
    4: "version",
    5: "resource",
    6: "subresource",
    7: "name",
}
_NON_RESOURCE_FIELDS = {1: "path", 2: "verb"}


class ProtobufError(ValueError):
    """The body is not the protobuf message we can read."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise ProtobufError("truncated varint")


def fields(data: bytes) -> dict[int, list[bytes | int]]:
    """Top-level fields of one message: number -> values (bytes for length-delimited)."""
    out: dict[int, list[bytes | int]] = {}
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.setdefault(number, []).append(value)
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError("truncated field")
            out.setdefault(number, []).append(data[pos : pos + length])
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    return out


def _first_bytes(msg: dict[int, list[bytes | int]], number: int) -> bytes:
    for value in msg.get(number, []):
        if isinstance(value, bytes):
            return value
    return b""


def _strings(data: bytes, names: dict[int, str]) -> dict[str, str]:
    msg = fields(data)
    return {name: _first_bytes(msg, n).decode() for n, name in names.items() if n in msg}


def decode_access_review(body: bytes) -> dict[str, Any]:
    """A protobuf SelfSubjectAccessReview as the JSON object the API would have received."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    unknown = fields(body[len(MAGIC) :])
    type_meta = _strings(_first_bytes(unknown, 1), {1: "apiVersion", 2: "kind"})
    if type_meta.get("kind") != "SelfSubjectAccessReview":
        raise ProtobufError(
            f"only SelfSubjectAccessReview is read as protobuf, not {type_meta.get('kind')!r}"
        )
    review = fields(_first_bytes(unknown, 2))
    spec_msg = fields(_first_bytes(review, 2))
    spec: dict[str, Any] = {}
    if 1 in spec_msg:
        spec["resourceAttributes"] = _strings(_first_bytes(spec_msg, 1), _RESOURCE_FIELDS)
    if 2 in spec_msg:
        spec["nonResourceAttributes"] = _strings(_first_bytes(spec_msg, 2), _NON_RESOURCE_FIELDS)
    return {
        "apiVersion": type_meta.get("apiVersion", "authorization.k8s.io/v1"),
        "kind": "SelfSubjectAccessReview",
        "metadata": {},
        "spec": spec,
    }
