"""One validation of BPMN models before deployment, shared by the designer pages and the command line.

`check(files, forms, rules)` returns a `Report` whose `problems` list every reason the model cannot be
deployed, each a `Finding` (a `Problem` with file, line, element id and name) carrying a fixed English
message id and its parameters, so that callers print it in Vietnamese or English (`render`). The engine
stays generic: the lane -> role mapping and the helper names come from the caller (`Rules`).

Checks, in order:
1. hardened XML parsing of every file (size, DOCTYPE/entities, XInclude, well-formedness, root element);
2. a walk over the XML of the process to deploy and the processes it calls: model size, executable
   processes, unsupported elements (event-based and complex gateways, data stores, messages, signals,
   service/send/receive/business-rule tasks, ...), other vendors' extensions that change semantics
   (Camunda/Zeebe/Activiti/Flowable forms, assignees, listeners, mappings, JUEL/FEEL expressions), user tasks
   in a lane mapped to a role and with an existing form, every expression and script compiling in the
   sandbox and calling only allowed names, exclusive gateways with a default flow, conditions where they are
   ignored, dangling flows, boundary events on missing activities, link throws without a catch, parallel
   branches writing the same data before a join;
3. the form schemas themselves;
4. SpiffWorkflow's own parse with the XSD validator (only when the walk found nothing structural, so that a
   huge or unsupported model never reaches the library's recursive parser).
"""
from __future__ import annotations

import ast
import re
from collections import defaultdict, deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from engine.bpmn_xml import BPMN_NS, get_spec, parse_bpmn_files, parse_untrusted_xml
from engine.errors import BpmnRejected, Problem
from engine.forms import check_schema
from engine.sandbox import BUILTINS, compile_check

SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
ACTIVITI_NS = "http://activiti.org/bpmn"
FLOWABLE_NS = "http://flowable.org/bpmn"
VENDOR_NAMESPACES = {CAMUNDA_NS: "Camunda", ZEEBE_NS: "Camunda 8 (Zeebe)", ACTIVITI_NS: "Activiti",
                     FLOWABLE_NS: "Flowable"}
DEFAULT_MAX_FLOW_NODES = 400
MAX_SUBPROCESS_DEPTH = 10
FORM_PROPERTY = "formJsonSchemaFilename"
PYTHON_FORMATS = frozenset({"", "python", "python3", "text/python", "text/x-python", "application/x-python"})


def N_(message: str) -> str:  # noqa: N802 - the conventional name of the no-op gettext marker
    """Mark a message id for the catalog without translating it."""
    return message


# ---- messages (fixed English ids with %(name)s parameters; translated by the caller) -----------------

MSG_NO_FILE = N_("No BPMN file was given.")
MSG_EMPTY = N_("The file is empty.")
MSG_TOO_LARGE = N_("The file is too large: %(size)s bytes (at most %(limit)s bytes, 2 MB).")
MSG_NOT_BYTES = N_("The file could not be read as bytes.")
MSG_DOCTYPE = N_("DOCTYPE declarations (and the entities they define) are not allowed in BPMN files.")
MSG_ENTITY = N_("Entity references are not allowed in BPMN files.")
MSG_XINCLUDE = N_("XInclude elements are not allowed in BPMN files.")
MSG_MALFORMED = N_("The file is not well-formed XML: %(detail)s")
MSG_NO_ROOT = N_("The file is not well-formed XML: it has no root element.")
MSG_ROOT = N_("The root element is %(tag)s, not bpmn:definitions: this is not a BPMN 2.0 file.")
MSG_FLOW_TARGET = N_("Sequence flow '%(flow)s' from '%(source)s' goes to '%(target)s', which is not an element "
                     "of this process.")
MSG_ENGINE_UNSUPPORTED = N_("%(tag)s is not supported by the workflow engine.")
MSG_TASK_SPLIT = N_("%(tag)s has several outgoing flows; use a gateway to split the flow.")
MSG_MESSAGE_REF = N_("The message event refers to message '%(ref)s', which is not defined.")
MSG_TOO_DEEP = N_("The process is too long or too deeply nested for the parser; split it into subprocesses.")
MSG_PARSER = N_("The BPMN parser refused the model: %(detail)s")

MSG_TOO_MANY_NODES = N_("The model has %(count)s flow elements (at most %(limit)s): split it into called "
                        "processes.")
MSG_NESTING = N_("Subprocesses are nested more than %(limit)s levels deep.")
MSG_NO_PROCESS = N_("The model has no executable process: set isExecutable=\"true\" on the process to deploy "
                    "(other tools often export processes as not executable).")
MSG_SEVERAL_PROCESSES = N_("The model has several executable processes (%(ids)s): deploy one process per model and "
                           "mark the pools that only document other parties as not executable.")
