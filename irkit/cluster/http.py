"""HTTP to the API server: one urllib3 pool with the kubeconfig's TLS and credentials.

This is what the official client's ``ApiClient`` did for irkit (bodies stay raw JSON), without
importing its ~100 generated API modules and ``kubernetes.config`` at start-up. Credentials
that need a plugin (``exec``, ``auth-provider``) come from the official client's loader, which
also refreshes them as they expire.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import urllib3

from irkit import __version__
from irkit.cluster.kubeconfig import SA_DIR, Credentials, plugin_document
from irkit.errors import ConfigError

USER_AGENT = f"irkit/{__version__}"
TOKEN_REREAD_SECONDS = 60.0  # projected service-account tokens rotate; kubectl re-reads too


class Transport:
    def __init__(self, creds: Credentials, pool_size: int) -> None:
        self.server = creds.server
        cert_file, key_file = creds.cert_file, creds.key_file
        cert_data, key_data = creds.cert_data, creds.key_data
        self._auth: Callable[[], dict[str, str]] = _static_auth(creds)
        if creds.plugin:
            self._auth, cert_file, key_file = _plugin_auth(creds, cert_file, key_file)
            cert_data = cert_data if cert_file == creds.cert_file else None  # the plugin's wins
            key_data = key_data if key_file == creds.key_file else None
        tls: dict[str, Any] = {}
        if creds.server.startswith("https://"):
            if creds.insecure:
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
                tls["cert_reqs"] = "CERT_NONE"
            else:
                tls["cert_reqs"] = "CERT_REQUIRED"
                if creds.ca_data:
                    tls["ca_cert_data"] = creds.ca_data.decode("ascii", "replace")
                elif creds.ca_file:
                    tls["ca_certs"] = creds.ca_file
            if cert_file or cert_data:
                client = ((cert_data, cert_file), (key_data, key_file))
                tls["ssl_context"] = _client_context(tls["cert_reqs"], *client)
            if creds.tls_server_name:
                tls["server_hostname"] = creds.tls_server_name
                tls["assert_hostname"] = creds.tls_server_name
        proxy = creds.proxy_url or env_proxy(creds.server)
        self._pool: urllib3.PoolManager = (
            urllib3.ProxyManager(proxy, num_pools=4, maxsize=pool_size, retries=False, **tls)
            if proxy
            else urllib3.PoolManager(num_pools=4, maxsize=pool_size, retries=False, **tls)
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None,
        headers: dict[str, str],
        body: Any,
        timeout: float,
    ) -> urllib3.BaseHTTPResponse:
        """The response unread (``preload_content=False``): streams stay streams."""
        url = self.server + path + (f"?{urlencode(list(query.items()))}" if query else "")
        return self._pool.request(
            method,
            url,
            body=json.dumps(body).encode() if body is not None else None,
            headers={**headers, **self._auth(), "User-Agent": USER_AGENT},
            preload_content=False,
            redirect=False,
            retries=False,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
        )


def in_cluster() -> Credentials:
    """The pod's own service account, as ``rest.InClusterConfig`` finds it."""
    host, port = (
        os.environ.get("KUBERNETES_SERVICE_HOST"),
        os.environ.get("KUBERNETES_SERVICE_PORT"),
    )
    if not host or not port:
        raise ValueError("KUBERNETES_SERVICE_HOST/PORT are not set (not in a pod?)")
    host = f"[{host}]" if ":" in host else host
    return Credentials(
        server=f"https://{host}:{port}",
        context="in-cluster",
        user=_service_account_user(),
        token_file=str(SA_DIR / "token"),
        ca_file=str(SA_DIR / "ca.crt"),
    )


def _service_account_user() -> str:
    """``system:serviceaccount:ns:name`` from the mounted token's claims (not verified)."""
    try:
        payload = (SA_DIR / "token").read_text().split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(claims.get("sub", "in-cluster service account"))
    except (OSError, IndexError, ValueError):
        return "in-cluster service account"


def _static_auth(creds: Credentials) -> Callable[[], dict[str, str]]:
    if creds.token:
        header = {"Authorization": f"Bearer {creds.token}"}
        return lambda: header
    if creds.token_file:
        return _token_file_auth(Path(creds.token_file))
    if creds.username is not None and creds.password is not None:
        pair = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        header = {"Authorization": f"Basic {pair}"}
        return lambda: header
    return dict


def _token_file_auth(path: Path) -> Callable[[], dict[str, str]]:
    read_at, token = 0.0, ""

    def header() -> dict[str, str]:
        nonlocal read_at, token
        if time.monotonic() - read_at > TOKEN_REREAD_SECONDS or not token:
            token, read_at = path.read_text().strip(), time.monotonic()
        return {"Authorization": f"Bearer {token}"}

    path.read_text()  # unreadable: say so now, as a config error, not at the first request
    return header


def _plugin_auth(
    creds: Credentials, cert_file: str | None, key_file: str | None
) -> tuple[Callable[[], dict[str, str]], str | None, str | None]:
    from kubernetes import client, config  # only exec / auth-provider users pay for these

    cfg = client.Configuration()
    config.load_kube_config_from_dict(  # type: ignore[no-untyped-call]
        plugin_document(creds),
        context=creds.context,
        client_configuration=cfg,
        persist_config=False,
    )

    def header() -> dict[str, str]:
        value = cfg.get_api_key_with_prefix("BearerToken")  # refreshes an expired token
        return {"Authorization": value} if value else {}

    if not header() and not cfg.cert_file:  # the loader logs a failing plugin and goes on
        raise ConfigError(
            f"cannot load Kubernetes credentials: the {creds.plugin} plugin of user "
            f"{creds.user!r} gave neither a token nor a client certificate",
            hint="run the plugin's command by hand to see why (kubectl config view --minify)",
        )

    return header, cfg.cert_file or cert_file, cfg.key_file or key_file


def env_proxy(server: str) -> str | None:
    """HTTPS_PROXY/HTTP_PROXY for ``server`` unless NO_PROXY covers it; never for a loopback
    host (kubectl's Go HTTP stack skips those too)."""
    from urllib.parse import urlsplit
    from urllib.request import getproxies, proxy_bypass

    parts = urlsplit(server)
    host = parts.hostname or ""
    if host in ("localhost", "::1") or host.startswith("127.") or proxy_bypass(host):
        return None
    return getproxies().get(parts.scheme) or None


Pem = tuple[bytes | None, str | None]  # inline data, else a file


def _client_context(cert_reqs: str, cert: Pem, key: Pem) -> ssl.SSLContext:
    """The client certificate loaded once into the TLS context. Inline key material goes
    through a private temp file only for ``load_cert_chain`` and is gone right after: a
    killed irkit leaves no private key behind (urllib3 would re-read files per connection)."""
    from urllib3.util.ssl_ import create_urllib3_context

    context = create_urllib3_context(
        cert_reqs=ssl.CERT_NONE if cert_reqs == "CERT_NONE" else ssl.CERT_REQUIRED
    )
    with _pem(*cert) as cert_path, _pem(*key) as key_path:
        if cert_path is None:
            raise ConfigError("a client key without a client certificate in the kubeconfig")
        try:
            context.load_cert_chain(cert_path, key_path)
        except (OSError, ssl.SSLError) as e:
            raise ConfigError(f"cannot load the client certificate or key: {e}") from None
    return context


@contextlib.contextmanager
def _pem(data: bytes | None, path: str | None) -> Iterator[str | None]:
    if data is None:
        yield path
        return
    fd, name = tempfile.mkstemp(prefix="irkit-kubeconfig-", suffix=".pem")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        yield name
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)
