"""Designer pages: access, upload limits and hostile files, validate / deploy / deactivate, diff, migration."""
from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from lxml import etree
from sqlalchemy import func, select

from engine import definitions
from engine.bpmn_xml import MAX_BPMN_BYTES
from engine.migration import ASPECT_LABELS, KIND_LABELS, MIGRATION_MESSAGES
from engine.models import AuditEvent, ProcessDefinition, ProcessDraft, ProcessInstance
from engine.validation import MESSAGES
from tests import bpmn_edit
from webapp.bpmn_cli import CLI_MESSAGES
from webapp.views.designer import MESSAGES as VIEW_MESSAGES
from workflows.wiring import PROCESS_ID

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "bpmn"
DESIGNER_TEMPLATES = sorted((ROOT / "webapp" / "templates" / "designer").glob("*.html"))


@pytest.fixture
def designer(make_user: Callable[..., Any], login_as: Callable[[str], Any]) -> Any:
    """A client logged in as a process designer."""
    make_user("thiet_ke", "designer")
    return login_as("thiet_ke")


def count(app: Flask, model: Any, *where: Any) -> int:
    with app.extensions["petitions.sessions"]() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def upload(client: Any, data: bytes, name: str = "model.bpmn", forms: dict[str, bytes] | None = None) -> Any:
    payload: dict[str, Any] = {"file": (io.BytesIO(data), name)}
    if forms:
        payload["forms"] = [(io.BytesIO(body), form) for form, body in forms.items()]
    return client.post("/designer/upload", data=payload, content_type="multipart/form-data")


def open_version(app: Flask, client: Any, version: int = 1) -> int:
    """Open a deployed version of the petition process as a draft; return the draft id."""
    with app.extensions["petitions.sessions"]() as session:
        definition_id = session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.version == version))
    response = client.post(f"/designer/versions/{definition_id}/edit")
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def edited_xml(edit: Callable[..., None]) -> tuple[str, dict[str, Any]]:
    files, forms = bpmn_edit.edited(edit)
    return files["petition.bpmn"].decode("utf-8"), forms


# ---- access -----------------------------------------------------------------------------------------