MSG_UNKNOWN_PROCESS = N_("The model has no process with id '%(process)s' (found: %(ids)s).")
MSG_NOT_EXECUTABLE = N_("Process '%(process)s' is not executable: set isExecutable=\"true\".")
MSG_EXTRA_PROCESS = N_("Process '%(process)s' is executable but is neither the deployed process nor called by it: "
                       "mark it as not executable if its pool only documents another party.")
MSG_MISSING_CALLEE = N_("The call activity calls process '%(process)s', which is not in the uploaded files.")
MSG_NO_CALLEE = N_("The call activity does not say which process it calls (calledElement).")
MSG_MESSAGE_FLOW = N_("Message flows between pools are not delivered by this platform: model the exchange as a "
                      "user task in the lane of the party (for example the enterprise lane).")

MSG_EVENT_GATEWAY = N_("Event-based gateways are not supported (unreliable in SpiffWorkflow 3.2): put boundary "
                       "timer events on the user task instead, or decide with an exclusive gateway on task data.")
MSG_COMPLEX_GATEWAY = N_("Complex gateways are not supported: use exclusive, inclusive or parallel gateways.")
MSG_DATA_STORE = N_("Data stores are not supported: keep data in the task data (form fields and script "
                    "variables).")
MSG_AD_HOC = N_("Ad-hoc subprocesses are not supported: use an embedded subprocess with explicit flows.")
MSG_SERVICE_TASK = N_("Service tasks are not supported (nothing runs external code): use a script task calling an "
                      "allowed helper, or a user task.")
MSG_SEND_TASK = N_("Send tasks are not supported (messages are not delivered by this platform): use a user task "
                   "or a script task.")
MSG_RULE_TASK = N_("Business rule (DMN) tasks are not supported: use a script task or gateway conditions.")
MSG_MESSAGE_THROW = N_("Throwing messages is not supported (nothing delivers them to another process): use a user "
                       "task or a script task.")
MSG_MESSAGE_MISSING = N_("The message event does not say which message it waits for (messageRef).")
MSG_SIGNAL_EVENT = N_("Signal events are not supported: use gateways on task data.")
MSG_CONDITIONAL_EVENT = N_("Conditional events are not supported: use an exclusive gateway on task data.")
MSG_COMPENSATION = N_("Compensation events are not supported: model the correction as ordinary steps.")
MSG_START_TRIGGER = N_("Only a plain start event can start a process here (processes are started by a "
                       "submission); remove the timer, message or signal from this start event.")
MSG_PLAIN_TASK = N_("A plain task does nothing when the process runs: make it a user task (in a lane, with a form), "
                    "a manual task or a script task.")

MSG_NO_LANE = N_("User task is not in a lane: put it in the lane of the role that does it (%(lanes)s).")
MSG_UNKNOWN_LANE = N_("Lane '%(lane)s' does not map to a role: name the lane after one of %(lanes)s.")
MSG_NO_FORM = N_("User task has no form: set the property formJsonSchemaFilename and write the form in the form "
                 "editor.")
MSG_MISSING_FORM = N_("Form '%(form)s' of this user task does not exist: add it in the form editor (or in the forms "
                      "directory).")
MSG_FORM_SCHEMA = N_("Form '%(form)s' is not a valid JSON Schema: %(detail)s")
MSG_FORM_JSON = N_("Form file %(form)s is not valid JSON.")
MSG_FORM_OBJECT = N_("Form '%(form)s' must be a JSON object schema with \"properties\".")
MSG_VENDOR_FORM = N_("%(vendor)s forms (%(what)s) are not used: give the user task a JSON Schema form through the "
                     "property formJsonSchemaFilename.")
MSG_VENDOR_ASSIGNEE = N_("%(vendor)s assignment (%(what)s) is not used: who may act comes from the task's lane.")
MSG_VENDOR_LISTENER = N_("%(vendor)s listeners (%(what)s) are not run: use a script task or a pre/post script.")
MSG_VENDOR_MAPPING = N_("%(vendor)s input/output mappings (%(what)s) are ignored: data flows through the task data.")
MSG_VENDOR_CODE = N_("%(vendor)s implementation (%(what)s) cannot run here: use a script task calling an allowed "
                     "helper.")
MSG_VENDOR_OTHER = N_("%(vendor)s extension %(what)s changes how the element runs and is not supported here.")

MSG_COMPILE = N_("%(what)s does not compile in the sandbox: %(detail)s")
MSG_CALL_NOT_ALLOWED = N_("%(what)s calls %(name)s(), which is not an allowed helper (allowed: %(allowed)s).")
MSG_EMPTY_EXPRESSION = N_("%(what)s is empty.")
MSG_JUEL = N_("%(what)s is a JUEL/FEEL expression (%(expression)s): write it in Python, for example %(suggestion)s.")
MSG_ISO_UNQUOTED = N_("%(what)s is a Python expression: write the ISO 8601 value in quotes, as \"%(value)s\".")
MSG_NOT_PYTHON = N_("%(what)s is written in %(language)s: only Python is supported.")
MSG_NO_SCRIPT = N_("Script task has no script.")

