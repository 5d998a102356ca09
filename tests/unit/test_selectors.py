"""Label and field selectors behave, and fail, as kube-apiserver's do."""

from __future__ import annotations

from typing import Any

import pytest

from irkit.model.selectors import (
    EVENT_FIELDS,
    POD_FIELDS,
    FieldSelector,
    FieldTerm,
    LabelSelector,
    Requirement,
    SelectorError,
    label_selector_from_object,
    parse_field_selector,
    parse_label_selector,
)

# --- requirements ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "values", "labels", "expected"),
    [
        ("=", ("web",), {"app": "web"}, True),
        ("=", ("web",), {"app": "db"}, False),
        ("=", ("web",), {}, False),
        ("!=", ("web",), {"app": "web"}, False),
        ("!=", ("web",), {"app": "db"}, True),
        ("!=", ("web",), {}, True),  # a missing key is "not equal"
        ("in", ("db", "web"), {"app": "web"}, True),
        ("in", ("db", "web"), {"app": "cache"}, False),
        ("in", ("db", "web"), {}, False),
        ("notin", ("db", "web"), {"app": "web"}, False),
        ("notin", ("db", "web"), {"app": "cache"}, True),
        ("notin", ("db", "web"), {}, True),  # a missing key is "not in"
        ("exists", (), {"app": ""}, True),
        ("exists", (), {"other": "x"}, False),
        ("!", (), {"app": "web"}, False),
        ("!", (), {"other": "x"}, True),
    ],
)
def test_requirement_matches(
    op: str, values: tuple[str, ...], labels: dict[str, str], expected: bool
) -> None:
    assert Requirement("app", op, values).matches(labels) is expected


def test_double_equals_is_normalised_and_values_are_sorted_sets() -> None:
    req = Requirement("app", "==", ("web",))
    assert req.op == "="
    assert req == Requirement("app", "=", ("web",))
    assert Requirement("app", "in", ("b", "a", "b")).values == ("a", "b")


@pytest.mark.parametrize(
    ("op", "values", "message"),
    [
        ("in", (), "values set can't be empty"),
        ("=", ("a", "b"), "exact-match compatibility requires one single value"),
        ("exists", ("a",), "values set must be empty for exists and does not exist"),
        ("~", ("a",), "'~' is not a valid label selector operator"),
    ],
)
def test_requirement_rejects_wrong_value_counts(
    op: str, values: tuple[str, ...], message: str
) -> None:
    with pytest.raises(SelectorError, match=message):
        Requirement("app", op, values)


# --- parsing label selectors ----------------------------------------------------------------------


def test_parse_full_kubectl_syntax() -> None:
    sel = parse_label_selector("a=b,c!=d,e in (x, y),f notin (z),g,!h")
    assert sel.requirements == (
        Requirement("a", "=", ("b",)),
        Requirement("c", "!=", ("d",)),
        Requirement("e", "in", ("x", "y")),
        Requirement("f", "notin", ("z",)),
        Requirement("g", "exists"),
        Requirement("h", "!"),
    )


def test_parse_is_whitespace_tolerant_and_sorts_by_key() -> None:
    sel = parse_label_selector("  tier  ==  front ,  app in(web,api)  , ! legacy ")
    assert str(sel) == "app in (api,web),!legacy,tier=front"


def test_canonical_text_round_trips() -> None:
    text = "a=b,c!=d,e in (x,y),f notin (z),g,!h"
    assert str(parse_label_selector(text)) == text
    assert parse_label_selector(str(parse_label_selector(text))) == parse_label_selector(text)


def test_matches_needs_every_requirement() -> None:
    sel = parse_label_selector("app=web,tier in (front,back),!canary")
    assert sel.matches({"app": "web", "tier": "front"})
    assert not sel.matches({"app": "web", "tier": "front", "canary": "true"})
    assert not sel.matches({"app": "web", "tier": "db"})


def test_empty_selector_matches_everything() -> None:
    for text in ("", "   "):
        sel = parse_label_selector(text)
        assert sel.requirements == ()
        assert sel.matches({})
        assert sel.matches({"any": "thing"})
        assert str(sel) == ""


def test_empty_values() -> None:
    assert parse_label_selector("a=").requirements == (Requirement("a", "=", ("",)),)
    assert parse_label_selector("a in ()").requirements == (Requirement("a", "in", ("",)),)
    assert parse_label_selector("a in (x,,y)").requirements[0].values == ("", "x", "y")
    assert parse_label_selector("a=").matches({"a": ""})
    assert not parse_label_selector("a=").matches({"a": "x"})