def test_only_designers_reach_the_designer_pages(app: Flask, make_user: Callable[..., Any],
                                                 login_as: Callable[[str], Any], designer: Any) -> None:
    make_user("tiepnhan", "intake")
    make_user("quantri", "admin")
    draft_id = open_version(app, designer)
    for username in ("tiepnhan", "quantri"):
        other = login_as(username)
        assert other.get("/designer/").status_code == 403
        assert other.post(f"/designer/drafts/{draft_id}/deploy", json={}).status_code == 403
        assert other.post(f"/designer/drafts/{draft_id}/save", json={"bpmn": "x"}).status_code == 403
        assert other.post("/designer/versions/1/deactivate").status_code == 403
        assert other.post("/designer/versions/1/migrate", data={"all": "1"}).status_code == 403
        assert upload(other, (FIXTURES / "bpmnio_plain.bpmn").read_bytes()).status_code == 403
    anonymous = app.test_client().get("/designer/")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert count(app, ProcessDefinition) == 1
    page = designer.get("/designer/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-testid="nav-designer"' in text and 'data-testid="version-row" data-version="1"' in text


# ---- uploads ----------------------------------------------------------------------------------------


def test_upload_over_two_megabytes_is_refused_with_a_clear_message(app: Flask, designer: Any) -> None:
    big = b'<?xml version="1.0"?>\n<!--' + b"x" * MAX_BPMN_BYTES + b"-->"
    response = upload(designer, big)
    assert response.status_code == 400
    assert "Tệp quá lớn" in response.get_data(as_text=True)
    huge = upload(designer, big + b"y" * (2 * 1024 * 1024))
    assert huge.status_code == 413
    assert count(app, ProcessDraft) == 0


@pytest.mark.parametrize(("fixture", "expected"), [
    ("xxe.bpmn", "không được chứa khai báo DOCTYPE"),
    ("malformed.bpmn", "Tệp không phải XML hợp lệ"),
])
def test_hostile_or_malformed_upload_gives_a_clear_message_and_stores_nothing(
        app: Flask, designer: Any, fixture: str, expected: str) -> None:
    response = upload(designer, (FIXTURES / fixture).read_bytes(), fixture)
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert expected in text and 'data-testid="upload-problem"' in text
    assert "root:" not in text  # /etc/passwd never reaches the page
    assert count(app, ProcessDraft) == 0


def test_uploading_a_camunda_model_lists_what_must_change(app: Flask, designer: Any) -> None:
    response = upload(designer, (FIXTURES / "camunda7.bpmn").read_bytes(), "camunda7.bpmn")
    assert response.status_code == 302 and response.headers["Location"].endswith("validate=1")
    draft_id = int(re.search(r"/drafts/(\d+)", response.headers["Location"]).group(1))
    result = designer.post(f"/designer/drafts/{draft_id}/validate").get_json()
    assert result["ok"] is False and result["process_id"] == "Process_Petition"
    by_element = {(p["element_id"], p["message"].split(" ")[0]) for p in result["problems"]}
    assert ("Task_Register", "Làn") in by_element  # lane 'Reception' is not a role
    messages = " ".join(p["message"] for p in result["problems"])
    assert "camunda:formKey" in messages and "JUEL/FEEL" in messages and "accepted and priority == 'high'" in messages
    assert all(p["line"] for p in result["problems"])
    english = designer.post("/lang", data={"lang": "en"})
    assert english.status_code in (302, 303)
    result = designer.post(f"/designer/drafts/{draft_id}/validate").get_json()
    assert any("does not map to a role" in p["message"] for p in result["problems"])


def test_upload_of_a_plain_bpmn_io_model_with_forms_becomes_a_draft(app: Flask, designer: Any) -> None:
    response = upload(designer, (FIXTURES / "bpmnio_plain.bpmn").read_bytes(), "plain.bpmn",
                      {"check.json": b'{"type": "object", "properties": {}}'})
    assert response.status_code == 302
    with app.extensions["petitions.sessions"]() as session:
        draft = session.scalar(select(ProcessDraft))
        assert (draft.filename, draft.process_id, sorted(draft.forms)) == ("plain.bpmn", None, ["check.json"])
    page = designer.get(response.headers["Location"])
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "'unsafe-eval'" not in csp


# ---- validate, deploy, deactivate -------------------------------------------------------------------


def test_validate_deploy_deactivate_and_activate(app: Flask, designer: Any) -> None:
    draft_id = open_version(app, designer)
    data = designer.get(f"/designer/drafts/{draft_id}/data").get_json()
    assert data["process_id"] == PROCESS_ID and "register.json" in data["forms"]
    # An unchanged draft validates and "deploys" as the existing version.
    assert designer.post(f"/designer/drafts/{draft_id}/validate").get_json() == {
        "ok": True, "process_id": PROCESS_ID, "problems": []}
    same = designer.post(f"/designer/drafts/{draft_id}/deploy", json={}).get_json()
    assert (same["ok"], same["created"], same["version"]) == (True, False, 1)
    # A broken draft: problems with element id, name and line; nothing deployed.
    broken = data["bpmn"].replace('name="intake"', 'name="Reception"', 1)
    result = designer.post(f"/designer/drafts/{draft_id}/validate", json={"bpmn": broken, "forms": data["forms"]})
    problems = result.get_json()["problems"]
    register = next(p for p in problems if p["element_id"] == "register")
    assert register["element_name"] == "Tiếp nhận, vào sổ" and register["line"] > 1
    assert "Reception" in register["message"]
    refused = designer.post(f"/designer/drafts/{draft_id}/deploy", json={"bpmn": broken, "forms": data["forms"]})
    assert refused.status_code == 400 and refused.get_json()["problems"]
    assert count(app, ProcessDefinition) == 1
    # A valid change deploys as version 2, audited with the designer's name.
    xml, forms = edited_xml(bpmn_edit.insert_task_after_register)
    deployed = designer.post(f"/designer/drafts/{draft_id}/deploy", json={"bpmn": xml, "forms": forms})
    assert deployed.status_code == 200, deployed.get_json()
    assert deployed.get_json()["version"] == 2
    with app.extensions["petitions.sessions"]() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "DEFINITION_DEPLOYED")
                               .order_by(AuditEvent.chain_index.desc()).limit(1))
        assert (event.actor, event.role, event.data["version"]) == ("thiet_ke", "designer", 2)
        v2 = definitions.latest_active(session, PROCESS_ID)
        assert v2.version == 2
    # Deactivating version 2: new instances take version 1 again; the last active version stays active.
    assert designer.post(f"/designer/versions/{v2.id}/deactivate").status_code == 302
    with app.extensions["petitions.sessions"]() as session:
        assert definitions.latest_active(session, PROCESS_ID).version == 1
        v1_id = definitions.latest_active(session, PROCESS_ID).id
    last = designer.post(f"/designer/versions/{v1_id}/deactivate")
    assert last.status_code == 409
    assert designer.post(f"/designer/versions/{v2.id}/activate").status_code == 302
    with app.extensions["petitions.sessions"]() as session:
        assert definitions.latest_active(session, PROCESS_ID).version == 2
        actions = [e.action for e in session.scalars(select(AuditEvent).where(
            AuditEvent.action.in_(("DEFINITION_DEACTIVATED", "DEFINITION_ACTIVATED"))).order_by(AuditEvent.chain_index))]
        assert actions == ["DEFINITION_DEACTIVATED", "DEFINITION_ACTIVATED"]
    listing = designer.get("/designer/").get_data(as_text=True)
    assert 'data-version="2"' in listing and 'data-active="yes"' in listing