MSG_NO_DEFAULT = N_("Exclusive gateway with %(count)s outgoing flows has no default flow: mark one flow as default "
                    "so that the process never gets stuck when no condition holds.")
MSG_BAD_DEFAULT = N_("The default flow '%(flow)s' of this gateway is not one of its outgoing flows.")
MSG_NO_CONDITION = N_("Flow out of a gateway has neither a condition nor is the default flow.")
MSG_IGNORED_CONDITION = N_("This condition is ignored because the flow leaves a %(tag)s: decide with an exclusive "
                           "gateway.")
MSG_DANGLING_FLOW = N_("Sequence flow '%(flow)s' refers to '%(target)s', which does not exist in this process.")
MSG_NOT_REACHED = N_("No sequence flow leads to this element, so it never runs: connect it.")
MSG_DEAD_END = N_("This element has no outgoing flow: connect it to the next step or to an end event.")
MSG_BOUNDARY_TARGET = N_("Boundary event is attached to '%(target)s', which is not an activity of this process: "
                         "the deadline would be silently dropped.")
MSG_LINK_NO_CATCH = N_("Link throw event '%(link)s' has no matching link catch event in this process: the process "
                       "would end here.")
MSG_PARALLEL_OVERWRITE = N_("Parallel branches of this split both write '%(variable)s' (in %(first)s and %(second)s): "
                            "at the join the branch that finishes last overwrites the other. Use different names.")
MSG_PARALLEL_STALE = N_("'%(variable)s' is set before this parallel split and changed on one branch only (in "
                        "%(task)s): if another branch finishes last, the join brings the old value back. Set it "
                        "after the join, or under a new name.")

# Labels of the expression kinds named by %(what)s.
WHAT_CONDITION = N_("The condition")
WHAT_SCRIPT = N_("The script")
WHAT_PRESCRIPT = N_("The pre-script")
WHAT_POSTSCRIPT = N_("The post-script")
WHAT_TIMER = N_("The timer expression")
WHAT_CARDINALITY = N_("The loop cardinality")
WHAT_COMPLETION = N_("The completion condition")
WHAT_LOOP = N_("The loop condition")
WHAT_DUE_DATE = N_("The dueDate property")

MESSAGES: tuple[str, ...] = tuple(value for key, value in dict(globals()).items()
                                  if key.startswith(("MSG_", "WHAT_")) and isinstance(value, str))
TRANSLATED_PARAMS = frozenset({"what"})  # parameters whose value is itself a message id


# ---- findings ---------------------------------------------------------------------------------------


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


# ---- rules ------------------------------------------------------------------------------------------


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


# ---- the XML model ----------------------------------------------------------------------------------


def _q(tag: str) -> str:
    return f"{{{BPMN_NS}}}{tag}"


def _local(node: etree._Element) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _ns(node: etree._Element) -> str:
    return etree.QName(node).namespace or "" if isinstance(node.tag, str) else ""


def _text(node: etree._Element | None) -> str:
    return "".join(node.itertext()).strip() if node is not None else ""


ACTIVITIES = frozenset({"task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
                        "businessRuleTask", "subProcess", "transaction", "adHocSubProcess", "callActivity"})
GATEWAYS = frozenset({"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
                      "complexGateway"})
EVENTS = frozenset({"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"})
FLOW_NODES = ACTIVITIES | GATEWAYS | EVENTS
SUBPROCESSES = frozenset({"subProcess", "transaction", "adHocSubProcess"})
_UNSUPPORTED_NODES = {
    "eventBasedGateway": MSG_EVENT_GATEWAY,
    "complexGateway": MSG_COMPLEX_GATEWAY,
    "adHocSubProcess": MSG_AD_HOC,
    "serviceTask": MSG_SERVICE_TASK,
    "sendTask": MSG_SEND_TASK,
    "businessRuleTask": MSG_RULE_TASK,
}
_UNSUPPORTED_CONTENT = {"dataStoreReference": MSG_DATA_STORE, "dataStore": MSG_DATA_STORE}
_UNSUPPORTED_EVENTS = {
    "signalEventDefinition": MSG_SIGNAL_EVENT,
    "conditionalEventDefinition": MSG_CONDITIONAL_EVENT,
    "compensateEventDefinition": MSG_COMPENSATION,
}

# Vendor extensions that change semantics: (local name, attribute?) -> category.
_VENDOR_FORM = {"formKey", "formRef", "formRefBinding", "formRefVersion", "formData", "formField", "formDefinition",
                "userTaskForm", "formHandlerClass", "formProperty"}
_VENDOR_ASSIGNEE = {"assignee", "candidateUsers", "candidateGroups", "assignmentDefinition"}
_VENDOR_LISTENER = {"executionListener", "taskListener", "executionListeners", "taskListeners", "eventListener"}
_VENDOR_MAPPING = {"inputOutput", "ioMapping", "in", "out", "inputParameter", "outputParameter", "input", "output"}
_VENDOR_CODE = {"class", "expression", "delegateExpression", "type", "topic", "taskDefinition", "connector",
                "resultVariable", "resource", "script", "decisionRef", "calledElement", "subscription",
                "loopCharacteristics", "variableMappingClass", "variableMappingDelegateExpression",
                "calledDecision", "taskHeaders", "linkedResources"}
