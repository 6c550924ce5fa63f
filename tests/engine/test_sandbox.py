"""The RestrictedPython sandbox, driven through small inline BPMN diagrams run by SpiffWorkflow."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine.errors import ScriptError
from engine.sandbox import BUILTINS, ScriptTimeout, compile_check, make_script_engine

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs" targetNamespace="urn:test">
 <bpmn:process id="p" isExecutable="true">
  <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
"""
TAIL = """ </bpmn:process>
</bpmn:definitions>
"""


def script_diagram(script: str) -> str:
    """Return a process: start -> script task -> end."""
    return HEAD + f"""
  <bpmn:scriptTask id="script" name="Compute"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
   <bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>
  <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="script"/>
  <bpmn:sequenceFlow id="f2" sourceRef="script" targetRef="end"/>
""" + TAIL


def gateway_diagram(condition: str) -> str:
    """Return a process whose exclusive gateway goes to `end_yes` when `condition` holds, else `end_no`."""
    return HEAD + f"""
  <bpmn:exclusiveGateway id="gw" default="f_no"><bpmn:incoming>f1</bpmn:incoming>
   <bpmn:outgoing>f_yes</bpmn:outgoing><bpmn:outgoing>f_no</bpmn:outgoing></bpmn:exclusiveGateway>
  <bpmn:endEvent id="end_yes"><bpmn:incoming>f_yes</bpmn:incoming></bpmn:endEvent>
  <bpmn:endEvent id="end_no"><bpmn:incoming>f_no</bpmn:incoming></bpmn:endEvent>
  <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="gw"/>
  <bpmn:sequenceFlow id="f_yes" sourceRef="gw" targetRef="end_yes">
   <bpmn:conditionExpression>{escape(condition)}</bpmn:conditionExpression></bpmn:sequenceFlow>
  <bpmn:sequenceFlow id="f_no" sourceRef="gw" targetRef="end_no"/>
""" + TAIL


def timer_diagram(expression: str) -> str:
    """Return a process: start -> timer catch event (duration `expression`) -> end."""
    return HEAD + f"""
  <bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
   <bpmn:timerEventDefinition><bpmn:timeDuration>{escape(expression)}</bpmn:timeDuration></bpmn:timerEventDefinition>
  </bpmn:intermediateCatchEvent>
  <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
  <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end"/>
""" + TAIL


def start(diagram: str, data: dict[str, Any] | None = None, engine: PythonScriptEngine | None = None) -> BpmnWorkflow:
    """Parse the diagram, seed the data and return the workflow (not yet stepped)."""
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_str(diagram.encode(), "test.bpmn")
    workflow = BpmnWorkflow(parser.get_spec("p"), script_engine=engine or make_script_engine(HELPERS))
    workflow.task_tree.data.update(data or {})
    return workflow


def run(diagram: str, data: dict[str, Any] | None = None, engine: PythonScriptEngine | None = None) -> BpmnWorkflow:
    """Start the workflow and run its engine steps."""
    workflow = start(diagram, data, engine)
    workflow.do_engine_steps()
    return workflow


def end_reached(workflow: BpmnWorkflow) -> str:
    """Return the id of the end event the workflow completed at."""
    ends = [t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.COMPLETED)
            if t.task_spec.bpmn_id and t.task_spec.bpmn_id.startswith("end")]
    assert len(ends) == 1, ends
    return ends[0]


HELPERS: dict[str, Callable[..., Any]] = {
    "shout": lambda text: str(text).upper() + "!",
    "is_big": lambda amount: amount > 1000,
    "hours": lambda n: f"PT{int(n)}H",
}

