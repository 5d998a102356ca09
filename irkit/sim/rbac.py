"""Kubernetes RBAC evaluation for the simulated API server.

Drills and contract tests need the simulator to refuse what a real cluster would refuse, in the
same words, so that irkit's handling of ``Forbidden`` (and the hints it prints) is exercised
against realistic answers. This module follows the upstream RBAC authorizer
(``plugin/pkg/auth/authorizer/rbac``, ``pkg/registry/rbac/validation``,
``pkg/apis/rbac/v1/evaluation_helpers.go``):

- ClusterRoleBindings are consulted first, then the RoleBindings of the request's namespace; a
  RoleBinding may reference a Role of its own namespace or a ClusterRole, and grants only there.
- Rules: ``*`` matches any verb, API group or resource; ``<resource>/<subresource>`` matches that
  subresource exactly and ``*/<subresource>`` that subresource of any resource. No other globs:
  upstream compares ``pods/*`` literally, so it grants nothing here either. ``resourceNames``
  constrain only when non-empty, and then a request without a name (list, watch, create) never
  matches. ``nonResourceURLs`` match exactly or by prefix when they end in ``*``.
- ``system:masters`` is allowed before RBAC is consulted, like kube-apiserver's privileged-group
  authorizer (which gives no reason).
- Every user except the anonymous one is in ``system:authenticated``, added implicitly.

Out of scope: ClusterRole ``aggregationRule`` (the controller that fills in an aggregated role's
``rules`` is not simulated: store the aggregated rules in the ClusterRole itself), the Node and
Webhook authorizers, and RBAC's escalation checks on writes to RBAC objects. Impersonation is
implemented by the server (``server.py``), which checks the ``impersonate`` verb here.

Pure: callers pass the RBAC objects in; nothing here reads a store or does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MASTERS_GROUP = "system:masters"
AUTHENTICATED_GROUP = "system:authenticated"
ANONYMOUS_USER = "system:anonymous"
UNAUTHENTICATED_GROUP = "system:unauthenticated"
_SA_USER_PREFIX = "system:serviceaccount:"
# kube-apiserver escapes these in the generated part of a denial so it never renders as HTML.
_HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})

KubeObject = Mapping[str, Any]


@dataclass(frozen=True)
class UserInfo:
    """An authenticated user as the authenticator hands it to the authorizer."""

    name: str
    groups: tuple[str, ...] = ()

    @classmethod
    def for_service_account(cls, namespace: str, name: str) -> UserInfo:
        """The identity a pod gets from its service account token."""
        groups = ("system:serviceaccounts", f"system:serviceaccounts:{namespace}")
        return cls(f"{_SA_USER_PREFIX}{namespace}:{name}", (*groups, AUTHENTICATED_GROUP))

    @property
    def is_anonymous(self) -> bool:
        return self.name == ANONYMOUS_USER or UNAUTHENTICATED_GROUP in self.groups

    @property
    def effective_groups(self) -> tuple[str, ...]:
        """The groups plus ``system:authenticated``, which the apiserver adds for every login."""
        if self.is_anonymous or AUTHENTICATED_GROUP in self.groups:
            return self.groups
        return (*self.groups, AUTHENTICATED_GROUP)


@dataclass(frozen=True)
class RequestAttributes:
    """What is being asked: the authorizer.Attributes of kube-apiserver."""

    verb: str
    api_group: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""
    resource_request: bool = True

    @property
    def combined_resource(self) -> str:
        """``pods`` or ``pods/log``: how RBAC rules and denial messages name the target."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


@dataclass(frozen=True)
class RbacObjects:
    """The rbac.authorization.k8s.io/v1 objects to evaluate, as plain API JSON dicts."""

    roles: Sequence[KubeObject] = ()
    cluster_roles: Sequence[KubeObject] = ()
    role_bindings: Sequence[KubeObject] = ()
    cluster_role_bindings: Sequence[KubeObject] = ()


@dataclass(frozen=True)
class Decision:
    """The outcome and the reason kube-apiserver would give (SubjectAccessReview, audit log)."""

    allowed: bool
    reason: str = ""


class _RoleNotResolvedError(Exception):
    """A binding's roleRef names a role that does not exist (upstream: a NotFound error)."""


@dataclass(frozen=True)
class _Grant:
    """One binding that applies to the user: its role's rules, or why they could not be read."""

    source: str
    rules: Sequence[KubeObject] = ()
    error: str = ""


def authorize(user: UserInfo, attrs: RequestAttributes, objects: RbacObjects) -> bool:
    """Whether RBAC (or membership of system:masters) allows the request."""
    return evaluate(user, attrs, objects).allowed


