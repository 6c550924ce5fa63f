"""The state shared by every check of the walk: the parsed files, forms, rules and the problems found."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree

from engine.errors import Problem
from engine.validation.findings import Finding
from engine.validation.model import _lanes, _q
from engine.validation.rules import Rules


class CheckerBase:
    """Hold the parsed files, forms and rules, and collect the problems found."""

    def __init__(self, roots: Mapping[str, etree._Element], forms: Mapping[str, Any], rules: Rules) -> None:
        self.roots = roots
        self.forms = forms
        self.rules = rules
        self.problems: list[Problem] = []
        self.structural = False  # a problem that must keep the model away from SpiffWorkflow's parser
        self.processes: dict[str, tuple[etree._Element, str]] = {}
        self.lanes: dict[str, dict[str, str]] = {name: _lanes(root) for name, root in roots.items()}
        self.messages = {m.get("id", "") for root in roots.values() for m in root.iter(_q("message"))}
        for file, root in roots.items():
            for process in root.iter(_q("process")):
                self.processes.setdefault(process.get("id", ""), (process, file))

    # -- reporting
    def add(self, msgid: str, file: str, node: etree._Element | None = None, structural: bool = False,
            **params: Any) -> None:
        self.structural = self.structural or structural
        self.problems.append(Finding.make(
            msgid, file, node.sourceline if node is not None else None,
            node.get("id", "") if node is not None else "", node.get("name", "") if node is not None else "",
            **params))