CANARY = "CANARY"
# (script form, condition form) of each attack; the condition form is an expression.
PAYLOADS: dict[str, tuple[str, str]] = {
    "__import__": (f"r = __import__('os').system('touch {CANARY}')", f"__import__('os').system('touch {CANARY}') == 0"),
    "import": (f"import os\nos.system('touch {CANARY}')", "import os"),
    "open": ("r = open('/etc/passwd').read()", "open('/etc/passwd').read() != ''"),
    "__subclasses__": ("r = ().__class__.__base__.__subclasses__()", "len(().__class__.__base__.__subclasses__()) > 0"),
    "subclasses escape": (
        "r = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'BuiltinImporter'][0]"
        f".load_module('os').system('touch {CANARY}')",
        "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'BuiltinImporter'][0]"
        f".load_module('os').system('touch {CANARY}') == 0",
    ),
    "__globals__": ("r = (lambda: 0).__globals__", "(lambda: 0).__globals__ is not None"),
    "str.format": ("r = '{0.__class__}'.format(1)", "'{0.__class__}'.format(1) != ''"),
    "gi_frame": ("g = (x for x in [1])\nr = g.gi_frame.f_back", "(x for x in [1]).gi_frame is not None"),
    "getattr": ("r = getattr(amount, '__class__')", "getattr(amount, '__class__') is not None"),
}


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run the test inside an empty temporary directory (where a payload would drop its canary)."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def assert_refused(exc: BaseException) -> None:
    """Assert that SpiffWorkflow's exception wraps a sandbox refusal."""
    assert isinstance(exc, WorkflowTaskException)
    assert isinstance(exc.__cause__, ScriptError), repr(exc.__cause__)
    assert "Refused by the sandbox" in str(exc)


# ---- attacks ------------------------------------------------------------------------------------------


def test_the_default_engine_runs_the_payload_which_is_why_the_sandbox_exists(in_tmp: Path) -> None:
    run(script_diagram(PAYLOADS["__import__"][0]), engine=PythonScriptEngine())
    assert (in_tmp / CANARY).exists()


@pytest.mark.parametrize("name", PAYLOADS)
def test_payload_in_a_script_task_is_refused_and_nothing_runs(name: str, in_tmp: Path) -> None:
    workflow = start(script_diagram(PAYLOADS[name][0]), {"amount": 5})
    with pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    assert_refused(info.value)
    assert info.value.task.task_spec.bpmn_id == "script"
    assert not (in_tmp / CANARY).exists()
    assert "r" not in workflow.get_next_task(spec_name="script").data


@pytest.mark.parametrize("name", PAYLOADS)
def test_payload_in_a_gateway_condition_is_refused_and_nothing_runs(name: str, in_tmp: Path) -> None:
    workflow = start(gateway_diagram(PAYLOADS[name][1]), {"amount": 5})
    with pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    assert_refused(info.value)
    assert not (in_tmp / CANARY).exists()


@pytest.mark.parametrize("name", PAYLOADS)
def test_every_payload_is_refused_at_compile_time_before_running(name: str) -> None:
    script, condition = PAYLOADS[name]
    assert compile_check(script, "exec")
    assert compile_check(condition, "eval")


@pytest.mark.parametrize(("source", "named"), [
    ("__import__('os')", '"__import__"'),
    ("import os", "import statements are not allowed"),
    ("open('/etc/passwd')", "open()"),
    ("x.__class__", '"__class__"'),
    ("getattr(x, 'y')", "getattr()"),
    ("'{0}'.format(x)", "str.format()"),
    ("g.gi_frame", '"gi_frame"'),
])
def test_refusal_message_names_the_offending_construct_and_line(source: str, named: str) -> None:
    errors = compile_check("ok = 1\n" + source, "exec")
    assert any(named in error and error.startswith("Line 2") for error in errors), errors


def test_refusal_raised_by_the_engine_is_a_script_error_with_the_construct() -> None:
    with pytest.raises(WorkflowTaskException) as info:
        run(script_diagram("a = 1\nb = open('x')"))
    assert isinstance(info.value.__cause__, ScriptError)
    assert "open()" in str(info.value) and info.value.line_number == 2


def test_builtins_expose_no_import_getattr_type_vars_or_open() -> None:
    for name in ("__import__", "getattr", "type", "vars", "open", "eval", "exec", "compile", "globals", "set",
                 "setattr", "delattr", "__build_class__", "SystemExit", "BaseException"):
        assert name not in BUILTINS, name
    assert BUILTINS["range"] is not range


# ---- benign code --------------------------------------------------------------------------------------


def test_benign_script_computes_a_fee_and_calls_helpers() -> None:
    workflow = run(script_diagram("fee = round(amount * 0.1, 2)\nlabel = shout(name)\nbig = is_big(amount)"),
                   {"amount": 12345, "name": "abc"})
    assert workflow.is_completed()
    assert workflow.data["fee"] == 1234.5
    assert workflow.data["label"] == "ABC!"
    assert workflow.data["big"] is True


@pytest.mark.parametrize(("amount", "end"), [(5000, "end_yes"), (10, "end_no")])
def test_gateway_condition_calls_a_helper(amount: int, end: str) -> None:
    assert end_reached(run(gateway_diagram("is_big(amount) and len(items) == 2"),
                           {"amount": amount, "items": [1, 2]})) == end


