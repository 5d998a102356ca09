"""Kubeconfig files read the way kubectl reads them, without the ``kubernetes.config`` machinery.

``kubernetes.config`` imports requests, oauthlib and google-auth helpers: a third of a second
before a responder's first request. Most kubeconfigs need none of it: a server, a CA, and a
token or a client certificate. Those are read here (``$KUBECONFIG`` lists merged as kubectl
merges them, paths relative to their file, the context's namespace). Only ``exec`` and
``auth-provider`` users need a plugin run; the adapter hands those to the official client's
loader (``plugin_config``), imported then and only then.

Every error names the files tried, and an unknown context lists the contexts there are.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from irkit.errors import ConfigError, Remedy
from irkit.hints import nearest

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_PATH = "~/.kube/config"
HINT = Remedy("kubeconfig")  # worded by the front end: --kubeconfig and --context in the CLI


@dataclass(frozen=True)
class Credentials:
    """Where the API server is and how to prove who we are: one context, resolved."""

    server: str
    context: str
    user: str
    namespace: str = ""
    """The context's namespace; "" when it names none (commands then use "default")."""
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    ca_data: bytes | None = field(default=None, repr=False)
    ca_file: str | None = None
    cert_data: bytes | None = field(default=None, repr=False)
    cert_file: str | None = None
    key_data: bytes | None = field(default=None, repr=False)
    key_file: str | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    proxy_url: str | None = None
    """The kubeconfig cluster's ``proxy-url``; else HTTPS_PROXY/NO_PROXY as kubectl reads them."""
    plugin: str | None = None
    """"exec" or "auth-provider" when a plugin must supply the credentials."""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The merged kubeconfig, for the plugin loader."""


def kubeconfig_files(kubeconfig: str | None) -> tuple[list[Path], str]:
    """The files to read, and how they were chosen (for error messages)."""
    chosen = kubeconfig or os.environ.get("KUBECONFIG") or ""
    if chosen:
        from_env = not kubeconfig or kubeconfig == os.environ.get("KUBECONFIG")
        source = "KUBECONFIG" if from_env else "--kubeconfig"
        files = [Path(p).expanduser() for p in chosen.split(os.pathsep) if p]
        return files, source
    return [Path(DEFAULT_PATH).expanduser()], DEFAULT_PATH


def in_cluster_available(kubeconfig: str | None) -> bool:
    """No kubeconfig anywhere, but a mounted service account: run as the pod."""
    files, source = kubeconfig_files(kubeconfig)
    return source == DEFAULT_PATH and not files[0].exists() and (SA_DIR / "token").exists()


def load(kubeconfig: str | None, context: str | None) -> Credentials:
    files, source = kubeconfig_files(kubeconfig)
    tried = ", ".join(str(f) for f in files)
    merged = _merge([f for f in files if f.exists()], source)
    if not merged:
        raise ConfigError(
            f"cannot load Kubernetes credentials: no kubeconfig file found (tried {tried}"
            f"{' from ' + source if source != DEFAULT_PATH else ''}), and no in-cluster "
            "service account",
            remedy=HINT,
        )
    contexts = merged["contexts"]
    name = context or merged.get("current-context") or ""
    if not name:
        raise ConfigError(
            f"cannot load Kubernetes credentials: {tried} sets no current-context; "
            f"contexts there: {', '.join(contexts) or '(none)'}",
            remedy=Remedy("kube-context-unset"),
        )
    if name not in contexts:
        raise ConfigError(
            f"cannot load Kubernetes credentials: context {name!r} not found in {tried}"
            f"{nearest(name, contexts)}; contexts there: {', '.join(contexts) or '(none)'}",
            remedy=Remedy("kube-context-unknown"),
        )
    ctx = contexts[name]
    cluster_name, user_name = str(ctx.get("cluster") or ""), str(ctx.get("user") or "")
    cluster = merged["clusters"].get(cluster_name)
    if cluster is None:
        raise ConfigError(
            f"cannot load Kubernetes credentials: context {name!r} names cluster "
            f"{cluster_name!r}, which is not in {tried}",
            remedy=HINT,
        )
    user = merged["users"].get(user_name, {})  # no user: anonymous, as kubectl
    return _credentials(merged, name, user_name, ctx, cluster, user, tried)


def context_namespace(kubeconfig: str | None, context: str | None) -> str:
    """The namespace kubectl would use without ``-n``: the context's, else "default"."""
    if in_cluster_available(kubeconfig):
        try:
            return (SA_DIR / "namespace").read_text().strip() or "default"
        except OSError:
            return "default"
    return load(kubeconfig, context).namespace or "default"


