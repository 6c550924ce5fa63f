"""A process designer in real headless Chromium: the bpmn-js Modeler renders the petition process; a user task
added in the lead unit's lane with a form is saved, validated and deployed; a new petition passes through it
while an older petition finishes on the old version. Screenshots go to test-artifacts/."""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from engine.audit import Actor
from engine.contracts import Principal
from engine.models import HumanTask, ProcessDefinition, ProcessDraft, ProcessInstance, TaskStatus
from tests.test_petition_bpmn import ACCEPT, APPROVE, CLASSIFY_KN, DRAFT, SEND
from tests.webapp.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]

ADMIN = Principal("quan_tri", frozenset({"admin"}), superuser=True)
CHECK_FORM = {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Kiểm tra kết quả xử lý",
    "type": "object", "additionalProperties": False, "required": ["check_note"],
    "properties": {"check_note": {"type": "string", "title": "Nhận xét của trưởng phòng", "x-widget": "textarea"}},
}
ADD_TASK = """() => {
  const m = window.petitionsDesigner.modeler;
  const registry = m.get('elementRegistry'), modeling = m.get('modeling'), factory = m.get('elementFactory');
  const handle = registry.get('handle');
  const flow = registry.filter(e => e.type === 'bpmn:SequenceFlow' && e.businessObject.sourceRef.id === 'handle')[0];
  const after = flow.target;
  const shape = factory.createShape({ type: 'bpmn:UserTask' });
  shape.businessObject.id = 'check_handling';
  shape.id = 'check_handling';
  const created = modeling.createShape(shape, { x: handle.x + handle.width / 2 + 20, y: handle.y + handle.height / 2 + 10 },
                                       handle.parent);
  modeling.updateProperties(created, { name: 'Kiểm tra kết quả xử lý' });
  modeling.reconnectEnd(flow, created, { x: created.x, y: created.y + created.height / 2 });
  modeling.connect(created, after);
  return { lanes: (created.businessObject.get('lanes') || []).map(l => l.name), target: after.id };
}"""


def _open(app: Flask, code: str) -> list[str]:
    with app.extensions["petitions.sessions"]() as session:
        instance_id = session.scalar(select(ProcessInstance.id).where(ProcessInstance.business_key == code))
        return sorted(session.scalars(select(HumanTask.bpmn_id).where(
            HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.OPEN)))


def _complete(app: Flask, code: str, bpmn_id: str, data: dict[str, Any]) -> None:
    with app.extensions["petitions.sessions"]() as session:
        row = session.scalar(select(HumanTask).where(HumanTask.business_key == code, HumanTask.bpmn_id == bpmn_id,
                                                     HumanTask.status == TaskStatus.OPEN))
        app.extensions["petitions.runtime"].complete(session, row.id, ADMIN, data)
        session.commit()


@pytest.fixture
def petition_factory(app: Flask) -> Callable[[str], str]:
    """Submit a petition and drive it to `handle` (lead unit QHXD); return its tracking code."""
    from workflows import petitions
    from workflows.users import get_or_create_enterprise

    def submit(title: str) -> str:
        with app.extensions["petitions.sessions"]() as session:
            enterprise = get_or_create_enterprise(session, "0101234567", "Công ty TNHH Alpha", "TL")
            petition = petitions.submit(session, app.extensions["petitions.runtime"], Actor("dn_a", "enterprise"),
                                        enterprise, petitions.Submission(title=title, content=f"Nội dung: {title}",
                                                                         zone="TL"))
            session.commit()
            code = petition.tracking_code
        _complete(app, code, "register", ACCEPT)
        _complete(app, code, "classify", CLASSIFY_KN)
        _complete(app, code, "assign", {"lead_unit": "QHXD", "coordinating_agencies": [], "working_days": 10})
        assert _open(app, code) == ["handle"]
        return code

    return submit