def evaluate(user: UserInfo, attrs: RequestAttributes, objects: RbacObjects) -> Decision:
    """Like :func:`authorize`, with the reason upstream reports for the decision."""
    if MASTERS_GROUP in user.effective_groups:
        return Decision(allowed=True)
    errors: list[str] = []
    for grant in _grants(user, _scope(attrs), objects):
        if grant.error:
            errors.append(grant.error)
        elif any(rule_allows(attrs, rule) for rule in grant.rules):
            return Decision(allowed=True, reason=f"RBAC: allowed by {grant.source}")
    return Decision(allowed=False, reason=_aggregate(errors))


def rule_allows(attrs: RequestAttributes, rule: KubeObject) -> bool:
    """Whether one PolicyRule covers the request (upstream's ``RuleAllows``)."""
    if not _any_or_exact(rule.get("verbs"), attrs.verb):
        return False
    if not attrs.resource_request:
        return _url_matches(rule.get("nonResourceURLs"), attrs.path)
    return (
        _any_or_exact(rule.get("apiGroups"), attrs.api_group)
        and _resource_matches(rule.get("resources"), attrs)
        and _name_matches(rule.get("resourceNames"), attrs.name)
    )


def rules_for(user: UserInfo, namespace: str, objects: RbacObjects) -> list[dict[str, Any]]:
    """Every RBAC rule granted to the user in the namespace (cluster-wide ones included).

    Unresolvable role references are skipped, as SelfSubjectRulesReview does (it then reports
    ``incomplete``). system:masters is not expanded: only rules from bindings are listed.
    """
    return [dict(rule) for grant in _grants(user, namespace, objects) for rule in grant.rules]


def forbidden_message(user: UserInfo, attrs: RequestAttributes, reason: str = "") -> str:
    """The ``message`` of the Forbidden Status kube-apiserver returns for a denied request.

    ``reason`` is the authorizer's reason (see :class:`Decision`); upstream appends it after
    a colon when there is one.
    """
    detail = _cannot(user, attrs).translate(_HTML_ESCAPES)
    if reason:
        detail = f"{detail}: {reason}"
    if not attrs.resource_request:
        return f"forbidden: {detail}"
    qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
    if attrs.name:
        return f"{qualified} {_q(attrs.name)} is forbidden: {detail}"
    return f"{qualified} is forbidden: {detail}"


def self_subject_access_review(
    user: UserInfo, spec: Mapping[str, Any], objects: RbacObjects
) -> dict[str, Any]:
    """The ``status`` of an authorization.k8s.io/v1 SelfSubjectAccessReview for ``spec``.

    ``denied`` is never set: RBAC only allows or has no opinion. Raises ValueError when the spec
    does not hold exactly one of ``resourceAttributes`` and ``nonResourceAttributes``.
    """
    decision = evaluate(user, _attributes_from_spec(spec), objects)
    status: dict[str, Any] = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    return status


def _attributes_from_spec(spec: Mapping[str, Any]) -> RequestAttributes:
    resource: Mapping[str, Any] | None = spec.get("resourceAttributes")
    non_resource: Mapping[str, Any] | None = spec.get("nonResourceAttributes")
    if resource is not None and non_resource is not None:
        raise ValueError(
            "spec.nonResourceAttributes: cannot be specified in combination with resourceAttributes"
        )
    if non_resource is not None:
        verb, path = str(non_resource.get("verb") or ""), str(non_resource.get("path") or "")
        return RequestAttributes(verb, "", "", path=path, resource_request=False)
    if resource is None:
        raise ValueError(
            "spec.resourceAttributes: one of resourceAttributes or nonResourceAttributes "
            "must be specified"
        )
    verb, group, plural = (str(resource.get(k) or "") for k in ("verb", "group", "resource"))
    sub, namespace, name = (
        str(resource.get(k) or "") for k in ("subresource", "namespace", "name")
    )
    return RequestAttributes(verb, group, plural, sub, namespace, name)


def _scope(attrs: RequestAttributes) -> str:
    # Non-resource URLs are cluster-wide: only ClusterRoleBindings can grant them.
    return attrs.namespace if attrs.resource_request else ""


def _grants(user: UserInfo, namespace: str, objects: RbacObjects) -> Iterator[_Grant]:
    for binding in objects.cluster_role_bindings:
        yield from _resolve(user, binding, "ClusterRoleBinding", "", objects)
    if not namespace:
        return
    for binding in objects.role_bindings:
        if _meta(binding, "namespace") == namespace:
            yield from _resolve(user, binding, "RoleBinding", namespace, objects)


