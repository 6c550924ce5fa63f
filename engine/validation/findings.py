"""Findings (problems carrying a message id), their rendering, and ids for engine.bpmn_xml's problems."""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import Problem
from engine.validation.messages import (
    MSG_DOCTYPE,
    MSG_EMPTY,
    MSG_ENGINE_UNSUPPORTED,
    MSG_ENTITY,
    MSG_FLOW_TARGET,
    MSG_MALFORMED,
    MSG_MESSAGE_REF,
    MSG_NO_FILE,
    MSG_NO_ROOT,
    MSG_NOT_BYTES,
    MSG_PARSER,
    MSG_ROOT,
    MSG_TASK_SPLIT,
    MSG_TOO_DEEP,
    MSG_TOO_LARGE,
    MSG_XINCLUDE,
    TRANSLATED_PARAMS,
)


@dataclass(frozen=True)
class Finding(Problem):
    """A problem whose message is a fixed English id plus parameters (translate with `render`)."""

    msgid: str = ""
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def make(cls, msgid: str, file: str = "", line: int | None = None, element_id: str = "",
             element_name: str = "", **params: Any) -> Finding:
        """Build a finding, its `message` being the English text."""
        items = tuple(sorted((k, "" if v is None else v) for k, v in params.items()))
        return cls(_format(msgid, dict(items), lambda s: s), file, line, element_id or "", element_name or "",
                   msgid, items)


def _format(msgid: str, params: Mapping[str, Any], translate: Callable[[str], str]) -> str:
    text = translate(msgid)
    if not params:
        return text
    values = {k: translate(v) if k in TRANSLATED_PARAMS and isinstance(v, str) else v for k, v in params.items()}
    try:
        return text % values
    except (KeyError, TypeError, ValueError):  # a broken translation must not hide the problem
        return msgid % values


def render(problem: Problem, translate: Callable[[str], str] | None = None) -> str:
    """Return the problem's message in the language of `translate` (a gettext; None: English)."""
    if isinstance(problem, Finding) and problem.msgid:
        return _format(problem.msgid, dict(problem.params), translate or (lambda s: s))
    return problem.message


def render_line(problem: Problem, translate: Callable[[str], str] | None = None) -> str:
    """Return `file:line: [element id] message` (parts that are unknown are left out)."""
    where = ":".join(str(p) for p in (problem.file, problem.line) if p)
    element = f"[{problem.element_id}] " if problem.element_id else ""
    text = f"{element}{render(problem, translate)}"
    return f"{where}: {text}" if where else text


# Problems from engine.bpmn_xml carry formatted English texts: recognise them to attach a message id.
_XML_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p, re.S), m) for p, m in (
    (r"File is too large: (?P<size>\d+) bytes \(at most (?P<limit>\d+) bytes, 2 MB\)$", MSG_TOO_LARGE),
    (r"File is empty$", MSG_EMPTY),
    (r"Expected the file's bytes, got .*$", MSG_NOT_BYTES),
    (r"DOCTYPE declarations are not allowed in BPMN files$", MSG_DOCTYPE),
    (r"Entity references are not allowed in BPMN files$", MSG_ENTITY),
    (r"XInclude elements are not allowed in BPMN files$", MSG_XINCLUDE),
    (r"File is not well-formed XML: no root element$", MSG_NO_ROOT),
    (r"File is not well-formed XML: (?P<detail>.*?)(?: \(line [^)]*\))?$", MSG_MALFORMED),
    (r"The root element must be bpmn:definitions, not (?P<tag>.*)$", MSG_ROOT),
    (r"No BPMN file was given$", MSG_NO_FILE),
    (r"Sequence flow '(?P<flow>.*)' from '(?P<source>.*)' goes to '(?P<target>.*)', which is not an element of "
     r"this process$", MSG_FLOW_TARGET),
    (r"(?P<tag>.*) is not supported by this engine$", MSG_ENGINE_UNSUPPORTED),
    (r"(?P<tag>.*) has several outgoing flows; use a gateway to split the flow$", MSG_TASK_SPLIT),
    (r"Message event refers to message '(?P<ref>.*)', which is not defined$", MSG_MESSAGE_REF),
    (r"The process is too long.*$", MSG_TOO_DEEP),
))


def from_problem(problem: Problem) -> Finding:
    """Attach a message id to a problem reported by engine.bpmn_xml (or the parser behind it)."""
    if isinstance(problem, Finding):
        return problem
    where = {"file": problem.file, "line": problem.line, "element_id": problem.element_id,
             "element_name": problem.element_name}
    for pattern, msgid in _XML_PATTERNS:
        match = pattern.match(problem.message)
        if match:
            return Finding.make(msgid, **where, **match.groupdict())
    return Finding.make(MSG_PARSER, **where, detail=problem.message)
