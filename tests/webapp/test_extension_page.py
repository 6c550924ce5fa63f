"""The lead unit asks for an extension from its task page; the leader gets the decision task."""
from __future__ import annotations

from tests.integration.support import Lifecycle
from tests.webapp.conftest import login
from workflows import petitions


def test_lead_unit_requests_an_extension_once_from_the_task_page(app, session, runtime, make_user) -> None:
    life = Lifecycle(session, runtime, make_user)
    petition = life.submit()
    life.to_assignment(petition)
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=[], working_days=10)
    task_id = life.task_of(life.unit, petition, "handle")
    code = petition.tracking_code
    session.commit()  # release SQLite's write lock for the requests below
    client = app.test_client()
    login(client, "qhxd")
    page = client.get(f"/tasks/{task_id}")
    assert page.status_code == 200 and b'data-testid="extension-form"' in page.data
    response = client.post(f"/tasks/{task_id}/extension", data={"extension_days": "5", "extension_reason": "Chờ EVN."},
                           follow_redirects=True)
    assert response.status_code == 200
    assert ("approve_extension", "leader") in life.open_steps(petitions.get(session, code))
    session.commit()
    again = client.post(f"/tasks/{task_id}/extension", data={"extension_days": "3", "extension_reason": "Lần hai."})
    assert again.status_code == 409
    assert life.open_steps(petitions.get(session, code)).count(("approve_extension", "leader")) == 1


def test_other_units_cannot_request_an_extension(app, session, runtime, make_user) -> None:
    life = Lifecycle(session, runtime, make_user)
    petition = life.submit()
    life.to_assignment(petition)
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=[], working_days=10)
    task_id = life.task_of(life.unit, petition, "handle")
    code = petition.tracking_code
    session.commit()  # release SQLite's write lock for the requests below
    client = app.test_client()
    login(client, "tnmt")
    response = client.post(f"/tasks/{task_id}/extension", data={"extension_days": "5", "extension_reason": "x"})
    assert response.status_code == 403
    assert ("approve_extension", "leader") not in life.open_steps(petitions.get(session, code))
