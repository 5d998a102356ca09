"""Scenario files: the starting state of a simulated cluster, read and checked before it starts.

A scenario is one multi-document YAML file. One document is ``kind: Scenario`` (irkit.io/v1)
with the settings (users and tokens, seeded logs, faults, audit log); every other document is a
Kubernetes manifest to create. Every error names the file, line and problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from irkit.errors import ConfigError
from irkit.model.kinds import RESOURCE_TYPES, for_api_version_kind
from irkit.sim.faults import FaultRule
from irkit.yamlfile import LocatedDict, load_file, locate, nearest

SCENARIO_API_VERSION = "irkit.io/v1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class UserSpec(_Strict):
    name: str = Field(min_length=1)
    token: str = Field(min_length=8)
    groups: list[str] = []


class GenerateSpec(_Strict):
    size: str | int
    template: str | None = None


class LogSpec(_Strict):
    """Seeded log of one container (or of every container matching globs)."""

    namespace: str = "default"
    pod: str | None = None
    workload: str | None = Field(
        default=None, pattern=r"^(deployment|statefulset|daemonset|replicaset)/.+$"
    )
    replica: int | None = Field(default=None, ge=0)
    container: str = "*"
    previous: bool = False
    restarts: int = Field(default=1, ge=1)
    text: str | None = None
    file: str | None = None
    generate: GenerateSpec | None = None
    interval: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _one_target_one_source(self) -> LogSpec:
        if (self.pod is None) == (self.workload is None):
            raise ValueError("give exactly one of 'pod' (a name or glob) or 'workload' (kind/name)")
        if self.replica is not None and self.workload is None:
            raise ValueError("'replica' goes with 'workload'")
        if sum(x is not None for x in (self.text, self.file, self.generate)) != 1:
            raise ValueError("give exactly one of 'text', 'file' or 'generate'")
        return self


class ScenarioSpec(_Strict):
    description: str = ""
    audit_log: str | None = Field(default=None, alias="auditLog")
    users: list[UserSpec] = []
    logs: list[LogSpec] = []
    faults: list[dict[str, Any]] = []
    seed: str = "irkit"


class Scenario(BaseModel):
    """A loaded scenario: settings, manifests in file order, and where it came from."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    name: str = "empty"
    spec: ScenarioSpec = ScenarioSpec()
    manifests: list[dict[str, Any]] = []
    faults: list[FaultRule] = []
    base_dir: Path = Path()
    path: str | None = None


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    docs = load_file(path)
    where = str(path)
    settings: list[LocatedDict] = []
    manifests: list[dict[str, Any]] = []
    for doc in docs:
        if not isinstance(doc, dict):
            raise _error(
                where,
                doc,
                (),
                "each document must be a mapping (a Kubernetes object or the Scenario)",
            )
        if doc.get("kind") == "Scenario":
            settings.append(doc)  # type: ignore[arg-type]
        else:
            _check_manifest(where, doc)
            manifests.append(doc)
    if len(settings) > 1:
        raise _error(where, settings[1], (), "only one 'kind: Scenario' document is allowed")
    name, spec = path.stem, ScenarioSpec()
    if settings:
        name, spec = _parse_settings(where, settings[0], path.stem)
    faults = []
    for i, raw in enumerate(spec.faults):
        try:
            faults.append(FaultRule.from_dict(raw))
        except (ValueError, TypeError) as e:
            loc: tuple[str | int, ...] = ("spec", "faults", i, *_fault_key(raw, str(e)))
            raise _error(where, settings[0], loc, str(e)) from None
    for i, log in enumerate(spec.logs):
        if log.file is not None and not (path.parent / log.file).is_file():
            raise _error(
                where, settings[0], ("spec", "logs", i, "file"), f"log file not found: {log.file}"
            )
    return Scenario(
        name=name, spec=spec, manifests=manifests, faults=faults, base_dir=path.parent, path=where
    )


def _parse_settings(where: str, doc: LocatedDict, default_name: str) -> tuple[str, ScenarioSpec]:
    unknown = [k for k in doc if k not in ("apiVersion", "kind", "metadata", "spec")]
    if unknown:
        hint = nearest(unknown[0], ("apiVersion", "kind", "metadata", "spec"))
        raise _error(where, doc, (unknown[0],), f"unknown field {unknown[0]!r}{hint}")
    if doc.get("apiVersion") != SCENARIO_API_VERSION:
        raise _error(where, doc, ("apiVersion",), f"apiVersion must be {SCENARIO_API_VERSION!r}")
    meta = doc.get("metadata") or {}
    name = str(meta.get("name") or default_name) if isinstance(meta, dict) else default_name
    try:
        spec = ScenarioSpec.model_validate(doc.get("spec") or {})
    except ValidationError as e:
        err = e.errors()[0]
        loc = ("spec", *err["loc"])
        raise _error(where, doc, loc, _describe(err, ScenarioSpec)) from None
    return name, spec


def _describe(err: Any, model: type[BaseModel]) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        field = str(err["loc"][-1])
        known = _known_fields(model, err["loc"][:-1])
        return f"unknown field {loc!r}{nearest(field, known)}"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{loc}: {message}" if loc else message


def _known_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names (and aliases) of the model found at ``loc``, for "did you mean"."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
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
    names = []
    for fname, f in current.model_fields.items():
        names.append(f.alias or fname)
    return names


def _fault_key(rule: dict[str, Any], message: str) -> tuple[str, ...]:
    """The key of a fault rule that an error message is about, when it names one."""
    for key in rule:
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in str(key))
        if f"{key!r}" in message or message.startswith((f"{key} ", f"{snake} ")):
            return (str(key),)
    return ()


def _check_manifest(where: str, doc: dict[str, Any]) -> None:
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        raise _error(where, doc, (), "a Kubernetes manifest needs 'apiVersion' and 'kind'")
    if for_api_version_kind(api_version, kind) is None:
        kinds = [rt.kind for rt in RESOURCE_TYPES]
        raise _error(
            where,
            doc,
            ("kind",),
            f"the simulator does not serve {api_version} {kind}{nearest(kind, kinds)}",
        )
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise _error(where, doc, ("metadata",), f"{kind} needs metadata.name")


def _error(where: str, data: Any, loc: tuple[str | int, ...], message: str) -> ConfigError:
    line, column = locate(data, loc)
    return ConfigError(message, path=where, line=line or None, column=column or None)


__all__ = ["LogSpec", "Scenario", "ScenarioSpec", "UserSpec", "load_scenario"]
