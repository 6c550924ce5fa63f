"""The stages of one simulated petition, in the order of the petition BPMN (see docs/ARCHITECTURE.md).

Mixes: 4 % not accepted, 8 % asked for more information (the clock pauses), 3 % complaints or
denunciations left the track, 6 % forwarded; the rest are assigned, handled (with the category's agencies),
drafted, approved (10 % returned once), sent and rated: 58 % satisfied, 24 % acceptable, 12 % dissatisfied
(reopened once), 6 % no rating. Units differ in speed; the leader's approval (`SLOW_STEP`) is slow.
"""
from __future__ import annotations

from workflows.dashboard.simulation import SLOW_STEP, PetitionRun

INTAKE, LEADER = "tiepnhan_sinh", "lanhdao_sinh"
RATINGS = (("hai_long", 58), ("chap_nhan", 24), ("khong_hai_long", 12), ("khong_danh_gia", 6))
RESULTS = (("DA_GIAI_QUYET", 55), ("GIAI_THICH", 25), ("GHI_NHAN", 12), ("KIEN_NGHI_CAP_TREN", 8))


def _pick(run: PetitionRun, weighted: tuple[tuple[str, int], ...]) -> str:
    codes = [code for code, _ in weighted]
    weights = [weight for _, weight in weighted]
    return run.rng.choices(codes, weights)[0]


def register(run: PetitionRun, enterprise: str) -> bool:
    """Register (and maybe ask for information); False when the petition stops here (open or rejected)."""
    roll = run.rng.random()
    if roll < 0.04:
        if run.step("register", run.days(0, 1), INTAKE, {"register_decision": "reject",
                                                          "rejection_reason": "KHONG_DU_THONG_TIN"},
                    run.due_from_receipt(1)):
            run.close("end_rejected", "KHONG_TIEP_NHAN")
        else:
            run.wait("register")
        return False
    if roll < 0.12:
        if not run.step("register", run.days(0, 1), INTAKE,
                        {"register_decision": "request_info", "info_request": "Bổ sung hồ sơ."},
                        run.due_from_receipt(1)):
            run.wait("register")
            return False
        paused_on = run.today()
        if not run.step("supply_info", run.days(1, 5), enterprise, {"supplied_info": "Đã bổ sung."},
                        run.clock.add(paused_on, 10), ("enterprise", run.out.petition["tax_code"])):
            run.wait("supply_info")
            return False
        run.paused += run.clock.between(paused_on, run.today())
    if not run.step("register", run.days(0, 1, 0.6), INTAKE, {"register_decision": "accept"}, run.due_from_receipt(1)):
        run.wait("register")
        return False
    return True


def classify(run: PetitionRun) -> bool:
    """Classify; leave the track (guidance, forwarding) or go on to assignment."""
    petition = run.out.petition
    roll = run.rng.random()
    kind = "KNAI" if roll < 0.02 else "TC" if roll < 0.03 else _pick(run, (("KN", 55), ("PA", 30), ("HD", 15)))
    within = kind in ("KN", "PA", "HD") and run.rng.random() < 0.62
    triage = "THUOC_THAM_QUYEN" if run.rng.random() >= 0.06 or kind in ("KNAI", "TC") else "KHONG_THUOC_THAM_QUYEN"
    priority = _pick(run, (("THUONG", 85), ("CAO", 12), ("KHAN", 3)))
    data = {"petition_type": kind, "category": petition["category"], "priority": priority,
            "triage_outcome": triage, "within_authority": within}
    if not run.step("classify", run.days(0, 1, 0.6), INTAKE, data, run.due_from_receipt(2)):
        run.wait("classify")
        return False
    petition.update(petition_type=kind, priority=priority, within_authority=within)
    if kind in ("KNAI", "TC"):
        return _leave(run, "record_out_of_track", {"guidance": "Hướng dẫn gửi cơ quan có thẩm quyền."},
                      "end_out_of_track", "DONG")
    if triage != "THUOC_THAM_QUYEN":
        return _leave(run, "forward", {"forwarded_to": "Sở Công Thương"}, "end_forwarded", "CHUYEN_CO_QUAN_KHAC")
    return True


def _leave(run: PetitionRun, bpmn_id: str, data: dict[str, str], end: str, status: str) -> bool:
    if run.step(bpmn_id, run.days(0, 3), INTAKE, data, run.due_from_receipt(5)):
        run.close(end, status)
    else:
        run.wait(bpmn_id)
    return False