def test_timer_expression_is_evaluated_in_the_sandbox_with_helpers() -> None:
    before = dt.datetime.now(dt.timezone.utc)
    workflow = run(timer_diagram("hours(wait_hours)"), {"wait_hours": 3})
    [event] = workflow.waiting_events()
    due = dt.datetime.fromisoformat(event.value)
    assert dt.timedelta(hours=2, minutes=59) < due - before < dt.timedelta(hours=3, minutes=1)


def test_timer_expression_payload_is_refused(in_tmp: Path) -> None:
    with pytest.raises(WorkflowTaskException) as info:
        run(timer_diagram(PAYLOADS["__import__"][1]))
    assert_refused(info.value)
    assert not (in_tmp / CANARY).exists()


def test_common_python_still_works() -> None:
    script = (
        "total = 0\n"
        "for i, item in enumerate(items):\n"
        "    total += item['qty'] * item['price']\n"
        "names = sorted([item['name'] for item in items])\n"
        "lookup = dict(zip(names, range(len(names))))\n"
        "summary = f'{len(items)} items, {total:,.2f} VND'\n"
        "try:\n"
        "    bad = int('x')\n"
        "except ValueError:\n"
        "    bad = None\n"
        "first, *rest = names\n"
        "items[0]['seen'] = True\n"
    )
    data = {"items": [{"name": "b", "qty": 2, "price": 1.5}, {"name": "a", "qty": 1, "price": 10}]}
    out = run(script_diagram(script), data).data
    assert out["total"] == 13.0 and out["names"] == ["a", "b"] and out["lookup"] == {"a": 0, "b": 1}
    assert out["summary"] == "2 items, 13.00 VND" and out["bad"] is None and out["rest"] == ["b"]
    assert out["items"][0]["seen"] is True


# ---- guards cannot be disabled by task data -----------------------------------------------------------


def test_task_data_named_like_guards_or_builtins_cannot_disable_them() -> None:
    data = {"_getattr_": getattr, "_getitem_": "x", "_write_": None, "__builtins__": __builtins__,
            "len": 99, "shout": "not a function", "name": "abc", "items": [1, 2]}
    workflow = run(script_diagram("n = len(items)\nfirst = items[0]\nlabel = shout(name)"), data)
    out = workflow.data
    assert (out["n"], out["first"], out["label"]) == (2, 1, "ABC!")
    assert out["len"] == 99 and out["_getitem_"] == "x"  # left as they were, invisible to the script

    with pytest.raises(WorkflowTaskException) as info:  # safer_getattr still refuses str.format at run time
        run(script_diagram("r = name.format(1)"), data)
    assert "format" in str(info.value)


def test_script_cannot_write_reserved_or_private_names_into_task_data() -> None:
    out = run(script_diagram("len = 5\nshout = 'x'\nvalue = 1"), {}).data
    assert "len" not in out and "shout" not in out and out["value"] == 1
    assert compile_check("_getattr_ = 1", "exec")


# ---- resource limits ----------------------------------------------------------------------------------


@pytest.mark.parametrize("script", [
    "while True: pass",
    "while True:\n    try:\n        while True: pass\n    except Exception:\n        pass",
    "x = 0\nwhile True:\n    x += 1",
])
def test_endless_loop_is_stopped_by_the_time_budget(script: str) -> None:
    with pytest.raises(WorkflowTaskException) as info:
        run(script_diagram(script), engine=make_script_engine(HELPERS, time_budget=0.5))
    assert isinstance(info.value.__cause__, ScriptTimeout)
    assert "time budget" in str(info.value)


def test_endless_comprehension_in_a_condition_is_stopped_by_the_time_budget() -> None:
    condition = "len([1 for a in range(999) for b in range(999) for c in range(999) for d in range(999)]) > 0"
    with pytest.raises(WorkflowTaskException) as info:
        run(gateway_diagram(condition), engine=make_script_engine(HELPERS, time_budget=0.5))
    assert isinstance(info.value.__cause__, ScriptTimeout)


def test_runaway_recursion_is_stopped() -> None:
    script = "def f(n):\n    try:\n        return f(n + 1)\n    except Exception:\n        return f(n + 1)\nr = f(0)"
    with pytest.raises(WorkflowTaskException) as info:
        run(script_diagram(script))
    assert "nested deeper" in str(info.value)