def _resolve(
    user: UserInfo, binding: KubeObject, kind: str, namespace: str, objects: RbacObjects
) -> Iterator[_Grant]:
    subject = next(
        (s for s in binding.get("subjects") or () if _subject_applies(user, s, namespace)), None
    )
    if subject is None:
        return
    role_ref: KubeObject = binding.get("roleRef") or {}
    source = _describe(binding, kind, role_ref, subject, namespace)
    try:
        rules = _role_rules(role_ref, namespace, objects)
    except _RoleNotResolvedError as e:
        yield _Grant(source, error=str(e))
        return
    yield _Grant(source, rules=rules)


def _subject_applies(user: UserInfo, subject: KubeObject, namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return bool(user.name == name)
    if kind == "Group":
        return name in user.effective_groups
    if kind == "ServiceAccount":
        # A RoleBinding may leave the namespace out: it then means the binding's own.
        sa_namespace = subject.get("namespace") or namespace
        return bool(sa_namespace) and user.name == f"{_SA_USER_PREFIX}{sa_namespace}:{name}"
    return False


def _role_rules(role_ref: KubeObject, namespace: str, objects: RbacObjects) -> Sequence[KubeObject]:
    kind, name = role_ref.get("kind"), role_ref.get("name", "")
    if kind == "ClusterRole":
        found = [r for r in objects.cluster_roles if _meta(r, "name") == name]
    elif kind == "Role":
        found = [
            r
            for r in objects.roles
            if _meta(r, "name") == name and _meta(r, "namespace") == namespace
        ]
    else:
        raise _RoleNotResolvedError(f"unsupported role reference kind: {_q(str(kind))}")
    if not found:
        raise _RoleNotResolvedError(
            f"{str(kind).lower()}.rbac.authorization.k8s.io {_q(name)} not found"
        )
    rules: Sequence[KubeObject] = found[0].get("rules") or ()
    return rules


def _describe(
    binding: KubeObject, kind: str, role_ref: KubeObject, subject: KubeObject, namespace: str
) -> str:
    name = _meta(binding, "name")
    if kind == "RoleBinding":
        name = f"{name}/{namespace}"
    subject_name = subject.get("name", "")
    if subject.get("kind") == "ServiceAccount":
        subject_name = f"{subject_name}/{subject.get('namespace') or namespace}"
    role = f"{role_ref.get('kind', '')} {_q(role_ref.get('name', ''))}"
    return f"{kind} {_q(name)} of {role} to {subject.get('kind', '')} {_q(subject_name)}"


def _cannot(user: UserInfo, attrs: RequestAttributes) -> str:
    who = f"User {_q(user.name)} cannot {attrs.verb}"
    if not attrs.resource_request:
        return f"{who} path {_q(attrs.path)}"
    what = f"resource {_q(attrs.combined_resource)} in API group {_q(attrs.api_group)}"
    where = f"in the namespace {_q(attrs.namespace)}" if attrs.namespace else "at the cluster scope"
    return f"{who} {what} {where}"


def _any_or_exact(values: Sequence[str] | None, wanted: str) -> bool:
    return any(v in ("*", wanted) for v in values or ())


def _resource_matches(resources: Sequence[str] | None, attrs: RequestAttributes) -> bool:
    for resource in resources or ():
        if resource in ("*", attrs.combined_resource):
            return True
        if attrs.subresource and resource == f"*/{attrs.subresource}":
            return True
    return False


def _name_matches(names: Sequence[str] | None, name: str) -> bool:
    return not names or name in names


def _url_matches(urls: Sequence[str] | None, path: str) -> bool:
    for url in urls or ():
        if url in ("*", path):
            return True
        if url.endswith("*") and path.startswith(url.rstrip("*")):
            return True
    return False


def _aggregate(errors: Sequence[str]) -> str:
    """Upstream's error aggregate: duplicates dropped, several errors in brackets."""
    unique = list(dict.fromkeys(errors))
    if not unique:
        return ""
    joined = unique[0] if len(unique) == 1 else f"[{', '.join(unique)}]"
    return f"RBAC: {joined}"


def _meta(obj: KubeObject, key: str) -> str:
    metadata: KubeObject = obj.get("metadata") or {}
    return str(metadata.get(key) or "")


def _q(text: str) -> str:
    """Go's %q for ordinary strings: double quotes, with quotes and backslashes escaped."""
    return json.dumps(text, ensure_ascii=False)
