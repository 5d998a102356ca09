"""Kubernetes label and field selectors for the simulated API server.

The simulated server has to filter lists and watches exactly as a real kube-apiserver does, and
reject the same malformed selectors with the same words, because irkit's tests and drills compare
its behaviour with a real cluster. This module follows k8s.io/apimachinery (``labels.Parse``,
``metav1.LabelSelectorAsSelector`` and ``fields.ParseSelector``) with two deliberate differences:

- ``label_selector_from_object(None)`` matches everything (apimachinery returns "nothing");
  callers that need "nothing" for a missing selector must check for ``None`` themselves.
- field selector terms may carry whitespace around the field and value; it is stripped.

The set-based ``gt``/``lt`` label operators are not supported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class SelectorError(ValueError):
    """A selector could not be parsed or uses something the server does not support."""


_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_NAME_RE = re.compile(_NAME_FMT)
_DNS1123_FMT = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_DNS1123_RE = re.compile(_DNS1123_FMT)
_NAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end"
    " with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for"
    f" validation is '{_NAME_FMT}')"
)
_PREFIX_MSG = (
    "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters,"
    " '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex"
    f" used for validation is '{_DNS1123_FMT}')"
)
_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.',"
    " and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or"
    f" '12345', regex used for validation is '({_NAME_FMT})?')"
)

_OPS = frozenset({"=", "!=", "in", "notin", "exists", "!"})
_BINARY_OPS = frozenset({"=", "==", "!=", "in", "notin"})
_OBJECT_OPS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def _key_problem(key: str) -> str | None:
    """Return why ``key`` is not a qualified name (optional DNS prefix, '/', name), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return "prefix part must be non-empty"
    if prefix and (len(prefix) > 253 or "/" in prefix or not _DNS1123_RE.fullmatch(prefix)):
        return _PREFIX_MSG
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    return None if _NAME_RE.fullmatch(name) else _NAME_MSG


def _value_problem(value: str) -> str | None:
    if len(value) > 63:
        return "must be no more than 63 characters"
    return None if value == "" or _NAME_RE.fullmatch(value) else _VALUE_MSG


@dataclass(frozen=True)
class Requirement:
    """One label requirement. ``op`` is one of ``= != in notin exists !`` (``==`` becomes ``=``).

    Values are kept sorted and de-duplicated, as apimachinery does, so equal requirements compare
    equal and render identically.
    """

    key: str
    op: str
    values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        op = "=" if self.op == "==" else self.op
        values = tuple(sorted(set(self.values)))
        object.__setattr__(self, "op", op)
        object.__setattr__(self, "values", values)
        if op not in _OPS:
            raise SelectorError(f"{self.op!r} is not a valid label selector operator")
        if (problem := _key_problem(self.key)) is not None:
            raise SelectorError(f'key: Invalid value: "{self.key}": {problem}')
        self._check_values()

    def _check_values(self) -> None:
        if self.op in ("in", "notin") and not self.values:
            raise SelectorError(
                "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"
            )
        if self.op in ("=", "!=") and len(self.values) != 1:
            raise SelectorError(
                f"values: Invalid value: {list(self.values)}:"
                " exact-match compatibility requires one single value"
            )
        if self.op in ("exists", "!") and self.values:
            raise SelectorError(
                f"values: Invalid value: {list(self.values)}:"
                " values set must be empty for exists and does not exist"
            )
        for i, value in enumerate(self.values):
            if (problem := _value_problem(value)) is not None:
                raise SelectorError(f'values[{i}][{self.key}]: Invalid value: "{value}": {problem}')

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this requirement; ``!=``/``notin`` hold for a missing key."""
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        hit = present and labels[self.key] in self.values
        return hit if self.op in ("=", "in") else not hit

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!":
            return f"!{self.key}"
        if self.op in ("in", "notin"):
            return f"{self.key} {self.op} ({','.join(self.values)})"
        return f"{self.key}{self.op}{self.values[0]}"


@dataclass(frozen=True)
class LabelSelector:
    """All requirements must hold; no requirements matches everything. Kept sorted by key."""

    requirements: tuple[Requirement, ...] = ()

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.requirements, key=lambda r: r.key))
        object.__setattr__(self, "requirements", ordered)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _lex(text: str) -> list[tuple[str, str]]:
    """Split a label selector into (kind, literal) tokens the way apimachinery's lexer does."""
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
        elif text[i] in "=!(),<>":
            symbol = text[i : i + 2] if text[i : i + 2] in ("!=", "==") else text[i]
            tokens.append((symbol, symbol))
            i += len(symbol)
        else:
            j = i
            while j < len(text) and not text[j].isspace() and text[j] not in "=!(),<>":
                j += 1
            word = text[i:j]
            tokens.append((word if word in ("in", "notin") else "id", word))
            i = j
    tokens.append(("end", ""))
    return tokens