# Harmless vendor metadata (execution platform hints, async flags, history settings, properties...).
_VENDOR_HARMLESS = {"asyncBefore", "asyncAfter", "async", "exclusive", "jobPriority", "historyTimeToLive",
                    "versionTag", "isStartableInTasklist", "failedJobRetryTimeCycle", "properties", "property",
                    "executionPlatform", "executionPlatformVersion", "modelerTemplate", "modelerTemplateVersion",
                    "candidateStarterGroups", "candidateStarterUsers", "taskPriority", "jobDefinitionRef",
                    "versionTagBinding", "calledElementBinding", "calledElementVersion", "calledElementTenantId",
                    "initiator", "documentation", "formHandler", "skipExpression"}


@dataclass
class _Scope:
    """A process or embedded subprocess: its flow nodes and sequence flows."""

    node: etree._Element
    file: str
    nodes: dict[str, etree._Element] = field(default_factory=dict)
    flows: dict[str, etree._Element] = field(default_factory=dict)
    outgoing: dict[str, list[etree._Element]] = field(default_factory=lambda: defaultdict(list))
    incoming: dict[str, list[etree._Element]] = field(default_factory=lambda: defaultdict(list))
    boundary: dict[str, list[etree._Element]] = field(default_factory=lambda: defaultdict(list))


def _scope_of(process: etree._Element, file: str) -> _Scope:
    scope = _Scope(process, file)
    for child in process:
        local = _local(child)
        if _ns(child) != BPMN_NS:
            continue
        if local in FLOW_NODES:
            scope.nodes[child.get("id", "")] = child
        elif local == "sequenceFlow":
            scope.flows[child.get("id", "")] = child
    for flow in scope.flows.values():
        scope.outgoing[flow.get("sourceRef", "")].append(flow)
        scope.incoming[flow.get("targetRef", "")].append(flow)
    for node in scope.nodes.values():
        if _local(node) == "boundaryEvent":
            scope.boundary[node.get("attachedToRef", "")].append(node)
    return scope


def _lanes(root: etree._Element) -> dict[str, str]:
    """Return flow node id -> lane name as SpiffWorkflow computes it (the innermost lane's name)."""
    lanes: dict[str, str] = {}
    for ref in root.iter(_q("flowNodeRef")):
        if ref.text and ref.text.strip():
            lanes[ref.text.strip()] = ref.getparent().get("name") or ""
    return lanes


def _properties(node: etree._Element) -> dict[str, str]:
    props: dict[str, str] = {}
    for prop in node.iterfind(f"{_q('extensionElements')}/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property"):
        props[prop.get("name", "")] = prop.get("value", "")
    return props


def _spiff_text(node: etree._Element, name: str) -> str | None:
    found = node.find(f"{_q('extensionElements')}/{{{SPIFF_NS}}}{name}")
    return None if found is None else _text(found)


# ---- expressions ------------------------------------------------------------------------------------

_ISO = re.compile(r"^(R\d*/.+|P(?=\d|T\d)(\d+([.,]\d+)?[YMWD])*(T(\d+([.,]\d+)?[HMS])+)?|\d{4}-\d{2}-\d{2}([T ][\d:.]+)?"
                  r"(Z|[+-]\d{2}:?\d{2})?)$")
_JUEL = re.compile(r"^\s*[$#]\{(?P<body>.*)\}\s*$", re.S)
_FEEL_WORDS = ((r"\btrue\b", "True"), (r"\bfalse\b", "False"), (r"\bnull\b", "None"), (r"&&", " and "),
               (r"\|\|", " or "), (r"!(?!=)", " not "), (r"\beq\b", "=="), (r"\bne\b", "!="), (r"\bgt\b", ">"),
               (r"\blt\b", "<"), (r"\bge\b", ">="), (r"\ble\b", "<="), (r"(?<![<>!=])=(?!=)", "=="))


def _suggest_python(body: str) -> str:
    text = body.strip()
    for pattern, replacement in _FEEL_WORDS:
        text = re.sub(pattern, replacement, text)
    return re.sub(r"\s+", " ", text).strip() or "True"


def _called_names(tree: ast.AST) -> list[tuple[str, int]]:
    return [(node.func.id, node.lineno) for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)]


def _defined_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.Lambda)) and hasattr(node, "name"):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _store_targets(node: ast.AST, names: set[str]) -> None:
    if isinstance(node, ast.Name):
        names.add(node.id)
    elif isinstance(node, (ast.Tuple, ast.List)):
        for item in node.elts:
            _store_targets(item, names)
    elif isinstance(node, (ast.Starred, ast.Subscript, ast.Attribute)):
        _store_targets(node.value, names)


