"""The three Kubernetes patch types give what kube-apiserver gives, and never touch their inputs."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from irkit.sim.patch import PatchError, json_merge_patch, json_patch, strategic_merge_patch

# --- RFC 7386 -------------------------------------------------------------------------------------

# RFC 7386 appendix A, in order.
MERGE_EXAMPLES: list[tuple[Any, Any, Any]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    (["a", "b"], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), MERGE_EXAMPLES)
def test_merge_patch_rfc7386_appendix(target: Any, patch: Any, expected: Any) -> None:
    assert json_merge_patch(target, patch) == expected


def test_merge_patch_rfc7386_section3_example() -> None:
    target = {
        "title": "Goodbye!",
        "author": {"givenName": "John", "familyName": "Doe"},
        "tags": ["example", "sample"],
        "content": "This will be unchanged",
    }
    patch = {
        "title": "Hello!",
        "phoneNumber": "+01-123-456-7890",
        "author": {"familyName": None},
        "tags": ["example"],
    }
    assert json_merge_patch(target, patch) == {
        "title": "Hello!",
        "author": {"givenName": "John"},
        "tags": ["example"],
        "content": "This will be unchanged",
        "phoneNumber": "+01-123-456-7890",
    }


def test_merge_patch_leaves_inputs_alone_and_shares_nothing() -> None:
    target = {"metadata": {"labels": {"app": "web"}}, "spec": {"replicas": 3}}
    patch = {"metadata": {"labels": {"quarantine": "true"}}, "spec": {"template": {"x": [1]}}}
    before = copy.deepcopy((target, patch))
    result = json_merge_patch(target, patch)
    assert (target, patch) == before
    result["spec"]["template"]["x"].append(2)
    result["metadata"]["labels"]["app"] = "changed"
    assert (target, patch) == before


# --- RFC 6902 -------------------------------------------------------------------------------------

# RFC 6902 appendix A examples that succeed: (document, patch, result).
JSON_PATCH_EXAMPLES: list[tuple[Any, list[dict[str, Any]], Any]] = [
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
    (
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
    ),
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    (
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
    ),
    (
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
    ),
    (
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
    ),
    (
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [
            {"op": "test", "path": "/baz", "value": "qux"},
            {"op": "test", "path": "/foo/1", "value": 2},
        ],
        {"baz": "qux", "foo": ["a", 2, "c"]},
    ),
    (
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
    ),
    (
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
        {"foo": "bar", "baz": "qux"},
    ),
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
    (
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
        {"foo": ["bar", ["abc", "def"]]},
    ),
]


@pytest.mark.parametrize(("doc", "patch", "expected"), JSON_PATCH_EXAMPLES)
def test_json_patch_rfc6902_appendix(doc: Any, patch: list[dict[str, Any]], expected: Any) -> None:
    assert json_patch(doc, patch) == expected


def test_json_patch_copy_escapes_and_whole_document() -> None:
    doc = {"a/b": {"c~d": [1, 2]}, "x": None}
    ops = [
        {"op": "copy", "from": "/a~1b/c~0d", "path": "/copied"},
        {"op": "add", "path": "/copied/0", "value": 0},
        {"op": "replace", "path": "/x", "value": False},
    ]
    assert json_patch(doc, ops) == {"a/b": {"c~d": [1, 2]}, "x": False, "copied": [0, 1, 2]}
    assert json_patch(doc, [{"op": "replace", "path": "", "value": [1]}]) == [1]


@pytest.mark.parametrize(
    ("doc", "op", "message"),
    [
        # RFC 6902 A.9: a failing test.
        (
            {"baz": "qux"},
            {"op": "test", "path": "/baz", "value": "bar"},
            """operation 0 (test '/baz'): test failed: found "qux", expected "bar\"""",
        ),
        # RFC 6902 A.15: a string is not a number.
        (
            {"/": 9, "~1": 10},
            {"op": "test", "path": "/~01", "value": "10"},
            """operation 0 (test '/~01'): test failed: found 10, expected "10\"""",
        ),
        # JSON booleans are not numbers, whatever Python's == thinks.
        (
            {"a": 1},
            {"op": "test", "path": "/a", "value": True},
            "operation 0 (test '/a'): test failed: found 1, expected true",
        ),
        # RFC 6902 A.12: adding under a missing parent.
        (
            {"foo": "bar"},
            {"op": "add", "path": "/baz/bat", "value": "qux"},
            "operation 0 (add '/baz/bat'): member 'baz' does not exist",
        ),
        (
            {"a": 1},
            {"op": "remove", "path": "/b"},
            "operation 0 (remove '/b'): member 'b' does not exist",
        ),
        (
            {"a": 1},
            {"op": "replace", "path": "/b", "value": 2},
            "operation 0 (replace '/b'): member 'b' does not exist",
        ),
        (
            {"a": [1]},
            {"op": "replace", "path": "/a/1", "value": 2},
            "operation 0 (replace '/a/1'): array index 1 is out of range (length 1)",
        ),
        (
            {"a": [1]},
            {"op": "add", "path": "/a/01", "value": 2},
            "operation 0 (add '/a/01'): '01' is not an array index",
        ),
        (
            {"a": [1]},
            {"op": "remove", "path": "/a/-"},
            "operation 0 (remove '/a/-'): '-' is not an array index",
        ),
        (
            {"a": 1},
            {"op": "add", "path": "a", "value": 2},
            "operation 0 (add 'a'): invalid JSON pointer 'a': must be empty or start with '/'",
        ),
        (
            {"a": 1},
            {"op": "test", "path": "/~2", "value": 1},
            "operation 0 (test '/~2'): invalid JSON pointer '/~2': '~' must be followed by 0 or 1",
        ),
        (
            {"a": "s"},
            {"op": "add", "path": "/a/b", "value": 1},
            "operation 0 (add '/a/b'): parent is a str, not an object or array",
        ),
        (
            {"a": {"b": 1}},
            {"op": "move", "from": "/a", "path": "/a/b/c"},
            "operation 0 (move '/a/b/c'): cannot move a value into one of its own children",
        ),
        ({"a": 1}, {"op": "add", "path": "/b"}, "operation 0 (add '/b'): missing member 'value'"),
        ({"a": 1}, {"op": "frobnicate", "path": "/a"}, "operation 0 (frobnicate '/a'): unknown op"),
    ],
)
def test_json_patch_errors(doc: Any, op: dict[str, Any], message: str) -> None:
    with pytest.raises(PatchError) as info:
        json_patch(doc, [op])
    assert str(info.value).startswith(message)


