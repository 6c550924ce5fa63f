"""Fixtures of the page tests: compiled catalogs, logged-in clients, petitions at a given step."""
from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import TEST_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
CATALOG_DIR = ROOT / "webapp" / "translations"
ARTIFACTS = ROOT / "test-artifacts"  # screenshots of the browser tests
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs() -> None:
    """Compile the .po catalogs when a .mo is missing or older (normally `make install` does it)."""
    for po in CATALOG_DIR.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            pybabel = Path(sys.executable).with_name("pybabel")
            subprocess.run([str(pybabel), "-q", "compile", "-d", str(CATALOG_DIR)], check=True)
            return


def login(client: Any, username: str) -> None:
    """Log the test client in as `username` (created with TEST_PASSWORD)."""
    response = client.post("/login", data={"username": username, "password": TEST_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


@pytest.fixture
def login_as(app: Flask) -> Callable[[str], Any]:
    """Return a fresh test client logged in as the given user."""

    def factory(username: str) -> Any:
        client = app.test_client()
        login(client, username)
        return client

    return factory


@pytest.fixture
def users(make_user: Callable[..., Any]) -> dict[str, Any]:
    """One user per role: two enterprises, intake, leader, units QLDT and QHXD."""
    return {
        "ent_a": make_user("dn_a", "enterprise", tax_code="0101234567", enterprise_name="Công ty TNHH Alpha"),
        "ent_b": make_user("dn_b", "enterprise", tax_code="0107654321", enterprise_name="Công ty CP Beta"),
        "intake": make_user("tiepnhan", "intake"),
        "leader": make_user("lanhdao", "leader"),
        "qldt": make_user("cv_qldt", "unit", unit="QLDT"),
        "qhxd": make_user("cv_qhxd", "unit", unit="QHXD"),
    }


CODE = re.compile(r"KN\.\d{8}\.\d{4}")


@pytest.fixture
def submit_petition(login_as: Callable[[str], Any]) -> Callable[..., str]:
    """Submit a petition through /petitions/new as an enterprise user and return its tracking code."""

    def factory(username: str = "dn_a", title: str = "Vướng mắc thủ tục cấp phép xây dựng",
                content: str = "Doanh nghiệp đề nghị hướng dẫn hồ sơ xin phép xây dựng nhà xưởng.") -> str:
        client = login_as(username)
        response = client.post("/petitions/new", data={
            "title": title, "content": content, "zone": "TL", "submission_key": f"key-{title[:20]}-{username}"[:60],
        })
        assert response.status_code == 302, response.get_data(as_text=True)
        match = CODE.search(response.headers["Location"])
        assert match, response.headers["Location"]
        return match.group(0)

    return factory


@pytest.fixture
def open_tasks(app: Flask) -> Callable[[str], list[Any]]:
    """Return the open task rows of a petition (read in a short session of its own)."""
    from engine.models import HumanTask

    def read(code: str) -> list[Any]:
        with app.extensions["petitions.sessions"]() as session:
            return list(session.scalars(
                select(HumanTask).where(HumanTask.business_key == code, HumanTask.status == "open")
                .order_by(HumanTask.created_at)
            ))

    return read


@pytest.fixture
def complete_step(app: Flask, open_tasks: Callable[[str], list[Any]]) -> Callable[..., None]:
    """Complete the open step `bpmn_id` of a petition as `user` through workflows.tasks (no HTTP)."""
    from workflows import tasks

    def run(code: str, bpmn_id: str, user: Any, data: dict[str, Any]) -> None:
        row = next(t for t in open_tasks(code) if t.bpmn_id == bpmn_id)
        with app.extensions["petitions.sessions"]() as session:
            tasks.complete(session, app.extensions["petitions.runtime"], session.merge(user), row.id, data)
            session.commit()

    return run


@pytest.fixture
def petition_at_handle(
    users: dict[str, Any], submit_petition: Callable[..., str], complete_step: Callable[..., None]
) -> Iterator[str]:
    """A petition assigned to unit QLDT, waiting at its `handle` step."""
    from workflows.reference import get_reference

    code = submit_petition()
    complete_step(code, "register", users["intake"], {"register_decision": "accept"})
    category = next(iter(get_reference().categories))
    complete_step(code, "classify", users["intake"], {"petition_type": "KN", "category": category,
                                                      "priority": "THUONG", "triage_outcome": "THUOC_THAM_QUYEN",
                                                      "within_authority": True})
    complete_step(code, "assign", users["leader"], {"lead_unit": "QLDT", "coordinating_agencies": [],
                                                    "working_days": 10})
    yield code


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """Serve the app with waitress on a free port, with CSRF on and Secure session cookies as in production."""
    from waitress.server import create_server

    app.config.update(WTF_CSRF_ENABLED=True, SESSION_COOKIE_SECURE=True)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()  # the loop ends once the browser's connections are gone
        server.task_dispatcher.shutdown()
        thread.join(timeout=10)
