"""Hardened parsing of untrusted BPMN: size cap, no DOCTYPE/entities/XInclude, readable problems.

SpiffWorkflow parses with lxml's default parser and does not pin lxml; external entities are refused only
because lxml >= 5 no longer loads them, and internal entities and XInclude elements pass through. So every
uploaded file is parsed here first, with entity resolution, DTD loading and network access off, and any
DOCTYPE refused; the resulting tree is handed to `SpiffBpmnParser.add_bpmn_xml`. Library errors
(`ValidationException`, `XMLSyntaxError`, `RecursionError`, the `TypeError` of a message event without a
message, ...) become a `BpmnRejected` listing `Problem`s with file, line and element.
"""
from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from engine.errors import BpmnRejected, Problem

if etree.LXML_VERSION < (5,):  # an explicit check, not `assert`, so that `python -O` keeps it
    raise ImportError(
        f"lxml >= 5 is required (found {etree.__version__}): older lxml resolves external entities (XXE) "
        "in SpiffWorkflow's own parser"
    )

log = logging.getLogger(__name__)

MAX_BPMN_BYTES = 2 * 1024 * 1024
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NAMESPACES = {"bpmn": BPMN_NS}
_SHORT_NAMESPACES = {
    "{" + BPMN_NS + "}": "bpmn:",
    "{http://spiffworkflow.org/bpmn/schema/1.0/core}": "spiffworkflow:",
}
_XINCLUDE_NAMESPACES = frozenset({"http://www.w3.org/2001/XInclude", "http://www.w3.org/2003/XInclude"})
_PROLOG_ITEM = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.S)
_MISSING_TARGET = re.compile(r"perhaps a form has the same ID\? \((.*)\)$")
# SpiffWorkflow 3.2 reports a messageRef to an undefined message with this TypeError (raised in its own error path).
_MESSAGE_REF_BUG = "unexpected keyword argument 'node'"
_validator_lock = threading.Lock()  # the shared XSD validator keeps its error log on the object


def _reject(message: str, filename: str, line: int | None = None, **element: str) -> BpmnRejected:
    return BpmnRejected([Problem(message, filename, line, **element)])


def _prolog_has_doctype(data: bytes) -> bool:
    """Tell whether a DOCTYPE follows the XML declaration, comments and processing instructions."""
    pos = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    while (match := _PROLOG_ITEM.match(data, pos)) is not None:
        pos = match.end()
    return data[pos:pos + 9].upper() == b"<!DOCTYPE"


def _check_raw(data: bytes, filename: str) -> None:
    if not isinstance(data, (bytes, bytearray)):
        raise _reject(f"Expected the file's bytes, got {type(data).__name__}", filename)
    if not data.strip():
        raise _reject("File is empty", filename)
    if len(data) > MAX_BPMN_BYTES:
        raise _reject(f"File is too large: {len(data)} bytes (at most {MAX_BPMN_BYTES} bytes, 2 MB)", filename)
    if _prolog_has_doctype(bytes(data)):
        raise _reject("DOCTYPE declarations are not allowed in BPMN files", filename, 1)


def _safe_parser() -> etree.XMLParser:
    # A new parser per call: lxml parser objects must not be shared between threads.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_comments=True)


def _check_tree(root: etree._Element, filename: str) -> None:
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _reject("DOCTYPE declarations are not allowed in BPMN files", filename, 1)
    for node in root.iter():
        if isinstance(node, etree._Entity):
            raise _reject("Entity references are not allowed in BPMN files", filename, node.sourceline)
        if isinstance(node.tag, str) and etree.QName(node).namespace in _XINCLUDE_NAMESPACES:
            raise _reject("XInclude elements are not allowed in BPMN files", filename, node.sourceline)


