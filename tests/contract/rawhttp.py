"""Raw HTTPS requests to a simulated cluster, for what the official client cannot send.

The ``kubernetes`` client always serialises a valid body; malformed JSON, a missing token or an
unusual header have to be sent by hand. Only the stdlib is used, and only loopback is reached.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from irkit.sim import SimCluster


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def tls_context(sim: SimCluster) -> ssl.SSLContext:
    """A client context that trusts only the simulator's own CA."""
    return ssl.create_default_context(cadata=sim.ca_pem.decode())


def request(
    sim: SimCluster,
    method: str,
    path: str,
    body: bytes | None = None,
    *,
    token: str | None = "",
    content_type: str = "application/json",
    timeout: float = 10.0,
) -> RawResponse:
    """Send one request; ``token=""`` means the admin token, ``token=None`` sends none."""
    if not sim.url.startswith("https://127.0.0.1:"):
        raise AssertionError(f"refusing to send a raw request off loopback: {sim.url}")
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = content_type
    bearer = sim.admin_token if token == "" else token
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    req = urllib.request.Request(sim.url + path, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=tls_context(sim)) as resp:
            return RawResponse(resp.status, _lower(resp.headers.items()), resp.read())
    except urllib.error.HTTPError as e:
        with e:
            return RawResponse(e.code, _lower(e.headers.items()), e.read())


def _lower(items: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in items}
