"""Audit pages: who may open them, what they show, exports equal to the page, verification, GET-only for
auditors over the whole URL map, and the diagram's highlighted path in a real headless Chromium."""
from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select, text

from engine.models import AuditEvent
from tests.conftest import TEST_PASSWORD
from tests.integration.support import Lifecycle
from tests.webapp.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from workflows import audit_trail, petitions, sla
from workflows.models import Petition

TEMPLATES = Path(__file__).resolve().parents[2] / "webapp" / "templates" / "audit"

SAFE = {"GET", "HEAD", "OPTIONS"}
# Logged-in endpoints an auditor may POST to: marking their own notifications read (their own inbox state,
# no petition data). Everything else that needs a login and admits auditors must be GET-only.
# The auditor's own notifications and password: their own state, not the petitions'.
OWN_STATE = {"notifications.read", "notifications.read_all", "auth.change_password"}


@pytest.fixture
def life(session, runtime, make_user) -> Lifecycle:
    return Lifecycle(session, runtime, make_user)


@pytest.fixture
def auditor(make_user: Callable[..., Any]) -> Any:
    return make_user("kiemtra", "auditor")


def _client(app: Flask, username: str) -> Any:
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": TEST_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def answered(life: Lifecycle) -> Petition:
    """A petition answered, rated unsatisfied (reopened), answered again and rated: closed."""
    petition = life.submit()
    life.do(life.intake, petition, "register", register_decision="request_info", info_request="Bổ sung sơ đồ.")
    life.do(life.enterprise_user, petition, "supply_info", supplied_info="Đã gửi.")
    life.to_answer(petition, agencies=("EVNHN",))
    life.do(life.leader, petition, "approve", decision="return", return_reason="Nêu rõ căn cứ.")
    life.do(life.unit, petition, "draft_answer", answer_text="Đã khắc phục.", result_type="DA_GIAI_QUYET")
    life.answer_and_send(petition)
    life.do(life.enterprise_user, petition, "confirm", rating="khong_hai_long", comment="Chưa thỏa đáng.")
    return petition


def every_stage(life: Lifecycle) -> Petition:
    """A petition through every stage: information requested, extended, escalated when overdue, returned by
    the leader, answered, rated unsatisfied (reopened), answered again and rated satisfied: closed."""
    import time_machine

    petition = life.submit()
    life.do(life.intake, petition, "register", register_decision="request_info", info_request="Bổ sung sơ đồ.")
    life.do(life.enterprise_user, petition, "supply_info", supplied_info="Đã gửi.")
    life.to_assignment(petition)
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=["EVNHN"], working_days=10)
    sla.request_extension(life.session, life.runtime, life.unit, petition.tracking_code, 5, "Chờ khảo sát lưới điện.")
    life.session.commit()
    life.do(life.leader, petition, "approve_extension", extension_decision="approve", extension_days=5)
    after_deadline = dt.datetime.combine(petition.due_date, dt.time(17, 30), audit_trail.HANOI)
    with time_machine.travel(after_deadline, tick=False):
        life.runtime.fire_timers(life.session, petition.instance_id)
        life.session.commit()
        life.do(life.leader, petition, "review_overdue", instruction="Đề nghị hoàn thành ngay.")
        life.do(life.agencies["EVNHN"], petition, "coordinate", reply_text="Ý kiến EVN", reply_document_no="EVN/01")
        life.do(life.unit, petition, "handle", handling_notes="Đã xử lý.")
        life.do(life.unit, petition, "draft_answer", answer_text="Đã khắc phục.", result_type="DA_GIAI_QUYET")
        life.do(life.leader, petition, "approve", decision="return", return_reason="Nêu rõ căn cứ.")
        life.do(life.unit, petition, "draft_answer", answer_text="Đã khắc phục.", result_type="DA_GIAI_QUYET")
        life.answer_and_send(petition)
        life.do(life.enterprise_user, petition, "confirm", rating="khong_hai_long", comment="Chưa thỏa đáng.")
        life.do(life.unit, petition, "draft_answer", answer_text="Đã thay máy biến áp.", result_type="DA_GIAI_QUYET")
        life.answer_and_send(petition)
        life.do(life.enterprise_user, petition, "confirm", rating="hai_long")
    return petition


