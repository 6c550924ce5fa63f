"""The whole URL map against the security rules: who may call what, no state change by GET, CSRF on every
cookie-authenticated POST, security headers on every response.

MATRIX is the specification, written by hand: a new endpoint fails these tests until it is added here with the
roles that may call it. Every cell (role x endpoint x method) is requested for real.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask, url_for
from sqlalchemy import select, text

from tests.conftest import TEST_PASSWORD

PUBLIC, ANY = "public", "any logged-in user"
TASKS = {"intake", "leader", "unit", "agency", "enterprise"}
AUDIT = {"admin", "agency", "auditor", "intake", "leader", "unit"}
CONFERENCES = {"admin", "auditor", "intake", "leader"}
DASHBOARD = {"admin", "auditor", "leader"}

# endpoint -> who may call it (every method of the endpoint's rules)
MATRIX: dict[str, str | set[str]] = {
    "public.index": PUBLIC, "public.track": PUBLIC, "auth.login": PUBLIC, "auth.logout": PUBLIC,
    "auth.set_language": PUBLIC, "auth.change_password": ANY,
    "portal.answers": PUBLIC, "portal.answer": PUBLIC, "portal.register": PUBLIC, "portal.verify": PUBLIC,
    "portal.accept": PUBLIC,
    "portal.enterprise": {"enterprise"}, "portal.invite": {"enterprise"},
    "portal.add_documents": {"intake"}, "portal.download": ANY, "portal.publish": {"intake"},
    "portal.unpublish": {"intake"}, "portal.rate": {"enterprise"}, "portal.supply_info": {"enterprise"},
    "petitions.index": ANY, "petitions.show": ANY, "petitions.receipt": {"enterprise", "intake"},
    "petitions.new": {"enterprise", "intake"},
    "tasks.inbox": TASKS, "tasks.show": TASKS, "tasks.claim": TASKS, "tasks.release": TASKS, "tasks.complete": TASKS,
    "tasks.request_extension": {"unit"},
    "notifications.index": ANY, "notifications.read": ANY, "notifications.read_all": ANY,
    "audit.lookup": AUDIT, "audit.history": AUDIT, "audit.sheet": AUDIT, "audit.sheet_export": AUDIT,
    "audit.trace": AUDIT, "audit.search": {"admin", "auditor"}, "audit.search_export": {"admin", "auditor"},
    "audit.verify": {"admin", "auditor"},
    "conferences.index": CONFERENCES, "conferences.show": CONFERENCES, "conferences.report": CONFERENCES,
    "conferences.report_xlsx": CONFERENCES, "conferences.new": {"intake"}, "conferences.grid": {"intake"},
    "conferences.import_file": {"intake"}, "conferences.confirm_import": {"intake"},
    **{f"designer.{name}": {"designer"} for name in (
        "index", "diff", "edit", "draft_bpmn", "draft_data", "delete_draft", "deploy", "save", "validate",
        "new_draft", "preview", "upload", "activate", "version_bpmn", "deactivate", "edit_version",
        "migrate_report", "migrate")},
    "admin.calendar_page": {"admin"}, "admin.add_override": {"admin"}, "admin.remove_override": {"admin"},
    "admin.incidents_page": {"admin"}, "admin.resolve_incident": {"admin"},
    **{f"dashboard.{name}": DASHBOARD for name in (
        "index", "bottleneck_page", "bottleneck_data", "conference_pdf", "half_year", "half_year_export", "overdue",
        "overdue_export", "petitions", "petitions_export", "ranking", "ranking_export")},
    "ops.healthz": PUBLIC, "ops.readyz": PUBLIC, "ops.prometheus_metrics": PUBLIC,
    "open311.discovery": PUBLIC, "open311.services": PUBLIC, "open311.service_definition": PUBLIC,
    "open311.list_requests": PUBLIC, "open311.get_request": PUBLIC, "open311.create_request": PUBLIC,
    "api.openapi": PUBLIC, "api.token": PUBLIC, "api.get_petition": PUBLIC, "api.list_petitions": ANY,
    "api.submit_petition": {"enterprise", "intake"}, "api.request_extension": {"unit"},
    "api.list_tasks": TASKS, "api.get_task": TASKS, "api.act_on_task": TASKS,
}
ROLE_USERS = {  # one user per role (the inspector only ever holds "any logged-in user" rights)
    "intake": {}, "leader": {}, "unit": {"unit": "QLDT"}, "agency": {"agency": "SXD"},
    "enterprise": {"tax_code": "0101234567", "enterprise_name": "Công ty TNHH Alpha"}, "designer": {},
    "auditor": {}, "admin": {}, "inspector": {},
}
SECURITY_TABLES = {"web_session", "rate_event"}  # bookkeeping of sessions and counters, written on any request
READ_LOG = "AUDIT_VIEWED"  # the audit pages log who read what (append-only, by design): not a state change


@dataclass
class Principal:
    """Anonymous (role None) or a user of one role, with a page client and an API token."""

    role: str | None
    client: Any
    bearer: dict[str, str]


@pytest.fixture
def test_routes(app: Flask) -> set[str]:
    """Routes the tests add before the first request: an undeclared one, one that fails, one that says 429."""
    from flask import abort

    from webapp.auth import public

    @public
    def broken() -> Any:
        raise RuntimeError("boom")

    @public
    def too_many() -> Any:
        abort(429)

    app.add_url_rule("/undeclared", "undeclared", lambda: "open")
    app.add_url_rule("/broken", "broken", broken)
    app.add_url_rule("/too-many", "too_many", too_many)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a failing page answers 500 (as in production), not a traceback
    return {"undeclared", "broken", "too_many"}


@pytest.fixture
def principals(app: Flask, make_user: Callable[..., Any], test_routes: set[str]) -> dict[str | None, Principal]:
    from tests.webapp.conftest import login

    found: dict[str | None, Principal] = {None: Principal(None, app.test_client(), {})}
    for role, scope in ROLE_USERS.items():
        make_user(f"u_{role}", role, **scope)
        client = app.test_client()
        login(client, f"u_{role}")
        token = app.test_client().post("/api/v1/auth/token", json={"username": f"u_{role}",
                                                                   "password": TEST_PASSWORD}).get_json()["token"]
        found[role] = Principal(role, client, {"Authorization": f"Bearer {token}"})
    return found


def _value(rule: Any, name: str, samples: dict[str, Any]) -> Any:
    converter = rule._converters[name]
    if type(converter).__name__ == "AnyConverter":
        return next(c for c in ("csv", "xlsx", "pdf", "json") if re.fullmatch(converter.regex, c))
    key = f"{rule.endpoint}:{name}"
    return samples.get(key, samples.get(name))


def requests_of(app: Flask, samples: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """Yield (endpoint, method, url) for every rule and method of the URL map (static aside)."""
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint, r.rule)):
            if rule.endpoint in ("static", "undeclared", "broken", "too_many"):
                continue
            values = {name: _value(rule, name, samples) for name in rule.arguments}
            url = rule.build(values, append_unknown=False)[1]
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule.endpoint, method, url


MISSING = {  # ids of objects that do not exist: allowed callers get 404/400, refused ones 403 before any lookup
    "code": "KN.20000101.9999", "task_id": "no-such-task", "action": "claim", "key": "no-such-file",
    "answer_id": 999999, "draft_id": 999999, "definition_id": 999999, "override_id": 999999,
    "notification_id": 999999, "incident_id": 999999, "token": "no-such-token", "fmt": "json",
    "request_id": "KN.20000101.9999", "conferences.show:code": "HOINGHI-NONE",
}


def _call(principal: Principal, method: str, url: str) -> Any:
    headers = principal.bearer if url.startswith("/api/") else {}
    return principal.client.open(url, method=method, headers=headers, data={} if method == "POST" else None)


def _refused(principal: Principal, response: Any, url: str) -> bool:
    if response.status_code == 403:
        return True
    if principal.role is None and url.startswith("/api/"):
        return response.status_code == 401
    if principal.role is None:
        return response.status_code == 302 and response.headers["Location"].split("?")[0] == "/login"
    return False


def _allowed(spec: str | set[str], role: str | None) -> bool:
    if spec == PUBLIC:
        return True
    if role is None:
        return False
    return spec == ANY or role in spec


def test_every_endpoint_is_in_the_matrix(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()} - {"static"}
    assert len(endpoints) > 80
    assert sorted(endpoints - MATRIX.keys()) == []


def test_role_by_endpoint_matrix(app: Flask, principals: dict[str | None, Principal]) -> None:
    wrong = []
    calls = [call for call in requests_of(app, MISSING) if call[0] != "auth.logout"]
    calls.append(("auth.logout", "POST", "/logout"))  # last: it ends each principal's session
    for endpoint, method, url in calls:
        spec = MATRIX[endpoint]
        for role, principal in principals.items():
            response = _call(principal, method, url)
            if _allowed(spec, role) == _refused(principal, response, url):
                wrong.append((role, method, url, response.status_code,
                              "should be allowed" if _allowed(spec, role) else "should be refused"))
    assert wrong == []


def test_an_endpoint_without_policy_is_closed_to_everyone(principals: dict[str | None, Principal]) -> None:
    for principal in principals.values():
        assert principal.client.get("/undeclared").status_code == 403


# --- no state change by GET -----------------------------------------------------------------------------------

def snapshot(app: Flask) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table (security bookkeeping aside), as sorted text tuples."""
    from engine.db import Base

    rows: dict[str, list[tuple[str, ...]]] = {}
    with app.extensions["petitions.engine"].connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in SECURITY_TABLES:
                continue
            query = select(table)
            if table.name == "audit_event":
                query = query.where(table.c.action != READ_LOG)
            rows[table.name] = sorted(tuple(map(str, row)) for row in conn.execute(query))
    return rows