def parse_untrusted_xml(data: bytes, filename: str) -> etree._Element:
    """Parse untrusted XML safely and return its root; raise `BpmnRejected` on anything suspicious."""
    _check_raw(data, filename)
    try:
        root = etree.fromstring(bytes(data), _safe_parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or None
        raise _reject(f"File is not well-formed XML: {exc.msg} (line {line})", filename, line) from None
    if root is None:
        raise _reject("File is not well-formed XML: no root element", filename)
    _check_tree(root, filename)
    return root


# ---- turning library errors into problems --------------------------------------------------------------


def _shorten(message: str) -> str:
    for long, short in _SHORT_NAMESPACES.items():
        message = message.replace(long, short)
    return message


def _roots(parser: SpiffBpmnParser) -> dict[str, etree._Element]:
    """Return the parsed root of every file the parser holds, by file name."""
    roots: dict[str, etree._Element] = {}
    for process_parser in parser.process_parsers.values():
        roots.setdefault(process_parser.filename or "", process_parser.node.getroottree().getroot())
    return roots


def _find(root: etree._Element | None, xpath: str, **variables: str) -> etree._Element | None:
    found = root.xpath(xpath, namespaces=NAMESPACES, **variables) if root is not None else []
    return found[0] if found else None


def _line_of(root: etree._Element | None, element_id: str) -> int | None:
    node = _find(root, "//*[@id=$id]", id=element_id) if element_id else None
    return node.sourceline if node is not None else None


def _missing_target_problem(exc: ValidationException, target: str, file: str,
                            root: etree._Element | None) -> Problem:
    flow = _find(root, "//bpmn:sequenceFlow[@sourceRef=$s and @targetRef=$t]", s=exc.id, t=target)
    flow_id = flow.get("id", "") if flow is not None else ""
    return Problem(
        f"Sequence flow '{flow_id}' from '{exc.id}' goes to '{target}', which is not an element of this process",
        file, flow.sourceline if flow is not None else _line_of(root, exc.id), flow_id or exc.id,
        flow.get("name", "") if flow is not None else "",
    )


def _validation_message(exc: ValidationException) -> str:
    message = _shorten(str(exc.args[0]) if exc.args else str(exc))
    if message.startswith("There is no support implemented for this task type"):
        return f"{exc.tag or 'This element'} is not supported by this engine"
    if message.startswith("Multiple outgoing flows are not supported"):
        return f"{exc.tag or 'This task'} has several outgoing flows; use a gateway to split the flow"
    if message.startswith("RecursionError"):
        return "The process is too long for the parser (recursion limit reached here); split it into subprocesses"
    return message


def _validation_problems(exc: ValidationException, filename: str,
                         roots: Mapping[str, etree._Element]) -> list[Problem]:
    file = exc.file_name or filename
    root = roots.get(file)
    message = str(exc.args[0]) if exc.args else ""
    missing = _MISSING_TARGET.search(message)
    if missing:
        return [_missing_target_problem(exc, missing.group(1), file, root)]
    if _MESSAGE_REF_BUG in message and _message_ref_problems(roots):
        return _message_ref_problems(roots)
    line = exc.line_number if isinstance(exc.line_number, int) and exc.line_number else _line_of(root, exc.id)
    return [Problem(_validation_message(exc), file, line, exc.id or "", exc.name or "")]


def _message_ref_problems(roots: Mapping[str, etree._Element]) -> list[Problem]:
    problems = []
    for file, root in roots.items():
        known = set(root.xpath("//bpmn:message/@id", namespaces=NAMESPACES))
        for definition in root.xpath("//bpmn:messageEventDefinition[@messageRef]", namespaces=NAMESPACES):
            ref = definition.get("messageRef")
            if ref not in known:
                event = definition.getparent()
                problems.append(Problem(f"Message event refers to message '{ref}', which is not defined",
                                        file, definition.sourceline, event.get("id", ""), event.get("name", "")))
    return problems


def _problems(exc: BaseException, filename: str, roots: Mapping[str, etree._Element]) -> list[Problem]:
    """Describe a parser failure as problems with file, line and element where they can be found."""
    if isinstance(exc, ValidationException):
        return _validation_problems(exc, filename, roots)
    if isinstance(exc, etree.XMLSyntaxError):
        return [Problem(f"File is not well-formed XML: {exc.msg} (line {exc.lineno})", filename, exc.lineno)]
    if isinstance(exc, RecursionError):
        return [Problem("The process is too long or too deeply nested for the parser; split it into subprocesses",
                        filename)]
    if isinstance(exc, TypeError) and _MESSAGE_REF_BUG in str(exc) and _message_ref_problems(roots):
        return _message_ref_problems(roots)
    log.warning("BPMN parser failed on %s", filename or "the model", exc_info=exc)
    return [Problem(f"The BPMN parser failed on this model ({type(exc).__name__}: {_shorten(str(exc))})", filename)]


# ---- the parser ---------------------------------------------------------------------------------------


def _root_problem(root: etree._Element, filename: str) -> Problem | None:
    if root.tag != f"{{{BPMN_NS}}}definitions":
        return Problem(f"The root element must be bpmn:definitions, not {_shorten(str(root.tag))}", filename,
                       root.sourceline)
    return None


def _parse_all(files: Mapping[str, bytes]) -> dict[str, etree._Element]:
    problems: list[Problem] = [] if files else [Problem("No BPMN file was given")]
    roots: dict[str, etree._Element] = {}
    for name, data in files.items():
        try:
            roots[name] = parse_untrusted_xml(data, name)
        except BpmnRejected as exc:
            problems += exc.problems
            continue
        problem = _root_problem(roots[name], name)
        problems += [problem] if problem else []
    if problems:
        raise BpmnRejected(problems)
    return roots


def parse_bpmn_files(files: Mapping[str, bytes], validate: bool = True) -> SpiffBpmnParser:
    """Parse untrusted BPMN files (name -> bytes) into one spiff parser; raise `BpmnRejected` listing problems."""
    roots = _parse_all(files)
    parser = SpiffBpmnParser(validator=VALIDATOR if validate else None)
    problems: list[Problem] = []
    for name, root in roots.items():
        try:
            with _validator_lock:
                parser.add_bpmn_xml(root, name)
        except Exception as exc:  # untrusted input: any library failure is the model's problem
            problems += _problems(exc, name, roots)
    if problems:
        raise BpmnRejected(problems)
    return parser


def get_spec(parser: SpiffBpmnParser, process_id: str) -> tuple[Any, dict[str, Any]]:
    """Return `(spec, subprocess_specs)` for a process; raise `BpmnRejected` when the model cannot be built."""
    try:
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except Exception as exc:  # the specs are built lazily here, so model errors surface here too
        raise BpmnRejected(_problems(exc, "", _roots(parser))) from exc
    return spec, subprocess_specs
