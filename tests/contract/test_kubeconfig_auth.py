"""The adapter's own kubeconfig loading against irkit.sim: tokens, token files, CA files,
insecure-skip-tls-verify, and ``exec`` plugins (handed to the official client's loader)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from irkit.cluster.kube import connect
from irkit.errors import ConfigError, Forbidden
from irkit.settings import ClusterSettings
from irkit.sim import SimCluster


def _variant(sim: SimCluster, tmp_path: Path, cluster: dict[str, Any], user: dict[str, Any]) -> str:
    doc = sim.kubeconfig()
    doc["clusters"][0]["cluster"] = {"server": sim.url, **cluster}
    doc["users"] = [{"name": "sim-admin", "user": user}]
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def _pods(kubeconfig: str) -> int:
    return len(connect(ClusterSettings(kubeconfig=kubeconfig)).list("pods", "production"))


def test_token_file_and_ca_file_relative_to_the_kubeconfig(sim: SimCluster, tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_bytes(sim.ca_pem)
    (tmp_path / "token").write_text(sim.admin_token + "\n")
    path = _variant(sim, tmp_path, {"certificate-authority": "ca.pem"}, {"tokenFile": "token"})
    assert _pods(path) > 0


def test_insecure_skip_tls_verify_warns_nothing(sim: SimCluster, tmp_path: Path) -> None:
    path = _variant(sim, tmp_path, {"insecure-skip-tls-verify": True}, {"token": sim.admin_token})
    assert _pods(path) > 0  # filterwarnings=error: an InsecureRequestWarning would fail this


def test_an_unknown_ca_is_refused_at_once_as_a_config_error(
    sim: SimCluster, tmp_path: Path
) -> None:
    """A certificate that does not verify is not an outage: no retries, a TLS hint."""
    path = _variant(sim, tmp_path, {}, {"token": sim.admin_token})  # no CA: the system's
    with pytest.raises(ConfigError, match=r"TLS with .* failed: .*CERTIFICATE_VERIFY_FAILED"):
        connect(ClusterSettings(kubeconfig=path)).list("pods", "production")


@pytest.mark.parametrize("value", ["false", "true", 0, "yes"])
def test_insecure_skip_tls_verify_takes_a_real_boolean_only(
    sim: SimCluster, tmp_path: Path, value: object
) -> None:
    """A quoted "false" used to turn verification off (bool("false") is True)."""
    path = _variant(sim, tmp_path, {"insecure-skip-tls-verify": value}, {"token": "t"})
    with pytest.raises(ConfigError, match="insecure-skip-tls-verify must be true or false"):
        connect(ClusterSettings(kubeconfig=path))


def test_insecure_with_a_ca_is_refused(sim: SimCluster, tmp_path: Path) -> None:
    ca = sim.kubeconfig()["clusters"][0]["cluster"]["certificate-authority-data"]
    cluster = {"insecure-skip-tls-verify": True, "certificate-authority-data": ca}
    path = _variant(sim, tmp_path, cluster, {"token": sim.admin_token})
    with pytest.raises(ConfigError, match="both set"):
        connect(ClusterSettings(kubeconfig=path))


def test_secrets_stay_out_of_reprs_and_yaml_errors(tmp_path: Path) -> None:
    from irkit.cluster.kubeconfig import Credentials, load

    creds = Credentials("https://x", "c", "u", token="TOKEN-CANARY", key_data=b"KEY-CANARY")
    assert "CANARY" not in repr(creds)
    bad = tmp_path / "kubeconfig"
    bad.write_text("users:\n- user: {token: TOKEN-CANARY\n  : [\n")
    with pytest.raises(ConfigError) as info:
        load(str(bad), None)
    assert "CANARY" not in str(info.value) and "invalid YAML at line" in str(info.value)


def test_exec_plugins_supply_the_token(sim: SimCluster, tmp_path: Path) -> None:
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "status": {"token": sim.admin_token},
    }
    plugin = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": sys.executable,
        "args": ["-c", f"print({json.dumps(json.dumps(credential))})"],
    }
    ca = {
        "certificate-authority-data": sim.kubeconfig()["clusters"][0]["cluster"][
            "certificate-authority-data"
        ]
    }
    assert _pods(_variant(sim, tmp_path, ca, {"exec": plugin})) > 0


def test_a_wrong_token_is_refused_and_a_failing_plugin_is_a_config_error(
    sim: SimCluster, tmp_path: Path
) -> None:
    ca = {
        "certificate-authority-data": sim.kubeconfig()["clusters"][0]["cluster"][
            "certificate-authority-data"
        ]
    }
    with pytest.raises(Forbidden, match="unauthorized"):
        _pods(_variant(sim, tmp_path, ca, {"token": "wrong"}))
    broken = {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "/nonexistent/x"}
    with pytest.raises(ConfigError, match="exec plugin of user 'sim-admin' gave neither"):
        _pods(_variant(sim, tmp_path, ca, {"exec": broken}))


def test_tls_server_name_is_the_name_checked(sim: SimCluster, tmp_path: Path) -> None:
    ca = sim.kubeconfig()["clusters"][0]["cluster"]["certificate-authority-data"]
    token = {"token": sim.admin_token}
    good = _variant(
        sim, tmp_path, {"certificate-authority-data": ca, "tls-server-name": "localhost"}, token
    )
    assert _pods(good) > 0
    bad = _variant(
        sim, tmp_path, {"certificate-authority-data": ca, "tls-server-name": "evil.example"}, token
    )
    with pytest.raises(ConfigError, match=r"TLS with .* failed: .*hostname 'evil.example'"):
        connect(ClusterSettings(kubeconfig=bad)).list("pods", "production")


def _client_pair() -> tuple[bytes, bytes]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "responder")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


def test_inline_client_key_never_stays_on_disk(
    sim: SimCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review finding: client-key-data went to a temp file removed only at exit, so a killed
    irkit left the private key behind. It is loaded once into the TLS context and deleted."""
    import base64
    import tempfile

    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    cert, key = _client_pair()
    ca = sim.kubeconfig()["clusters"][0]["cluster"]["certificate-authority-data"]
    user = {
        "token": sim.admin_token,
        "client-certificate-data": base64.b64encode(cert).decode(),
        "client-key-data": base64.b64encode(key).decode(),
    }
    path = _variant(sim, tmp_path, {"certificate-authority-data": ca}, user)
    assert _pods(path) > 0
    assert list((tmp_path / "tmp").iterdir()) == []
    user["client-key-data"] = base64.b64encode(b"not a key").decode()
    with pytest.raises(ConfigError, match="client certificate or key"):
        connect(ClusterSettings(kubeconfig=_variant(sim, tmp_path, {}, user)))
    assert list((tmp_path / "tmp").iterdir()) == []