@pytest.fixture
def real_objects(app: Flask, principals: dict[str | None, Principal], submit_petition: Callable) -> dict[str, Any]:
    """Existing objects for every kind of id, so that GET pages render in full."""
    from engine.models import HumanTask, ProcessDefinition
    from workflows.models import Notification

    code = submit_petition("u_enterprise")
    designer = principals["designer"].client
    designer.post("/designer/drafts/new", data={"name": "Thử nghiệm"})
    register = app.test_client().post("/register", data={
        "tax_code": "0398765432", "enterprise_name": "Công ty TNHH Epsilon", "zone": "NB", "contact_name": "Vũ E",
        "email": "e@epsilon.example.vn", "username": "epsilon", "password": TEST_PASSWORD})
    assert register.status_code == 200
    with app.extensions["petitions.sessions"]() as session:
        from engine.models import OutboxMessage

        body = session.scalar(select(OutboxMessage.body_text).where(OutboxMessage.recipient == "e@epsilon.example.vn"))
        task = session.scalar(select(HumanTask).where(HumanTask.business_key == code))
        definition = session.scalar(select(ProcessDefinition.id))
        notification = session.scalar(select(Notification.id))
        draft = session.execute(text("SELECT id FROM process_draft")).scalar()
    return MISSING | {
        "code": code, "request_id": code, "task_id": task.id, "definition_id": definition,
        "draft_id": draft or 999999, "notification_id": notification or 999999,
        "token": re.search(r"/register/verify/(\S+)", body).group(1),
    }


