"""A driver that plays each role through the services, as the web app and API do."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine.audit import Actor
from engine.runtime import Runtime
from workflows import petitions, tasks
from workflows.models import Enterprise, Petition, User

ENTERPRISE_TAX = "0100000001"


class Lifecycle:
    """Holds one user per role and completes tasks from that user's inbox."""

    def __init__(self, session: Session, runtime: Runtime, make_user: Any) -> None:
        self.session, self.runtime = session, runtime
        self.intake = make_user("tn", "intake")
        self.leader = make_user("ld", "leader")
        self.unit = make_user("qhxd", "unit", unit="QHXD")
        self.other_unit = make_user("tnmt", "unit", unit="TNMT")
        self.agencies = {code: make_user(f"pm_{code.lower()}", "agency", agency=code)
                         for code in ("EVNHN", "SCT", "CDT_HT")}
        self.enterprise_user = make_user("dn", "enterprise", tax_code=ENTERPRISE_TAX, enterprise_name="Công ty TNHH A")
        self.other_enterprise_user = make_user("dn2", "enterprise", tax_code="0100000002")

    def submit(self, title: str = "Mất điện kéo dài tại nhà xưởng", category_hint: str | None = "DIEN") -> Petition:
        """Submit a petition as the enterprise user and commit."""
        enterprise = self.session.get(Enterprise, self.enterprise_user.enterprise_id)
        sub = petitions.Submission(title=title, content="Nhà xưởng bị mất điện nhiều lần trong tuần.", zone="TL",
                                   channel="CONG_DVC", category_hint=category_hint)
        petition = petitions.submit(self.session, self.runtime, Actor("dn", "enterprise"), enterprise, sub)
        self.session.commit()
        return petition

    def open_steps(self, petition: Petition) -> list[tuple[str, str]]:
        """Return (bpmn id, lane) of the petition's open tasks, sorted."""
        return sorted((t.bpmn_id, t.lane) for t in petitions.open_tasks(self.session, petition))

    def task_of(self, user: User, petition: Petition, bpmn_id: str) -> str:
        """Return the id of the user's inbox task `bpmn_id` for the petition."""
        for item in tasks.inbox(self.session, self.runtime, user):
            if item.task.business_key == petition.tracking_code and item.task.bpmn_id == bpmn_id:
                return item.task.id
        raise AssertionError(f"{user.username} has no {bpmn_id} task for {petition.tracking_code}")

    def do(self, user: User, petition: Petition, bpmn_id: str, **data: Any) -> None:
        """Complete the user's task `bpmn_id` with data, then commit."""
        task_id = self.task_of(user, petition, bpmn_id)
        tasks.complete(self.session, self.runtime, user, task_id, data)
        self.session.commit()
        self.session.refresh(petition)

    def to_assignment(self, petition: Petition, **classify: Any) -> None:
        """Register and classify a petition (defaults: electricity, within authority)."""
        self.do(self.intake, petition, "register", register_decision="accept")
        fields = {"petition_type": "KN", "category": "DIEN", "priority": "THUONG", "within_authority": True,
                  "triage_outcome": "THUOC_THAM_QUYEN"} | classify
        self.do(self.intake, petition, "classify", **fields)

    def to_answer(self, petition: Petition, agencies: tuple[str, ...] = ("EVNHN",)) -> None:
        """Drive a petition to the leader's approval step."""
        self.to_assignment(petition)
        self.do(self.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=list(agencies), working_days=10)
        self.do(self.unit, petition, "handle", handling_notes="Đã làm việc với điện lực.")
        for code in agencies:
            self.do(self.agencies[code], petition, "coordinate", reply_text=f"Ý kiến của {code}",
                    reply_document_no=f"{code}/01")
        self.do(self.unit, petition, "draft_answer", answer_text="Đã khắc phục.", result_type="DA_GIAI_QUYET")

    def answer_and_send(self, petition: Petition) -> None:
        """Approve and send the answer."""
        self.do(self.leader, petition, "approve", decision="approve")
        self.do(self.intake, petition, "send_answer", answer_document_no="12/BQL-QHXD", answer_date="2026-02-02")