def test_save_rejects_an_oversized_draft_and_bad_forms(app: Flask, designer: Any) -> None:
    draft_id = open_version(app, designer)
    too_big = designer.post(f"/designer/drafts/{draft_id}/save", json={"bpmn": "x" * (MAX_BPMN_BYTES + 1)})
    assert too_big.status_code == 400 and "Tệp quá lớn" in too_big.get_json()["problems"][0]["message"]
    bad_forms = designer.post(f"/designer/drafts/{draft_id}/save", json={"forms": {"../x.json": {}}})
    assert bad_forms.status_code == 400 and bad_forms.get_json()["error"]
    assert designer.post(f"/designer/drafts/{draft_id}/save", data="not json",
                         content_type="application/json").status_code == 400


def test_form_preview_renders_with_the_task_page_renderer(app: Flask, designer: Any) -> None:
    schema = {"type": "object", "required": ["answer"], "properties": {
        "answer": {"type": "string", "title": "Nội dung trả lời", "x-widget": "textarea"},
        "urgent": {"type": "boolean", "title": "Khẩn"}}}
    html = designer.post("/designer/preview", json={"schema": schema}).get_data(as_text=True)
    assert 'data-testid="field-answer"' in html and "<textarea" in html and "Nội dung trả lời" in html
    assert 'data-testid="field-urgent"' in html
    invalid = designer.post("/designer/preview", json={"schema": {"type": "nope"}}).get_data(as_text=True)
    assert 'data-testid="preview-errors"' in invalid


# ---- diff and migration -----------------------------------------------------------------------------