def test_no_get_request_changes_the_database(app: Flask, principals: dict[str | None, Principal],
                                             real_objects: dict[str, Any]) -> None:
    changed = []
    gets = [(endpoint, url) for endpoint, method, url in requests_of(app, real_objects) if method == "GET"]
    before = snapshot(app)
    for endpoint, url in gets:
        statuses = [_call(principal, "GET", url).status_code for principal in principals.values()]
        after = snapshot(app)
        if after != before:
            tables = sorted(name for name in after if after[name] != before[name])
            changed.append((endpoint, url, statuses, tables))
            before = after
    assert changed == [], "\n".join(map(str, changed))


def test_get_is_the_only_method_of_pages_that_change_nothing(app: Flask) -> None:
    """A rule answering GET never also answers a state-changing method unless the view shows a form on GET."""
    forms = {"auth.login", "auth.change_password", "portal.register", "portal.accept", "portal.publish",
             "petitions.new", "conferences.new", "conferences.grid", "conferences.import_file", "portal.verify"}
    mixed = sorted(rule.endpoint for rule in app.url_map.iter_rules()
                   if "GET" in rule.methods and rule.methods & {"POST", "PUT", "PATCH", "DELETE"})
    assert set(mixed) <= forms, set(mixed) - forms


# --- CSRF -----------------------------------------------------------------------------------------------------