def _rows(page: str, testid: str) -> list[str]:
    return re.findall(rf'<tr data-testid="{testid}"[^>]*>', page)


def _attr(tag: str, name: str) -> str:
    match = re.search(rf'{name}="([^"]*)"', tag)
    return html.unescape(match.group(1)) if match else ""


# ---- policies -----------------------------------------------------------------------------------------
def _admits_auditor(app: Flask, endpoint: str) -> tuple[bool, bool]:
    policy = getattr(app.view_functions[endpoint], "_policy", None)
    assert policy is not None, f"{endpoint} has no declared policy"
    return policy.public, policy.public or not policy.roles or "auditor" in policy.roles


def test_every_endpoint_an_auditor_may_use_is_read_only(app: Flask) -> None:
    offending, audit_endpoints = [], []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        public, admitted = _admits_auditor(app, rule.endpoint)
        if rule.endpoint.startswith("audit."):
            audit_endpoints.append(rule.endpoint)
            assert rule.methods <= SAFE and not public, rule
            assert "enterprise" not in app.view_functions[rule.endpoint]._policy.roles
        # Public endpoints (login, logout, language, token, self-registration, open311) are anyone's, so not
        # the auditor role's; the logged-in ones admitting auditors must not change anything.
        if admitted and not public and rule.methods - SAFE and rule.endpoint not in OWN_STATE:
            offending.append(rule.endpoint)
    assert offending == []
    assert {"audit.history", "audit.trace", "audit.sheet", "audit.sheet_export", "audit.search",
            "audit.search_export", "audit.verify", "audit.lookup"} <= set(audit_endpoints)


def _dummy_url(rule: Any) -> str:
    values = {name: 1 if type(conv).__name__ == "IntegerConverter" else "x" for name, conv in rule._converters.items()}
    return rule.build(values, append_unknown=False)[1]


def test_an_auditor_posting_to_any_mutating_endpoint_gets_403(app: Flask, auditor: Any, life: Lifecycle) -> None:
    petition = life.submit()
    task_id = life.task_of(life.intake, petition, "register")
    life.session.commit()  # SQLite: end the write transaction (and keep the loaded objects) before requests
    pages = _client(app, auditor.username)
    token = app.test_client().post("/api/v1/auth/token", json={"username": auditor.username,
                                                               "password": TEST_PASSWORD}).get_json()["token"]
    checked = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or not rule.methods - SAFE or rule.endpoint in OWN_STATE:
            continue
        if _admits_auditor(app, rule.endpoint)[0]:
            continue  # public: open to anonymous visitors too
        url = _dummy_url(rule)
        for method in sorted(rule.methods - SAFE):
            if rule.rule.startswith("/api/"):
                response = app.test_client().open(url, method=method, json={},
                                                   headers={"Authorization": f"Bearer {token}"})
            else:
                response = pages.open(url, method=method, data={})
            assert response.status_code == 403, (rule.rule, method, response.status_code)
            checked.append(rule.endpoint)
    for url in (f"/tasks/{task_id}/claim", f"/tasks/{task_id}/complete", f"/tasks/{task_id}/release"):
        assert pages.post(url, data={"register_decision": "accept"}).status_code == 403
    api = app.test_client().post(f"/api/v1/tasks/{task_id}/complete", json={"data": {"register_decision": "accept"}},
                                 headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 403
    assert {"tasks.claim", "tasks.complete", "api.act_on_task", "petitions.new"} <= set(checked)
    assert [t.bpmn_id for t in petitions.open_tasks(life.session, petition)] == ["register"]
    assert life.session.scalar(select(AuditEvent.id).where(AuditEvent.actor == auditor.username,
                                                           AuditEvent.action != "AUDIT_VIEWED")) is None


def test_who_may_open_the_audit_pages(app: Flask, life: Lifecycle, auditor: Any, make_user: Callable) -> None:
    petition = life.submit()
    life.to_assignment(petition)
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=[], working_days=10)
    code = petition.tracking_code
    pages = [f"/audit/petitions/{code}", f"/audit/petitions/{code}/trace.json", f"/audit/petitions/{code}/sheet",
             f"/audit/petitions/{code}/sheet.csv", f"/audit/petitions/{code}/sheet.xlsx"]
    log_pages = ["/audit/search", "/audit/search.csv", "/audit/search.xlsx", "/audit/verify"]
    life.session.commit()  # SQLite: end the write transaction before requests
    anonymous = app.test_client()
    for url in pages + log_pages:
        assert anonymous.get(url).status_code == 302
    client = _client(app, auditor.username)
    for url in pages + log_pages:
        assert client.get(url).status_code == 200, url
    for username in ("dn", "dn2"):  # enterprise users, even the petition's own
        client = _client(app, username)
        for url in pages + log_pages:
            assert client.get(url).status_code == 403, (username, url)
    both = make_user("dn_tn", "enterprise", "intake", tax_code="0100000003")
    assert _client(app, both.username).get(pages[0]).status_code == 403
    unit = _client(app, "qhxd")  # the lead unit: the history and sheet of its petition, not the log
    for url in pages:
        assert unit.get(url).status_code == 200, url
    for url in log_pages:
        assert unit.get(url).status_code == 403, url
    other_unit = _client(app, "tnmt")
    for url in pages:
        assert other_unit.get(url).status_code == 404, url
    assert _client(app, "ld").get(pages[0]).status_code == 200
    assert _client(app, "kiemtra").get("/audit/petitions/KN.20000101.9999").status_code == 404


