"""The narrow interface the actions use to talk to a cluster.

Objects are the API's JSON as plain dicts: no client models, so the actions are independent of
the client library, fast (no model deserialisation for 200 pods), and easy to test against
``irkit.sim``. Kinds are the names in ``irkit.model.kinds`` (``pods``, ``deployments``, ...).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Obj = dict[str, Any]
PatchType = Literal["merge", "json", "strategic"]


@dataclass(frozen=True)
class Identity:
    """Who irkit acts as, for custody records and error messages."""

    user: str
    context: str
    server: str


class Cluster(Protocol):
    identity: Identity

    def get(self, kind: str, namespace: str, name: str, subresource: str = "") -> Obj: ...

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        labels: str | None = None,
        fields: str | None = None,
    ) -> list[Obj]:
        """Every matching object (pages followed); ``namespace=None`` lists all namespaces."""
        ...

    def iterate(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        labels: str | None = None,
        fields: str | None = None,
    ) -> Iterator[Obj]:
        """The same objects as ``list``, one page in memory at a time (``continue`` tokens
        followed lazily): for lists that may be huge, such as Events. Errors are raised when
        the page that fails is reached, possibly after objects were already yielded."""
        ...

    def create(self, kind: str, namespace: str, obj: Obj, *, dry_run: bool = False) -> Obj: ...

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
    ) -> Obj: ...

    def delete(self, kind: str, namespace: str, name: str, *, dry_run: bool = False) -> None: ...

    def stream_log(
        self,
        namespace: str,
        pod: str,
        container: str,
        *,
        previous: bool = False,
        timestamps: bool = True,
    ) -> AbstractContextManager[Iterator[bytes]]:
        """The container's log as chunks, never whole in memory."""
        ...

    def can_i(
        self, verb: str, kind: str, namespace: str = "", *, subresource: str = "", name: str = ""
    ) -> bool:
        """A SelfSubjectAccessReview: may the current identity do this?"""
        ...
