"""Message ids of the validation: fixed English texts with %(name)s parameters, translated by the caller."""
from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the conventional name of the no-op gettext marker
    """Mark a message id for the catalog without translating it."""
    return message


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