TOKEN_AUTHENTICATED = ("api.", "open311.")  # no cookie is ever read there: CSRF cannot ride on one


def test_every_cookie_authenticated_post_needs_a_csrf_token(
    app: Flask, principals: dict[str | None, Principal], real_objects: dict[str, Any]
) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    before, accepted = snapshot(app), []
    posts = [(endpoint, url) for endpoint, method, url in requests_of(app, real_objects)
             if method == "POST" and not endpoint.startswith(TOKEN_AUTHENTICATED)]
    assert len(posts) > 30
    for endpoint, url in posts:
        spec = MATRIX[endpoint]
        role = None if spec == PUBLIC else next(r for r in principals if r and _allowed(spec, r))
        response = principals[role].client.post(url, data={"title": "x", "decision": "approve"})
        if response.status_code != 400 or "Biểu mẫu đã hết hiệu lực" not in response.get_data(as_text=True):
            accepted.append((endpoint, response.status_code))
    assert accepted == []
    assert snapshot(app) == before


def test_a_token_of_another_session_is_refused(app: Flask, principals: dict[str | None, Principal]) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    mine, other = principals["admin"].client, principals["intake"].client
    foreign = re.search(r'name="csrf_token" value="([^"]+)"', other.get("/inbox").get_data(as_text=True)).group(1)
    response = mine.post("/admin/calendar", data={"csrf_token": foreign, "day": "2026-12-30", "kind": "off",
                                                  "reason": "Nghỉ bù"})
    assert response.status_code == 400
    with app.extensions["petitions.sessions"]() as session:
        assert session.execute(text("SELECT count(*) FROM calendar_override WHERE reason = 'Nghỉ bù'")).scalar() == 0


# --- security headers -----------------------------------------------------------------------------------------

def assert_security_headers(response: Any, where: str) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp, where
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
    assert "script-src 'self'" in csp or "default-src 'none'" in csp, where
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    assert response.headers.get("Referrer-Policy") == "strict-origin-when-cross-origin", where
    assert response.headers.get("X-Frame-Options") == "DENY", where
    assert response.headers.get("Strict-Transport-Security", "").startswith("max-age=31536000"), where
    assert response.headers.get("Cross-Origin-Opener-Policy") == "same-origin", where


def test_every_get_endpoint_sends_the_security_headers(
    app: Flask, principals: dict[str | None, Principal], real_objects: dict[str, Any]
) -> None:
    seen = set()
    for endpoint, method, url in requests_of(app, real_objects):
        if method != "GET":
            continue
        spec = MATRIX[endpoint]
        role = None if spec == PUBLIC else next(r for r in principals if r and _allowed(spec, r))
        response = _call(principals[role], "GET", url)
        assert_security_headers(response, f"{url} {response.status_code}")
        if role is not None and not url.startswith("/api/"):
            assert response.headers.get("Cache-Control") in ("no-store", "private, no-store"), url
        seen.add(response.status_code)
    assert 200 in seen and 404 in seen


def test_static_files_error_pages_and_the_designer_page_send_the_security_headers(
    app: Flask, principals: dict[str | None, Principal], real_objects: dict[str, Any]
) -> None:
    anonymous, designer = principals[None].client, principals["designer"].client
    responses = {
        "static css": anonymous.get("/static/app.css"), "static js": anonymous.get("/static/audit/history.js"),
        "404": anonymous.get("/no-such-page"), "405": anonymous.get("/logout"), "500": anonymous.get("/broken"),
        "429": anonymous.get("/too-many"), "api 401": anonymous.get("/api/v1/tasks"),
        "api 404": anonymous.get("/api/v1/no-such"), "403": principals["enterprise"].client.get("/designer/"),
        "designer": designer.get(f"/designer/drafts/{real_objects['draft_id']}"),
        "designer index": designer.get("/designer/"),
    }
    for where, response in responses.items():
        assert_security_headers(response, where)
    assert responses["500"].status_code == 500 and "Traceback" not in responses["500"].get_data(as_text=True)
    assert responses["designer"].status_code == 200
    assert responses["static css"].status_code == 200
    with app.test_request_context():
        assert url_for("static", filename="app.css") == "/static/app.css"
