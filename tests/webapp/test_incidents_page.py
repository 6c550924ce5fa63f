"""The administrator's incidents page: open incidents listed with their petition, resolved from the page."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from engine.models import AuditEvent, Incident, InstanceStatus, ProcessInstance
from tests.integration.support import Lifecycle


def _stopped_petition(session: Any, runtime: Any, make_user: Callable[..., Any]) -> tuple[Any, Incident]:
    """A real petition whose timer failed three times: instance in error with an open incident."""
    life = Lifecycle(session, runtime, make_user)
    petition = life.submit()
    instance = session.get(ProcessInstance, petition.instance_id)
    instance.status, instance.error = InstanceStatus.ERROR, "NameError: name 'due_in' is not defined"
    incident = Incident(instance_id=instance.id, kind="timer", message=instance.error)
    session.add(incident)
    session.commit()
    return petition, incident


def test_admin_lists_and_resolves_an_incident(app, session, runtime, make_user, login_as) -> None:
    petition, incident = _stopped_petition(session, runtime, make_user)
    incident_id = incident.id
    make_user("quantri", "admin")
    admin = login_as("quantri")
    page = admin.get("/admin/incidents")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert f'data-id="{incident.id}" data-key="{petition.tracking_code}"' in body
    assert "name &#39;due_in&#39; is not defined" in body and "Sự cố" in body

    resolved = admin.post(f"/admin/incidents/{incident.id}/resolve")
    assert resolved.status_code == 302 and resolved.headers["Location"].endswith("/admin/incidents")
    session.expire_all()
    assert session.get(Incident, incident.id).resolved_by == "quantri"
    assert session.get(ProcessInstance, petition.instance_id).status == InstanceStatus.RUNNING
    [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "INCIDENT_RESOLVED")).all()
    assert (event.actor, event.business_key) == ("quantri", petition.tracking_code)
    session.rollback()  # SQLite: every transaction takes the write lock; end ours before the next request
    after = admin.get("/admin/incidents").get_data(as_text=True)
    assert 'data-testid="incidents-empty"' in after and 'data-testid="incident-resolved"' in after
    # Resolving twice is a conflict, not a second audit event.
    assert admin.post(f"/admin/incidents/{incident_id}/resolve").status_code == 409
    assert admin.post("/admin/incidents/999999/resolve").status_code == 404
    assert len(session.scalars(select(AuditEvent).where(AuditEvent.action == "INCIDENT_RESOLVED")).all()) == 1


def test_only_admins_see_or_resolve_incidents(app, session, runtime, make_user, login_as) -> None:
    _petition, incident = _stopped_petition(session, runtime, make_user)
    make_user("lanhdao", "leader")
    leader = login_as("lanhdao")
    assert leader.get("/admin/incidents").status_code == 403
    assert leader.post(f"/admin/incidents/{incident.id}/resolve").status_code == 403
    assert app.test_client().get("/admin/incidents").status_code in (302, 401)
    session.expire_all()
    assert session.get(Incident, incident.id).resolved_at is None
