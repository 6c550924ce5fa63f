"""Simulate one petition's path through the petition BPMN as rows the engine would have written.

Used by `generate_history` (workflows.dashboard.history): each petition becomes its petition row values, its
human-task rows (created/completed times, due dates computed by the BPMN's rules, form data) and its audit
events, without running SpiffWorkflow. Times advance in working days of the Board's calendar; a step that
would finish after `now` stays open, and so does the petition.
"""
from __future__ import annotations

import bisect
import datetime as dt
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from workflows.calendar import HANOI, WorkingCalendar
from workflows.priority import rank

# The step the generator makes deliberately slow (the bottleneck view must find it).
SLOW_STEP = "approve"
STEP_NAMES = {
    "register": "Tiếp nhận, vào sổ", "supply_info": "Bổ sung thông tin", "classify": "Phân loại",
    "record_out_of_track": "Ghi nhận khiếu nại/tố cáo", "forward": "Chuyển cơ quan có thẩm quyền",
    "assign": "Giao xử lý", "handle": "Xử lý", "coordinate": "Phối hợp", "draft_answer": "Dự thảo trả lời",
    "approve": "Duyệt trả lời", "send_answer": "Gửi văn bản trả lời", "confirm": "Đánh giá mức độ hài lòng",
}
STATUS_OF_STEP = {
    "register": "MOI_TIEP_NHAN", "supply_info": "CHO_BO_SUNG", "classify": "MOI_TIEP_NHAN",
    "record_out_of_track": "DA_PHAN_LOAI", "forward": "DA_PHAN_LOAI", "assign": "DA_PHAN_LOAI",
    "handle": "DANG_XU_LY", "coordinate": "CHO_PHOI_HOP", "draft_answer": "DANG_XU_LY",
    "approve": "DU_THAO_TRA_LOI", "send_answer": "DA_DUYET", "confirm": "DA_TRA_LOI",
}
LANES = {"register": "intake", "supply_info": "enterprise", "classify": "intake", "record_out_of_track": "intake",
         "forward": "intake", "assign": "leader", "handle": "unit", "coordinate": "agency",
         "draft_answer": "unit", "approve": "leader", "send_answer": "intake", "confirm": "enterprise"}


class Clock:
    """Working days between two dates as a sorted list, for fast working-day arithmetic."""

    def __init__(self, calendar: WorkingCalendar, first: dt.date, last: dt.date) -> None:
        """Index the working days from `first` to `last` (both with a margin)."""
        day, self.days = first - dt.timedelta(days=30), []
        while day <= last + dt.timedelta(days=400):
            if calendar.is_working_day(day):
                self.days.append(day)
            day += dt.timedelta(days=1)
        self.calendar = calendar

    def add(self, day: dt.date, n: int) -> dt.date:
        """Return the n-th working day after `day` (n = 0: that day or the next working day)."""
        if n == 0:
            return self.days[bisect.bisect_left(self.days, day)]
        return self.days[bisect.bisect_right(self.days, day) + n - 1]

    def between(self, a: dt.date, b: dt.date) -> int:
        """Count the working days after `a` up to and including `b`."""
        return bisect.bisect_right(self.days, b) - bisect.bisect_right(self.days, a)

    def after(self, moment: dt.datetime, n: int, rng: random.Random) -> dt.datetime:
        """Return a moment in office hours n working days after `moment` (n = 0: later the same day)."""
        if n == 0:
            return moment + dt.timedelta(minutes=rng.randint(10, 300))
        day = self.add(moment.astimezone(HANOI).date(), n)
        local = dt.datetime.combine(day, dt.time(8, 0), HANOI) + dt.timedelta(minutes=rng.randint(0, 540))
        return local.astimezone(dt.timezone.utc)


@dataclass
class Profile:
    """The mixes one history is drawn from (codes from the reference data, weights, unit speed)."""

    zones: list[str]
    zone_weights: list[float]
    channels: list[str]
    channel_weights: list[float]
    categories: list[str]
    category_weights: list[float]
    routing: dict[tuple[str, str], tuple[str, list[str], int]]
    unit_speed: dict[str, float]


@dataclass
class Simulated:
    """Everything one simulated petition writes."""

    petition: dict[str, Any]
    tasks: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    open_: bool = False
    end_event: str | None = None