def _collect_assignments(node: ast.AST, names: set[str]) -> None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
        return  # names bound inside functions are local to them
    if isinstance(node, ast.Assign):
        for item in node.targets:
            _store_targets(item, names)
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For)):
        _store_targets(node.target, names)
    for child in ast.iter_child_nodes(node):
        _collect_assignments(child, names)


def assigned_names(script: str) -> set[str]:
    """Return the task data keys a script writes (assignment targets, and containers it mutates)."""
    try:
        tree = ast.parse(script, mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    names: set[str] = set()
    try:
        _collect_assignments(tree, names)
    except RecursionError:
        return names
    return {n for n in names if not n.startswith("_")}


# ---- the checker ------------------------------------------------------------------------------------


class _Checker:
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

    # -- which processes
    def choose_process(self, process_id: str | None) -> list[str]:
        """Return the process to deploy followed by those it calls; report what is wrong."""
        executable = [pid for pid, (node, _) in self.processes.items() if node.get("isExecutable") == "true"]
        main = self.main_process(process_id, executable)
        if main is None:
            return []
        chosen = self.callees(main)
        for pid in executable:
            if pid not in chosen:
                node, file = self.processes[pid]
                self.add(MSG_EXTRA_PROCESS, file, node, structural=True, process=pid)
        return chosen

    def main_process(self, process_id: str | None, executable: list[str]) -> str | None:
        """Return the process to deploy (the given one, or the only executable one nobody calls)."""
        called = {call.get("calledElement", "") for process, _ in self.processes.values()
                  for call in process.iter(_q("callActivity"))}
        first_file = next(iter(self.roots), "")
        if process_id is None:
            candidates = [pid for pid in executable if pid not in called]
            if len(candidates) == 1:
                return candidates[0]
            if candidates:
                self.add(MSG_SEVERAL_PROCESSES, first_file, structural=True, ids=", ".join(candidates))
                return None
            self.add(MSG_NO_PROCESS, first_file, structural=True)
            # A single process exported as not executable (bpmn.io, Signavio): still list all that must change.
            return next(iter(self.processes)) if len(self.processes) == 1 else None
        if process_id not in self.processes:
            self.add(MSG_UNKNOWN_PROCESS, first_file, structural=True, process=process_id,
                     ids=", ".join(self.processes) or "-")
            return None
        if process_id not in executable:
            node, file = self.processes[process_id]
            self.add(MSG_NOT_EXECUTABLE, file, node, structural=True, process=process_id)
            return None
        return process_id

    def callees(self, main: str) -> list[str]:
        """Return `main` and the processes it calls, transitively; report calls that go nowhere."""
        chosen = [main]
        queue = deque([main])
        while queue:
            node, file = self.processes[queue.popleft()]
            for call in node.iter(_q("callActivity")):
                callee = call.get("calledElement", "")
                if not callee:
                    self.add(MSG_NO_CALLEE, file, call, structural=True)
                elif callee not in self.processes:
                    self.add(MSG_MISSING_CALLEE, file, call, structural=True, process=callee)
                elif callee not in chosen:
                    chosen.append(callee)
                    queue.append(callee)
        return chosen

    # -- the walk
    def run(self, process_id: str | None) -> str | None:
        count = sum(1 for root in self.roots.values() for node in root.iter()
                    if isinstance(node.tag, str) and _ns(node) == BPMN_NS and _local(node) in FLOW_NODES)
        if count > self.rules.max_flow_nodes:
            self.add(MSG_TOO_MANY_NODES, next(iter(self.roots), ""), structural=True, count=count,
                     limit=self.rules.max_flow_nodes)
            return None
        for file, root in self.roots.items():
            for flow in root.iter(_q("messageFlow")):
                self.add(MSG_MESSAGE_FLOW, file, flow, structural=True)
            for store in root.iter(_q("dataStore")):
                self.add(MSG_DATA_STORE, file, store, structural=True)
        chosen = self.choose_process(process_id)
        for pid in chosen:
            process, file = self.processes[pid]
            self.check_scope(_scope_of(process, file), lane=None, depth=0)
        for name, schema in self.forms.items():
            self.check_form(name, schema)
        return chosen[0] if chosen else None

    def check_scope(self, scope: _Scope, lane: str | None, depth: int) -> None:
        if depth > MAX_SUBPROCESS_DEPTH:
            self.add(MSG_NESTING, scope.file, scope.node, structural=True, limit=MAX_SUBPROCESS_DEPTH)
            return
        lanes = self.lanes.get(scope.file, {})
        for child in scope.node:
            if not isinstance(child.tag, str) or _ns(child) != BPMN_NS:
                continue
            local = _local(child)
            if local in _UNSUPPORTED_CONTENT:
                self.add(_UNSUPPORTED_CONTENT[local], scope.file, child, structural=True)
        for node_id, node in scope.nodes.items():
            node_lane = lane if lane is not None else lanes.get(node_id)
            self.check_node(scope, node, node_lane)
            if _local(node) in SUBPROCESSES:
                self.check_scope(_scope_of(node, scope.file), node_lane, depth + 1)
        for flow in scope.flows.values():
            self.check_flow(scope, flow)
        self.check_links(scope)
        self.check_parallel_writes(scope)

    def check_node(self, scope: _Scope, node: etree._Element, lane: str | None) -> None:
        local, file = _local(node), scope.file
        if local in _UNSUPPORTED_NODES:
            self.add(_UNSUPPORTED_NODES[local], file, node, structural=True)
        if local == "task":
            self.add(MSG_PLAIN_TASK, file, node)
        self.check_vendor(node, file)
        self.check_events(scope, node)
        self.check_connections(scope, node)
        if local in ("userTask", "manualTask"):
            self.check_lane(node, file, lane)
        if local == "userTask":
            self.check_user_task_form(node, file)
        elif local == "scriptTask":
            self.check_script_task(node, file)
        elif local == "receiveTask":
            self.check_message(scope, node, node)
        elif local in ("exclusiveGateway", "inclusiveGateway"):
            self.check_gateway(scope, node)
        elif local == "boundaryEvent":
            target = scope.nodes.get(node.get("attachedToRef", ""))
            if target is None or _local(target) not in ACTIVITIES:
                self.add(MSG_BOUNDARY_TARGET, file, node, structural=True, target=node.get("attachedToRef", ""))
        elif local == "startEvent" and scope.node.tag == _q("process"):
            if any(_local(d).endswith("EventDefinition") for d in node):
                self.add(MSG_START_TRIGGER, file, node)
        self.check_extension_code(node, file)
        self.check_loops(node, file)

    def check_extension_code(self, node: etree._Element, file: str) -> None:
        for name in ("preScript", "postScript"):
            text = _spiff_text(node, name)
            if text:
                self.check_code(text, "exec", WHAT_PRESCRIPT if name == "preScript" else WHAT_POSTSCRIPT, file, node)
        due = _properties(node).get("dueDate")
        if due is not None:
            self.check_code(due, "eval", WHAT_DUE_DATE, file, node)

    def check_connections(self, scope: _Scope, node: etree._Element) -> None:
        local, node_id = _local(node), node.get("id", "")
        in_event_subprocess = scope.node.get("triggeredByEvent") == "true"
        link = node.find(_q("linkEventDefinition")) is not None
        compensation = node.get("isForCompensation") == "true"
        if (not scope.incoming.get(node_id) and local not in ("startEvent", "boundaryEvent")
                and not (link and local == "intermediateCatchEvent") and not compensation
                and not (local in SUBPROCESSES and node.get("triggeredByEvent") == "true")
                and not in_event_subprocess):
            self.add(MSG_NOT_REACHED, scope.file, node)
        if (not scope.outgoing.get(node_id) and local != "endEvent" and not (link and local == "intermediateThrowEvent")
                and not compensation and not (local in SUBPROCESSES and node.get("triggeredByEvent") == "true")):
            self.add(MSG_DEAD_END, scope.file, node)

    def check_events(self, scope: _Scope, node: etree._Element) -> None:
        for definition in node:
            local = _local(definition)
            if local in _UNSUPPORTED_EVENTS:
                self.add(_UNSUPPORTED_EVENTS[local], scope.file, node, structural=True)
            elif local == "messageEventDefinition":
                self.check_message(scope, node, definition)
            elif local == "timerEventDefinition":
                for part in definition:
                    if _local(part) in ("timeDuration", "timeDate", "timeCycle"):
                        self.check_code(_text(part), "eval", WHAT_TIMER, scope.file, node, timer=True)

    def check_message(self, scope: _Scope, node: etree._Element, definition: etree._Element) -> None:
        if _local(node) in ("intermediateThrowEvent", "endEvent"):
            self.add(MSG_MESSAGE_THROW, scope.file, node, structural=True)
            return
        ref = definition.get("messageRef")
        if not ref:
            self.add(MSG_MESSAGE_MISSING, scope.file, node, structural=True)
        elif ref not in self.messages:
            self.add(MSG_MESSAGE_REF, scope.file, node, structural=True, ref=ref)

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

    def check_lane(self, node: etree._Element, file: str, lane: str | None) -> None:
        if self.rules.lanes is None:
            return
        if lane is None:
            self.add(MSG_NO_LANE, file, node, lanes=self.rules.lane_list())
        elif lane not in self.rules.lanes:
            self.add(MSG_UNKNOWN_LANE, file, node, lane=lane, lanes=self.rules.lane_list())

    def check_user_task_form(self, node: etree._Element, file: str) -> None:
        form = _properties(node).get(FORM_PROPERTY)
        if not form:
            if self.rules.require_forms:
                self.add(MSG_NO_FORM, file, node)
        elif form not in self.forms:
            self.add(MSG_MISSING_FORM, file, node, form=form)

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

    def check_gateway(self, scope: _Scope, node: etree._Element) -> None:
        outgoing = scope.outgoing.get(node.get("id", ""), [])
        default = node.get("default")
        if default and default not in {f.get("id") for f in outgoing}:
            self.add(MSG_BAD_DEFAULT, scope.file, node, flow=default)
        if len(outgoing) > 1 and not default and _local(node) == "exclusiveGateway":
            self.add(MSG_NO_DEFAULT, scope.file, node, count=len(outgoing))
        if len(outgoing) > 1:
            for flow in outgoing:
                if flow.get("id") != default and flow.find(_q("conditionExpression")) is None:
                    self.add(MSG_NO_CONDITION, scope.file, flow)

    def check_flow(self, scope: _Scope, flow: etree._Element) -> None:
        for end in ("sourceRef", "targetRef"):
            if flow.get(end, "") not in scope.nodes:
                self.add(MSG_DANGLING_FLOW, scope.file, flow, structural=True, flow=flow.get("id", ""),
                         target=flow.get(end, ""))
        condition = flow.find(_q("conditionExpression"))
        if condition is None:
            return
        source = scope.nodes.get(flow.get("sourceRef", ""))
        if source is not None and _local(source) not in ("exclusiveGateway", "inclusiveGateway"):
            self.add(MSG_IGNORED_CONDITION, scope.file, flow, tag=f"bpmn:{_local(source)}")
            return
        language = (condition.get("language") or "").strip().lower()
        if language and language not in PYTHON_FORMATS and "python" not in language:
            self.add(MSG_NOT_PYTHON, scope.file, flow, what=WHAT_CONDITION, language=condition.get("language"))
            return
        self.check_code(_text(condition), "eval", WHAT_CONDITION, scope.file, flow)

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

    def check_vendor(self, node: etree._Element, file: str) -> None:
        """Report other vendors' extensions (attributes and extension elements) that change semantics."""
        seen: set[str] = set()
        items: list[tuple[str, str]] = []
        for name in node.attrib:
            qname = etree.QName(name)
            if qname.namespace in VENDOR_NAMESPACES:
                items.append((qname.namespace, qname.localname))
        extensions = node.find(_q("extensionElements"))
        if extensions is not None:
            for element in extensions:
                if isinstance(element.tag, str) and _ns(element) in VENDOR_NAMESPACES:
                    items.append((_ns(element), _local(element)))
        for namespace, name in items:
            category = _vendor_category(name)
            if category is None or category in seen:
                continue
            seen.add(category)
            self.add(category, file, node, vendor=VENDOR_NAMESPACES[namespace], what=_vendor_what(namespace, name))

    def check_links(self, scope: _Scope) -> None:
        catches = {d.get("name", "") for node in scope.nodes.values() if _local(node) == "intermediateCatchEvent"
                   for d in node.iterfind(_q("linkEventDefinition"))}
        for node in scope.nodes.values():
            if _local(node) != "intermediateThrowEvent":
                continue
            for definition in node.iterfind(_q("linkEventDefinition")):
                if definition.get("name", "") not in catches:
                    self.add(MSG_LINK_NO_CATCH, scope.file, node, link=definition.get("name", ""))

    def check_form(self, name: str, schema: Any) -> None:
        if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
            self.problems.append(Finding.make(MSG_FORM_OBJECT, name, form=name))
            return
        for message in check_schema(schema)[:5]:
            self.problems.append(Finding.make(MSG_FORM_SCHEMA, name, form=name, detail=message))

    # -- parallel branches writing the same data
    def writes(self, scope: _Scope, node: etree._Element) -> set[str]:
        """Return the task data keys an element writes (heuristic: forms, scripts, MI outputs)."""
        local = _local(node)
        if local in SUBPROCESSES:
            inner = _scope_of(node, scope.file)
            return set().union(*(self.writes(inner, n) for n in inner.nodes.values())) if inner.nodes else set()
        keys: set[str] = set()
        mi = node.find(_q("multiInstanceLoopCharacteristics"))
        on_instances = mi is not None and mi.get(f"{{{SPIFF_NS}}}scriptsOnInstances") == "true"
        if mi is not None:
            output = _text(mi.find(_q("loopDataOutputRef")))
            keys |= {output} if output else set()
        if local == "userTask" and mi is None:
            variable = _spiff_text(node, "variableName")
            form = self.forms.get(_properties(node).get(FORM_PROPERTY, ""))
            if variable:
                keys.add(variable)
            elif isinstance(form, dict) and isinstance(form.get("properties"), dict):
                keys |= {k for k in form["properties"] if not k.startswith("_")}
        if local == "scriptTask" and mi is None:
            keys |= assigned_names(_text(node.find(_q("script"))))
        if not on_instances:
            for name in ("preScript", "postScript"):
                keys |= assigned_names(_spiff_text(node, name) or "")
        return keys

    def successors(self, scope: _Scope, node_id: str) -> Iterator[str]:
        for flow in scope.outgoing.get(node_id, []):
            yield flow.get("targetRef", "")
        for event in scope.boundary.get(node_id, []):
            yield event.get("id", "")

    def reach(self, scope: _Scope, start: str, stop: str) -> set[str]:
        seen: set[str] = set()
        queue = deque([start])
        while queue:
            current = queue.popleft()
            if current in seen or current == stop or current not in scope.nodes:
                continue
            seen.add(current)
            queue.extend(self.successors(scope, current))
        return seen

    def upstream(self, scope: _Scope, node_id: str) -> set[str]:
        predecessors: dict[str, set[str]] = defaultdict(set)
        for source in scope.nodes:
            for target in self.successors(scope, source):
                predecessors[target].add(source)
        seen: set[str] = set()
        queue = deque(predecessors[node_id])
        while queue:
            current = queue.popleft()
            if current not in seen:
                seen.add(current)
                queue.extend(predecessors[current])
        return seen

    def check_parallel_writes(self, scope: _Scope) -> None:
        joins = {nid for nid, n in scope.nodes.items() if _local(n) in ("parallelGateway", "inclusiveGateway")
                 and len(scope.incoming.get(nid, [])) > 1}
        cache: dict[str, set[str]] = {}

        def writes(node_id: str) -> set[str]:
            if node_id not in cache:
                cache[node_id] = self.writes(scope, scope.nodes[node_id])
            return cache[node_id]

        for fork_id, fork in scope.nodes.items():
            targets = [f.get("targetRef", "") for f in scope.outgoing.get(fork_id, [])]
            if _local(fork) not in ("parallelGateway", "inclusiveGateway") or len(targets) < 2:
                continue
            reaches = [self.reach(scope, t, fork_id) for t in targets]
            if not any(r1 & r2 & joins for r1 in reaches for r2 in reaches if r1 is not r2):
                continue  # the branches never meet again: nothing is merged
            reported = self.check_branch_pairs(scope, fork, reaches, joins, writes)
            self.check_stale(scope, fork, reaches, writes, reported)

    def check_branch_pairs(self, scope: _Scope, fork: etree._Element, reaches: list[set[str]], joins: set[str],
                           writes: Callable[[str], set[str]]) -> set[str]:
        """Report keys written on two branches that meet at a join; return the keys reported."""
        reported: set[str] = set()
        for i in range(len(reaches)):
            for j in range(i + 1, len(reaches)):
                if not reaches[i] & reaches[j] & joins:
                    continue
                where_i = {k: n for n in reaches[i] - reaches[j] for k in writes(n)}
                where_j = {k: n for n in reaches[j] - reaches[i] for k in writes(n)}
                for key in sorted(set(where_i) & set(where_j) - reported):
                    reported.add(key)
                    self.add(MSG_PARALLEL_OVERWRITE, scope.file, fork, variable=key,
                             first=_label(scope.nodes[where_i[key]]), second=_label(scope.nodes[where_j[key]]))
        return reported

    def check_stale(self, scope: _Scope, fork: etree._Element, reaches: list[set[str]],
                    writes: Callable[[str], set[str]], reported: set[str]) -> None:
        """Report keys set before the fork and changed on one branch only (the join may restore the old value)."""
        everything = set().union(*reaches)
        before = self.upstream(scope, fork.get("id", "")) - everything
        before_writes = set().union(*(writes(n) for n in before)) if before else set()
        for index, branch in enumerate(reaches):
            others = set().union(*(r for k, r in enumerate(reaches) if k != index))
            for node_id in sorted(branch - others):
                for key in sorted(writes(node_id) & before_writes - reported):
                    reported.add(key)
                    self.add(MSG_PARALLEL_STALE, scope.file, fork, variable=key, task=_label(scope.nodes[node_id]))


def _short(text: str, limit: int = 80) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _label(node: etree._Element) -> str:
    name = node.get("name")
    return f"'{name}' ({node.get('id', '')})" if name else f"'{node.get('id', '')}'"


def _vendor_category(name: str) -> str | None:
    if name in _VENDOR_HARMLESS:
        return None
    if name in _VENDOR_FORM:
        return MSG_VENDOR_FORM
    if name in _VENDOR_ASSIGNEE:
        return MSG_VENDOR_ASSIGNEE
    if name in _VENDOR_LISTENER:
        return MSG_VENDOR_LISTENER
    if name in _VENDOR_MAPPING:
        return MSG_VENDOR_MAPPING
    if name in _VENDOR_CODE:
        return MSG_VENDOR_CODE
    return MSG_VENDOR_OTHER


def _vendor_what(namespace: str, name: str) -> str:
    prefix = {CAMUNDA_NS: "camunda", ZEEBE_NS: "zeebe", ACTIVITI_NS: "activiti", FLOWABLE_NS: "flowable"}[namespace]
    return f"{prefix}:{name}"


# ---- entry points -----------------------------------------------------------------------------------


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
    checker = _Checker(roots, forms, rules)
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
