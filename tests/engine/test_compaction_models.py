"""Compaction on models other than the petition: a loop around a parallel split and join, a side branch that
ends while the loop goes on. Run with and without cuts (SpiffWorkflow alone, no database) and compared."""
from __future__ import annotations

from typing import Any

import pytest
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine import compaction
from engine.definitions import serializer
from tests.bpmn_cases import document, flow, user_task

TURNS = 60


def _model() -> bytes:
    """start -> merge -> review -> fork -> (a | b) -> join -> again? -> merge ... -> end;
    `review` has a non-interrupting message boundary event whose branch (note -> side end) ends at once."""
    body = (
        '<bpmn:startEvent id="start"/><bpmn:exclusiveGateway id="merge"/>' + user_task("review")
        + '<bpmn:boundaryEvent id="nudge" attachedToRef="review" cancelActivity="false">'
          '<bpmn:messageEventDefinition messageRef="msg_nudge"/></bpmn:boundaryEvent>'
          '<bpmn:scriptTask id="note"><bpmn:script>nudged = nudged + [n] if "nudged" in globals() else [n]'
          '</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="side_end"/>'
          '<bpmn:parallelGateway id="fork"/>'
          '<bpmn:scriptTask id="a"><bpmn:script>a_log = a_log + [n]</bpmn:script></bpmn:scriptTask>'
          '<bpmn:scriptTask id="b"><bpmn:script>b_last = n * 10</bpmn:script></bpmn:scriptTask>'
          '<bpmn:parallelGateway id="join"/>'
          '<bpmn:exclusiveGateway id="again" default="f_done"/><bpmn:endEvent id="end"/>'
        + flow("f1", "start", "merge") + flow("f2", "merge", "review") + flow("f3", "review", "fork")
        + flow("fa", "fork", "a") + flow("fb", "fork", "b") + flow("fa2", "a", "join") + flow("fb2", "b", "join")
        + flow("f4", "join", "again") + flow("f_loop", "again", "merge", f"n &lt; {TURNS}".replace("&lt;", "<"))
        + flow("f_done", "again", "end") + flow("fn1", "nudge", "note") + flow("fn2", "note", "side_end"))
    return document(body, {"intake": ["review"]},
                    outside='<bpmn:message id="msg_nudge" name="nudge"/>')


def _run(cut: bool, round_trip_every: int = 9) -> tuple[BpmnWorkflow, int]:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(_model())
    workflow = BpmnWorkflow(parser.get_spec("p"))
    workflow.do_engine_steps()
    cuts, turn = 0, 0
    while not workflow.is_completed():
        [task] = workflow.get_tasks(state=TaskState.READY, manual=True)
        turn += 1
        if turn in (3, 17):  # the side branch runs and ends while the loop goes on
            workflow.send_event(BpmnEvent(MessageEventDefinition("nudge"), payload={}))
            workflow.do_engine_steps()
        task.set_data(n=turn, **({"a_log": []} if turn == 1 else {}))
        task.run()
        workflow.do_engine_steps()
        if cut and compaction.compact(workflow, keep=8, trigger=16) is not None:
            cuts += 1
        if turn % round_trip_every == 0:
            workflow = serializer().deserialize_json(serializer().serialize_json(workflow))
    return workflow, cuts


def _depth(workflow: BpmnWorkflow) -> int:
    return max(len(list(_ancestors(t))) for t in workflow.tasks.values())


def _ancestors(task: Any):
    while task.parent is not None:
        task = task.parent
        yield task


@pytest.mark.parametrize("round_trip_every", [1, 9])
def test_a_loop_around_a_parallel_join_ends_with_the_same_data_with_and_without_cuts(round_trip_every: int) -> None:
    plain, none = _run(cut=False, round_trip_every=round_trip_every)
    cut, cuts = _run(cut=True, round_trip_every=round_trip_every)
    assert none == 0 and cuts >= 5
    assert plain.is_completed() and cut.is_completed()
    # Whatever SpiffWorkflow's merges make of the branches' data, the cuts change none of it; that includes
    # `nudged`, which only the ended side branches hold until the end join merges it.
    assert cut.data == plain.data
    assert cut.data["n"] == TURNS and cut.data["b_last"] == TURNS * 10 and "nudged" in cut.data
    assert _depth(cut) < _depth(plain) / 3
