"""Kubeconfigs read as kubectl reads them (issue 7, item 8): merged $KUBECONFIG lists, the
context's namespace, paths relative to their file, and errors that name the files tried and
list the contexts there are."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from irkit.cluster.kubeconfig import context_namespace, load, plugin_document
from irkit.errors import ConfigError


def _config(
    contexts: dict[str, dict[str, str]],
    current: str | None = None,
    clusters: dict[str, dict[str, Any]] | None = None,
    users: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": c} for n, c in (clusters or {}).items()],
        "users": [{"name": n, "user": u} for n, u in (users or {}).items()],
        "contexts": [{"name": n, "context": c} for n, c in contexts.items()],
    }
    if current:
        doc["current-context"] = current
    return doc


def _write(path: Path, doc: dict[str, Any]) -> str:
    path.write_text(yaml.safe_dump(doc))
    return str(path)


CLUSTER = {"c": {"server": "https://k8s.example:6443", "certificate-authority": "ca.crt"}}


def test_token_ca_file_relative_to_the_kubeconfig_and_the_contexts_namespace(
    tmp_path: Path,
) -> None:
    path = _write(
        tmp_path / "config",
        _config(
            {"prod": {"cluster": "c", "user": "u", "namespace": "payments"}},
            "prod",
            CLUSTER,
            {"u": {"token": "t0k", "client-key": "/abs/key.pem"}},
        ),
    )
    creds = load(path, None)
    assert creds.server == "https://k8s.example:6443" and creds.token == "t0k"
    assert creds.ca_file == str(tmp_path / "ca.crt") and creds.key_file == "/abs/key.pem"
    assert creds.namespace == "payments" and creds.user == "u" and creds.context == "prod"
    assert context_namespace(path, None) == "payments"


def test_no_namespace_in_the_context_means_default(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "config", _config({"x": {"cluster": "c", "user": "u"}}, "x", CLUSTER, {"u": {}})
    )
    assert context_namespace(path, None) == "default"


def test_inline_certificates_are_decoded_and_bad_base64_is_named(tmp_path: Path) -> None:
    pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    good = {"client-certificate-data": base64.b64encode(pem).decode(), "client-key-data": "a2V5"}
    path = _write(
        tmp_path / "config",
        _config({"x": {"cluster": "c", "user": "u"}}, "x", CLUSTER, {"u": good}),
    )
    creds = load(path, None)
    assert creds.cert_data == pem and creds.key_data == b"key"
    bad = _write(
        tmp_path / "bad",
        _config(
            {"x": {"cluster": "c", "user": "u"}}, "x", CLUSTER, {"u": {"client-key-data": "%%"}}
        ),
    )
    with pytest.raises(ConfigError, match="client-key-data is not base64"):
        load(bad, None)


def test_kubeconfig_lists_merge_first_one_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _write(
        tmp_path / "a",
        _config(
            {"a": {"cluster": "c", "user": "u", "namespace": "from-a"}}, "a", CLUSTER, {"u": {}}
        ),
    )
    second = _write(
        tmp_path / "b",
        _config(
            {"a": {"cluster": "c", "user": "u", "namespace": "from-b"}, "b": {"cluster": "c"}},
            "b",
            {"c": {"server": "https://other:1"}},
        ),
    )
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([first, str(tmp_path / "missing"), second]))
    creds = load(None, None)
    assert creds.context == "a" and creds.namespace == "from-a"
    assert creds.server == "https://k8s.example:6443"
    assert load(None, "b").context == "b"


def test_an_unknown_context_lists_the_contexts_and_the_files(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "config",
        _config({"prod-eu": {"cluster": "c"}, "staging": {"cluster": "c"}}, "staging", CLUSTER, {}),
    )
    with pytest.raises(ConfigError) as info:
        load(path, "prod-ue")
    message = str(info.value)
    assert "context 'prod-ue' not found in " + path in message
    assert "did you mean 'prod-eu'?" in message and "contexts there: prod-eu, staging" in message


def test_missing_kubeconfigs_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    monkeypatch.setenv("KUBECONFIG", f"{a}{os.pathsep}{b}")
    with pytest.raises(ConfigError, match=f"tried {a}, {b} from KUBECONFIG"):
        load(None, None)
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ConfigError, match=f"tried {tmp_path}/.kube/config"):
        load(None, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "not a kubeconfig"),
        ("a: [", "not a kubeconfig"),
        ("contexts: [{name: x, context: {cluster: nope}}]\ncurrent-context: x", "cluster 'nope'"),
        ("contexts: [{context: {}}]", "needs a name"),
        (
            "clusters: [{name: c, cluster: {server: ftp://x}}]\n"
            "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x",
            "no https:// server",
        ),
        (
            "contexts: [{name: x, context: {cluster: c}}]",
            "sets no current-context; contexts there: x",
        ),
    ],
)
def test_malformed_kubeconfigs_are_config_errors(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "config").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load(str(tmp_path / "config"), None)


def test_plugin_users_get_a_whole_document_with_absolute_paths(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "config",
        _config(
            {"x": {"cluster": "c", "user": "u"}},
            "x",
            CLUSTER,
            {"u": {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "x"}}},
        ),
    )
    creds = load(path, None)
    assert creds.plugin == "exec"
    doc = plugin_document(creds)
    assert doc["clusters"][0]["cluster"]["certificate-authority"] == str(tmp_path / "ca.crt")
    assert doc["current-context"] == "x" and doc["users"][0]["user"]["exec"]["command"] == "x"


def test_the_adapter_starts_without_the_official_clients_config_machinery() -> None:
    code = (
        "import sys, irkit.cli.app, irkit.cluster.kube\n"
        "print(sorted(m for m in ('kubernetes', 'requests', 'oauthlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
