"""Checks of the code in a model: scripts, pre/post-scripts, loop and due-date expressions."""
from __future__ import annotations

import ast

from lxml import etree

from engine.sandbox import compile_check
from engine.validation.base import CheckerBase
from engine.validation.expressions import _ISO, _JUEL, _called_names, _defined_names, _short, _suggest_python
from engine.validation.messages import (
    MSG_CALL_NOT_ALLOWED,
    MSG_COMPILE,
    MSG_EMPTY_EXPRESSION,
    MSG_ISO_UNQUOTED,
    MSG_JUEL,
    MSG_NO_SCRIPT,
    MSG_NOT_PYTHON,
    WHAT_CARDINALITY,
    WHAT_COMPLETION,
    WHAT_DUE_DATE,
    WHAT_LOOP,
    WHAT_POSTSCRIPT,
    WHAT_PRESCRIPT,
    WHAT_SCRIPT,
)
from engine.validation.model import PYTHON_FORMATS, _ns, _properties, _q, _spiff_text, _text
from engine.validation.unsupported import VENDOR_NAMESPACES


class CodeChecks(CheckerBase):
    """Check that every expression and script compiles and calls only allowed names."""

    def check_code(self, source: str, mode: str, what: str, file: str, node: etree._Element,
                   timer: bool = False) -> None:
        stripped = source.strip()
        line = {"node": node}
        if not stripped:
            if mode == "eval":
                self.add(MSG_EMPTY_EXPRESSION, file, **line, what=what)
            return
        juel = _JUEL.match(stripped)
        if juel or (mode == "eval" and stripped.startswith("=") and not stripped.startswith("==")):
            body = juel.group("body") if juel else stripped[1:]
            self.add(MSG_JUEL, file, **line, what=what, expression=_short(stripped),
                     suggestion=_short(_suggest_python(body)))
            return
        if timer and _ISO.match(stripped):
            self.add(MSG_ISO_UNQUOTED, file, **line, what=what, value=stripped)
            return
        errors = compile_check(source if mode == "exec" else stripped, mode)
        if errors:
            self.add(MSG_COMPILE, file, **line, what=what, detail="; ".join(errors))
            return
        if self.rules.helpers is None:
            return
        tree = ast.parse(source if mode == "exec" else stripped, mode=mode)
        allowed = self.rules.callable_names() | _defined_names(tree)
        for name, _ in _called_names(tree):
            if name not in allowed:
                self.add(MSG_CALL_NOT_ALLOWED, file, **line, what=what, name=name,
                         allowed=", ".join(sorted(self.rules.helpers)) or "-")
                break

    def check_extension_code(self, node: etree._Element, file: str) -> None:
        for name in ("preScript", "postScript"):
            text = _spiff_text(node, name)
            if text:
                self.check_code(text, "exec", WHAT_PRESCRIPT if name == "preScript" else WHAT_POSTSCRIPT, file, node)
        due = _properties(node).get("dueDate")
        if due is not None:
            self.check_code(due, "eval", WHAT_DUE_DATE, file, node)

    def check_loops(self, node: etree._Element, file: str) -> None:
        mi = node.find(_q("multiInstanceLoopCharacteristics"))
        if mi is not None:
            for tag, what in (("loopCardinality", WHAT_CARDINALITY), ("completionCondition", WHAT_COMPLETION)):
                part = mi.find(_q(tag))
                if part is not None:
                    self.check_code(_text(part), "eval", what, file, node)
        loop = node.find(_q("standardLoopCharacteristics"))
        if loop is not None:
            part = loop.find(_q("loopCondition"))
            if part is not None:
                self.check_code(_text(part), "eval", WHAT_LOOP, file, node)

    def check_script_task(self, node: etree._Element, file: str) -> None:
        language = (node.get("scriptFormat") or "").strip().lower()
        if language not in PYTHON_FORMATS:
            self.add(MSG_NOT_PYTHON, file, node, what=WHAT_SCRIPT, language=node.get("scriptFormat"))
            return
        script = node.find(_q("script"))
        if script is None or not _text(script):
            if not any(_ns(n) in VENDOR_NAMESPACES for n in node.iter() if isinstance(n.tag, str)):
                self.add(MSG_NO_SCRIPT, file, node)
            return
        self.check_code(_text(script), "exec", WHAT_SCRIPT, file, node)