def test_diff_page_describes_the_changes_and_marks_them(app: Flask, designer: Any) -> None:
    draft_id = open_version(app, designer)
    xml, forms = edited_xml(lambda root, f: (bpmn_edit.remove_supply_info(root, f),
                                             bpmn_edit.insert_task_after_register(root, f)))
    assert designer.post(f"/designer/drafts/{draft_id}/deploy", json={"bpmn": xml, "forms": forms}).status_code == 200
    with app.extensions["petitions.sessions"]() as session:
        v1, v2 = session.scalars(select(ProcessDefinition.id).order_by(ProcessDefinition.version)).all()
    page = designer.get(f"/designer/diff?old={v1}&new={v2}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    items = dict(re.findall(r'data-change="(\w+)" data-element="([^"]+)"', text)[::-1])
    assert {"added", "removed", "changed"} <= set(items)
    assert 'data-element="verify_documents"' in text and 'data-element="supply_info"' in text
    assert "công việc người dùng" in text  # kinds in words, in Vietnamese
    assert "&#34;verify_documents&#34;" in text  # highlight ids for diff.js (JSON in a data attribute)
    assert designer.get(f"/designer/versions/{v2}/bpmn").get_data(as_text=True).startswith("<?xml")


def test_migration_dry_run_and_migrate_pages(app: Flask, designer: Any, users: dict[str, Any],
                                             submit_petition: Callable[..., str],
                                             complete_step: Callable[..., None]) -> None:
    movable = submit_petition(title="Đề nghị cấp điện", content="Nhà máy cần đấu nối điện trung thế cho xưởng mới.")
    blocked = submit_petition("dn_b", title="Đề nghị cấp nước", content="Khu công nghiệp thiếu nước sạch vào mùa khô.")
    complete_step(blocked, "register", users["intake"], {"register_decision": "request_info",
                                                         "info_request": "Bổ sung giấy phép"})
    draft_id = open_version(app, designer)
    xml, forms = edited_xml(bpmn_edit.remove_supply_info)
    target = designer.post(f"/designer/drafts/{draft_id}/deploy", json={"bpmn": xml, "forms": forms}).get_json()
    report = designer.get(f"/designer/versions/{target['definition_id']}/migrate")
    text = report.get_data(as_text=True)
    assert report.status_code == 200
    assert f'data-key="{movable}" data-migratable="yes"' in text
    assert f'data-key="{blocked}" data-migratable="no"' in text and "supply_info" in text
    done = designer.post(f"/designer/versions/{target['definition_id']}/migrate", data={"all": "1"})
    result = done.get_data(as_text=True)
    assert done.status_code == 200
    assert f'data-key="{movable}" data-migratable="yes" data-migrated="yes"' in result
    with app.extensions["petitions.sessions"]() as session:
        versions = dict(session.execute(select(ProcessInstance.business_key, ProcessDefinition.version)
                                        .join(ProcessDefinition)).all())
        assert (versions[movable], versions[blocked]) == (2, 1)
        migrated = session.scalar(select(AuditEvent).where(AuditEvent.action == "INSTANCE_MIGRATED"))
        assert (migrated.business_key, migrated.actor) == (movable, "thiet_ke")
    empty = designer.post(f"/designer/versions/{target['definition_id']}/migrate", data={})
    assert empty.status_code == 302


# ---- static checks ----------------------------------------------------------------------------------


def test_designer_templates_load_code_from_static_files_only() -> None:
    assert DESIGNER_TEMPLATES
    for path in DESIGNER_TEMPLATES:
        text = path.read_text(encoding="utf-8")
        assert "|safe" not in text.replace(" ", ""), path.name
        for tag in re.findall(r"<script[^>]*>(.*?)</script>", text, re.S):
            assert tag.strip() == "", path.name
        assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", text)), path.name
        assert "<style" not in text and not re.search(r"\sstyle=", text), path.name
        assert not re.search(r"\son[a-z]+=", text), path.name


def test_designer_messages_are_in_the_vietnamese_catalog() -> None:
    with (ROOT / "webapp" / "translations" / "vi" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="vi")
    wanted = [*MESSAGES, *MIGRATION_MESSAGES, *KIND_LABELS, *ASPECT_LABELS.values(), *CLI_MESSAGES, *VIEW_MESSAGES]
    missing = [m for m in wanted if catalog.get(m) is None or not catalog.get(m).string]
    assert missing == []
    placeholders = re.compile(r"%\(\w+\)s")
    for message in wanted:
        assert sorted(placeholders.findall(catalog.get(message).string)) == sorted(placeholders.findall(message))


def test_every_fixture_is_refused_with_a_reason_and_no_fixture_gives_a_server_error(app: Flask, designer: Any) -> None:
    for path in sorted(FIXTURES.glob("*.bpmn")):
        response = upload(designer, path.read_bytes(), path.name)
        assert response.status_code in (302, 400), (path.name, response.status_code)
        if response.status_code == 302:
            draft_id = int(re.search(r"/drafts/(\d+)", response.headers["Location"]).group(1))
            result = designer.post(f"/designer/drafts/{draft_id}/validate").get_json()
            assert result["ok"] is False and result["problems"], path.name
    etree.fromstring((FIXTURES / "camunda7.bpmn").read_bytes())  # the fixtures themselves are well-formed XML


def test_every_broken_or_hostile_case_gives_its_reason_through_the_page(app: Flask, designer: Any) -> None:
    from tests.bpmn_cases import CASES, forms_json

    assert designer.post("/lang", data={"lang": "en"}).status_code == 302
    for case in CASES:
        response = upload(designer, case.data, f"{case.name}.bpmn", forms_json(case))
        assert response.status_code in (302, 400, 413), (case.name, response.status_code)
        if response.status_code != 302:
            assert case.fragment in response.get_data(as_text=True), case.name
            continue
        draft_id = int(re.search(r"/drafts/(\d+)", response.headers["Location"]).group(1))
        result = designer.post(f"/designer/drafts/{draft_id}/validate").get_json()
        assert not result["ok"], case.name
        matching = [p for p in result["problems"] if case.fragment in p["message"]]
        assert matching, (case.name, result["problems"])
        if case.element:
            assert case.element in {p["element_id"] for p in matching}, case.name
        refused = designer.post(f"/designer/drafts/{draft_id}/deploy", json={})
        assert refused.status_code == 400, case.name
    assert count(app, ProcessDefinition) == 1


def test_models_from_other_modelers_are_deployed_or_refused_precisely_through_the_page(
        app: Flask, designer: Any) -> None:
    from engine.validation import render
    from tests.bpmn_cases import FOREIGN, FORM

    assert designer.post("/lang", data={"lang": "en"}).status_code == 302
    deployed = 0
    for name, data, msgid in FOREIGN:
        response = upload(designer, data, f"{name}.bpmn", {"note.json": json.dumps(FORM).encode()})
        assert response.status_code == 302, name
        draft_id = int(re.search(r"/drafts/(\d+)", response.headers["Location"]).group(1))
        result = designer.post(f"/designer/drafts/{draft_id}/deploy", json={})
        body = result.get_json()
        if msgid:
            assert result.status_code == 400, name
            fragment = max(re.split(r"%\(\w+\)s", msgid), key=len).strip()
            assert any(fragment in p["message"] for p in body["problems"]), (name, body)
        else:
            assert result.status_code == 200 and body["created"], (name, body)
            deployed += 1
    assert count(app, ProcessDefinition) == 1 + deployed
    assert render  # the page and the engine share one renderer
