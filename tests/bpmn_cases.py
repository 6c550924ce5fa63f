"""Broken, hostile and unsupported BPMN files with the validation message each must produce.

Shared by tests/engine/test_validation.py (the engine), tests/webapp/test_designer.py (the page) and
tests/test_bpmn_cli.py (`petitions bpmn validate`): the same file must give the same reason everywhere.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from engine import validation as v

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
FORM = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "properties": {"note": {"type": "string", "title": "Ghi chú"}}, "required": ["note"]}


def user_task(task_id: str, form: str | None = "note.json", extra: str = "", attrs: str = "") -> str:
    """Return a user task with a form property (and optional extension content / attributes)."""
    props = f'<spiffworkflow:property name="formJsonSchemaFilename" value="{form}"/>' if form else ""
    return (f'<bpmn:userTask id="{task_id}" name="Task {task_id}"{attrs}><bpmn:extensionElements>'
            f'<spiffworkflow:properties>{props}</spiffworkflow:properties>{extra}</bpmn:extensionElements>'
            f'</bpmn:userTask>')


def flow(flow_id: str, source: str, target: str, condition: str | None = None, attrs: str = "") -> str:
    """Return a sequence flow, with a condition expression when given."""
    if condition is None:
        return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}"{attrs}/>'
    body = condition.replace("&", "&amp;").replace("<", "&lt;")
    return (f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}"{attrs}>'
            f'<bpmn:conditionExpression>{body}</bpmn:conditionExpression></bpmn:sequenceFlow>')


def document(body: str, lanes: dict[str, list[str]] | None = None, process_id: str = "p",
             executable: bool = True, outside: str = "", namespaces: str = "") -> bytes:
    """Return a BPMN document: one process with lanes (lane name -> flow node ids) and `body`."""
    lane_xml = ""
    if lanes:
        lane_xml = '<bpmn:laneSet id="lanes">' + "".join(
            f'<bpmn:lane id="lane_{i}" name="{name}">' + "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>"
                                                              for n in nodes) + "</bpmn:lane>"
            for i, (name, nodes) in enumerate(lanes.items())) + "</bpmn:laneSet>"
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="{BPMN}" '
            f'xmlns:spiffworkflow="{SPIFF}" {namespaces} id="defs" targetNamespace="urn:test">\n'
            f'<bpmn:process id="{process_id}" isExecutable="{"true" if executable else "false"}">\n'
            f"{lane_xml}\n{body}\n</bpmn:process>\n{outside}</bpmn:definitions>\n").encode()


def simple(middle: str, middle_id: str, lanes: dict[str, list[str]] | None = None, outside: str = "",
           namespaces: str = "") -> bytes:
    """Return start -> `middle` -> end (the middle element's id is `middle_id`)."""
    body = (f'<bpmn:startEvent id="start"/>{middle}<bpmn:endEvent id="end"/>'
            f'{flow("f1", "start", middle_id)}{flow("f2", middle_id, "end")}')
    return document(body, lanes if lanes is not None else {"intake": [middle_id]}, outside=outside,
                    namespaces=namespaces)


def gateway_model(condition: str, default: bool = True, second_condition: str | None = "note == 'b'") -> bytes:
    """Return start -> review -> exclusive gateway -> a | b -> end."""
    default_attr = ' default="fb"' if default else ""
    body = (f'<bpmn:startEvent id="start"/>{user_task("review")}'
            f'<bpmn:exclusiveGateway id="gw" name="Decide"{default_attr}/>'
            f'{user_task("a")}{user_task("b")}<bpmn:endEvent id="end"/>'
            f'{flow("f1", "start", "review")}{flow("f2", "review", "gw")}'
            f'{flow("fa", "gw", "a", condition)}{flow("fb", "gw", "b", None if default else second_condition)}'
            f'{flow("fa2", "a", "end")}{flow("fb2", "b", "end")}')
    return document(body, {"intake": ["review", "a", "b"]})


def parallel_model(script_a: str, script_b: str, before: str = "") -> bytes:
    """Return start -> [before script] -> fork -> script a | script b -> join -> end."""
    first = "init" if before else "fork"
    pre = (f'<bpmn:scriptTask id="init"><bpmn:script>{before}</bpmn:script></bpmn:scriptTask>'
           f'{flow("f0", "init", "fork")}') if before else ""
    body = (f'<bpmn:startEvent id="start"/>{pre}<bpmn:parallelGateway id="fork" name="Split"/>'
            f'<bpmn:scriptTask id="a" name="Branch A"><bpmn:script>{script_a}</bpmn:script></bpmn:scriptTask>'
            f'<bpmn:scriptTask id="b" name="Branch B"><bpmn:script>{script_b}</bpmn:script></bpmn:scriptTask>'
            f'<bpmn:parallelGateway id="join"/><bpmn:endEvent id="end"/>'
            f'{flow("f1", "start", first)}{flow("fa", "fork", "a")}{flow("fb", "fork", "b")}'
            f'{flow("fa2", "a", "join")}{flow("fb2", "b", "join")}{flow("fe", "join", "end")}')
    return document(body)


def timer_model(expression: str, attached_to: str = "review") -> bytes:
    """Return a user task with a boundary timer leading to a second end."""
    body = (f'<bpmn:startEvent id="start"/>{user_task("review")}<bpmn:endEvent id="end"/>'
            f'<bpmn:boundaryEvent id="deadline" name="Deadline" attachedToRef="{attached_to}">'
            f'<bpmn:timerEventDefinition><bpmn:timeDuration>{expression}</bpmn:timeDuration>'
            f'</bpmn:timerEventDefinition></bpmn:boundaryEvent><bpmn:endEvent id="late"/>'
            f'{flow("f1", "start", "review")}{flow("f2", "review", "end")}{flow("f3", "deadline", "late")}')
    return document(body, {"intake": ["review"]})


def chain(length: int) -> bytes:
    """Return a sequence of `length` script tasks."""
    nodes = "".join(f'<bpmn:scriptTask id="t{i}"><bpmn:script>x = {i}</bpmn:script></bpmn:scriptTask>'
                    for i in range(length))
    flows = flow("f_start", "start", "t0") + "".join(flow(f"f{i}", f"t{i}", f"t{i + 1}") for i in range(length - 1))
    return document(f'<bpmn:startEvent id="start"/>{nodes}<bpmn:endEvent id="end"/>{flows}'
                    f'{flow("f_end", f"t{length - 1}", "end")}')


def script_model(script: str, fmt: str = "") -> bytes:
    """Return start -> script task `run` -> end."""
    attrs = f' scriptFormat="{fmt}"' if fmt else ""
    body = script.replace("&", "&amp;").replace("<", "&lt;")
    return simple(f'<bpmn:scriptTask id="run" name="Run"{attrs}><bpmn:script>{body}</bpmn:script></bpmn:scriptTask>',
                  "run", lanes={})


VALID = simple(user_task("review"), "review")
CAMUNDA = 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
XXE = (b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n' + VALID.split(b"\n", 1)[1]
       .replace(b'name="Task review">', b'name="Task review"><bpmn:documentation>&xxe;</bpmn:documentation>', 1))
LAUGHS = ('<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
          '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>\n').encode() + VALID.split(b"\n", 1)[1].replace(
    b'name="Task review">', b'name="Task review"><bpmn:documentation>&c;</bpmn:documentation>', 1)


@dataclass(frozen=True)
class Case:
    """A file that must be refused with `msgid`, on `element` (and a line) when given."""

    name: str
    data: bytes
    msgid: str
    element: str = ""
    forms: dict[str, Any] = field(default_factory=lambda: {"note.json": FORM})

    @property
    def fragment(self) -> str:
        """Return the longest literal part of the English message (to find it in rendered output)."""
        return max(re.split(r"%\(\w+\)s", self.msgid), key=len).strip()


CASES: tuple[Case, ...] = (
    # XML and hostile files
    Case("malformed", b'<?xml version="1.0"?>\n<bpmn:definitions xmlns:bpmn="' + BPMN.encode() + b'">\n<bpmn:process>',
         v.MSG_MALFORMED),
    Case("xxe", XXE, v.MSG_DOCTYPE),
    Case("billion_laughs", LAUGHS, v.MSG_DOCTYPE),
    Case("empty", b"   \n", v.MSG_EMPTY),
    Case("too_large", b'<?xml version="1.0"?><!--' + b"x" * (2 * 1024 * 1024) + b"-->", v.MSG_TOO_LARGE),
    Case("not_bpmn", b"<html><body>hello</body></html>", v.MSG_ROOT),
    Case("xinclude", VALID.replace(b"<bpmn:endEvent", b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
                                   b'href="file:///etc/passwd"/><bpmn:endEvent', 1), v.MSG_XINCLUDE),
    Case("xsd_violation", VALID.replace(b'<bpmn:endEvent id="end"/>', b'<bpmn:endEvent id="end"/><bpmn:bogus/>'),
         v.MSG_PARSER),
    # which process
    Case("not_executable", document('<bpmn:startEvent id="start"/>', executable=False), v.MSG_NO_PROCESS),
    Case("two_pools", VALID.replace(b"</bpmn:definitions>", b'<bpmn:process id="other" isExecutable="true">'
                                    b'<bpmn:startEvent id="s2"/></bpmn:process></bpmn:definitions>'),
         v.MSG_SEVERAL_PROCESSES),
    Case("missing_callee", simple('<bpmn:callActivity id="call" calledElement="elsewhere"/>', "call", {}),
         v.MSG_MISSING_CALLEE, "call"),
    Case("message_flow", simple(user_task("review"), "review", outside=(
        '<bpmn:collaboration id="c"><bpmn:participant id="pa" processRef="p"/><bpmn:participant id="pb"/>'
        '<bpmn:messageFlow id="mf" sourceRef="pb" targetRef="review"/></bpmn:collaboration>')), v.MSG_MESSAGE_FLOW,
         "mf"),
    # unsupported elements
    Case("event_gateway", simple('<bpmn:eventBasedGateway id="eg"/>', "eg", {}), v.MSG_EVENT_GATEWAY, "eg"),
    Case("complex_gateway", simple('<bpmn:complexGateway id="cg"/>', "cg", {}), v.MSG_COMPLEX_GATEWAY, "cg"),
    Case("data_store", VALID.replace(b'<bpmn:endEvent id="end"/>', b'<bpmn:endEvent id="end"/>'
                                     b'<bpmn:dataStoreReference id="db"/>'), v.MSG_DATA_STORE, "db"),
    Case("service_task", simple('<bpmn:serviceTask id="svc" name="Call API"/>', "svc", {}), v.MSG_SERVICE_TASK, "svc"),
    Case("send_task", simple('<bpmn:sendTask id="send"/>', "send", {}), v.MSG_SEND_TASK, "send"),
    Case("business_rule_task", simple('<bpmn:businessRuleTask id="dmn"/>', "dmn", {}), v.MSG_RULE_TASK, "dmn"),
    Case("signal_event", simple('<bpmn:intermediateCatchEvent id="sig"><bpmn:signalEventDefinition/>'
                                '</bpmn:intermediateCatchEvent>', "sig", {}), v.MSG_SIGNAL_EVENT, "sig"),
    Case("message_throw", simple('<bpmn:intermediateThrowEvent id="tell"><bpmn:messageEventDefinition '
                                 'messageRef="m"/></bpmn:intermediateThrowEvent>', "tell", {},
                                 outside='<bpmn:message id="m" name="m"/>'), v.MSG_MESSAGE_THROW, "tell"),
    Case("undefined_message", simple(user_task("review"), "review").replace(
        b'<bpmn:endEvent id="end"/>', b'<bpmn:endEvent id="end"/><bpmn:boundaryEvent id="msg" attachedToRef="review">'
        b'<bpmn:messageEventDefinition messageRef="nowhere"/></bpmn:boundaryEvent><bpmn:endEvent id="e2"/>'
        b'<bpmn:sequenceFlow id="fm" sourceRef="msg" targetRef="e2"/>'), v.MSG_MESSAGE_REF, "msg"),
    Case("timer_start", VALID.replace(b'<bpmn:startEvent id="start"/>', b'<bpmn:startEvent id="start">'
                                      b'<bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration>'
                                      b'</bpmn:timerEventDefinition></bpmn:startEvent>'), v.MSG_START_TRIGGER, "start"),
    Case("plain_task", simple('<bpmn:task id="todo" name="Check"/>', "todo", {}), v.MSG_PLAIN_TASK, "todo"),
    # lanes and forms
    Case("no_lane", simple(user_task("review"), "review", {}), v.MSG_NO_LANE, "review"),
    Case("unknown_lane", simple(user_task("review"), "review", {"Reception": ["review"]}), v.MSG_UNKNOWN_LANE,
         "review"),
    Case("no_form", simple(user_task("review", form=None), "review"), v.MSG_NO_FORM, "review"),
    Case("missing_form", simple(user_task("review", form="gone.json"), "review"), v.MSG_MISSING_FORM, "review"),
    Case("bad_form_schema", VALID, v.MSG_FORM_SCHEMA, forms={"note.json": {"type": "object", "properties": {},
                                                                          "required": "note"}}),
    Case("camunda_form", simple(user_task("review", attrs=' camunda:formKey="embedded:app:forms/x.html"'), "review",
                                namespaces=CAMUNDA), v.MSG_VENDOR_FORM, "review"),
    Case("camunda_listener", simple(user_task("review", extra='<camunda:taskListener class="a.B" event="create"/>'),
                                    "review", namespaces=CAMUNDA), v.MSG_VENDOR_LISTENER, "review"),
    # expressions, scripts and unsafe code
    Case("condition_syntax", gateway_model("note ==== 'a'"), v.MSG_COMPILE, "fa"),
    Case("condition_import", gateway_model("__import__('os').system('id') == 0"), v.MSG_COMPILE, "fa"),
    Case("condition_open", gateway_model("open('/etc/passwd').read() == ''"), v.MSG_COMPILE, "fa"),
    Case("condition_unknown_helper", gateway_model("send_mail(note)"), v.MSG_CALL_NOT_ALLOWED, "fa"),
    Case("condition_juel", gateway_model("${approved && note eq 'a'}"), v.MSG_JUEL, "fa"),
    Case("condition_feel", gateway_model("= amount > 100"), v.MSG_JUEL, "fa"),
    Case("condition_empty", gateway_model(" "), v.MSG_EMPTY_EXPRESSION, "fa"),
    Case("script_import", script_model("import os\nos.system('id')"), v.MSG_COMPILE, "run"),
    Case("script_escape", script_model("x = ().__class__.__base__.__subclasses__()"), v.MSG_COMPILE, "run"),
    Case("script_javascript", script_model("var x = 1;", "javascript"), v.MSG_NOT_PYTHON, "run"),
    Case("script_huge_power", script_model("x = 10**10**10"), v.MSG_COMPILE, "run"),
    Case("script_huge_string", script_model("x = 'a' * 10**9"), v.MSG_COMPILE, "run"),
    Case("script_huge_source", script_model("x = 1\n" * 5000), v.MSG_COMPILE, "run"),
    Case("prescript_unsafe", simple(user_task("review", extra="<spiffworkflow:preScript>import sys"
                                                             "</spiffworkflow:preScript>"), "review"),
         v.MSG_COMPILE, "review"),
    Case("due_date_bad", simple(user_task("review").replace(
        "</spiffworkflow:properties>", '<spiffworkflow:property name="dueDate" value="today(("/>'
                                       "</spiffworkflow:properties>"), "review"), v.MSG_COMPILE, "review"),
    Case("cardinality_huge", simple(user_task("review").replace(
        "</bpmn:userTask>", "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>9**9**9"
                            "</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>"),
        "review"), v.MSG_COMPILE, "review"),
    Case("timer_unquoted", timer_model("P5D"), v.MSG_ISO_UNQUOTED, "deadline"),
    Case("timer_unsafe", timer_model("__import__('os').getcwd()"), v.MSG_COMPILE, "deadline"),
    # structure
    Case("no_default_flow", gateway_model("note == 'a'", default=False), v.MSG_NO_DEFAULT, "gw"),
    Case("flow_without_condition", gateway_model("note == 'a'", default=False, second_condition=None),
         v.MSG_NO_CONDITION, "fb"),
    Case("ignored_condition", document(f'<bpmn:startEvent id="start"/>{user_task("review")}<bpmn:endEvent id="end"/>'
                                       f'{flow("f1", "start", "review")}{flow("f2", "review", "end", "note == 1")}',
                                       {"intake": ["review"]}), v.MSG_IGNORED_CONDITION, "f2"),
    Case("boundary_missing_task", timer_model('"PT1H"', attached_to="ghost"), v.MSG_BOUNDARY_TARGET, "deadline"),
    Case("link_without_catch", simple('<bpmn:intermediateThrowEvent id="jump"><bpmn:linkEventDefinition '
                                      'name="next"/></bpmn:intermediateThrowEvent>', "jump", {}).replace(
        b'<bpmn:sequenceFlow id="f2" sourceRef="jump" targetRef="end"/>', b""), v.MSG_LINK_NO_CATCH, "jump"),
    Case("dangling_flow", VALID.replace(b'targetRef="end"', b'targetRef="nowhere"'), v.MSG_DANGLING_FLOW, "f2"),
    Case("not_connected", VALID.replace(b'<bpmn:endEvent id="end"/>', b'<bpmn:endEvent id="end"/>'
                                        b'<bpmn:scriptTask id="lost"><bpmn:script>x = 1</bpmn:script>'
                                        b'</bpmn:scriptTask>'), v.MSG_NOT_REACHED, "lost"),
    Case("parallel_overwrite", parallel_model("decision = 'a'", "decision = 'b'"), v.MSG_PARALLEL_OVERWRITE, "fork"),
    Case("parallel_stale", parallel_model("total = total + 1", "other = 2", before="total = 0"),
         v.MSG_PARALLEL_STALE, "fork"),
    Case("too_many_nodes", chain(450), v.MSG_TOO_MANY_NODES),
)


def forms_json(case: Case) -> dict[str, bytes]:
    """Return the case's forms as files (name -> JSON bytes)."""
    return {name: json.dumps(schema).encode() for name, schema in case.forms.items()}


# ---- models written in other modelers' styles: deployable, or refused with a precise reason ------------

ZEEBE = 'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"'
ACTIVITI = 'xmlns:activiti="http://activiti.org/bpmn"'
SIGNAVIO = 'xmlns:signavio="http://www.signavio.com"'
DEPLOYABLE = ""


def _subprocess_model() -> bytes:
    sub = (f'<bpmn:subProcess id="sub" name="Check"><bpmn:startEvent id="s_start"/>{user_task("inner")}'
           f'<bpmn:endEvent id="s_end"/>{flow("s1", "s_start", "inner")}{flow("s2", "inner", "s_end")}'
           "</bpmn:subProcess>")
    return simple(sub, "sub", {"unit": ["sub"]})


def _call_model() -> bytes:
    callee = ('<bpmn:process id="callee" isExecutable="true"><bpmn:laneSet id="c_lanes"><bpmn:lane id="c_lane" '
              'name="agency"><bpmn:flowNodeRef>inner</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>'
              f'<bpmn:startEvent id="c_start"/>{user_task("inner")}'
              f'<bpmn:endEvent id="c_end"/>{flow("c1", "c_start", "inner")}{flow("c2", "inner", "c_end")}'
              "</bpmn:process>")
    data = simple('<bpmn:callActivity id="call" calledElement="callee"/>', "call", {}, outside=callee)
    return data.replace(b"</bpmn:process>\n<bpmn:process", b"</bpmn:process><bpmn:process")


def _inclusive_model() -> bytes:
    condition = "note == 'a'"
    body = (f'<bpmn:startEvent id="start"/>{user_task("review")}<bpmn:inclusiveGateway id="split" default="fb"/>'
            '<bpmn:scriptTask id="a"><bpmn:script>a_done = True</bpmn:script></bpmn:scriptTask>'
            '<bpmn:scriptTask id="b"><bpmn:script>b_done = True</bpmn:script></bpmn:scriptTask>'
            f'<bpmn:inclusiveGateway id="merge"/><bpmn:endEvent id="end"/>{flow("f1", "start", "review")}'
            f'{flow("f2", "review", "split")}{flow("fa", "split", "a", condition)}{flow("fb", "split", "b")}'
            f'{flow("fa2", "a", "merge")}{flow("fb2", "b", "merge")}{flow("fe", "merge", "end")}')
    return document(body, {"intake": ["review"]})


FOREIGN: tuple[tuple[str, bytes, str], ...] = (
    ("bpmn_io_collaboration_with_documentation_pool", simple(user_task("review"), "review", outside=(
        '<bpmn:collaboration id="c"><bpmn:participant id="board" processRef="p"/>'
        '<bpmn:participant id="ent" name="Enterprise" processRef="ent_p"/></bpmn:collaboration>'
        '<bpmn:process id="ent_p" isExecutable="false"><bpmn:startEvent id="e_start"/></bpmn:process>')),
     DEPLOYABLE),
    ("collaboration_with_two_executable_pools", simple(user_task("review"), "review", outside=(
        '<bpmn:collaboration id="c"><bpmn:participant id="board" processRef="p"/>'
        '<bpmn:participant id="ent" processRef="ent_p"/></bpmn:collaboration>'
        '<bpmn:process id="ent_p" isExecutable="true"><bpmn:startEvent id="e_start"/></bpmn:process>')),
     v.MSG_SEVERAL_PROCESSES),
    ("embedded_subprocess", _subprocess_model(), DEPLOYABLE),
    ("call_activity_same_file", _call_model(), DEPLOYABLE),
    ("inclusive_gateway", _inclusive_model(), DEPLOYABLE),
    ("camunda7_harmless_extensions", simple(user_task("review", attrs=' camunda:asyncBefore="true"'), "review",
                                            namespaces=CAMUNDA).replace(b'isExecutable="true"',
                                                                        b'isExecutable="true" camunda:historyTimeToLive'
                                                                        b'="180"'), DEPLOYABLE),
    ("camunda7_service_task_java", simple('<bpmn:serviceTask id="svc" camunda:class="vn.gov.Notify"/>', "svc", {},
                                          namespaces=CAMUNDA), v.MSG_SERVICE_TASK),
    ("camunda8_zeebe_form_and_feel", gateway_model("= approved").replace(
        b'<bpmn:userTask id="review" name="Task review"><bpmn:extensionElements>',
        b'<bpmn:userTask id="review" name="Task review"><bpmn:extensionElements>'
        b'<zeebe:formDefinition formKey="camunda-forms:bpmn:review"/>'
        b'<zeebe:assignmentDefinition candidateGroups="reception"/>').replace(
        b"xmlns:spiffworkflow", ZEEBE.encode() + b" xmlns:spiffworkflow"), v.MSG_VENDOR_FORM),
    ("activiti_assignee", simple(user_task("review", attrs=' activiti:assignee="${initiator}"'), "review",
                                 namespaces=ACTIVITI), v.MSG_VENDOR_ASSIGNEE),
    ("signavio_export_not_executable", document(
        f'<bpmn:startEvent id="start"><bpmn:extensionElements><signavio:signavioMetaData metaKey="bgcolor" '
        f'metaValue="#ffffff"/></bpmn:extensionElements></bpmn:startEvent>{user_task("review")}'
        f'<bpmn:endEvent id="end"/>{flow("f1", "start", "review")}{flow("f2", "review", "end")}',
        {"Tiếp nhận": ["review"]}, executable=False, namespaces=SIGNAVIO), v.MSG_NO_PROCESS),
    ("signavio_export_made_executable", document(
        f'<bpmn:startEvent id="start"><bpmn:extensionElements><signavio:signavioMetaData metaKey="bgcolor" '
        f'metaValue="#ffffff"/></bpmn:extensionElements></bpmn:startEvent>{user_task("review")}'
        f'<bpmn:endEvent id="end"/>{flow("f1", "start", "review")}{flow("f2", "review", "end")}',
        {"intake": ["review"]}, namespaces=SIGNAVIO), DEPLOYABLE),
)