class PetitionRun:
    """Walks one petition through the BPMN's stages, writing task rows and events as the engine does."""

    def __init__(self, rng: random.Random, clock: Clock, now: dt.datetime, petition: dict[str, Any],
                 instance_id: int) -> None:
        """Start at the petition's receipt."""
        self.rng, self.clock, self.now, self.instance_id = rng, clock, now, instance_id
        self.out = Simulated(petition)
        self.code = petition["tracking_code"]
        self.at: dt.datetime = petition["received_at"]
        self.received = petition["received_date"]
        self.paused = 0

    # ---- rows ------------------------------------------------------------------------------------------
    def event(self, at: dt.datetime, actor: str, role: str, action: str, **extra: Any) -> None:
        """Record one audit event of this petition."""
        self.out.events.append({"at": at, "actor": actor, "role": role, "action": action,
                                "instance_id": self.instance_id, "business_key": self.code, **extra})

    def open_task(self, bpmn_id: str, scope: tuple[str | None, str | None], due: dt.date | None,
                  creator: tuple[str, str], at: dt.datetime | None = None) -> dict[str, Any]:
        """Create a task row (open) at `at` (default: now in the simulation)."""
        lane = LANES[bpmn_id]
        row = {"id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)), "instance_id": self.instance_id,
               "business_key": self.code, "bpmn_id": bpmn_id, "name": STEP_NAMES[bpmn_id], "lane": lane,
               "role": lane, "scope_kind": scope[0], "scope_value": scope[1], "form": f"{bpmn_id}.json",
               "status": "open", "claimed_by": None, "claimed_at": None, "due_date": due,
               "priority": rank(self.out.petition.get("priority")), "created_at": at or self.at, "completed_at": None, "completed_by": None, "data": None}
        self.out.tasks.append(row)
        self.event(row["created_at"], creator[0], creator[1], "TASK_CREATED", task_id=row["id"], bpmn_id=bpmn_id,
                   data={"lane": lane, "scope": scope[1], "due_date": due.isoformat() if due else None})
        return row

    def finish(self, row: dict[str, Any], days: int, actor: str, data: dict[str, Any]) -> bool:
        """Complete the row `days` working days after it opened, unless that is after `now` (then it stays open)."""
        done = self.clock.after(row["created_at"], days, self.rng)
        if done > self.now:
            self.out.open_ = True
            return False
        row.update(status="completed", claimed_by=actor, claimed_at=row["created_at"], completed_at=done,
                   completed_by=actor, data=data)
        self.event(done, actor, row["role"], "TASK_COMPLETED", task_id=row["id"], bpmn_id=row["bpmn_id"], data=data)
        self.at = done
        return True

    def step(self, bpmn_id: str, days: int, actor: str, data: dict[str, Any], due: dt.date | None,
             scope: tuple[str | None, str | None] = (None, None)) -> bool:
        """Open and complete one step in the main line; False when it is still open at `now`."""
        creator = self.last_actor
        row = self.open_task(bpmn_id, scope, due, creator)
        if self.finish(row, days, actor, data):
            self.last_actor = (actor, row["role"])
            return True
        return False

    last_actor: tuple[str, str] = ("system", "system")

    def due_from_receipt(self, n: int) -> dt.date:
        """Return received + n + paused working days (the BPMN's dueDate rule)."""
        return self.clock.add(self.received, n + self.paused)

    def close(self, end_event: str, status: str) -> None:
        """End the process at an end event (PROCESS_COMPLETED) and close the petition."""
        self.out.end_event = end_event
        self.out.petition.update(status=status, closed_at=self.at)
        self.event(self.at, self.last_actor[0], self.last_actor[1], "PROCESS_COMPLETED", data={"end_event": end_event})

    def wait(self, bpmn_id: str) -> None:
        """Leave the petition open at `bpmn_id` (as the projection shows it: MO_LAI once reopened)."""
        status = STATUS_OF_STEP[bpmn_id]
        self.out.open_ = True
        self.out.petition["status"] = "MO_LAI" if status == "DANG_XU_LY" and self.out.petition.get("reopen_count") \
            else status

    def today(self) -> dt.date:
        """Return the Hanoi date of the simulation's current moment."""
        return self.at.astimezone(HANOI).date()

    def days(self, low: int, high: int, factor: float = 1.0) -> int:
        """Draw a duration in working days."""
        return max(0, round(self.rng.randint(low, high) * factor))
