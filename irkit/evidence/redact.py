"""Take secret values out of cluster objects before they are written into a bundle.

Secrets themselves never enter a bundle (``collect_state.secret_summary``), but their values
travel elsewhere too: a literal ``env[].value`` such as ``DB_PASSWORD=hunter2`` in a pod or a
pod template, and ``kubectl.kubernetes.io/last-applied-configuration``, which holds the whole
object as applied (of a Secret: its data). So every object goes through ``redact`` first:

- ``env[].value`` of every container, init container and ephemeral container, in a Pod's
  ``spec``, a workload's ``spec.template.spec`` (Deployment, StatefulSet, DaemonSet, ReplicaSet,
  Job, ...) and a CronJob's ``spec.jobTemplate.spec.template.spec``, becomes
  ``"<redacted: N bytes>"`` when the variable's NAME looks secret (``secret_name``). The name
  stays, and the fact that a value was there; ``valueFrom`` (a reference, no value) is kept.
- in those containers also: ``user:password@`` in any URL of an env value, ``command`` or
  ``args``; the value of ``--flag=value`` arguments whose flag looks secret; and
  ``Authorization``/``Cookie``-like headers of probes' and lifecycle hooks' ``httpGet``.
- ``last-applied-configuration``: dropped from a Secret (with ``data`` and ``stringData``, should
  a Secret ever be passed here); on any other object parsed and redacted by the same rules,
  or dropped when it is not a JSON object.
- a ``List`` (``items``) is redacted item by item.

The name rule: the name is split into words at ``_``, ``-``, ``.``, digits and camelCase
boundaries (``dbPassword`` -> db, password); it looks secret when a word is one of ``WORDS``
(``key``, ``auth``, ``pwd``, ...), or contains one of ``STEMS`` (``DBPASSWORD``,
``GITHUB_TOKEN``, ``APIKEY``, ``PRIVATEKEY``). ``MONKEY_COUNT`` and ``AUTHOR`` are kept: ``key``
and ``auth`` must be whole words. Functions are pure: the input is never changed.

Text irkit writes itself (command lines, params, webhook URLs in journals and RCAs) is redacted
by ``irkit.redact``; this module is its counterpart for cluster *objects* entering a bundle.
"""

from __future__ import annotations

import json
import re
from typing import Any

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
WORDS = frozenset(
    {"key", "keys", "auth", "pwd", "pw", "pass", "creds", "dsn", "jwt", "otp", "salt"}
)
STEMS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "privatekey",
    "credential",
    "private",
    "bearer",
    "authorization",
    "oauth",
)
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")


def secret_name(name: str) -> bool:
    """Does an environment variable's name say its value is a secret?"""
    words = [w.lower() for w in _WORD.findall(name)]
    return any(w in WORDS or any(stem in w for stem in STEMS) for w in words)


def redacted(value: str) -> str:
    return f"<redacted: {len(value.encode('utf-8', 'surrogatepass'))} bytes>"


def redact(obj: Any) -> Any:
    """A copy of a cluster object (or a List of them) without secret values; see the module."""
    if not isinstance(obj, dict):
        return obj
    out = dict(obj)
    if isinstance(out.get("items"), list):
        out["items"] = [redact(item) for item in out["items"]]
    secret = out.get("kind") == "Secret"
    if secret:
        out.pop("data", None)
        out.pop("stringData", None)
    out = _without_last_applied(out, secret)
    spec = out.get("spec")
    if isinstance(spec, dict):
        out["spec"] = _spec(spec)
    return out


def _spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A Pod's spec, a workload's (``template``) or a CronJob's (``jobTemplate``)."""
    out = _pod_spec(spec)
    for key in ("template", "jobTemplate"):
        inner = out.get(key)
        if isinstance(inner, dict) and isinstance(inner.get("spec"), dict):
            out[key] = {**inner, "spec": _spec(inner["spec"])}
    return out


def _pod_spec(spec: dict[str, Any]) -> dict[str, Any]:
    out = dict(spec)
    for key in CONTAINER_LISTS:
        containers = out.get(key)
        if isinstance(containers, list):
            out[key] = [_container(c) for c in containers]
    return out


PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")


def _container(container: Any) -> Any:
    if not isinstance(container, dict):
        return container
    out = dict(container)
    if isinstance(out.get("env"), list):
        out["env"] = [_env(e) for e in out["env"]]
    for key in ("command", "args"):
        if isinstance(out.get(key), list):
            out[key] = [_arg(a) for a in out[key]]
    for key in PROBES:
        if key in out:
            out[key] = _handler(out[key])
    lifecycle = out.get("lifecycle")
    if isinstance(lifecycle, dict):
        out["lifecycle"] = {k: _handler(v) for k, v in lifecycle.items()}
    return out


def _env(env: Any) -> Any:
    if not isinstance(env, dict) or "value" not in env:
        return env
    name, value = env.get("name"), env["value"]
    if not isinstance(name, str) or secret_name(name):
        return {**env, "value": redacted(value if isinstance(value, str) else json.dumps(value))}
    if isinstance(value, str):
        return {**env, "value": without_url_credentials(value)}
    return env


def without_url_credentials(text: str) -> str:
    """``postgres://app:hunter2@db/x`` -> ``postgres://<redacted>@db/x``, whatever the name."""
    return _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}<redacted>@", text)


def _arg(arg: Any) -> Any:
    """``--db-password=hunter2`` keeps its flag, not its value; URL credentials go too."""
    if not isinstance(arg, str):
        return arg
    flag, eq, value = arg.partition("=")
    if eq and flag.startswith("-") and secret_name(flag.lstrip("-")):
        return f"{flag}={redacted(value)}"
    return without_url_credentials(arg)


def _handler(handler: Any) -> Any:
    """A probe's or lifecycle hook's ``httpGet.httpHeaders``: Authorization and the like."""
    if not isinstance(handler, dict) or not isinstance(handler.get("httpGet"), dict):
        return handler
    get = handler["httpGet"]
    headers = get.get("httpHeaders")
    if not isinstance(headers, list):
        return handler
    kept = [_header(h) for h in headers]
    return {**handler, "httpGet": {**get, "httpHeaders": kept}}


def _header(header: Any) -> Any:
    if not isinstance(header, dict) or not isinstance(header.get("value"), str):
        return header
    name = str(header.get("name", ""))
    if name.lower() in SECRET_HEADERS or secret_name(name):
        return {**header, "value": redacted(header["value"])}
    return header


def _without_last_applied(obj: dict[str, Any], secret: bool) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return obj
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict) or LAST_APPLIED not in annotations:
        return obj
    kept = dict(annotations)
    applied = kept.pop(LAST_APPLIED)
    if not secret and isinstance(applied, str):
        try:
            parsed = json.loads(applied)
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, dict) and parsed.get("kind") != "Secret":
            kept[LAST_APPLIED] = json.dumps(redact(parsed), separators=(",", ":"))
    return {**obj, "metadata": {**meta, "annotations": kept}}
