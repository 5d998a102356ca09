"""Scenario files: the starting state of a simulated cluster, read and checked before it starts.

A scenario is one multi-document YAML file. One document is ``kind: Scenario`` (irkit.io/v1)
with the settings (users and tokens, seeded logs, faults, audit log); every other document is a
Kubernetes manifest to create. Every error names the file, line and problem.

The Scenario document may also carry a top-level ``drill:`` section (what ``irkit drill`` fires,
expects and injects). The simulator does not use it: it is kept raw (``Scenario.drill``, with its
line numbers) for ``irkit.drill.scenario`` to check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from irkit.hints import nearest
from irkit.model.kinds import RESOURCE_TYPES, for_api_version_kind
from irkit.sim.faults import FaultRule
from irkit.yamlfile import LocatedDict, describe_error, load_file, located_error

SCENARIO_API_VERSION = "irkit.io/v1"
BUNDLED = Path(__file__).resolve().parent / "scenarios" / "compromised-pod.yaml"
"""The scenario shipped in the package: ``irkit sim serve`` and ``irkit demo`` start from it, the
tests use it, and ``examples/scenarios/compromised-pod.yaml`` is a symlink to it, not a copy."""


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
    drill: LocatedDict | None = None
    """The first document's raw ``drill:`` section (it keeps its lines, for errors)."""


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    docs = load_file(path)
    where = str(path)
    settings: list[LocatedDict] = []
    manifests: list[dict[str, Any]] = []
    for doc in docs:
        if not isinstance(doc, dict):
            raise located_error(
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
        raise located_error(where, settings[1], (), "only one 'kind: Scenario' document is allowed")
    name, spec = path.stem, ScenarioSpec()
    drill: LocatedDict | None = None
    if settings:
        name, spec = _parse_settings(where, settings[0], path.stem)
        drill = _drill_section(where, settings[0])
    faults = []
    for i, raw in enumerate(spec.faults):
        try:
            faults.append(FaultRule.from_dict(raw))
        except (ValueError, TypeError) as e:
            loc: tuple[str | int, ...] = ("spec", "faults", i, *_fault_key(raw, str(e)))
            raise located_error(where, settings[0], loc, str(e)) from None
    for i, log in enumerate(spec.logs):
        if log.file is not None and not (path.parent / log.file).is_file():
            raise located_error(
                where, settings[0], ("spec", "logs", i, "file"), f"log file not found: {log.file}"
            )
    return Scenario(
        name=name,
        spec=spec,
        manifests=manifests,
        faults=faults,
        base_dir=path.parent,
        path=where,
        drill=drill,
    )


_SETTINGS_KEYS = ("apiVersion", "kind", "metadata", "spec", "drill")


def _drill_section(where: str, doc: LocatedDict) -> LocatedDict | None:
    if "drill" not in doc:
        return None
    section = doc["drill"]
    if not isinstance(section, LocatedDict):
        raise located_error(where, doc, ("drill",), "drill must be a mapping (see docs/sim.md)")
    return section


def _parse_settings(where: str, doc: LocatedDict, default_name: str) -> tuple[str, ScenarioSpec]:
    unknown = [k for k in doc if k not in _SETTINGS_KEYS]
    if unknown:
        hint = nearest(unknown[0], _SETTINGS_KEYS)
        raise located_error(where, doc, (unknown[0],), f"unknown field {unknown[0]!r}{hint}")
    if doc.get("apiVersion") != SCENARIO_API_VERSION:
        raise located_error(
            where, doc, ("apiVersion",), f"apiVersion must be {SCENARIO_API_VERSION!r}"
        )
    meta = doc.get("metadata") or {}
    name = str(meta.get("name") or default_name) if isinstance(meta, dict) else default_name
    try:
        spec = ScenarioSpec.model_validate(doc.get("spec") or {})
    except ValidationError as e:
        err = e.errors()[0]
        loc = ("spec", *err["loc"])
        raise located_error(where, doc, loc, describe_error(err, ScenarioSpec)) from None
    return name, spec


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
        raise located_error(where, doc, (), "a Kubernetes manifest needs 'apiVersion' and 'kind'")
    if for_api_version_kind(api_version, kind) is None:
        kinds = [rt.kind for rt in RESOURCE_TYPES]
        raise located_error(
            where,
            doc,
            ("kind",),
            f"the simulator does not serve {api_version} {kind}{nearest(kind, kinds)}",
        )
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise located_error(where, doc, ("metadata",), f"{kind} needs metadata.name")


__all__ = ["LogSpec", "Scenario", "ScenarioSpec", "UserSpec", "load_scenario"]
