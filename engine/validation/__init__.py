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

from engine.validation.api import check, element_kind, process_ids, validate
from engine.validation.expressions import assigned_names
from engine.validation.findings import Finding, from_problem, render, render_line
from engine.validation.messages import (
    MESSAGES,
    MSG_AD_HOC,
    MSG_BAD_DEFAULT,
    MSG_BOUNDARY_TARGET,
    MSG_CALL_NOT_ALLOWED,
    MSG_COMPENSATION,
    MSG_COMPILE,
    MSG_COMPLEX_GATEWAY,
    MSG_CONDITIONAL_EVENT,
    MSG_DANGLING_FLOW,
    MSG_DATA_STORE,
    MSG_DEAD_END,
    MSG_DOCTYPE,
    MSG_EMPTY,
    MSG_EMPTY_EXPRESSION,
    MSG_ENGINE_UNSUPPORTED,
    MSG_ENTITY,
    MSG_EVENT_GATEWAY,
    MSG_EXTRA_PROCESS,
    MSG_FLOW_TARGET,
    MSG_FORM_JSON,
    MSG_FORM_OBJECT,
    MSG_FORM_SCHEMA,
    MSG_IGNORED_CONDITION,
    MSG_ISO_UNQUOTED,
    MSG_JUEL,
    MSG_LINK_NO_CATCH,
    MSG_MALFORMED,
    MSG_MESSAGE_FLOW,
    MSG_MESSAGE_MISSING,
    MSG_MESSAGE_REF,
    MSG_MESSAGE_THROW,
    MSG_MISSING_CALLEE,
    MSG_MISSING_FORM,
    MSG_NESTING,
    MSG_NO_CALLEE,
    MSG_NO_CONDITION,
    MSG_NO_DEFAULT,
    MSG_NO_FILE,
    MSG_NO_FORM,
    MSG_NO_LANE,
    MSG_NO_PROCESS,
    MSG_NO_ROOT,
    MSG_NO_SCRIPT,
    MSG_NOT_BYTES,
    MSG_NOT_EXECUTABLE,
    MSG_NOT_PYTHON,
    MSG_NOT_REACHED,
    MSG_PARALLEL_OVERWRITE,
    MSG_PARALLEL_STALE,
    MSG_PARSER,
    MSG_PLAIN_TASK,
    MSG_ROOT,
    MSG_RULE_TASK,
    MSG_SEND_TASK,
    MSG_SERVICE_TASK,
    MSG_SEVERAL_PROCESSES,
    MSG_SIGNAL_EVENT,
    MSG_START_TRIGGER,
    MSG_TASK_SPLIT,
    MSG_TOO_DEEP,
    MSG_TOO_LARGE,
    MSG_TOO_MANY_NODES,
    MSG_UNKNOWN_LANE,
    MSG_UNKNOWN_PROCESS,
    MSG_VENDOR_ASSIGNEE,
    MSG_VENDOR_CODE,
    MSG_VENDOR_FORM,
    MSG_VENDOR_LISTENER,
    MSG_VENDOR_MAPPING,
    MSG_VENDOR_OTHER,
    MSG_XINCLUDE,
    N_,
    TRANSLATED_PARAMS,
    WHAT_CARDINALITY,
    WHAT_COMPLETION,
    WHAT_CONDITION,
    WHAT_DUE_DATE,
    WHAT_LOOP,
    WHAT_POSTSCRIPT,
    WHAT_PRESCRIPT,
    WHAT_SCRIPT,
    WHAT_TIMER,
)
from engine.validation.model import (
    ACTIVITIES,
    EVENTS,
    FLOW_NODES,
    FORM_PROPERTY,
    GATEWAYS,
    PYTHON_FORMATS,
    SPIFF_NS,
    SUBPROCESSES,
    XSI_TYPE,
)
from engine.validation.rules import DEFAULT_MAX_FLOW_NODES, Report, Rules
from engine.validation.unsupported import ACTIVITI_NS, CAMUNDA_NS, FLOWABLE_NS, VENDOR_NAMESPACES, ZEEBE_NS
from engine.validation.walk import MAX_SUBPROCESS_DEPTH