def _merge(files: list[Path], source: str) -> dict[str, Any]:
    """kubectl's merge: the first file to set a value (or a named entry) wins."""
    merged: dict[str, Any] = {"clusters": {}, "users": {}, "contexts": {}}
    found = False
    for path in files:
        doc = _read(path, source)
        if doc is None:
            continue
        found = True
        if doc.get("current-context") and not merged.get("current-context"):
            merged["current-context"] = str(doc["current-context"])
        for section, inner in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            for entry in doc.get(section) or []:
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                    raise ConfigError(f"{path}: every entry of {section} needs a name", remedy=HINT)
                body = entry.get(inner) or {}
                if not isinstance(body, dict):
                    raise ConfigError(f"{path}: {section} {entry['name']!r} is not a map")
                merged[section].setdefault(entry["name"], {**body, "": {"base": path.parent}})
    return merged if found else {}


def _read(path: Path, source: str) -> dict[str, Any] | None:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(
            f"cannot load Kubernetes credentials: cannot read {path} ({source}): {e.strerror or e}",
            remedy=HINT,
        ) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        # Only where: PyYAML's message quotes the offending line, which may hold a token.
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not a kubeconfig: invalid YAML{where}", remedy=HINT) from None
    if doc is None:
        return None  # an empty file is skipped, as kubectl skips it
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: not a kubeconfig (a map is needed)", remedy=HINT)
    return doc


def _credentials(
    merged: dict[str, Any],
    context: str,
    user_name: str,
    ctx: dict[str, Any],
    cluster: dict[str, Any],
    user: dict[str, Any],
    tried: str,
) -> Credentials:
    server = str(cluster.get("server") or "")
    if not server.startswith(("https://", "http://")):
        raise ConfigError(
            f"cannot load Kubernetes credentials: cluster {ctx.get('cluster')!r} in {tried} has "
            f"no https:// server (server: {server!r})",
            remedy=HINT,
        )
    cbase = cluster.get("", {}).get("base", Path())
    ubase = user.get("", {}).get("base", Path())
    plugin = "exec" if user.get("exec") else "auth-provider" if user.get("auth-provider") else None
    ca_given = bool(
        cluster.get("certificate-authority-data") or cluster.get("certificate-authority")
    )
    return Credentials(
        server=server.rstrip("/"),
        context=context,
        user=user_name,
        namespace=str(ctx.get("namespace") or ""),
        token=_str(user.get("token")),
        token_file=_path(user.get("tokenFile"), ubase),
        username=_str(user.get("username")),
        password=_str(user.get("password")),
        ca_data=_b64(cluster.get("certificate-authority-data"), "certificate-authority-data"),
        ca_file=_path(cluster.get("certificate-authority"), cbase),
        cert_data=_b64(user.get("client-certificate-data"), "client-certificate-data"),
        cert_file=_path(user.get("client-certificate"), ubase),
        key_data=_b64(user.get("client-key-data"), "client-key-data"),
        key_file=_path(user.get("client-key"), ubase),
        insecure=_insecure(cluster.get("insecure-skip-tls-verify"), ca_given),
        tls_server_name=_str(cluster.get("tls-server-name")),
        proxy_url=_str(cluster.get("proxy-url")),
        plugin=plugin,
        raw=merged,
    )


def _insecure(value: Any, ca_given: bool) -> bool:
    """kubectl's rules: a real boolean only (the string "false" must not turn verification
    off), and never together with a CA."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ConfigError(
            f"insecure-skip-tls-verify must be true or false, not {value!r}", remedy=HINT
        )
    if value and ca_given:
        raise ConfigError(
            "insecure-skip-tls-verify and a certificate authority are both set: choose one",
            remedy=HINT,
        )
    return value


def _str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _path(value: Any, base: Path) -> str | None:
    if value in (None, ""):
        return None
    path = Path(str(value)).expanduser()
    return str(path if path.is_absolute() else base / path)


def _b64(value: Any, what: str) -> bytes | None:
    if value in (None, ""):
        return None
    try:
        return base64.b64decode(str(value), validate=True)
    except ValueError:
        raise ConfigError(f"kubeconfig: {what} is not base64", remedy=HINT) from None


def plugin_document(creds: Credentials) -> dict[str, Any]:
    """The merged kubeconfig as one document again, for the official client's plugin loader;
    relative paths made absolute, since the loader no longer knows each entry's file."""
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Config"}
    for section, inner in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
        entries = []
        for name, body in creds.raw[section].items():
            clean = {k: v for k, v in body.items() if k != ""}
            base = body.get("", {}).get("base", Path())
            for key in ("certificate-authority", "client-certificate", "client-key", "tokenFile"):
                if clean.get(key):
                    clean[key] = _path(clean[key], base)
            entries.append({"name": name, inner: clean})
        doc[section] = entries
    doc["current-context"] = creds.context
    return doc
