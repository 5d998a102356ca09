"""The rules a label or annotation key and value must follow: Kubernetes' syntax, and irkit's own
(``irkit.io/*`` keys are its records). Pure, so ``irkit validate`` (``LabelInput`` of
``irkit.actions.specs.label``) refuses what the ``label`` action (``irkit.actions.label``)
would, with the same words.
"""

from __future__ import annotations

import re

from irkit.errors import UsageError

RESERVED_DOMAIN = "irkit.io"
ANNOTATIONS_MAX_BYTES = 256 * 1024  # the API server's limit on all of an object's annotations
_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def check(set: dict[str, str], remove: list[str], *, annotate: bool) -> None:
    """Raise UsageError for anything the API server (or irkit's own rules) would refuse."""
    what = "annotation" if annotate else "label"
    if not set and not remove:
        raise UsageError(f"{what}: nothing to do (give 'set' and/or 'remove')")
    both = sorted(k for k in remove if k in set)
    if both:
        raise UsageError(f"{what} key {both[0]!r} is both set and removed; pick one")
    for key in [*set, *remove]:
        problem = key_problem(key)
        if problem:
            raise UsageError(f"{what} key {key!r}: {problem}")
        if _domain(key) == RESERVED_DOMAIN or _domain(key).endswith("." + RESERVED_DOMAIN):
            raise UsageError(
                f"{what} key {key!r}: {RESERVED_DOMAIN}/ keys are irkit's own records "
                "(isolate, scale, cordon keep what their undo needs there); choose another key",
                hint="to undo an irkit action, use its counterpart (release, restore, uncordon)",
            )
    if annotate:
        size = sum(len(k.encode()) + len(v.encode()) for k, v in set.items())
        if size > ANNOTATIONS_MAX_BYTES:
            raise UsageError(f"annotations: {size} bytes, more than the API's 256 KiB limit")
        return
    for key, value in set.items():
        if len(value) > 63:
            raise UsageError(f"label {key!r}: the value is {len(value)} characters; 63 at most")
        if value and not _NAME.match(value):
            raise UsageError(
                f"label {key!r}: value {value[:63]!r} must be empty or alphanumeric characters, "
                "'-', '_' or '.', starting and ending with an alphanumeric character",
                hint="free text belongs in an annotation (action: annotate)",
            )


def key_problem(key: str) -> str | None:
    """Why ``key`` is not a Kubernetes qualified name (``[prefix/]name``), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return "the prefix before '/' is empty"
    if prefix and (len(prefix) > 253 or not _SUBDOMAIN.match(prefix)):
        return "the prefix must be a lower-case DNS subdomain (e.g. example.com), 253 at most"
    if not name:
        return "the name is empty"
    if len(name) > 63:
        return f"the name is {len(name)} characters; 63 at most"
    if not _NAME.match(name):
        return (
            "the name must be alphanumeric characters, '-', '_' or '.', starting and ending "
            "with an alphanumeric character"
        )
    return None


def _domain(key: str) -> str:
    return key.rpartition("/")[0].lower()
