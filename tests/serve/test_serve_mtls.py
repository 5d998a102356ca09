"""mTLS: with ``--tls-client-ca`` a verified client certificate is the credential (Falco's
http_output sends no headers), and a client without one does not get through the handshake."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from serving import falco
from test_serve_process import Server

from irkit.sim import SimCluster


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name, issuer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        builder = builder.add_extension(san, critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(
    folder: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> None:
    (folder / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (folder / f"{name}.key").write_bytes(pem)
    (folder / f"{name}.key").chmod(0o600)


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    folder = tmp_path / "pki"
    folder.mkdir()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("irkit test CA", ca_key, None, ca=True)
    _write(folder, "ca", ca, ca_key)
    for name, server in (("server", True), ("client", False)):
        key = ec.generate_private_key(ec.SECP256R1())
        _write(folder, name, _cert(name, key, (ca.subject, ca_key), server=server), key)
    return folder


@pytest.fixture
def mtls(tmp_path: Path, sim: SimCluster, pki: Path) -> Iterator[Server]:
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(str(pki / "client.crt"), str(pki / "client.key"))
    server = Server(
        tmp_path,
        sim,
        "--tls-cert", str(pki / "server.crt"), "--tls-key", str(pki / "server.key"),
        "--tls-client-ca", str(pki / "ca.crt"),
        token=False,
        client=httpx.Client(verify=context),
    )  # fmt: skip
    yield server
    server.stop()


def test_a_client_certificate_authenticates_without_a_token(mtls: Server, pki: Path) -> None:
    mtls.start()
    reply = mtls.client.post(f"{mtls.url}/v1/alerts/falco", json=falco())
    assert reply.status_code == 202, reply.text
    assert len(reply.json()["accepted"]) == 1
    anonymous = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    with httpx.Client(verify=anonymous) as client, pytest.raises(httpx.TransportError):
        client.post(f"{mtls.url}/v1/alerts/falco", json=falco())