def test_prefixed_keys_and_keywords_as_values() -> None:
    sel = parse_label_selector("app.kubernetes.io/name in (in, notin),in=notin")
    assert sel.matches({"app.kubernetes.io/name": "notin", "in": "notin"})
    assert not sel.matches({"app.kubernetes.io/name": "x", "in": "notin"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("a=b,", "found '', expected: identifier after ','"),
        ("=b", "found '=', expected: !, identifier, or 'end of string'"),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !="),
        ("a in x", "unable to parse requirement: found 'x' expected: '('"),
        ("a in (x y)", "unable to parse requirement: found 'y', expected: ',', ')' or identifier"),
        ("a in (x", "unable to parse requirement: found '', expected: ',', ')' or identifier"),
        ("a=(", "unable to parse requirement: found '(', expected: identifier"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("a>1", "unable to parse requirement: found '>', expected: in, notin, =, ==, !="),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_label_selector(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("-app=x", 'key: Invalid value: "-app": name part must consist of alphanumeric'),
        ("a" * 64 + "=x", "name part must be no more than 63 characters"),
        ("Example.com/app=x", "prefix part a lowercase RFC 1123 subdomain"),
        ("/app=x", "prefix part must be non-empty"),
        ("example.com/=x", "name part must be non-empty"),
        ("app=-x", 'values[0][app]: Invalid value: "-x": a valid label must be'),
        ("app=" + "v" * 64, "must be no more than 63 characters"),
        ("app in (ok, bad$)", 'Invalid value: "bad$"'),
    ],
)
def test_invalid_keys_and_values(text: str, fragment: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_label_selector(text)
    assert str(info.value).startswith("unable to parse requirement: ")
    assert fragment in str(info.value)


def test_longest_valid_key_and_value_are_accepted() -> None:
    key = "k8s.example.com/" + "n" * 63
    sel = parse_label_selector(f"{key}={'v' * 63}")
    assert sel.matches({key: "v" * 63})


# --- metav1.LabelSelector objects -----------------------------------------------------------------


def test_from_object_combines_match_labels_and_expressions() -> None:
    sel = label_selector_from_object(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "edge"]},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
                {"key": "team", "operator": "Exists"},
                {"key": "quarantine", "operator": "DoesNotExist"},
            ],
        }
    )
    assert str(sel) == "app=web,env notin (dev),!quarantine,team,tier in (edge,front)"
    assert sel.matches({"app": "web", "tier": "edge", "team": "ir"})
    assert not sel.matches({"app": "web", "tier": "edge", "team": "ir", "env": "dev"})
    assert not sel.matches({"app": "web", "tier": "edge", "team": "ir", "quarantine": "1"})
    assert not sel.matches({"app": "web", "tier": "edge"})


@pytest.mark.parametrize("obj", [None, {}, {"matchLabels": {}, "matchExpressions": []}])
def test_from_empty_object_matches_everything(obj: dict[str, Any] | None) -> None:
    sel = label_selector_from_object(obj)
    assert sel == LabelSelector(())
    assert sel.matches({"x": "y"})


def test_from_object_rejects_unknown_operator_and_bad_values() -> None:
    with pytest.raises(SelectorError) as info:
        label_selector_from_object({"matchExpressions": [{"key": "a", "operator": "Gt"}]})
    assert str(info.value) == '"Gt" is not a valid label selector operator'
    with pytest.raises(SelectorError, match="values set can't be empty"):
        label_selector_from_object({"matchExpressions": [{"key": "a", "operator": "In"}]})


# --- field selectors ------------------------------------------------------------------------------

POD: dict[str, Any] = {
    "metadata": {"name": "web-1", "namespace": "shop"},
    "spec": {"nodeName": "node-a", "hostNetwork": True},
    "status": {"phase": "Running"},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metadata.name=web-1", True),
        ("metadata.name==web-1", True),
        ("metadata.name!=web-1", False),
        ("metadata.namespace=shop,status.phase=Running", True),
        ("metadata.namespace=shop,status.phase!=Running", False),
        ("spec.nodeName=node-b", False),
        ("spec.nodeName!=node-b", True),
        ("", True),
    ],
)
def test_field_selector_matches(text: str, expected: bool) -> None:
    assert parse_field_selector(text).matches(POD) is expected


def test_missing_field_compares_as_empty_string() -> None:
    pending = {"metadata": {"name": "p"}, "status": {"phase": "Pending"}}
    assert parse_field_selector("spec.nodeName=").matches(pending)
    assert not parse_field_selector("spec.nodeName!=").matches(pending)
    assert parse_field_selector("spec.nodeName!=").matches(POD)


def test_field_selector_structure_and_whitespace() -> None:
    sel = parse_field_selector(" status.phase = Running , metadata.name!=x ")
    assert sel == FieldSelector(
        (FieldTerm("metadata.name", "!=", "x"), FieldTerm("status.phase", "=", "Running"))
    )
    assert str(sel) == "metadata.name!=x,status.phase=Running"


def test_event_fields() -> None:
    event = {
        "metadata": {"name": "e1", "namespace": "shop"},
        "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "shop", "uid": "u-1"},
        "reason": "BackOff",
        "type": "Warning",
    }
    text = "involvedObject.kind=Pod,involvedObject.name=web-1,involvedObject.uid=u-1,type=Warning"
    assert parse_field_selector(text, EVENT_FIELDS).matches(event)
    assert not parse_field_selector("reason=Killing", EVENT_FIELDS).matches(event)


def test_unsupported_field_is_rejected_like_the_apiserver() -> None:
    with pytest.raises(SelectorError) as info:
        parse_field_selector("spec.foo=bar")
    assert str(info.value) == "field label not supported: spec.foo"


def test_allowed_restricts_fields_per_resource() -> None:
    assert parse_field_selector("status.phase=Running", POD_FIELDS).matches(POD)
    with pytest.raises(SelectorError) as info:
        parse_field_selector("status.phase=Running", EVENT_FIELDS)
    assert str(info.value) == "field label not supported: status.phase"


def test_escaped_values() -> None:
    sel = parse_field_selector(r"metadata.name=a\,b\=c\\d")
    assert sel.terms == (FieldTerm("metadata.name", "=", "a,b=c\\d"),)
    assert sel.matches({"metadata": {"name": "a,b=c\\d"}})
    assert parse_field_selector(str(sel)) == sel


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
        ("metadata.name=a=b", "invalid field selector: unescaped character in value: ="),
        (r"metadata.name=a\x", r"invalid field selector: invalid escape sequence: \x"),
    ],
)
def test_field_selector_parse_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_field_selector(text)
    assert str(info.value) == message


def test_non_string_fields_are_rendered_as_the_apiserver_would() -> None:
    sel = parse_field_selector("spec.hostNetwork=true", frozenset({"spec.hostNetwork"}))
    assert sel.matches(POD)
    assert not sel.matches({"spec": {"hostNetwork": False}})
    assert not sel.matches({"spec": "not-a-map"})