def test_json_patch_is_atomic_and_leaves_inputs_alone() -> None:
    doc = {"spec": {"replicas": 3, "items": [{"v": 1}]}}
    ops = [
        {"op": "replace", "path": "/spec/replicas", "value": 0},
        {"op": "add", "path": "/spec/items/-", "value": {"v": 2}},
        {"op": "test", "path": "/spec/replicas", "value": 5},
    ]
    before = copy.deepcopy((doc, ops))
    with pytest.raises(PatchError, match="operation 2"):
        json_patch(doc, ops)
    assert (doc, ops) == before
    result = json_patch(doc, ops[:2])
    assert result == {"spec": {"replicas": 0, "items": [{"v": 1}, {"v": 2}]}}
    result["spec"]["items"][1]["v"] = 99
    assert (doc, ops) == before


def test_json_patch_must_be_a_list_of_objects() -> None:
    with pytest.raises(PatchError, match="must be a list of operations"):
        json_patch({}, {"op": "add"})
    with pytest.raises(PatchError, match="operation 0: must be an object"):
        json_patch({}, ["add"])


# --- strategic merge patch ------------------------------------------------------------------------


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "shop",
            "namespace": "prod",
            "labels": {"app": "shop"},
            "finalizers": ["a.example.com/keep"],
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "shop"}},
            "template": {
                "metadata": {"labels": {"app": "shop"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "shop:1.0",
                            "env": [{"name": "MODE", "value": "prod"}],
                            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        },
                        {"name": "proxy", "image": "envoy:1.29"},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                    "tolerations": [{"key": "a", "operator": "Exists"}],
                },
            },
        },
    }


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return result


