"""A petition whose history is far deeper than SpiffWorkflow's defaults allow keeps working and ends properly.

The leader returns the draft again and again: each turn makes the task tree about five levels deeper. Before
`engine/spiff_compat.py`, about 390 prior steps failed with RecursionError (a recursive ancestor walk in the
join check) and about 400 stored the petition as *completed* with no end event (task iterators stopped at
depth 1000, so the next task was not seen). Here the petition passes 420 steps, then is approved, sent
and confirmed, and ends at its end event. Compaction is turned off here: it keeps a petition's tree shallow,
but an instance it cannot cut (an old branch still waiting) grows as before.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from SpiffWorkflow.util.task import TaskState

from engine import spiff_compat
from engine.models import ProcessInstance
from tests.integration.support import Lifecycle

RETURN = {"decision": "return", "return_reason": "Bổ sung số liệu."}
DRAFT = {"answer_text": "Đã khắc phục.", "result_type": "DA_GIAI_QUYET"}


@pytest.fixture
def life(session, runtime, make_user) -> Iterator[Lifecycle]:
    runtime.compact = False  # the whole tree stays (engine.compaction would keep it ~80 levels deep)
    yield Lifecycle(session, runtime, make_user)
    runtime.compact = True


def test_the_replacements_are_installed() -> None:
    assert spiff_compat.installed()


def test_a_petition_returned_two_hundred_times_goes_on_and_ends_at_its_end_event(life: Lifecycle) -> None:
    petition = life.submit()
    life.to_answer(petition)  # 6 steps, the draft is waiting for the leader
    steps = 6
    while steps < 420:
        life.do(life.leader, petition, "approve", **RETURN)
        life.do(life.unit, petition, "draft_answer", **DRAFT)
        steps += 2
    instance = life.session.get(ProcessInstance, petition.instance_id)
    workflow = life.runtime.load(life.session, instance)
    [ready] = workflow.get_tasks(state=TaskState.READY, manual=True)
    depth, parent = 0, ready.parent
    while parent is not None:
        depth, parent = depth + 1, parent.parent
    assert depth > 1000  # deeper than both old limits (recursion 1000, iterator depth 1000)
    assert life.open_steps(petition) == [("approve", "leader")]
    life.answer_and_send(petition)
    life.do(life.enterprise_user, petition, "confirm", rating="hai_long")
    life.session.refresh(instance)
    assert (instance.status, instance.end_event) == ("completed", "end_closed")