def assign_and_handle(run: PetitionRun, routing: tuple[str, list[str], int], speed: float) -> bool:
    """Assign, then handle in parallel with each coordinating agency (joined when all are done)."""
    petition = run.out.petition
    unit, agencies, working_days = routing
    agencies = [a for a in agencies if run.rng.random() < 0.5][:2]
    data = {"lead_unit": unit, "coordinating_agencies": agencies, "working_days": working_days}
    if not run.step("assign", run.days(0, 1, 0.7), LEADER, data, run.due_from_receipt(3)):
        run.wait("assign")
        return False
    due = run.due_from_receipt(working_days)
    urgent = petition["priority"] == "KHAN"
    petition.update(lead_unit=unit, due_date=due, working_days=working_days)
    assigned, assigned_on = run.at, run.today()
    creator = run.last_actor
    handle = run.open_task("handle", ("unit", unit), run.due_from_receipt(3) if urgent else due, creator)
    rows = [(handle, run.days(1, 3, speed), f"cv_{unit.lower()}", {"handling_notes": "Đã kiểm tra thực tế."})]
    coordination_due = run.clock.add(assigned_on, 7)
    for agency in agencies:
        row = run.open_task("coordinate", ("agency", agency), coordination_due, creator)
        rows.append((row, run.days(1, 4), f"lh_{agency.lower()}", {"reply_text": f"Ý kiến của {agency}"}))
    finished = []
    for row, days, actor, form in rows:
        run.at = assigned
        if run.finish(row, days, actor, form):
            finished.append(row["completed_at"])
    if len(finished) < len(rows):
        run.wait("coordinate" if rows[0][0]["status"] == "completed" else "handle")
        return False
    run.at = max(finished)
    run.last_actor = (f"cv_{unit.lower()}", "unit")
    return True


def answer(run: PetitionRun, speed: float, first: bool = True) -> bool:
    """Draft (returned once in a while), approve and send the answer."""
    petition = run.out.petition
    unit_actor = f"cv_{petition['lead_unit'].lower()}"
    scope = ("unit", petition["lead_unit"])
    result = _pick(run, RESULTS) if first else petition.get("result_type") or "DA_GIAI_QUYET"
    due = petition["due_date"]
    for attempt in range(2):
        if not run.step("draft_answer", run.days(0, 2, speed), unit_actor,
                        {"answer_text": "Ban Quản lý trả lời như sau.", "result_type": result}, due, scope):
            run.wait("draft_answer")
            return False
        petition["result_type"] = result
        returned = attempt == 0 and run.rng.random() < 0.10
        decision = {"decision": "return", "return_reason": "Bổ sung căn cứ."} if returned else {"decision": "approve"}
        slow = run.days(3, 8) if SLOW_STEP == "approve" else run.days(0, 1)
        if not run.step("approve", slow, LEADER, decision, due):
            run.wait("approve")
            return False
        if not returned:
            break
    if not run.step("send_answer", run.days(0, 1), INTAKE, {"answer_document_no": "BQL/TL"}, due):
        run.wait("send_answer")
        return False
    if petition.get("answered_at") is None:
        petition.update(answered_at=run.at, answer_due_date=due)
    return True


def rate(run: PetitionRun, speed: float) -> None:
    """Rate the answer: dissatisfied reopens once (a new due date from the reopening), no reply closes it."""
    petition = run.out.petition
    enterprise = (f"dn_{petition['tax_code']}", "enterprise")
    late = petition["answered_at"] > run.clock.calendar.deadline(petition["answer_due_date"])
    rating = _pick(run, RATINGS if not late else (("hai_long", 35), ("chap_nhan", 30), ("khong_hai_long", 27),
                                                  ("khong_danh_gia", 8)))
    if petition.get("reopen_count"):
        rating = "khong_hai_long" if run.rng.random() < 0.4 else rating
    rating_due = run.clock.add(run.today(), 10)
    if rating == "khong_danh_gia":
        row = run.open_task("confirm", ("enterprise", petition["tax_code"]), rating_due, run.last_actor)
        timeout = run.clock.calendar.deadline(rating_due).astimezone(run.now.tzinfo)
        if timeout > run.now:
            run.wait("confirm")
            return
        row.update(status="cancelled")
        run.at = timeout
        run.event(timeout, "scheduler", "system", "TIMER_FIRED", bpmn_id="timer_confirm_timeout")
        run.event(timeout, "scheduler", "system", "TASK_CANCELLED", task_id=row["id"], bpmn_id="confirm")
        run.last_actor = ("scheduler", "system")
        petition["rating"] = rating
        run.close("end_no_rating", "DONG")
        return
    form = {"rating": rating} | ({"comment": "Chưa thỏa đáng."} if rating == "khong_hai_long" else {})
    if not run.step("confirm", run.days(0, 4), enterprise[0], form, rating_due, ("enterprise", petition["tax_code"])):
        run.wait("confirm")
        return
    petition["rating"] = rating
    if rating == "khong_hai_long" and not petition.get("reopen_count"):
        petition["reopen_count"] = 1
        petition["due_date"] = run.clock.add(run.today(), petition["working_days"])
        if answer(run, speed, first=False):
            rate(run, speed)
        return
    run.close("end_closed", "DONG")