def pod_spec_patch(spec: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": spec}}}


def directive_keys(value: Any) -> list[str]:
    """Every key starting with '$' anywhere in value."""
    if isinstance(value, dict):
        own = [k for k in value if k.startswith("$")]
        return own + [k for v in value.values() for k in directive_keys(v)]
    if isinstance(value, list):
        return [k for v in value for k in directive_keys(v)]
    return []


def test_smp_changes_one_container_image_among_two() -> None:
    result = strategic_merge_patch(
        deployment(), pod_spec_patch({"containers": [{"name": "proxy", "image": "envoy:1.30"}]})
    )
    assert [(c["name"], c["image"]) for c in containers(result)] == [
        ("app", "shop:1.0"),
        ("proxy", "envoy:1.30"),
    ]
    assert containers(result)[0] == containers(deployment())[0]


def test_smp_adds_and_updates_env_by_name() -> None:
    patch = pod_spec_patch(
        {
            "containers": [
                {
                    "name": "app",
                    "env": [{"name": "DEBUG", "value": "1"}, {"name": "MODE", "value": "ir"}],
                }
            ]
        }
    )
    app = containers(strategic_merge_patch(deployment(), patch))[0]
    assert app["env"] == [{"name": "MODE", "value": "ir"}, {"name": "DEBUG", "value": "1"}]
    assert app["image"] == "shop:1.0"


def test_smp_deletes_a_container_with_patch_delete() -> None:
    patch = pod_spec_patch({"containers": [{"$patch": "delete", "name": "proxy"}]})
    result = strategic_merge_patch(deployment(), patch)
    assert [c["name"] for c in containers(result)] == ["app"]
    assert directive_keys(result) == []


def test_smp_kubectl_apply_with_set_element_order() -> None:
    # What `kubectl apply` sends when a sidecar is added first and the proxy image changes.
    patch = pod_spec_patch(
        {
            "$setElementOrder/containers": [{"name": "init"}, {"name": "app"}, {"name": "proxy"}],
            "containers": [
                {"name": "init", "image": "busybox:1"},
                {"name": "proxy", "image": "envoy:1.30"},
            ],
        }
    )
    result = strategic_merge_patch(deployment(), patch)
    assert [(c["name"], c["image"]) for c in containers(result)] == [
        ("init", "busybox:1"),
        ("app", "shop:1.0"),
        ("proxy", "envoy:1.30"),
    ]
    assert directive_keys(result) == []


def test_smp_set_element_order_on_a_field_the_patch_does_not_touch() -> None:
    patch = pod_spec_patch({"$setElementOrder/containers": [{"name": "proxy"}, {"name": "app"}]})
    assert [c["name"] for c in containers(strategic_merge_patch(deployment(), patch))] == [
        "proxy",
        "app",
    ]


def test_smp_set_element_order_leaves_unnamed_elements_in_place() -> None:
    # Elements the server added (not named in the order) keep their slot; named ones are sorted.
    target = {
        "metadata": {"finalizers": ["a", "x", "b"]},
        "spec": {"containers": [{"name": "a"}, {"name": "x"}, {"name": "b"}]},
    }
    patch = {
        "metadata": {"$setElementOrder/finalizers": ["b", "a"]},
        "spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]},
    }
    result = strategic_merge_patch(target, patch)
    assert result["metadata"]["finalizers"] == ["b", "x", "a"]
    assert [c["name"] for c in result["spec"]["containers"]] == ["b", "x", "a"]


def test_smp_null_deletes_and_maps_merge() -> None:
    patch = {
        "metadata": {"labels": {"app": None, "quarantine": "true"}},
        "spec": {"replicas": 0, "selector": None},
    }
    result = strategic_merge_patch(deployment(), patch)
    assert result["metadata"]["labels"] == {"quarantine": "true"}
    assert result["spec"]["replicas"] == 0
    assert "selector" not in result["spec"]
    assert result["metadata"]["name"] == "shop"


def test_smp_lists_without_merge_key_are_replaced() -> None:
    patch = pod_spec_patch({"tolerations": [{"key": "b", "operator": "Exists"}]})
    result = strategic_merge_patch(deployment(), patch)
    assert result["spec"]["template"]["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]


def test_smp_container_ports_merge_by_container_port() -> None:
    ports = [{"containerPort": 8080, "name": "http"}, {"containerPort": 9090, "name": "metrics"}]
    patch = pod_spec_patch({"containers": [{"name": "app", "ports": ports}]})
    app = containers(strategic_merge_patch(deployment(), patch))[0]
    assert app["ports"] == [
        {"containerPort": 8080, "protocol": "TCP", "name": "http"},
        {"containerPort": 9090, "name": "metrics"},
    ]


def test_smp_volumes_and_mounts_merge_by_their_keys() -> None:
    patch = pod_spec_patch(
        {
            "volumes": [{"name": "evidence", "emptyDir": {}}],
            "containers": [
                {"name": "app", "volumeMounts": [{"mountPath": "/data", "readOnly": True}]}
            ],
        }
    )
    result = strategic_merge_patch(deployment(), patch)
    assert [v["name"] for v in result["spec"]["template"]["spec"]["volumes"]] == [
        "data",
        "evidence",
    ]
    assert containers(result)[0]["volumeMounts"] == [
        {"name": "data", "mountPath": "/data", "readOnly": True}
    ]


SERVICE: dict[str, Any] = {
    "kind": "Service",
    "spec": {
        "ports": [{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 8443}],
    },
}


def test_smp_service_ports_merge_by_port_when_kind_is_service() -> None:
    patch = {"spec": {"ports": [{"port": 443, "targetPort": 9443}]}}
    result = strategic_merge_patch(SERVICE, patch, kind="Service")
    assert result["spec"]["ports"] == [
        {"port": 80, "targetPort": 8080},
        {"port": 443, "targetPort": 9443},
    ]
    # Without the kind, spec.ports could be anything: it is replaced whole.
    assert strategic_merge_patch(SERVICE, patch)["spec"]["ports"] == [
        {"port": 443, "targetPort": 9443}
    ]


def test_smp_finalizers_union_and_delete_from_primitive_list() -> None:
    patch = {
        "metadata": {"finalizers": ["b.example.com/x", "a.example.com/keep", "b.example.com/x"]}
    }
    result = strategic_merge_patch(deployment(), patch)
    assert result["metadata"]["finalizers"] == ["a.example.com/keep", "b.example.com/x"]
    removal = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example.com/keep"]}}
    after = strategic_merge_patch(result, removal)
    assert after["metadata"]["finalizers"] == ["b.example.com/x"]
    assert directive_keys(after) == []


def test_smp_patch_replace_replaces_a_map() -> None:
    patch = {"spec": {"selector": {"$patch": "replace", "matchLabels": {"tier": "x"}}}}
    result = strategic_merge_patch(deployment(), patch)
    assert result["spec"]["selector"] == {"matchLabels": {"tier": "x"}}


def test_smp_patch_delete_empties_a_map() -> None:
    patch = {"metadata": {"labels": {"$patch": "delete"}}}
    assert strategic_merge_patch(deployment(), patch)["metadata"]["labels"] == {}


def test_smp_replace_element_replaces_a_keyed_list() -> None:
    patch = pod_spec_patch(
        {"containers": [{"$patch": "replace"}, {"name": "only", "image": "only:1"}]}
    )
    assert containers(strategic_merge_patch(deployment(), patch)) == [
        {"name": "only", "image": "only:1"}
    ]


def test_smp_retain_keys() -> None:
    target = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert strategic_merge_patch(target, patch) == {"spec": {"strategy": {"type": "Recreate"}}}


def test_smp_new_values_are_cleaned_of_directives_and_nulls() -> None:
    patch = {
        "spec": {
            "newMap": {"keep": 1, "drop": None, "$retainKeys": ["keep"]},
            "newList": [{"a": 1, "b": None}],
        }
    }
    result = strategic_merge_patch({"spec": {}}, patch)
    assert result == {"spec": {"newMap": {"keep": 1}, "newList": [{"a": 1}]}}


def test_smp_errors() -> None:
    with pytest.raises(PatchError, match="does not contain declared merge key: name"):
        strategic_merge_patch(deployment(), pod_spec_patch({"containers": [{"image": "x"}]}))
    with pytest.raises(PatchError, match="unknown \\$patch directive 'explode'"):
        strategic_merge_patch(deployment(), {"spec": {"$patch": "explode"}})
    with pytest.raises(PatchError, match="\\$retainKeys must be a list"):
        strategic_merge_patch(deployment(), {"spec": {"$retainKeys": "replicas"}})
    with pytest.raises(PatchError, match="must both be JSON objects"):
        strategic_merge_patch(deployment(), [])


def test_smp_leaves_inputs_alone_and_shares_nothing() -> None:
    target = deployment()
    patch = pod_spec_patch(
        {
            "$setElementOrder/containers": [{"name": "proxy"}, {"name": "app"}],
            "containers": [{"name": "app", "env": [{"name": "X", "value": "1"}]}],
            "volumes": [{"name": "new", "emptyDir": {}}],
        }
    )
    before = copy.deepcopy((target, patch))
    result = strategic_merge_patch(target, patch)
    assert (target, patch) == before
    for container in containers(result):
        container["image"] = "mutated"
        container.setdefault("env", []).append({"name": "Y"})
    result["spec"]["template"]["spec"]["volumes"][1]["emptyDir"]["medium"] = "Memory"
    result["metadata"]["finalizers"].append("z")
    assert (target, patch) == before