@pytest.mark.parametrize("source", ["10**10**10", "2 ** 100000", "'a' * 10**9", "[0] * 100000000", "1 << 10**9",
                                    "f'{x:>999999999}'", "'%*d' % (n, 1)"])
def test_huge_constant_operations_are_refused_at_compile_time(source: str) -> None:
    assert compile_check(source, "eval")


def test_huge_power_in_a_condition_is_refused_without_running() -> None:
    with pytest.raises(WorkflowTaskException) as info:
        run(gateway_diagram("10**10**10 > 0"))
    assert_refused(info.value)
    assert "nested powers" in str(info.value)


@pytest.mark.parametrize("expression", ["'a' * n", "[0] * n", "2 ** n", "1 << n", "'x'.ljust(n)", "'x'.zfill(n)",
                                        "sum([[1]], [])", "round(1, -n)"])
def test_size_of_data_driven_operations_is_checked_before_the_c_code_runs(expression: str) -> None:
    with pytest.raises(WorkflowTaskException) as info:
        run(gateway_diagram(f"len(str({expression})) > 0"), {"n": 10**9})
    assert_refused(info.value)


def test_refusal_forms_that_could_outlast_the_budget() -> None:
    for script in ("try:\n    pass\nfinally:\n    x = 1", "try:\n    pass\nexcept:\n    pass",
                   "try:\n    pass\nexcept f():\n    pass", "r = Exception.mro()"):
        assert compile_check(script, "exec"), script


# ---- task data after a script -------------------------------------------------------------------------


def _callables(value: Any) -> list[Any]:
    if callable(value):
        return [value]
    if isinstance(value, dict):
        return [c for v in value.values() for c in _callables(v)]
    if isinstance(value, (list, tuple)):
        return [c for v in value for c in _callables(v)]
    return []


def test_after_a_script_no_callable_remains_and_the_workflow_serializes() -> None:
    script = ("f = lambda x: x * 2\nfee = f(21)\nhelper = shout\nfn_list = [len]\ns = {1, 2}\n"
              "def g():\n    yield 1\ngen = g()\nnames = sorted(['b', 'a'])\nwhen = 'x'")
    workflow = run(script_diagram(script), {"amount": 1})
    data = workflow.data
    assert data["fee"] == 42 and data["names"] == ["a", "b"]
    for key in ("f", "helper", "fn_list", "s", "g", "gen", "__builtins__", "_getattr_", "_binop_"):
        assert key not in data, key
    for task in workflow.get_tasks():
        assert _callables(task.data) == [], task.task_spec.name

    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    restored = serializer.deserialize_json(serializer.serialize_json(workflow))
    assert restored.data["fee"] == 42


def test_a_script_can_delete_a_variable() -> None:
    assert "temp" not in run(script_diagram("del temp"), {"temp": 1, "keep": 2}).data


# ---- errors while running -----------------------------------------------------------------------------


def test_runtime_error_reports_task_line_and_cause() -> None:
    with pytest.raises(WorkflowTaskException) as info:
        run(script_diagram("a = 1\nb = a / 0"))
    assert info.value.task.task_spec.bpmn_id == "script"
    assert info.value.line_number == 2 and info.value.error_line == "b = a / 0"
    assert "ZeroDivisionError" in str(info.value)


def test_error_whose_argument_is_not_text_is_still_wrapped() -> None:
    with pytest.raises(WorkflowTaskException) as info:
        run(script_diagram("x = {}[5]"))
    assert "KeyError: 5" in str(info.value)


def test_condition_error_carries_the_underlying_cause() -> None:
    with pytest.raises(WorkflowTaskException) as info:
        run(gateway_diagram("missing_variable > 1"))
    assert "NameError" in str(info.value) and "missing_variable" in str(info.value)


@pytest.mark.parametrize("helpers", [{"_private": len}, {"not an identifier": len}, {"value": 3}])
def test_helpers_must_be_public_callables(helpers: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        make_script_engine(helpers)


def test_compile_check_accepts_the_expressions_bpmn_models_use() -> None:
    for source in ("register_decision == 'reject'", "petition_type in ('KNAI', 'TC')",
                   "rating == 'khong_hai_long' and reopen_count < 1", "working_days_after(received_date, 1)"):
        assert compile_check(source, "eval") == [], source
    assert compile_check("reopen_count = reopen_count + 1\nreply = {'agency': agency}", "exec") == []
    assert compile_check("x = = 1", "exec")[0].startswith("Line 1: SyntaxError")
