"""Idempotent intake: the JSON API's Idempotency-Key header and the portal form's hidden submission key.

Two concurrent first requests with one key (the second arrives while the first is inside its step) give one
petition and the same tracking code; a key reused with another body is refused (422) and changes nothing.
Retries after a crash are in test_crash_gunicorn.py.
"""
from __future__ import annotations

import threading
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from engine.models import IdempotencyKey
from tests.conftest import TEST_PASSWORD
from tests.reliability.test_interleaving import WAIT, PauseFirstStep
from workflows.models import Petition

BODY = {"title": "Đường nội khu ngập nước", "content": "Sau mưa lớn đường ngập 40 cm.", "zone": "TL"}


def _count(session, model: Any) -> int:  # noqa: ANN001
    value = session.scalar(select(func.count()).select_from(model))
    session.rollback()
    return value


def _token(app: Flask, username: str) -> str:
    response = app.test_client().post("/api/v1/auth/token", json={"username": username, "password": TEST_PASSWORD})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["token"]


def test_two_concurrent_first_requests_with_one_key_make_one_petition(db_kind, app, session, runtime,  # noqa: ARG001
                                                                      make_user) -> None:
    make_user("dn", "enterprise", tax_code="0100000001", enterprise_name="Công ty A")
    token = _token(app, "dn")
    session.rollback()
    hook = PauseFirstStep("first")
    runtime.hooks.before_flush = hook
    answers: dict[str, Any] = {}
    second_started = threading.Event()

    def post(label: str) -> None:
        if label == "second":
            second_started.set()
        response = app.test_client().post("/api/v1/petitions", json=BODY, headers={
            "Authorization": f"Bearer {token}", "Idempotency-Key": "race-key-0001"})
        answers[label] = (response.status_code, response.get_json(), response.headers.get("Idempotent-Replayed"))

    one = threading.Thread(target=post, name="first", args=("first",))
    two = threading.Thread(target=post, name="second", args=("second",))
    try:
        one.start()
        assert hook.paused.wait(WAIT)  # the first request is inside its step: petition flushed, not committed
        two.start()
        assert second_started.wait(WAIT)
        hook.release.set()
        one.join(WAIT)
        two.join(WAIT)
    finally:
        hook.release.set()
        runtime.hooks.before_flush = lambda session, instance: None
    assert answers["first"][0] == 201 and answers["first"][2] is None
    assert answers["second"][0] == 201 and answers["second"][2] == "true"
    assert answers["first"][1]["tracking_code"] == answers["second"][1]["tracking_code"]
    assert (_count(session, Petition), _count(session, IdempotencyKey)) == (1, 1)


def test_portal_form_resubmitted_with_its_hidden_key_gives_the_same_receipt(app, session, make_user) -> None:
    make_user("dn", "enterprise", tax_code="0100000001", enterprise_name="Công ty A")
    client = app.test_client()
    assert client.post("/login", data={"username": "dn", "password": TEST_PASSWORD}).status_code == 302
    form = BODY | {"submission_key": "portal-key-0001"}
    first = client.post("/petitions/new", data=form)
    again = client.post("/petitions/new", data=form)  # a double click, or a retry after a timeout
    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"] and "/receipt" in first.headers["Location"]
    assert _count(session, Petition) == 1
    changed = client.post("/petitions/new", data=form | {"content": "Nội dung khác."})
    assert changed.status_code == 422 and "đã được dùng cho một yêu cầu khác" in changed.get_data(as_text=True)
    assert _count(session, Petition) == 1


def test_a_key_reused_with_another_body_is_refused_and_without_a_key_nothing_is_deduplicated(app, session,
                                                                                            make_user) -> None:
    make_user("dn", "enterprise", tax_code="0100000001", enterprise_name="Công ty A")
    headers = {"Authorization": f"Bearer {_token(app, 'dn')}"}
    client = app.test_client()
    first = client.post("/api/v1/petitions", json=BODY, headers=headers | {"Idempotency-Key": "api-key-0001"})
    assert first.status_code == 201
    refused = client.post("/api/v1/petitions", json=BODY | {"zone": "BTL"},
                          headers=headers | {"Idempotency-Key": "api-key-0001", "Accept-Language": "en"})
    assert refused.status_code == 422 and "idempotency key" in refused.get_json()["error"].lower()
    assert _count(session, Petition) == 1
    assert client.post("/api/v1/petitions", json=BODY, headers=headers).status_code == 201
    assert client.post("/api/v1/petitions", json=BODY, headers=headers).status_code == 201
    assert _count(session, Petition) == 3  # no key: each request is a new petition