class _ConnectProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 that tunnels to the simulator and counts tunnels."""

    def __init__(self) -> None:
        import socket
        import threading

        self.tunnels: list[bytes] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            head = b""
            while b"\r\n\r\n" not in head:
                head += client.recv(4096)
            target = head.split(b" ")[1]
            self.tunnels.append(target)
            host, port = target.rsplit(b":", 1)
            upstream = socket.create_connection((host.decode(), int(port)))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: Any, dst: Any) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            dst.close()

    def close(self) -> None:
        self._server.close()


def test_proxy_url_is_honoured(sim: SimCluster, tmp_path: Path) -> None:
    """Review finding: the hand-written transport dropped the kubeconfig's proxy-url (the
    official client honoured it), cutting off responders who reach the API through a proxy."""
    proxy = _ConnectProxy()
    try:
        ca = sim.kubeconfig()["clusters"][0]["cluster"]["certificate-authority-data"]
        cluster = {"certificate-authority-data": ca, "proxy-url": proxy.url}
        assert _pods(_variant(sim, tmp_path, cluster, {"token": sim.admin_token})) > 0
        assert proxy.tunnels and proxy.tunnels[0].startswith(b"127.0.0.1:")
    finally:
        proxy.close()


def test_environment_proxies_skip_loopback_and_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    from irkit.cluster.http import env_proxy

    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    assert env_proxy("https://127.0.0.1:6443") is None
    assert env_proxy("https://api.internal.example") is None
    assert env_proxy("https://api.cluster.example") == "http://127.0.0.1:9"