class _Parser:
    """Recursive descent over the token list; mirrors apimachinery's parser and its messages."""

    def __init__(self, text: str) -> None:
        self._tokens = _lex(text)
        self._pos = 0

    def _peek(self, *, values: bool = True) -> tuple[str, str]:
        kind, literal = self._tokens[self._pos]
        # "in" and "notin" are operators only right after a key; elsewhere they are plain words.
        if values and kind in ("in", "notin"):
            kind = "id"
        return kind, literal

    def _take(self, *, values: bool = True) -> tuple[str, str]:
        token = self._peek(values=values)
        self._pos = min(self._pos + 1, len(self._tokens) - 1)
        return token

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        kind, literal = self._peek()
        if kind == "end":
            return requirements
        if kind not in ("id", "!"):
            raise SelectorError(f"found '{literal}', expected: !, identifier, or 'end of string'")
        while True:
            try:
                requirements.append(self._requirement())
            except SelectorError as e:
                raise SelectorError(f"unable to parse requirement: {e}") from None
            kind, literal = self._take()
            if kind == "end":
                return requirements
            if kind != ",":
                raise SelectorError(f"found '{literal}', expected: ',' or 'end of string'")
            kind, literal = self._peek()
            if kind not in ("id", "!"):
                raise SelectorError(f"found '{literal}', expected: identifier after ','")

    def _requirement(self) -> Requirement:
        kind, key = self._take()
        negated = kind == "!"
        if negated:
            kind, key = self._take()
        if kind != "id":
            raise SelectorError(f"found '{key}', expected: identifier")
        if negated:
            return Requirement(key, "!")
        if self._peek()[0] in ("end", ","):
            return Requirement(key, "exists")
        op, literal = self._take(values=False)
        if op not in _BINARY_OPS:
            raise SelectorError(f"found '{literal}', expected: in, notin, =, ==, !=")
        values = self._set() if op in ("in", "notin") else (self._exact(),)
        return Requirement(key, op, values)

    def _exact(self) -> str:
        if self._peek()[0] in ("end", ","):
            return ""
        kind, literal = self._take()
        if kind != "id":
            raise SelectorError(f"found '{literal}', expected: identifier")
        return literal

    def _set(self) -> tuple[str, ...]:
        kind, literal = self._take()
        if kind != "(":
            raise SelectorError(f"found '{literal}' expected: '('")
        values: list[str] = []
        want_value = True  # an empty slot, as in "(a,,b)" or "()", means the empty value
        while True:
            kind, literal = self._take()
            if kind in (")", ","):
                if want_value:
                    values.append("")
                if kind == ")":
                    return tuple(values)
                want_value = True
            elif kind == "id" and want_value:
                values.append(literal)
                want_value = False
            else:
                raise SelectorError(f"found '{literal}', expected: ',', ')' or identifier")


def parse_label_selector(text: str) -> LabelSelector:
    """Parse kubectl's ``-l`` syntax, e.g. ``a=b,c!=d,e in (x, y),f notin (z),g,!h``."""
    return LabelSelector(tuple(_Parser(text).parse()))


def label_selector_from_object(sel: Mapping[str, Any] | None) -> LabelSelector:
    """Build a selector from a ``metav1.LabelSelector`` dict; None or ``{}`` match everything."""
    if not sel:
        return LabelSelector()
    requirements = [
        Requirement(k, "=", (str(v),)) for k, v in (sel.get("matchLabels") or {}).items()
    ]
    for expr in sel.get("matchExpressions") or ():
        op = _OBJECT_OPS.get(expr.get("operator"))
        if op is None:
            raise SelectorError(f'"{expr.get("operator")}" is not a valid label selector operator')
        values = tuple(str(v) for v in expr.get("values") or ())
        requirements.append(Requirement(str(expr.get("key", "")), op, values))
    return LabelSelector(tuple(requirements))


COMMON_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
POD_FIELDS = COMMON_FIELDS | {"spec.nodeName", "status.phase"}
EVENT_FIELDS = COMMON_FIELDS | {
    "involvedObject.kind",
    "involvedObject.name",
    "involvedObject.namespace",
    "involvedObject.uid",
    "reason",
    "type",
}
DEFAULT_FIELDS = POD_FIELDS | EVENT_FIELDS


@dataclass(frozen=True)
class FieldTerm:
    """``field op value`` with ``op`` either ``=`` or ``!=``."""

    field: str
    op: str
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return (_read_field(obj, self.field) == self.value) == (self.op == "=")


@dataclass(frozen=True)
class FieldSelector:
    """All terms must hold; no terms matches everything."""

    terms: tuple[FieldTerm, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(t.matches(obj) for t in self.terms)

    def __str__(self) -> str:
        return ",".join(f"{t.field}{t.op}{_escape(t.value)}" for t in self.terms)


def _read_field(obj: Mapping[str, Any], path: str) -> str:
    """Read a dotted path as the apiserver's field set would hold it; missing reads as ""."""
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return ""
        value = value.get(part)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, str | int | float) else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape(value: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for ch in chars:
        if ch in ",=":
            raise SelectorError(f"invalid field selector: unescaped character in value: {ch}")
        if ch != "\\":
            out.append(ch)
            continue
        escaped = next(chars, "")
        if escaped not in ("\\", ",", "="):
            raise SelectorError(f"invalid field selector: invalid escape sequence: \\{escaped}")
        out.append(escaped)
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not escaped with a backslash."""
    terms: list[str] = []
    start, escaped = 0, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _parse_term(term: str, text: str) -> FieldTerm:
    # The first operator wins, so a value may itself contain an escaped "=".
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                field, value = term[:i].strip(), term[i + len(op) :].strip()
                return FieldTerm(field, "!=" if op == "!=" else "=", _unescape(value))
    raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")


def parse_field_selector(text: str, allowed: frozenset[str] | None = None) -> FieldSelector:
    """Parse ``field=value,field!=value``; fields outside ``allowed`` are rejected as the
    apiserver does. ``allowed`` defaults to every field this module knows."""
    allowed = DEFAULT_FIELDS if allowed is None else allowed
    terms: list[FieldTerm] = []
    for raw in sorted(_split_terms(text)):
        if not raw.strip():
            continue
        term = _parse_term(raw, text)
        if term.field not in allowed:
            raise SelectorError(f"field label not supported: {term.field}")
        terms.append(term)
    return FieldSelector(tuple(terms))