def test_history_page_lists_every_step_and_is_logged(app: Flask, life: Lifecycle, auditor: Any) -> None:
    petition = answered(life)
    timeline = audit_trail.timeline(life.session, petition)
    life.session.commit()  # SQLite: end the write transaction before requests
    client = _client(app, auditor.username)
    response = client.get(f"/audit/petitions/{petition.tracking_code}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    rows = _rows(page, "audit-event")
    assert [int(_attr(r, "data-index")) for r in rows] == [e.chain_index for e in timeline.events]
    completed = [(_attr(r, "data-step"), _attr(r, "data-actor")) for r in rows
                 if _attr(r, "data-action") == "TASK_COMPLETED"]
    assert completed == [(e.bpmn_id, e.actor) for e in timeline.events if e.action == "TASK_COMPLETED"]
    assert ("confirm", "dn") in completed and ("approve", "ld") in completed
    assert 'data-milestone="PETITION_REOPENED"' in page and 'data-milestone="ANSWER_RETURNED"' in page
    assert "Mở lại kiến nghị" in page and "Trả lại dự thảo để chỉnh sửa" in page
    assert 'data-testid="definition-version"' in page and "phiên bản 1" in page
    assert 'data-timing="early"' in page and 'data-timing="in_progress"' in page
    assert f'data-trace-url="/audit/petitions/{petition.tracking_code}/trace.json"' in page
    assert "vendor/bpmn-js/bpmn-viewer.production.min.js" in page and "audit/history.js" in page
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "style-src 'self';" in csp and "unsafe" not in csp
    assert 'data-testid="nav-audit"' in page
    with app.extensions["petitions.sessions"]() as session:
        viewed = session.scalars(select(AuditEvent).where(AuditEvent.action == "AUDIT_VIEWED")).all()
    assert [(e.actor, e.role, e.data) for e in viewed] == \
        [("kiemtra", "auditor", {"page": "history", "petition": petition.tracking_code})]
    assert audit_trail.verify(life.session).intact


def test_trace_json_carries_the_version_xml_and_path(app: Flask, life: Lifecycle, auditor: Any) -> None:
    petition = answered(life)
    trace = audit_trail.path_taken(life.session, life.runtime, petition)
    life.session.commit()  # SQLite: end the write transaction before requests
    body = _client(app, auditor.username).get(f"/audit/petitions/{petition.tracking_code}/trace.json").get_json()
    assert body["definition"] == {"process_id": "petition", "version": 1}
    assert body["xml"].startswith("<?xml") and "bpmndi:BPMNShape" in body["xml"]
    assert body["taken"] == trace.taken and body["flows"] == trace.flows and body["current"] == ["draft_answer"]
    approve = body["elements"]["approve"]
    assert [v["actor"] for v in approve["visits"]] == ["ld", "ld"] and approve["visits"][0]["at_text"]
    assert body["elements"]["draft_answer"]["current"] is True
    assert body["elements"]["draft_answer"]["waiting_for"]


def test_control_sheet_page_and_its_exports(app: Flask, life: Lifecycle, auditor: Any) -> None:
    petition = answered(life)
    sheet = audit_trail.control_sheet(life.session, petition)
    life.session.commit()  # SQLite: end the write transaction before requests
    client = _client(app, auditor.username)
    code = petition.tracking_code
    page = client.get(f"/audit/petitions/{code}/sheet").get_data(as_text=True)
    rows = _rows(page, "sheet-row")
    assert [_attr(r, "data-step") for r in rows] == [r.bpmn_id for r in sheet.rows]
    assert [_attr(r, "data-result") for r in rows][-1] == "in_progress"
    assert "Phiếu kiểm soát quá trình giải quyết" in page and 'data-print' in page and "audit/print.js" in page
    exported = client.get(f"/audit/petitions/{code}/sheet.csv")
    assert exported.headers["Content-Disposition"].endswith('.csv"')
    lines = list(csv.reader(io.StringIO(exported.get_data().decode("utf-8-sig"))))
    assert lines[0][0] == "STT" and [int(r[0]) for r in lines[1:]] == [r.number for r in sheet.rows]
    workbook = load_workbook(io.BytesIO(client.get(f"/audit/petitions/{code}/sheet.xlsx").get_data()))
    values = list(workbook.active.iter_rows(values_only=True))
    assert len(values) == len(sheet.rows) + 1 and [v[0] for v in values[1:]] == [r.number for r in sheet.rows]
    assert [v[1] for v in values[1:]] == [r[1] for r in lines[1:]]  # the steps, in the same order


def test_search_page_and_exports_have_the_same_rows(app: Flask, life: Lifecycle, auditor: Any) -> None:
    answered(life)
    other = life.submit(title="Thủ tục cấp phép", category_hint="XD")
    life.session.commit()  # SQLite: end the write transaction before requests
    client = _client(app, auditor.username)
    client.get(f"/audit/petitions/{other.tracking_code}")  # a view, which the search leaves out unless asked
    page = client.get("/audit/search?action=TASK_COMPLETED&role=leader").get_data(as_text=True)
    rows = _rows(page, "search-row")
    assert rows and {_attr(r, "data-action") for r in rows} == {"TASK_COMPLETED"}
    indexes = [int(_attr(r, "data-index")) for r in rows]
    full = client.get("/audit/search").get_data(as_text=True)
    full_indexes = [int(_attr(r, "data-index")) for r in _rows(full, "search-row")]
    links = {testid: html.unescape(href) for href, testid in
             re.findall(r'href="([^"]+)" data-testid="(export-csv|export-xlsx)"', full)}
    assert set(links) == {"export-csv", "export-xlsx"} and "until=" in links["export-csv"]
    client.get("/audit/verify")  # more events appended between the page and the export
    other_page = client.get(f"/audit/petitions/{other.tracking_code}")
    assert other_page.status_code == 200
    csv_rows = list(csv.reader(io.StringIO(client.get(links["export-csv"]).get_data().decode("utf-8-sig"))))
    assert [int(r[0]) for r in csv_rows[1:]] == full_indexes
    sheet = load_workbook(io.BytesIO(client.get(links["export-xlsx"]).get_data())).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "STT" and len(values) - 1 == len(full_indexes) == len(csv_rows) - 1
    assert [v[0] for v in values[1:]] == full_indexes and sum(v[0] for v in values[1:]) == sum(full_indexes)
    assert [v[2] for v in values[1:]] == [r[2] for r in csv_rows[1:]]  # actors
    assert not {"AUDIT_VIEWED"} & {r[5] for r in csv_rows[1:]}
    query = parse_qs(urlsplit(links["export-csv"]).query)
    filtered = client.get(f"/audit/search.csv?action=TASK_COMPLETED&role=leader&until={query['until'][0]}")
    assert [int(r[0]) for r in list(csv.reader(io.StringIO(filtered.get_data().decode("utf-8-sig"))))[1:]] == indexes
    viewed = client.get("/audit/search?action=AUDIT_VIEWED").get_data(as_text=True)
    assert {_attr(r, "data-action") for r in _rows(viewed, "search-row")} == {"AUDIT_VIEWED"}
    late = client.get("/audit/search?lateness=late").get_data(as_text=True)
    assert 'data-testid="search-empty"' in late


def test_verify_page_reports_intact_then_the_tampered_row(app: Flask, life: Lifecycle, auditor: Any) -> None:
    petition = answered(life)
    target = audit_trail.timeline(life.session, petition).events[5].chain_index
    life.session.commit()  # SQLite: end the write transaction before requests
    client = _client(app, auditor.username)
    page = client.get("/audit/verify").get_data(as_text=True)
    assert 'data-intact="true"' in page and 'data-testid="verify-intact"' in page
    with app.extensions["petitions.sessions"]() as session:
        session.execute(text("DROP TRIGGER audit_event_no_update"))
        session.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE chain_index = :i"), {"i": target})
        session.commit()
    page = client.get("/audit/verify").get_data(as_text=True)
    assert 'data-intact="false"' in page and f'data-broken-at="{target}"' in page and "mallory" in page


def test_audit_templates_keep_scripts_and_styles_in_static_files() -> None:
    templates = sorted(TEMPLATES.glob("*.html"))
    assert len(templates) >= 5
    for path in templates:
        source = path.read_text(encoding="utf-8")
        assert "|safe" not in source.replace(" ", "") and "Markup(" not in source, path.name
        for tag, body in re.findall(r"<script([^>]*)>(.*?)</script>", source, re.S):
            assert "src=" in tag and body.strip() == "", path.name  # external files only, never inline code
        assert "<style" not in source and not re.search(r"\sstyle=", source), path.name
        assert not re.search(r"\son[a-z]+=", source), path.name


# ---- the diagram in a real browser ------------------------------------------------------------------------
@pytest.mark.browser
def test_history_diagram_highlights_exactly_the_path_taken(live_server: str, life: Lifecycle, auditor: Any) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make chromium)")
    from playwright.sync_api import expect, sync_playwright

    petition = answered(life)
    trace = audit_trail.path_taken(life.session, life.runtime, petition)
    life.session.commit()  # SQLite: end the write transaction before requests
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.add_init_script("window.__csp = []; document.addEventListener('securitypolicyviolation', "
                                 "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")
            page.goto(f"{live_server}/login")
            page.get_by_test_id("username").fill(auditor.username)
            page.get_by_test_id("password").fill(TEST_PASSWORD)
            page.get_by_test_id("login-submit").click()
            page.get_by_test_id("nav-audit").click()
            expect(page.get_by_test_id("search-form")).to_be_visible()
            page.goto(f"{live_server}/audit/petitions/{petition.tracking_code}")
            expect(page.locator("#audit-diagram")).to_have_attribute("data-rendered", "true", timeout=20000)
            highlighted = page.eval_on_selector_all(
                "#audit-diagram .djs-element.audit-taken", "els => els.map(e => e.getAttribute('data-element-id'))")
            drawn = set(page.eval_on_selector_all(
                "#audit-diagram .djs-element", "els => els.map(e => e.getAttribute('data-element-id'))"))
            assert sorted(highlighted) == sorted(set(trace.taken + trace.flows) & drawn)
            assert len(highlighted) == len(set(highlighted))
            expected_on_path = {"start", "register", "gw_register", "supply_info", "classify", "assign", "handle",
                                "coordinate", "join_handle", "draft_answer", "approve", "gw_approve", "send_answer",
                                "confirm", "gw_confirm", "reopen", "flow_register_request_info", "flow_approve_return",
                                "flow_confirm_reopen", "flow_reopen_done"}
            assert expected_on_path <= set(highlighted)
            assert not {"end_rejected", "forward", "record_out_of_track", "end_closed", "flow_register_reject",
                        "flow_classify_forward", "flow_confirm_close", "send_answer_di"} & set(highlighted)
            current = page.eval_on_selector_all(
                "#audit-diagram .djs-element.audit-current", "els => els.map(e => e.getAttribute('data-element-id'))")
            assert current == ["draft_answer"]
            page.hover("#audit-diagram .djs-element[data-element-id='approve']")
            tip = page.locator(".audit-tip")
            expect(tip).to_be_visible()
            expect(tip).to_contain_text("ld")
            title = page.eval_on_selector("#audit-diagram .djs-element[data-element-id='approve'] > title",
                                          "t => t.textContent")
            assert title.count(" · ld") == 2
            page.screenshot(path=str(ARTIFACTS / "audit-history.png"), full_page=True)
            assert page.evaluate("window.__csp") == []
            expect(page.get_by_test_id("diagram-error")).to_be_hidden()
        finally:
            browser.close()


