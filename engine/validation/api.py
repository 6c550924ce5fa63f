"""The entry points: `check`/`validate` a model, list its process ids, name an element kind."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from lxml import etree

from engine.bpmn_xml import BPMN_NS, get_spec, parse_bpmn_files, parse_untrusted_xml
from engine.errors import BpmnRejected, Problem
from engine.validation.findings import Finding, from_problem
from engine.validation.messages import MSG_NO_FILE, MSG_ROOT, MSG_TOO_DEEP
from engine.validation.model import _q
from engine.validation.rules import Report, Rules
from engine.validation.walk import Checker


def _parse_roots(files: Mapping[str, bytes]) -> tuple[dict[str, etree._Element], list[Problem]]:
    roots: dict[str, etree._Element] = {}
    problems: list[Problem] = []
    if not files:
        return roots, [Finding.make(MSG_NO_FILE)]
    for name, data in files.items():
        try:
            root = parse_untrusted_xml(data, name)
        except BpmnRejected as exc:
            problems += [from_problem(p) for p in exc.problems]
            continue
        if root.tag != _q("definitions"):
            tag = str(root.tag).replace(f"{{{BPMN_NS}}}", "bpmn:")
            problems.append(Finding.make(MSG_ROOT, name, root.sourceline, tag=tag))
            continue
        roots[name] = root
    return roots, problems


def _sort_key(problem: Problem) -> tuple[str, int, str]:
    return problem.file, problem.line or 0, problem.element_id


def _dedupe(problems: Iterable[Problem]) -> list[Problem]:
    seen: set[tuple[str, int | None, str, str]] = set()
    unique = []
    for problem in problems:
        key = (problem.file, problem.line, problem.element_id, problem.message)
        if key not in seen:
            seen.add(key)
            unique.append(problem)
    return unique


def check(files: Mapping[str, bytes], forms: Mapping[str, Any] | None = None, rules: Rules | None = None,
          process_id: str | None = None) -> Report:
    """Validate BPMN files (name -> bytes) with their forms (name -> JSON Schema); never raises on bad input."""
    forms = dict(forms or {})
    rules = rules or Rules()
    roots, problems = _parse_roots(files)
    if problems:
        return Report(_dedupe(problems))
    checker = Checker(roots, forms, rules)
    chosen = checker.run(process_id)
    problems = sorted(checker.problems, key=_sort_key)
    report = Report(problems, chosen)
    if checker.structural or chosen is None:
        report.problems = _dedupe(problems)
        return report
    try:
        parser = parse_bpmn_files(files)
        report.spec, report.subprocess_specs = get_spec(parser, chosen)
    except BpmnRejected as exc:
        report.problems = _dedupe(problems + [from_problem(p) for p in exc.problems])
        report.spec, report.subprocess_specs = None, {}
    except RecursionError:
        report.problems = _dedupe(problems + [Finding.make(MSG_TOO_DEEP, next(iter(files), ""))])
    return report


def validate(files: Mapping[str, bytes], forms: Mapping[str, Any] | None = None, rules: Rules | None = None,
             process_id: str | None = None) -> list[Problem]:
    """Return every reason the model cannot be deployed (empty when it can)."""
    return check(files, forms, rules, process_id).problems


def process_ids(data: bytes, filename: str = "model.bpmn") -> list[str]:
    """Return the executable process ids of one file (empty when it cannot be parsed)."""
    try:
        root = parse_untrusted_xml(data, filename)
    except BpmnRejected:
        return []
    return [p.get("id", "") for p in root.iter(_q("process")) if p.get("isExecutable") == "true"]


def element_kind(tag: str) -> str:
    """Return a readable English label of a BPMN element's local name ('userTask' -> 'user task')."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", tag).lower()
