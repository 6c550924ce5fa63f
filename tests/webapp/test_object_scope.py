"""Object-level authorization on every route that takes an id: a user of the right role but the wrong unit,
agency or enterprise is refused (403/404) on pages and API alike and changes nothing; the user in scope passes.

(Enterprise A against enterprise B on the portal's routes: tests/webapp/test_portal_pages.py.)
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import TEST_PASSWORD

REFUSED = (403, 404)


@pytest.fixture
def handling(users: dict[str, Any], make_user: Callable[..., Any], submit_petition: Callable,
             complete_step: Callable) -> str:
    """A petition of enterprise A led by unit QLDT with agency SXD coordinating: `handle` and `coordinate` open."""
    from workflows.reference import get_reference

    make_user("lienlac_sxd", "agency", agency="SXD")
    make_user("lienlac_snnmt", "agency", agency="SNNMT")
    code = submit_petition()
    complete_step(code, "register", users["intake"], {"register_decision": "accept"})
    complete_step(code, "classify", users["intake"], {
        "petition_type": "KN", "category": next(iter(get_reference().categories)), "priority": "THUONG",
        "triage_outcome": "THUOC_THAM_QUYEN", "within_authority": True})
    complete_step(code, "assign", users["leader"], {"lead_unit": "QLDT", "coordinating_agencies": ["SXD"],
                                                    "working_days": 10})
    return code


def _state(app: Flask, code: str) -> tuple[Any, ...]:
    from engine.models import HumanTask, ProcessInstance

    with app.extensions["petitions.sessions"]() as session:
        tasks = session.execute(select(HumanTask.id, HumanTask.status, HumanTask.claimed_by)
                                .where(HumanTask.business_key == code).order_by(HumanTask.id)).all()
        versions = session.scalars(select(ProcessInstance.version).where(ProcessInstance.business_key == code)).all()
    return tuple(map(tuple, tasks)), tuple(versions)


def _bearer(client: Any, username: str) -> dict[str, str]:
    token = client.post("/api/v1/auth/token", json={"username": username, "password": TEST_PASSWORD}).get_json()
    return {"Authorization": f"Bearer {token['token']}"}


def _task(open_tasks: Callable, code: str, bpmn_id: str) -> str:
    return next(t.id for t in open_tasks(code) if t.bpmn_id == bpmn_id)


def _every_route(client: Any, bearer: dict[str, str], code: str, task_id: str) -> dict[str, int]:
    """Call every id-taking route of a petition and one of its tasks; return the status of each."""
    pages = {url: client.get(url).status_code for url in (
        f"/petitions/{code}", f"/tasks/{task_id}", f"/audit/petitions/{code}", f"/audit/petitions/{code}/sheet",
        f"/audit/petitions/{code}/sheet.csv", f"/audit/petitions/{code}/trace.json")}
    api = {f"API {url}": client.get(url, headers=bearer).status_code for url in (f"/api/v1/tasks/{task_id}",)}
    posts = {f"POST {url}": client.post(url, data=data).status_code for url, data in (
        (f"/tasks/{task_id}/claim", {}), (f"/tasks/{task_id}/complete", {"handling_notes": "x", "reply_text": "x"}),
        (f"/tasks/{task_id}/release", {}), (f"/tasks/{task_id}/extension", {"working_days": "3", "reason": "x"}))}
    api_posts = {f"API POST {url}": client.post(url, json=body, headers=bearer).status_code for url, body in (
        (f"/api/v1/tasks/{task_id}/claim", {}), (f"/api/v1/tasks/{task_id}/complete", {"data": {"handling_notes": "x"}}),
        (f"/api/v1/petitions/{code}/extension", {"working_days": 3, "reason": "x"}))}
    return pages | api | posts | api_posts


def test_a_unit_officer_of_another_unit_is_refused_everywhere(
    app: Flask, handling: str, login_as: Callable, open_tasks: Callable
) -> None:
    task_id = _task(open_tasks, handling, "handle")
    before = _state(app, handling)
    outsider = login_as("cv_qhxd")
    statuses = _every_route(outsider, _bearer(outsider, "cv_qhxd"), handling, task_id)
    assert {url: s for url, s in statuses.items() if s not in REFUSED} == {}
    assert _state(app, handling) == before
    public = outsider.get(f"/api/v1/petitions/{handling}", headers=_bearer(outsider, "cv_qhxd")).get_json()
    assert "content" not in public and "history" not in public
    lead = login_as("cv_qldt")
    for url in (f"/petitions/{handling}", f"/tasks/{task_id}", f"/audit/petitions/{handling}"):
        assert lead.get(url).status_code == 200, url
    assert lead.post(f"/tasks/{task_id}/claim").status_code in (302, 303)


def test_an_agency_liaison_sees_only_petitions_its_agency_coordinates(
    app: Flask, handling: str, login_as: Callable, open_tasks: Callable
) -> None:
    task_id = _task(open_tasks, handling, "coordinate")
    before = _state(app, handling)
    outsider = login_as("lienlac_snnmt")
    statuses = _every_route(outsider, _bearer(outsider, "lienlac_snnmt"), handling, task_id)
    assert {url: s for url, s in statuses.items() if s not in REFUSED} == {}
    assert _state(app, handling) == before
    insider = login_as("lienlac_sxd")
    for url in (f"/petitions/{handling}", f"/tasks/{task_id}", f"/audit/petitions/{handling}"):
        assert insider.get(url).status_code == 200, url
    handle_task = _task(open_tasks, handling, "handle")
    assert insider.get(f"/tasks/{handle_task}").status_code in REFUSED  # the unit's task is not the agency's


def test_an_enterprise_user_cannot_act_on_another_enterprises_task(
    app: Flask, users: dict[str, Any], submit_petition: Callable, complete_step: Callable, login_as: Callable,
    open_tasks: Callable
) -> None:
    code = submit_petition()
    complete_step(code, "register", users["intake"], {"register_decision": "request_info",
                                                      "info_request": "Bổ sung giấy phép xây dựng."})
    task_id = _task(open_tasks, code, "supply_info")
    before = _state(app, code)
    other = login_as("dn_b")
    statuses = _every_route(other, _bearer(other, "dn_b"), code, task_id)
    assert {url: s for url, s in statuses.items() if s not in REFUSED} == {}
    assert _state(app, code) == before
    assert login_as("dn_a").get(f"/tasks/{task_id}").status_code == 200


def test_notifications_of_another_user_cannot_be_marked_read(
    app: Flask, handling: str, login_as: Callable
) -> None:
    from workflows.models import Notification, User

    with app.extensions["petitions.sessions"]() as session:
        mine = session.scalar(select(Notification).join(User, User.id == Notification.user_id)
                              .where(User.username == "cv_qldt"))
    assert mine is not None and mine.read_at is None
    assert login_as("cv_qhxd").post(f"/notifications/{mine.id}/read").status_code == 404
    with app.extensions["petitions.sessions"]() as session:
        assert session.get(Notification, mine.id).read_at is None
    assert login_as("cv_qldt").post(f"/notifications/{mine.id}/read").status_code == 302
