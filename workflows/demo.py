"""Demo data: a user for every role and the sample petitions driven to realistic stages."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import Actor
from engine.contracts import Principal
from engine.models import HumanTask, TaskStatus
from engine.runtime import Runtime
from workflows import petitions
from workflows.conferences import link_samples
from workflows.models import Petition, User
from workflows.petitions import HANOI
from workflows.reference import get_reference
from workflows.users import create_user, get_or_create_enterprise

DEMO_PASSWORD = "demo-password-2026"
SAMPLES = Path(__file__).resolve().parent / "sample-petitions.yaml"

# Officers: username -> (full name, roles, unit, agency)
OFFICERS: dict[str, tuple[str, list[str], str | None, str | None]] = {
    "tiepnhan": ("Nguyễn Thị Tiếp Nhận", ["intake"], None, None),
    "lanhdao": ("Trần Văn Lãnh Đạo", ["leader"], None, None),
    "thietke": ("Lê Thiết Kế", ["designer"], None, None),
    "kiemtra": ("Phạm Kiểm Tra", ["auditor"], None, None),
    "thanhtra": ("Đỗ Thanh Tra", ["intake", "inspector"], None, None),
    "quantri": ("Quản Trị Hệ Thống", ["admin"], None, None),
}

# Stage each sample petition is driven to, by its position in the sample file.
STAGES = ["closed_hai_long", "coordinate", "confirm", "closed_chap_nhan", "approve", "reopened", "assign",
          "handle", "classify", "register", "supply_info", "closed_khong_hai_long"]

_ORDER = ["register", "classify", "assign", "handle", "coordinate", "draft_answer", "approve", "send_answer",
          "confirm"]


@lru_cache(maxsize=1)
def samples() -> dict[str, Any]:
    """Return the sample petitions and conference of shared/domain (copied into workflows/)."""
    return yaml.safe_load(SAMPLES.read_text(encoding="utf-8"))


def _ensure_officers(session: Session) -> list[str]:
    ref = get_reference()
    wanted = dict(OFFICERS)
    for code, unit in ref.units.items():
        wanted[code.lower()] = (unit.name_vi, ["unit"], code, None)
    for code, agency in ref.agencies.items():
        wanted[f"pm_{code.lower()}"] = (agency.name_vi, ["agency"], None, code)
    created = []
    for username, (full_name, roles, unit, agency) in wanted.items():
        if session.scalar(select(User.id).where(User.username == username)) is None:
            create_user(session, username, DEMO_PASSWORD, roles, full_name=full_name, unit=unit, agency=agency)
            created.append(username)
    return created


def _received_at(sample: dict[str, Any]) -> dt.datetime:
    day = sample["received_at"]
    day = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))
    return dt.datetime.combine(day, dt.time(9, 30), HANOI)


def _steps(sample: dict[str, Any], stage: str) -> Iterator[tuple[str, dict[str, Any]]]:
    routing = sample.get("expected_routing", {})
    agencies = list(routing.get("coordinating_agencies") or [])
    script = {
        "register": {"register_decision": "accept"},
        "classify": {"petition_type": sample.get("petition_type", "KN"), "category": sample["category"],
                     "priority": sample.get("priority", "THUONG"), "within_authority": routing.get("within_authority", True),
                     "triage_outcome": "THUOC_THAM_QUYEN"},
        "assign": {"lead_unit": routing.get("lead_unit"), "coordinating_agencies": agencies,
                   "working_days": routing.get("working_days", 10)},
        "handle": {"handling_notes": "Đã kiểm tra hiện trường và hồ sơ liên quan."},
        "coordinate": {"reply_text": "Cơ quan đã xem xét và có ý kiến thống nhất với đề xuất của Ban.",
                       "reply_document_no": "15/CV-PH"},
        "draft_answer": {"answer_text": "Ban Quản lý đã xem xét kiến nghị và trả lời như sau: ...",
                         "result_type": "DA_GIAI_QUYET"},
        "approve": {"decision": "approve"},
        "send_answer": {"answer_document_no": "125/BQL-VP", "answer_date": dt.date.today().isoformat()},
    }
    if stage == "supply_info":
        yield "register", {"register_decision": "request_info",
                           "info_request": "Đề nghị bổ sung bản vẽ mặt bằng và giấy chứng nhận đăng ký đầu tư."}
        return
    stop = stage if stage in _ORDER else "confirm"
    for step in _ORDER[: _ORDER.index(stop)]:
        if step == "coordinate":
            yield from ((step, script[step] | {"_agency": a}) for a in (agencies[:1] if stop == "coordinate" else agencies))
        else:
            yield step, script[step]
    if stage.startswith("closed_"):
        rating = stage.removeprefix("closed_")
        yield "confirm", {"rating": rating, "comment": "Câu trả lời rõ ràng." if rating != "khong_hai_long"
                          else "Chưa giải quyết dứt điểm vấn đề."}
    if stage == "reopened":
        yield "confirm", {"rating": "khong_hai_long", "comment": "Chưa có lộ trình cụ thể."}
    if stage == "closed_khong_hai_long":  # the first rating reopened it; the second closes it
        for step in ("draft_answer", "approve", "send_answer"):
            yield step, script[step]
        yield "confirm", {"rating": "khong_hai_long", "comment": "Vẫn chưa giải quyết dứt điểm."}


def _complete(session: Session, runtime: Runtime, petition: Petition, bpmn_id: str, data: dict[str, Any]) -> None:
    agency = data.pop("_agency", None)
    query = select(HumanTask).where(HumanTask.business_key == petition.tracking_code,
                                    HumanTask.status == TaskStatus.OPEN, HumanTask.bpmn_id == bpmn_id)
    if agency:
        query = query.where(HumanTask.scope_value == agency)
    task = session.scalars(query).first()
    if task is None:
        raise RuntimeError(f"demo: {petition.tracking_code} has no open task {bpmn_id}")
    actor = Principal(name=_actor_name(task), roles=frozenset({task.role}), superuser=True)
    runtime.complete(session, task.id, actor, data)


def _actor_name(task: HumanTask) -> str:
    if task.role == "unit":
        return (task.scope_value or "vp").lower()
    if task.role == "agency":
        return f"pm_{(task.scope_value or '').lower()}"
    if task.role == "enterprise":
        return f"dn{task.scope_value}"
    return {"intake": "tiepnhan", "leader": "lanhdao"}.get(task.role, "system")


def _load_sample(session: Session, runtime: Runtime, sample: dict[str, Any], stage: str) -> Petition:
    ent = sample["enterprise"]
    contact = sample.get("contact", {})
    enterprise = get_or_create_enterprise(session, str(ent["tax_code"]), ent["name"], sample["zone"],
                                          contact_name=contact.get("name"), contact_email=contact.get("email"),
                                          contact_phone=contact.get("phone"))
    enterprise.is_demo = True
    username = f"dn{enterprise.tax_code}"
    if session.scalar(select(User.id).where(User.username == username)) is None:
        create_user(session, username, DEMO_PASSWORD, ["enterprise"], full_name=contact.get("name") or ent["name"],
                    email=contact.get("email"), enterprise=enterprise)
    sub = petitions.Submission(title=sample["title_vi"], content=sample["content_vi"].strip(), zone=sample["zone"],
                               channel=sample["channel"], category_hint=sample.get("category"))
    petition = petitions.submit(session, runtime, Actor("tiepnhan", "intake"), enterprise, sub,
                                received_at=_received_at(sample), is_demo=True)
    for bpmn_id, data in _steps(sample, stage):
        _complete(session, runtime, petition, bpmn_id, dict(data))
    return petition


def load_demo(session: Session, runtime: Runtime) -> str:
    """Create the demo users and petitions once; return a summary for the console."""
    created = _ensure_officers(session)
    if session.scalar(select(Petition.id).where(Petition.is_demo.is_(True))) is not None:
        return "demo data already loaded; users: " + ", ".join(sorted(OFFICERS))
    loaded = [_load_sample(session, runtime, sample, STAGES[i % len(STAGES)])
              for i, sample in enumerate(samples()["petitions"])]
    linked = link_samples(session, samples(), loaded)
    lines = [f"{len(loaded)} demo petitions loaded ({linked} linked to a dialogue conference), {len(created)} users "
             f"created (password: {DEMO_PASSWORD})"]
    lines += [f"  {p.tracking_code}  {p.status:<20} {p.title[:70]}" for p in loaded]
    lines.append("users: tiepnhan (intake), lanhdao (leader), qhxd/tnmt/vp/... (units), pm_evnhn/pm_snnmt/... "
                 "(agencies), dn<tax code> (enterprises), thietke (designer), kiemtra (auditor), "
                 "thanhtra (intake + inspector: denunciations), quantri (admin)")
    return "\n".join(lines)
