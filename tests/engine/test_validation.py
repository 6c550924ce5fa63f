"""engine.validation: one validation for the designer pages and the command line; deploy runs it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from babel.support import Translations
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import definitions
from engine import validation as v
from engine.audit import Actor
from engine.errors import BpmnRejected, Problem
from engine.models import ProcessDefinition
from tests.bpmn_cases import (
    CASES,
    FOREIGN,
    FORM,
    SPIFF,
    VALID,
    Case,
    document,
    flow,
    parallel_model,
    simple,
    user_task,
)
from workflows.database import shipped_model
from workflows.designer import validation_rules

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "bpmn"
RULES = validation_rules()


def problems_of(data: bytes, forms: dict[str, Any] | None = None, name: str = "model.bpmn") -> list[v.Finding]:
    report = v.check({name: data}, {"note.json": FORM} if forms is None else forms, RULES)
    assert all(isinstance(p, v.Finding) for p in report.problems)
    return report.problems  # type: ignore[return-value]


# ---- deployable models --------------------------------------------------------------------------------


def test_the_shipped_petition_model_is_deployable() -> None:
    files, forms = shipped_model()
    report = v.check(files, forms, RULES)
    assert report.problems == []
    assert report.ok and report.process_id == "petition" and report.spec is not None


def test_a_minimal_model_with_lane_and_form_is_deployable() -> None:
    assert problems_of(VALID) == []


def test_models_in_other_tools_styles_that_follow_the_rules_are_deployable() -> None:
    # bpmn.io style: collaboration with one executable pool, a documentation-only pool, DI, a manual task.
    outside = ('<bpmn:collaboration id="collab"><bpmn:participant id="board" processRef="p"/>'
               '<bpmn:participant id="enterprise_pool" name="Enterprise" processRef="ent"/></bpmn:collaboration>'
               '<bpmn:process id="ent" isExecutable="false"><bpmn:startEvent id="ent_start"/></bpmn:process>')
    body = (f'<bpmn:startEvent id="start"/>{user_task("review")}<bpmn:manualTask id="file" name="File it"/>'
            f'<bpmn:endEvent id="end"/>{flow("f1", "start", "review")}{flow("f2", "review", "file")}'
            f'{flow("f3", "file", "end")}')
    assert problems_of(document(body, {"intake": ["review"], "leader": ["file"]}, outside=outside)) == []
    # Camunda style with harmless extensions (history time to live, async flags) and an embedded subprocess.
    camunda = 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
    sub = (f'<bpmn:subProcess id="sub" camunda:asyncBefore="true"><bpmn:startEvent id="s_start"/>'
           f'{user_task("inner")}<bpmn:endEvent id="s_end"/>{flow("s1", "s_start", "inner")}'
           f'{flow("s2", "inner", "s_end")}</bpmn:subProcess>')
    assert problems_of(simple(sub, "sub", {"unit": ["sub"]}, namespaces=camunda)) == []


def test_call_activities_across_files_are_validated_together() -> None:
    callee = document(f'<bpmn:startEvent id="c_start"/>{user_task("inner")}<bpmn:endEvent id="c_end"/>'
                      f'{flow("c1", "c_start", "inner")}{flow("c2", "inner", "c_end")}', {"agency": ["inner"]},
                      process_id="callee")
    caller = simple('<bpmn:callActivity id="call" calledElement="callee"/>', "call", {})
    report = v.check({"caller.bpmn": caller, "callee.bpmn": callee}, {"note.json": FORM}, RULES)
    assert report.problems == [] and report.process_id == "p"
    missing = v.check({"caller.bpmn": caller}, {"note.json": FORM}, RULES)
    assert [p.msgid for p in missing.problems] == [v.MSG_MISSING_CALLEE]


# ---- every broken or hostile file gives its reason -----------------------------------------------------


def test_there_are_at_least_thirty_broken_or_hostile_cases() -> None:
    assert len(CASES) >= 30
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_broken_or_hostile_file_is_refused_with_its_reason(case: Case) -> None:
    problems = problems_of(case.data, case.forms, f"{case.name}.bpmn")
    matching = [p for p in problems if p.msgid == case.msgid]
    assert matching, [str(p) for p in problems]
    if case.element:
        assert case.element in {p.element_id for p in matching}, [str(p) for p in matching]
        assert all(p.line for p in matching if p.element_id == case.element)
    assert all(p.file for p in problems)
    assert "root:x:0:0" not in " ".join(p.message for p in problems)  # no file content leaks


def test_deploy_runs_the_validation_and_stores_nothing_invalid(app: Any, session: Session) -> None:
    before = session.scalar(select(func.count()).select_from(ProcessDefinition))
    for case in CASES:
        with pytest.raises(BpmnRejected) as info:
            definitions.deploy(session, "p", {f"{case.name}.bpmn": case.data}, case.forms, Actor("d", "designer"),
                               RULES)
        # Deploying names the process, so "which process?" becomes "this process is not executable / alone".
        expected = {v.MSG_NO_PROCESS: v.MSG_NOT_EXECUTABLE, v.MSG_SEVERAL_PROCESSES: v.MSG_EXTRA_PROCESS}.get(
            case.msgid, case.msgid)
        assert any(getattr(p, "msgid", "") == expected for p in info.value.problems), case.name
    session.rollback()
    assert session.scalar(select(func.count()).select_from(ProcessDefinition)) == before
    deployed = definitions.deploy(session, "p", {"ok.bpmn": VALID}, {"note.json": FORM}, Actor("d", "designer"),
                                  RULES)
    assert deployed.version == 1


def test_fixture_files_from_other_tools() -> None:
    def msgids(name: str) -> set[str]:
        return {p.msgid for p in problems_of((FIXTURES / name).read_bytes(), {}, name)}

    assert msgids("xxe.bpmn") == {v.MSG_DOCTYPE}
    assert msgids("malformed.bpmn") == {v.MSG_MALFORMED}
    assert {v.MSG_EVENT_GATEWAY, v.MSG_COMPLEX_GATEWAY, v.MSG_DATA_STORE, v.MSG_SIGNAL_EVENT} <= msgids(
        "unsupported.bpmn")
    assert {v.MSG_VENDOR_FORM, v.MSG_VENDOR_ASSIGNEE, v.MSG_VENDOR_LISTENER, v.MSG_UNKNOWN_LANE, v.MSG_JUEL,
            v.MSG_NO_DEFAULT, v.MSG_NO_FORM} <= msgids("camunda7.bpmn")
    assert msgids("bpmnio_plain.bpmn") == {v.MSG_NO_PROCESS, v.MSG_PLAIN_TASK}


# ---- details ------------------------------------------------------------------------------------------


def test_juel_conditions_come_with_a_python_suggestion() -> None:
    problem = next(p for p in problems_of((FIXTURES / "camunda7.bpmn").read_bytes(), {}) if p.element_id == "Flow_Yes")
    assert dict(problem.params)["suggestion"] == "accepted and priority == 'high'"
    assert problem.line == 51


def test_parallel_branches_writing_disjoint_data_are_fine() -> None:
    assert problems_of(parallel_model("a_result = 1", "b_result = 2", before="shared = 0")) == []


def test_multi_instance_outputs_count_as_the_branch_writes_not_its_form_fields() -> None:
    mi = user_task("ask", extra="").replace(
        "</bpmn:userTask>", '<bpmn:multiInstanceLoopCharacteristics spiffworkflow:scriptsOnInstances="true">'
        "<bpmn:loopDataInputRef>agencies</bpmn:loopDataInputRef><bpmn:loopDataOutputRef>replies"
        '</bpmn:loopDataOutputRef><bpmn:inputDataItem id="agency" name="agency"/><bpmn:outputDataItem id="reply" '
        'name="reply"/></bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>')
    body = (f'<bpmn:startEvent id="start"/><bpmn:parallelGateway id="fork"/>{user_task("handle")}{mi}'
            f'<bpmn:parallelGateway id="join"/><bpmn:endEvent id="end"/>{flow("f1", "start", "fork")}'
            f'{flow("fa", "fork", "handle")}{flow("fb", "fork", "ask")}{flow("fa2", "handle", "join")}'
            f'{flow("fb2", "ask", "join")}{flow("fe", "join", "end")}')
    assert problems_of(document(body, {"unit": ["handle"], "agency": ["ask"]})) == []  # both forms write 'note'


def test_model_size_is_bounded_before_the_recursive_parser_runs() -> None:
    from tests.bpmn_cases import chain

    report = v.check({"long.bpmn": chain(600)}, {}, RULES)
    assert [p.msgid for p in report.problems] == [v.MSG_TOO_MANY_NODES] and report.spec is None
    assert v.check({"ok.bpmn": chain(100)}, {}, RULES).ok


def test_without_domain_rules_lanes_helpers_and_forms_are_not_required() -> None:
    body = simple(user_task("review", form=None), "review", {}).replace(b"</bpmn:userTask>", b"</bpmn:userTask>")
    assert v.check({"m.bpmn": body}, {}).ok
    assert not v.check({"m.bpmn": body}, {}, RULES).ok


def test_messages_render_in_vietnamese_and_english() -> None:
    problem = v.Finding.make(v.MSG_UNKNOWN_LANE, "m.bpmn", 12, "review", "Review", lane="Reception",
                             lanes="intake, leader")
    assert v.render(problem) == "Lane 'Reception' does not map to a role: name the lane after one of intake, leader."
    gettext = Translations.load(str(ROOT / "webapp" / "translations"), ["vi"]).gettext
    assert v.render(problem, gettext).startswith("Làn 'Reception' không ứng với vai trò nào")
    assert v.render_line(problem, gettext).startswith("m.bpmn:12: [review] Làn")
    compile_problem = problems_of(CASES[[c.name for c in CASES].index("script_import")].data)[0]
    assert v.render(compile_problem, gettext).startswith("Kịch bản không biên dịch được")  # %(what)s translated too


def test_problems_from_the_hardened_parser_get_message_ids() -> None:
    assert v.from_problem(Problem("File is empty", "a.bpmn")).msgid == v.MSG_EMPTY
    unknown = v.from_problem(Problem("Something new", "a.bpmn", 3, "x"))
    assert (unknown.msgid, dict(unknown.params), unknown.line) == (v.MSG_PARSER, {"detail": "Something new"}, 3)


def test_assigned_names_are_the_data_a_script_writes() -> None:
    script = "a = 1\nb, (c, d) = 1, (2, 3)\ne += 1\nf['k'] = 2\nfor g in []:\n    pass\ndef h():\n    inner = 1\n_hidden = 1"
    assert v.assigned_names(script) == {"a", "b", "c", "d", "e", "f", "g"}
    assert v.assigned_names("x ===") == set()


def test_process_ids_and_element_kinds() -> None:
    assert v.process_ids(VALID) == ["p"]
    assert v.process_ids(b"<not xml") == []
    assert v.element_kind("exclusiveGateway") == "exclusive gateway"
    assert SPIFF == v.SPIFF_NS


@pytest.mark.parametrize(("name", "data", "msgid"), FOREIGN, ids=[f[0] for f in FOREIGN])
def test_models_in_other_modelers_styles_are_deployable_or_refused_precisely(name: str, data: bytes,
                                                                             msgid: str) -> None:
    problems = problems_of(data, None, f"{name}.bpmn")
    if not msgid:
        assert problems == [], [str(p) for p in problems]
    else:
        assert msgid in {p.msgid for p in problems}, [str(p) for p in problems]
