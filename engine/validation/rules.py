"""What the domain allows (`Rules`) and the outcome of a validation (`Report`)."""
from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import Problem
from engine.sandbox import BUILTINS

DEFAULT_MAX_FLOW_NODES = 400


@dataclass(frozen=True)
class Rules:
    """What the domain allows: lane name -> role, helper names, forms required; None leaves that check out."""

    lanes: Mapping[str, str] | None = None
    helpers: Collection[str] | None = None
    require_forms: bool = False  # every user task must name a form (a named form must always exist)
    max_flow_nodes: int = DEFAULT_MAX_FLOW_NODES

    def lane_list(self) -> str:
        """Return the lane names as a readable list."""
        return ", ".join(sorted(self.lanes or ())) or "-"

    def callable_names(self) -> frozenset[str]:
        """Return every name an expression may call: the sandbox builtins and the helpers."""
        return frozenset(BUILTINS) | frozenset(self.helpers or ())


@dataclass
class Report:
    """The outcome of a validation: the problems, and the parsed spec when the model is deployable."""

    problems: list[Problem]
    process_id: str | None = None
    spec: Any = None
    subprocess_specs: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Tell whether the model can be deployed."""
        return not self.problems
