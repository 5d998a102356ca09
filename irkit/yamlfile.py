"""YAML that remembers where each value came from, so errors can say ``file:line:column``.

Scenarios today and runbooks later are validated with pydantic; ``locate`` maps a validation
error's location path back to the line it came from, and ``nearest`` supplies "did you mean".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from irkit.errors import ConfigError
from irkit.hints import nearest


class LocatedDict(dict[str, Any]):
    """A mapping that knows the position of itself and of each of its keys (1-based)."""

    line: int = 0
    column: int = 0
    key_marks: dict[str, tuple[int, int]]


class LocatedList(list[Any]):
    line: int = 0
    column: int = 0


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LocatedDict:
    loader.flatten_mapping(node)
    out = LocatedDict()
    out.line, out.column = node.start_mark.line + 1, node.start_mark.column + 1
    out.key_marks = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise ConfigError("mapping keys must be scalars", line=key_node.start_mark.line + 1)
        skey = str(key) if not isinstance(key, str) else key
        if skey in out:
            raise ConfigError(
                f"duplicate key {skey!r}",
                line=key_node.start_mark.line + 1,
                column=key_node.start_mark.column + 1,
            )
        out[skey] = loader.construct_object(value_node, deep=True)
        out.key_marks[skey] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LocatedList:
    out = LocatedList(loader.construct_object(child, deep=True) for child in node.value)
    out.line, out.column = node.start_mark.line + 1, node.start_mark.column + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_all(text: str, path: str) -> list[Any]:
    """Every document of a (multi-document) YAML text; a syntax error becomes a ConfigError."""
    try:
        return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]
    except ConfigError as e:
        raise ConfigError(
            str(e).split(": ", 1)[-1], path=path, line=e.line, column=e.column
        ) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        problem = e.problem or "invalid YAML"
        if e.context_mark is not None and (mark is None or mark.index >= len(text)):
            # The file ended inside a bracket or quote: where it opened is the useful line.
            mark = e.context_mark
            problem = f"{e.context}: {problem}" if e.context else problem
        if "'\\t'" in problem:
            problem += " (indent with spaces, not tabs)"
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        raise ConfigError(f"invalid YAML: {problem}", path=path, line=line, column=column) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML: {e}", path=path) from None


def load_file(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read file: {e.strerror or e}", path=str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError("not a UTF-8 text file", path=str(path)) from None
    return load_all(text, str(path))


def locate(data: Any, loc: Sequence[str | int]) -> tuple[int, int]:
    """The deepest known (line, column) along a pydantic-style location path."""
    best = (getattr(data, "line", 0), getattr(data, "column", 0))
    cur = data
    for part in loc:
        if isinstance(cur, LocatedDict) and isinstance(part, str):
            if part not in cur:
                break
            mark = cur.key_marks.get(part)
            cur = cur[part]
            if mark is not None:
                # The key's line: a nested mapping or list value only starts on the next one.
                best = mark
                continue
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            cur = cur[part]
        else:
            break
        if getattr(cur, "line", 0):
            best = (cur.line, cur.column)
    return best


def describe_error(err: Any, model: type[BaseModel]) -> str:
    """One pydantic error as a sentence: "unknown field 'x' (did you mean 'y'?)" or "loc: msg"."""
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        field = str(err["loc"][-1])
        known = known_fields(model, err["loc"][:-1])
        return f"unknown field {loc!r}{nearest(field, known)}"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{loc}: {message}" if loc else message


def known_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names (and aliases) of the model found at ``loc``, for "did you mean"."""
    current: Any = model
    keyed = False  # the previous field was a mapping of models: this part is one of its keys
    for part in loc:
        if isinstance(part, int) or keyed:
            keyed = False
            continue
        is_model = isinstance(current, type) and issubclass(current, BaseModel)
        field = current.model_fields.get(part) if is_model else None
        if field is None:
            return []
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        current = next(
            (a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None
        )
        if current is None:
            return []
        keyed = getattr(ann, "__origin__", None) is dict
    names = []
    for fname, f in current.model_fields.items():
        names.append(f.alias or fname)
    return names


def located_error(where: str, data: Any, loc: Sequence[str | int], message: str) -> ConfigError:
    """A ConfigError at the line and column ``loc`` points to in located YAML data."""
    line, column = locate(data, loc)
    return ConfigError(message, path=where, line=line or None, column=column or None)