def test_designer_adds_a_task_in_the_modeler_deploys_it_and_new_petitions_use_it(
        app: Flask, live_server: str, make_user: Callable[..., Any],
        petition_factory: Callable[[str], str]) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make chromium)")
    from playwright.sync_api import expect, sync_playwright

    from tests.conftest import TEST_PASSWORD

    ARTIFACTS.mkdir(exist_ok=True)
    make_user("thiet_ke", "designer")
    older = petition_factory("Kiến nghị trước khi đổi quy trình")
    csp_errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.on("console", lambda msg: csp_errors.append(msg.text)
                    if "Content Security Policy" in msg.text or msg.type == "error" else None)
            page.on("pageerror", lambda exc: csp_errors.append(str(exc)))
            page.on("response", lambda response: csp_errors.append(f"HTTP {response.status} {response.url}")
                    if response.status >= 400 and not response.url.endswith("/favicon.ico") else None)
            page.goto(f"{live_server}/login")
            page.get_by_test_id("username").fill("thiet_ke")
            page.get_by_test_id("password").fill(TEST_PASSWORD)
            page.get_by_test_id("login-submit").click()
            page.get_by_test_id("nav-designer").click()
            expect(page.locator('[data-testid="version-row"][data-version="1"]')).to_have_count(1)
            page.locator('[data-testid="version-row"][data-version="1"]').get_by_test_id("edit-version").click()

            # The diagram renders as SVG in the modeler.
            expect(page.locator('#designer[data-ready="yes"]')).to_have_count(1, timeout=20000)
            assert page.locator("#canvas svg").count() >= 1
            assert page.locator("#canvas .djs-element").count() > 40
            expect(page.locator('#canvas [data-element-id="register"]')).to_have_count(1)
            expect(page.locator('#canvas [data-element-id="lane_unit"]')).to_have_count(1)
            page.screenshot(path=str(ARTIFACTS / "designer-modeler.png"), full_page=True)

            # Selecting a user task shows its properties and its form, previewed with the task page's renderer.
            page.evaluate("window.petitionsDesigner.selectElement('register')")
            expect(page.get_by_test_id("prop-id")).to_have_text("register")
            expect(page.get_by_test_id("form-name")).to_have_text("register.json")
            expect(page.locator('[data-testid="form-preview"] [data-testid="field-register_decision"]')).to_have_count(1)

            # Add a user task after `handle`, in the lead unit's lane, and give it a form.
            added = page.evaluate(ADD_TASK)
            assert added["lanes"] == ["unit"], added
            page.evaluate("window.petitionsDesigner.selectElement('check_handling')")
            page.get_by_test_id("prop-form").fill("check_handling.json")
            page.get_by_test_id("prop-form").press("Tab")
            expect(page.get_by_test_id("form-name")).to_have_text("check_handling.json")
            page.get_by_test_id("form-json").fill(json.dumps(CHECK_FORM, ensure_ascii=False, indent=2))
            expect(page.locator('[data-testid="form-preview"] [data-testid="field-check_note"]')).to_have_count(1)
            page.get_by_test_id("save").click()
            expect(page.get_by_test_id("status")).to_have_text("Đã lưu bản nháp.")
            page.get_by_test_id("validate").click()
            expect(page.locator("#problems-panel")).to_be_visible()
            page.wait_for_function("document.getElementById('problems-summary').textContent !== ''")
            assert page.locator('[data-testid="problem"]').all_inner_texts() == []
            expect(page.get_by_test_id("problems-summary")).to_have_text("Không có lỗi: mô hình có thể triển khai.")
            page.screenshot(path=str(ARTIFACTS / "designer-added-task.png"), full_page=True)
            page.get_by_test_id("deploy").click()
            expect(page.get_by_test_id("status")).to_contain_text("phiên bản 2")

            # A broken edit is reported with the element; clicking the problem selects it in the diagram.
            page.evaluate("window.petitionsDesigner.setProperty('check_handling', 'formJsonSchemaFilename', "
                          "'missing.json')")
            page.get_by_test_id("validate").click()
            problem = page.locator('[data-testid="problem"][data-element="check_handling"]')
            expect(problem).to_have_count(1)
            page.evaluate("window.petitionsDesigner.selectElement('register')")
            problem.locator("button").click()
            expect(page.get_by_test_id("prop-id")).to_have_text("check_handling")
            page.screenshot(path=str(ARTIFACTS / "designer-problem.png"), full_page=True)

            # The diff page shows both diagrams with the new task marked.
            page.goto(f"{live_server}/designer/")
            page.locator('[data-testid="version-row"][data-version="2"]').get_by_test_id("diff-version").click()
            expect(page.locator('#canvas-new[data-ready="yes"]')).to_have_count(1, timeout=20000)
            expect(page.locator('#canvas-new [data-element-id="check_handling"].diff-added')).to_have_count(1)
            expect(page.locator('[data-testid="diff-item"][data-element="check_handling"]')).to_have_count(1)
            page.screenshot(path=str(ARTIFACTS / "designer-diff.png"), full_page=True)
        finally:
            browser.close()
    assert [e for e in csp_errors if "Content Security Policy" in e] == []
    assert not [e for e in csp_errors if "Failed to load resource" not in e], csp_errors

    # Saving through bpmn-js kept what SpiffWorkflow reads: extension elements, attributes, data references.
    with app.extensions["petitions.sessions"]() as session:
        saved = session.scalar(select(ProcessDraft)).bpmn
    original = (ROOT / "bpmn" / "petition.bpmn").read_text(encoding="utf-8")
    for marker in set(re.findall(r"<spiffworkflow:\w+|spiffworkflow:\w+=\"\w+\"", original)) | {
            "<bpmn:loopDataInputRef>coordinating_agencies</bpmn:loopDataInputRef>",
            "<bpmn:loopDataOutputRef>coordination_replies</bpmn:loopDataOutputRef>"}:
        assert marker in saved, marker
    assert len(re.findall(r"<spiffworkflow:property ", saved)) >= len(re.findall(r"<spiffworkflow:property ", original))

    # A new petition starts on version 2 and passes through the new task; the older one finishes on version 1.
    newer = petition_factory("Kiến nghị sau khi đổi quy trình")
    with app.extensions["petitions.sessions"]() as session:
        versions = dict(session.execute(select(ProcessInstance.business_key, ProcessDefinition.version)
                                        .join(ProcessDefinition)).all())
    assert (versions[older], versions[newer]) == (1, 2)
    _complete(app, newer, "handle", {"handling_notes": "Đã làm việc với doanh nghiệp."})
    assert _open(app, newer) == ["check_handling"]
    _complete(app, newer, "check_handling", {"check_note": "Đạt yêu cầu."})
    assert _open(app, newer) == ["draft_answer"]
    _complete(app, older, "handle", {"handling_notes": "Đã làm việc với doanh nghiệp."})
    assert _open(app, older) == ["draft_answer"]
    for step, data in (("draft_answer", DRAFT), ("approve", APPROVE), ("send_answer", SEND),
                       ("confirm", {"rating": "hai_long"})):
        _complete(app, older, step, data)
    with app.extensions["petitions.sessions"]() as session:
        instance = session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == older))
        assert (str(instance.status), instance.end_event) == ("completed", "end_closed")
