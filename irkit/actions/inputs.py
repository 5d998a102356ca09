"""What every action's ``with:`` model has in common: strict, and "empty means not given".

Each action declares its own model in its spec (``irkit.actions.specs``). ``irkit validate``
checks keys (with "did you mean") and literal values against them before an incident; the
engine validates the rendered values again before running a step. Field docstrings are the
descriptions ``irkit schema`` and docs/runbooks.md show.

A template always renders to a string, so an empty string is how a runbook says "not given":
an optional input (default ``None``) that renders to ``""`` is treated as absent, and so is an
empty item of a list (``audit_log: ["{{ params.audit_log }}"]`` with the param left empty).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_is_unset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        out = {k: [x for x in v if x != ""] if isinstance(v, list) else v for k, v in data.items()}
        return {
            k: v
            for k, v in out.items()
            if not (v == "" and k in fields and fields[k].default is None)
        }

    @classmethod
    def schema_rules(cls) -> dict[str, Any]:
        """The rules across fields its validators hold, as JSON Schema for editors
        (``irkit schema``): pydantic cannot see them."""
        return {}


class Targeted(Input):
    """The inputs of an action on a namespaced target (``irkit.model.target``)."""

    namespace: str
    """Namespace of the target."""
    target: str | None = None
    """KIND/NAME as on the command line: pod/NAME, deployment/NAME, statefulset/NAME,
    daemonset/NAME, replicaset/NAME. Give this or selector."""
    selector: str | None = None
    """A label selector instead of target, e.g. ``app=api-server``."""

    @classmethod
    def schema_rules(cls) -> dict[str, Any]:
        return {"oneOf": [{"required": ["target"]}, {"required": ["selector"]}]}

    @model_validator(mode="after")
    def _one_target(self) -> Targeted:
        if (self.target is None) == (self.selector is None):
            raise ValueError("give exactly one of 'target' (KIND/NAME) or 'selector'")
        return self