__all__ = [
    "N_", "MSG_NO_FILE", "MSG_EMPTY", "MSG_TOO_LARGE", "MSG_NOT_BYTES", "MSG_DOCTYPE", "MSG_ENTITY",
    "MSG_XINCLUDE", "MSG_MALFORMED", "MSG_NO_ROOT", "MSG_ROOT", "MSG_FLOW_TARGET",
    "MSG_ENGINE_UNSUPPORTED", "MSG_TASK_SPLIT", "MSG_MESSAGE_REF", "MSG_TOO_DEEP", "MSG_PARSER",
    "MSG_TOO_MANY_NODES", "MSG_NESTING", "MSG_NO_PROCESS", "MSG_SEVERAL_PROCESSES", "MSG_UNKNOWN_PROCESS",
    "MSG_NOT_EXECUTABLE", "MSG_EXTRA_PROCESS", "MSG_MISSING_CALLEE", "MSG_NO_CALLEE", "MSG_MESSAGE_FLOW",
    "MSG_EVENT_GATEWAY", "MSG_COMPLEX_GATEWAY", "MSG_DATA_STORE", "MSG_AD_HOC", "MSG_SERVICE_TASK",
    "MSG_SEND_TASK", "MSG_RULE_TASK", "MSG_MESSAGE_THROW", "MSG_MESSAGE_MISSING", "MSG_SIGNAL_EVENT",
    "MSG_CONDITIONAL_EVENT", "MSG_COMPENSATION", "MSG_START_TRIGGER", "MSG_PLAIN_TASK", "MSG_NO_LANE",
    "MSG_UNKNOWN_LANE", "MSG_NO_FORM", "MSG_MISSING_FORM", "MSG_FORM_SCHEMA", "MSG_FORM_JSON",
    "MSG_FORM_OBJECT", "MSG_VENDOR_FORM", "MSG_VENDOR_ASSIGNEE", "MSG_VENDOR_LISTENER",
    "MSG_VENDOR_MAPPING", "MSG_VENDOR_CODE", "MSG_VENDOR_OTHER", "MSG_COMPILE", "MSG_CALL_NOT_ALLOWED",
    "MSG_EMPTY_EXPRESSION", "MSG_JUEL", "MSG_ISO_UNQUOTED", "MSG_NOT_PYTHON", "MSG_NO_SCRIPT",
    "MSG_NO_DEFAULT", "MSG_BAD_DEFAULT", "MSG_NO_CONDITION", "MSG_IGNORED_CONDITION", "MSG_DANGLING_FLOW",
    "MSG_NOT_REACHED", "MSG_DEAD_END", "MSG_BOUNDARY_TARGET", "MSG_LINK_NO_CATCH",
    "MSG_PARALLEL_OVERWRITE", "MSG_PARALLEL_STALE", "WHAT_CONDITION", "WHAT_SCRIPT", "WHAT_PRESCRIPT",
    "WHAT_POSTSCRIPT", "WHAT_TIMER", "WHAT_CARDINALITY", "WHAT_COMPLETION", "WHAT_LOOP", "WHAT_DUE_DATE",
    "MESSAGES", "TRANSLATED_PARAMS", "Finding", "render", "render_line", "from_problem", "SPIFF_NS",
    "XSI_TYPE", "FORM_PROPERTY", "PYTHON_FORMATS", "ACTIVITIES", "GATEWAYS", "EVENTS", "FLOW_NODES",
    "SUBPROCESSES", "DEFAULT_MAX_FLOW_NODES", "Rules", "Report", "assigned_names", "CAMUNDA_NS",
    "ZEEBE_NS", "ACTIVITI_NS", "FLOWABLE_NS", "VENDOR_NAMESPACES", "MAX_SUBPROCESS_DEPTH", "check",
    "validate", "process_ids", "element_kind",
]