def _marked(page: Any, css: str) -> list[str]:
    return page.eval_on_selector_all(f"#audit-diagram .djs-element{css}",
                                     "els => els.map(e => e.getAttribute('data-element-id'))")


@pytest.mark.browser
def test_history_diagram_of_a_petition_through_every_stage(live_server: str, life: Lifecycle, auditor: Any) -> None:
    """Reopen, extension and escalation included: the diagram highlights exactly the path the trace read."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make chromium)")
    from playwright.sync_api import expect, sync_playwright

    petition = every_stage(life)
    assert life.open_steps(petition) == []
    trace = audit_trail.path_taken(life.session, life.runtime, petition)
    life.session.commit()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1100})
            page.goto(f"{live_server}/login")
            page.get_by_test_id("username").fill(auditor.username)
            page.get_by_test_id("password").fill(TEST_PASSWORD)
            page.get_by_test_id("login-submit").click()
            page.goto(f"{live_server}/audit/petitions/{petition.tracking_code}")
            expect(page.locator("#audit-diagram")).to_have_attribute("data-rendered", "true", timeout=20000)
            highlighted, drawn = _marked(page, ".audit-taken"), set(_marked(page, ""))
            assert sorted(highlighted) == sorted(set(trace.taken + trace.flows) & drawn)
            expected_on_path = {
                "start", "register", "gw_register", "supply_info", "classify", "assign", "handle", "coordinate",
                "join_handle", "draft_answer", "approve", "gw_approve", "send_answer", "confirm", "gw_confirm",
                "reopen", "end_closed", "approve_extension", "grant_extension", "timer_handle_overdue",
                "review_overdue", "flow_register_request_info", "flow_approve_return", "flow_confirm_reopen",
                "flow_confirm_close", "flow_extension_from_handle", "flow_extension_granted", "flow_handle_overdue"}
            assert expected_on_path <= set(highlighted), expected_on_path - set(highlighted)
            assert not {"end_rejected", "forward", "record_out_of_track", "flow_register_reject",
                        "flow_classify_forward"} & set(highlighted)
            assert _marked(page, ".audit-current") == []
            page.hover("#audit-diagram .djs-element[data-element-id='review_overdue']")
            expect(page.locator(".audit-tip")).to_contain_text("ld")
            # The timeline lists every step with its actor: each completed task and the stage milestones.
            rows = page.eval_on_selector_all("[data-testid=audit-event]", "els => els.map(e => [e.dataset.action, "
                                             "e.dataset.step, e.dataset.actor, e.dataset.milestone])")
            completed = [(step, actor) for action, step, actor, _m in rows if action == "TASK_COMPLETED"]
            stored = [(e.bpmn_id, e.actor) for e in life.session.scalars(select(AuditEvent).where(
                AuditEvent.business_key == petition.tracking_code, AuditEvent.action == "TASK_COMPLETED")
                .order_by(AuditEvent.id))]
            assert completed == stored and len(completed) >= 18
            assert {"EXTENSION_REQUESTED", "DEADLINE_EXTENDED", "TASK_ESCALATED", "OVERDUE_REVIEWED"} <= {
                m for *_rest, m in rows}
            assert ("confirm", life.enterprise_user.username) in completed
            page.screenshot(path=str(ARTIFACTS / "audit-history-every-stage.png"), full_page=True)
        finally:
            browser.close()
