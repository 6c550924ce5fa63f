"""The enterprise portal's pages: accounts, files, IDOR, duplicates, conferences, restricted items, publication."""
from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select

from tests.conftest import TEST_PASSWORD
from tests.integration.test_portal import EXE, PDF, sample_rows, xlsx
from tests.webapp.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, CODE
from workflows.models import Attachment, Petition

MB = 1024 * 1024


@pytest.fixture(autouse=True)
def attachment_dir(app: Flask, tmp_path: Path) -> Path:
    """Store attachments in the test's own folder."""
    folder = tmp_path / "attachments"
    app.config["PETITIONS_ATTACHMENTS_DIR"] = str(folder)
    return folder


def _submit(client: Any, title: str = "Đề nghị cấp điện ổn định", files: list[tuple[bytes, str]] | None = None,
            key: str | None = None, **fields: str) -> Any:
    data: dict[str, Any] = {"title": title, "content": "Nhà xưởng mất điện nhiều lần trong tháng.", "zone": "TL",
                            "submission_key": key or f"k-{title[:30]}-{len(files or [])}"[:60]} | fields
    if files:
        data["attachments"] = [(io.BytesIO(content), name) for content, name in files]
    return client.post("/petitions/new", data=data, content_type="multipart/form-data")


def _code(response: Any) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return CODE.search(response.headers["Location"]).group(0)


def _attachment(app: Flask, code: str) -> Attachment:
    with app.extensions["petitions.sessions"]() as session:
        return session.scalars(select(Attachment).join(Petition, Petition.id == Attachment.petition_id)
                               .where(Petition.tracking_code == code)).first()


# ---- accounts ---------------------------------------------------------------------------------------------


def test_enterprise_registers_and_activates_by_the_email_link(app: Flask, client: Any) -> None:
    from engine.models import OutboxMessage

    assert 'data-testid="register-form"' in client.get("/register").get_data(as_text=True)
    response = client.post("/register", data={
        "tax_code": "0398765432", "enterprise_name": "Công ty TNHH Epsilon", "zone": "NB", "contact_name": "Vũ E",
        "email": "e@epsilon.example.vn", "username": "epsilon", "password": TEST_PASSWORD})
    assert response.status_code == 200 and "e@epsilon.example.vn" in response.get_data(as_text=True)
    assert client.post("/login", data={"username": "epsilon", "password": TEST_PASSWORD}).status_code == 401
    with app.extensions["petitions.sessions"]() as session:
        body = session.scalar(select(OutboxMessage.body_text).where(OutboxMessage.recipient == "e@epsilon.example.vn"))
    link = re.search(r"http://localhost(/register/verify/\S+)", body).group(1)
    assert 'data-testid="verify-confirm"' in client.get(link).get_data(as_text=True)  # GET changes nothing
    assert client.post("/login", data={"username": "epsilon", "password": TEST_PASSWORD}).status_code == 401
    assert 'data-testid="verify-ok"' in client.post(link).get_data(as_text=True)
    assert client.post("/login", data={"username": "epsilon", "password": TEST_PASSWORD}).status_code == 302
    assert client.get("/register/verify/forged").status_code == 400


def test_registration_errors_are_shown_in_vietnamese(client: Any) -> None:
    response = client.post("/register", data={"tax_code": "12", "zone": "TL", "password": "short"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Mã số doanh nghiệp gồm 10 chữ số" in html and 'data-testid="error-email"' in html
    assert 'value="short"' not in html  # a password is never sent back


def test_enterprise_user_invites_a_colleague(app: Flask, users: dict[str, Any], login_as: Callable) -> None:
    from engine.models import OutboxMessage

    client = login_as("dn_a")
    assert client.post("/enterprise/invite", data={"full_name": "Đồng Nghiệp", "email": "dn@alpha.example.vn"}
                       ).status_code == 302
    with app.extensions["petitions.sessions"]() as session:
        body = session.scalar(select(OutboxMessage.body_text).where(OutboxMessage.recipient == "dn@alpha.example.vn"))
    link = re.search(r"http://localhost(/invite/\S+)", body).group(1)
    visitor = app.test_client()
    assert "Công ty TNHH Alpha" in visitor.get(link).get_data(as_text=True)
    assert visitor.post(link, data={"username": "dn_a2", "password": TEST_PASSWORD}).status_code == 302
    colleague = login_as("dn_a2")
    assert "dn_a2" in colleague.get("/enterprise").get_data(as_text=True)
    assert login_as("tiepnhan").get("/enterprise").status_code == 403


# ---- submission with files, receipt, IDOR -----------------------------------------------------------------


def test_submission_with_a_file_gives_a_printable_receipt(app: Flask, users: dict[str, Any], login_as: Callable,
                                                          attachment_dir: Path) -> None:
    client = login_as("dn_a")
    assert 'enctype="multipart/form-data"' in client.get("/petitions/new").get_data(as_text=True)
    code = _code(_submit(client, files=[(PDF, "../../etc/passwd.pdf")], category_hint="DIEN"))
    html = client.get(f"/petitions/{code}/receipt").get_data(as_text=True)
    assert 'data-testid="expected-answer-date"' in html and "Ngày hẹn trả lời" in html
    assert "passwd.pdf" in html and "Công ty TNHH Alpha" in html and "Giấy tiếp nhận và hẹn trả kết quả" in html
    row = _attachment(app, code)
    assert row.original_name == "passwd.pdf" and re.fullmatch(r"[0-9a-f]{32}", row.key)
    stored = attachment_dir / row.key[:2] / row.key
    assert stored.read_bytes() == PDF
    assert [p for p in attachment_dir.rglob("*") if p.is_file()] == [stored]


def test_download_is_an_attachment_with_nosniff(app: Flask, users: dict[str, Any], login_as: Callable) -> None:
    client = login_as("dn_a")
    code = _code(_submit(client, files=[(PDF, "Công văn số 1.pdf")]))
    key = _attachment(app, code).key
    assert f"/petitions/{code}/attachments/{key}" in client.get(f"/petitions/{code}").get_data(as_text=True)
    response = client.get(f"/petitions/{code}/attachments/{key}")
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''C%C3%B4ng" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.mimetype == "application/pdf"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert login_as("tiepnhan").get(f"/petitions/{code}/attachments/{key}").status_code == 200


def test_enterprise_b_gets_404_on_every_route_of_a_petition_of_enterprise_a(
    app: Flask, users: dict[str, Any], login_as: Callable
) -> None:
    a = login_as("dn_a")
    code = _code(_submit(a, files=[(PDF, "a.pdf")]))
    key = _attachment(app, code).key
    own = _code(_submit(login_as("dn_b"), title="Kiến nghị của B", key="b-own-key-1"))
    b = login_as("dn_b")
    for url in (f"/petitions/{code}", f"/petitions/{code}/receipt", f"/petitions/{code}/attachments/{key}",
                f"/petitions/{own}/attachments/{key}", "/petitions/KN.20990101.9999/receipt"):
        assert b.get(url).status_code == 404, url
    for url, data in ((f"/petitions/{code}/supply-info", {"supplied_info": "x"}),
                      (f"/petitions/{code}/rate", {"rating": "hai_long"})):
        assert b.post(url, data=data).status_code == 404, url
    assert b.get(f"/petitions/{code}/publish").status_code == 403
    assert b.post(f"/petitions/{code}/attachments", data={"kind": "scan"}).status_code == 403
    assert code not in b.get("/petitions").get_data(as_text=True)
    token = b.post("/api/v1/auth/token", json={"username": "dn_b", "password": TEST_PASSWORD}).get_json()["token"]
    body = b.get(f"/api/v1/petitions/{code}", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert "content" not in body and "history" not in body
    assert a.get(f"/petitions/{code}/attachments/{key}").status_code == 200


def test_oversized_requests_and_files_get_413(users: dict[str, Any], login_as: Callable) -> None:
    client = login_as("dn_a")
    too_big_request = _submit(client, files=[(b"%PDF-" + b"0" * (21 * MB), "lon.pdf")], key="big-request")
    assert too_big_request.status_code == 413
    too_big_file = _submit(client, files=[(b"%PDF-" + b"0" * (11 * MB), "lon.pdf")], key="big-file")
    html = too_big_file.get_data(as_text=True)
    assert too_big_file.status_code == 413 and "Mỗi tệp không được lớn hơn 10 MB." in html and "lon.pdf" in html


def test_a_renamed_executable_is_refused_and_nothing_is_stored(
    app: Flask, users: dict[str, Any], login_as: Callable, attachment_dir: Path
) -> None:
    response = _submit(login_as("dn_a"), files=[(PDF, "ok.pdf"), (EXE, "hoa-don.pdf")], key="exe-key-1")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "hoa-don.pdf" in html and "Nội dung tệp không khớp với định dạng của tệp." in html
    assert not attachment_dir.exists() or not any(attachment_dir.rglob("*"))
    with app.extensions["petitions.sessions"]() as session:
        assert session.scalar(select(Petition.id)) is None


def test_similar_petition_warning_then_confirmation(users: dict[str, Any], login_as: Callable) -> None:
    client = login_as("dn_a")
    _code(_submit(client, title="Đề nghị sửa đường nội bộ trước cổng nhà máy", key="dup-key-1"))
    warned = _submit(client, title="Đề nghị sửa đường nội bộ trước cổng nhà máy.", key="dup-key-2")
    html = warned.get_data(as_text=True)
    assert warned.status_code == 409 and 'data-testid="duplicate-warning"' in html
    assert 'name="confirm_duplicate"' in html
    _code(_submit(client, title="Đề nghị sửa đường nội bộ trước cổng nhà máy.", key="dup-key-2", confirm_duplicate="1"))
    other = _submit(login_as("dn_b"), title="Đề nghị sửa đường nội bộ trước cổng nhà máy", key="dup-key-3")
    assert other.status_code == 302  # another enterprise: no warning


def test_intake_officer_records_a_letter_with_its_scan(app: Flask, users: dict[str, Any], login_as: Callable) -> None:
    client = login_as("tiepnhan")
    missing = _submit(client, tax_code="0109999999", enterprise_name="Công ty Gamma", channel="VAN_BAN",
                      key="letter-0")
    assert missing.status_code == 400 and "Văn bản giấy cần có số văn bản đến." in missing.get_data(as_text=True)
    code = _code(_submit(client, files=[(PDF, "cong-van-45.pdf")], tax_code="0109999999",
                         enterprise_name="Công ty Gamma", channel="VAN_BAN", incoming_doc_no="45/2025/CV-G",
                         incoming_doc_date="2025-12-22", contact_name="Ông G", key="letter-1"))
    html = client.get(f"/petitions/{code}/receipt").get_data(as_text=True)
    assert "45/2025/CV-G" in html and "22/12/2025" in html and "cong-van-45.pdf" in html
    assert _attachment(app, code).kind == "scan"
    page = client.get(f"/petitions/{code}").get_data(as_text=True)
    assert 'data-testid="petition-source"' in page and "Ông G" in page
    response = client.post(f"/petitions/{code}/attachments", data={
        "kind": "answer", "attachments": [(io.BytesIO(PDF), "tra-loi.pdf")]}, content_type="multipart/form-data")
    assert response.status_code == 302
    assert 'data-kind="answer"' in client.get(f"/petitions/{code}").get_data(as_text=True)


# ---- the enterprise's steps ----------------------------------------------------------------------------------


def _answer(code: str, users: dict[str, Any], complete_step: Callable, text: str = "Đã khắc phục.") -> None:
    complete_step(code, "draft_answer", users["qldt"], {"answer_text": text, "result_type": "DA_GIAI_QUYET"})
    complete_step(code, "approve", users["leader"], {"decision": "approve"})
    complete_step(code, "send_answer", users["intake"], {"answer_document_no": "7/BQL-QLDT",
                                                         "answer_date": "2026-01-20"})


def test_enterprise_supplies_information_and_rates_in_the_portal(
    users: dict[str, Any], login_as: Callable, complete_step: Callable, open_tasks: Callable
) -> None:
    client = login_as("dn_a")
    code = _code(_submit(client))
    complete_step(code, "register", users["intake"], {"register_decision": "request_info",
                                                      "info_request": "Đề nghị gửi sơ đồ đấu nối."})
    page = client.get(f"/petitions/{code}").get_data(as_text=True)
    assert "Đề nghị gửi sơ đồ đấu nối." in page and 'data-testid="supply-info-form"' in page
    assert "Thời hạn xử lý tạm dừng" in page
    response = client.post(f"/petitions/{code}/supply-info", data={
        "supplied_info": "Gửi kèm sơ đồ.", "attachments": [(io.BytesIO(PDF), "so-do.pdf")]},
        content_type="multipart/form-data")
    assert response.status_code == 302
    assert [t.bpmn_id for t in open_tasks(code)] == ["register"]
    complete_step(code, "register", users["intake"], {"register_decision": "accept"})
    complete_step(code, "classify", users["intake"], {"petition_type": "KN", "category": "DTU", "priority": "THUONG",
                                                      "triage_outcome": "THUOC_THAM_QUYEN", "within_authority": True})
    complete_step(code, "assign", users["leader"], {"lead_unit": "QLDT", "coordinating_agencies": [],
                                                    "working_days": 10})
    complete_step(code, "handle", users["qldt"], {"handling_notes": "Đã xem xét."})
    _answer(code, users, complete_step)
    page = client.get(f"/petitions/{code}").get_data(as_text=True)
    assert 'data-testid="rating-form"' in page and "mở lại một lần" in page
    assert client.post(f"/petitions/{code}/rate", data={"rating": "khong_hai_long"}).status_code == 303
    client.post(f"/petitions/{code}/rate", data={"rating": "khong_hai_long", "comment": "Chưa rõ lộ trình."})
    assert "Mở lại" in client.get(f"/petitions/{code}").get_data(as_text=True)
    _answer(code, users, complete_step, "Lộ trình: quý I/2026.")
    page = client.get(f"/petitions/{code}").get_data(as_text=True)
    assert "đã được mở lại một lần" in page
    client.post(f"/petitions/{code}/rate", data={"rating": "hai_long"})
    page = client.get(f"/petitions/{code}").get_data(as_text=True)
    assert "Đã đóng" in page and 'data-testid="rating-form"' not in page


# ---- conferences ------------------------------------------------------------------------------------------


def _new_conference(client: Any, code: str = "HOINGHI-20251218") -> None:
    response = client.post("/conferences/new", data={"code": code, "title": "Hội nghị đối thoại",
                                                     "held_on": "2025-12-18", "zones": ["HHTP", "TL", "QM"],
                                                     "chair_position": "Trưởng ban"})
    assert response.status_code == 302, response.get_data(as_text=True)


def test_conference_import_reports_each_bad_row_and_registers_after_confirmation(
    app: Flask, users: dict[str, Any], login_as: Callable
) -> None:
    client = login_as("tiepnhan")
    _new_conference(client)
    rows = sample_rows()
    rows[2][0], rows[5][2], rows[10][4] = "01990003", "??", ""
    response = client.post("/conferences/HOINGHI-20251218/import", data={
        "file": (io.BytesIO(xlsx(rows)), "hoi-nghi.xlsx")}, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.findall(r'data-testid="import-error" data-line="(\d+)"', html) == ["4", "7", "12"]
    assert "Mã số doanh nghiệp phải có 10 hoặc 13 chữ số." in html and "Khu không có trong danh mục." in html
    assert "Đã đọc 12 dòng: 9 dòng hợp lệ, 3 dòng có lỗi." in html
    with app.extensions["petitions.sessions"]() as session:
        assert session.scalar(select(Petition.id)) is None  # nothing before confirmation
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    done = client.post("/conferences/HOINGHI-20251218/import/confirm", data={"token": token})
    html = done.get_data(as_text=True)
    assert 'data-testid="import-done"' in html and "Đã tiếp nhận 9 kiến nghị." in html
    assert re.findall(r'data-testid="import-error" data-line="(\d+)"', html) == ["4", "7", "12"]
    page = client.get("/conferences/HOINGHI-20251218").get_data(as_text=True)
    assert page.count('data-testid="petition-row"') == 9
    assert login_as("dn_a").post("/conferences/HOINGHI-20251218/import/confirm",
                                 data={"token": token}).status_code == 403
    assert client.post("/conferences/HOINGHI-20251218/import/confirm", data={"token": "forged"}).status_code == 404


def test_conference_grid_registers_nothing_while_a_row_is_wrong(users: dict[str, Any], login_as: Callable) -> None:
    client = login_as("tiepnhan")
    _new_conference(client, "HN-GRID-1")
    assert client.get("/conferences/HN-GRID-1/grid").get_data(as_text=True).count('data-testid="grid-row"') == 10
    data = {"rows": "3", "r1-tax_code": "0101234567", "r1-zone": "TL", "r1-title": "Đường nội bộ",
            "r1-content": "Ngập khi mưa.", "r2-tax_code": "0101", "r2-zone": "TL", "r2-title": "Sai",
            "r2-content": "x"}
    response = client.post("/conferences/HN-GRID-1/grid", data=data)
    assert response.status_code == 400
    assert re.findall(r'data-testid="grid-error" data-line="(\d+)"', response.get_data(as_text=True)) == ["2"]
    data["r2-tax_code"] = "0107654321"
    assert client.post("/conferences/HN-GRID-1/grid", data=data).status_code == 302
    page = client.get("/conferences/HN-GRID-1").get_data(as_text=True)
    assert page.count('data-testid="petition-row"') == 2 and "Công ty CP Beta" in page


def test_follow_up_report_page_and_xlsx(users: dict[str, Any], login_as: Callable, complete_step: Callable) -> None:
    client = login_as("tiepnhan")
    _new_conference(client)
    response = client.post("/conferences/HOINGHI-20251218/import", data={
        "file": (io.BytesIO(xlsx(sample_rows()[:2])), "h.xlsx")}, content_type="multipart/form-data")
    token = re.search(r'name="token" value="([^"]+)"', response.get_data(as_text=True)).group(1)
    client.post("/conferences/HOINGHI-20251218/import/confirm", data={"token": token})
    first = "KN.20251218.0001"
    complete_step(first, "register", users["intake"], {"register_decision": "accept"})
    complete_step(first, "classify", users["intake"], {"petition_type": "KN", "category": "TTHC",
                                                       "priority": "THUONG", "triage_outcome": "THUOC_THAM_QUYEN",
                                                       "within_authority": True})
    complete_step(first, "assign", users["leader"], {"lead_unit": "QLDT", "coordinating_agencies": [],
                                                     "working_days": 10})
    complete_step(first, "handle", users["qldt"], {"handling_notes": "Đã xem xét."})
    _answer(first, users, complete_step)
    html = login_as("lanhdao").get("/conferences/HOINGHI-20251218/report").get_data(as_text=True)
    assert html.count('data-testid="follow-up-row"') == 2 and "7/BQL-QLDT" in html
    assert re.search(r'data-total="answered">1<', html) and re.search(r'data-total="total">2<', html)
    download = client.get("/conferences/HOINGHI-20251218/report.xlsx")
    assert download.headers["Content-Disposition"].startswith("attachment;")
    values = list(load_workbook(io.BytesIO(download.data)).active.iter_rows(values_only=True))
    totals = {row[0]: row[1] for row in values if row and row[0] and row[1] is not None and len(str(row[0])) > 3}
    assert totals["Tổng số kiến nghị"] == 2 and totals["Đã trả lời"] == 1 and totals["Đang xử lý"] == 1
    assert login_as("dn_a").get("/conferences/HOINGHI-20251218/report").status_code == 403


# ---- denunciations and publication ------------------------------------------------------------------------


def test_denunciations_are_hidden_from_officers_without_the_inspector_role(
    users: dict[str, Any], login_as: Callable, complete_step: Callable, make_user: Callable
) -> None:
    make_user("thanhtra", "intake", "inspector")
    code = _code(_submit(login_as("dn_a"), title="Tố cáo hành vi nhũng nhiễu"))
    complete_step(code, "register", users["intake"], {"register_decision": "accept"})
    complete_step(code, "classify", users["intake"], {"petition_type": "TC", "category": "KHAC", "priority": "THUONG",
                                                      "triage_outcome": "THUOC_THAM_QUYEN", "within_authority": True})
    intake = login_as("tiepnhan")
    assert intake.get(f"/petitions/{code}").status_code == 404
    assert code not in intake.get("/petitions").get_data(as_text=True)
    assert code not in intake.get("/inbox").get_data(as_text=True)
    inspector = login_as("thanhtra")
    assert code in inspector.get("/inbox").get_data(as_text=True)
    assert inspector.get(f"/petitions/{code}").status_code == 200
    assert login_as("dn_a").get(f"/petitions/{code}").status_code == 200
    token = intake.post("/api/v1/auth/token", json={"username": "tiepnhan", "password": TEST_PASSWORD}).get_json()
    listed = intake.get("/api/v1/petitions", headers={"Authorization": f"Bearer {token['token']}"}).get_json()
    assert code not in [p["tracking_code"] for p in listed["petitions"]]
    detail = intake.get(f"/api/v1/petitions/{code}", headers={"Authorization": f"Bearer {token['token']}"}).get_json()
    assert "content" not in detail and detail["stage"] is None
    assert "Tố cáo" not in login_as("lanhdao").get("/petitions").get_data(as_text=True)


def test_publication_with_redaction_on_the_public_answers_page(
    app: Flask, users: dict[str, Any], login_as: Callable, complete_step: Callable, client: Any
) -> None:
    code = _code(_submit(login_as("dn_a"), title="Công ty TNHH Alpha đề nghị hướng dẫn ưu đãi đầu tư"))
    complete_step(code, "register", users["intake"], {"register_decision": "accept"})
    complete_step(code, "classify", users["intake"], {"petition_type": "KN", "category": "DTU", "priority": "THUONG",
                                                      "triage_outcome": "THUOC_THAM_QUYEN", "within_authority": True})
    intake = login_as("tiepnhan")
    assert intake.get(f"/petitions/{code}/publish").status_code == 409  # not answered yet
    complete_step(code, "assign", users["leader"], {"lead_unit": "QLDT", "coordinating_agencies": [],
                                                    "working_days": 10})
    complete_step(code, "handle", users["qldt"], {"handling_notes": "Đã xem xét."})
    _answer(code, users, complete_step, "Trả lời Công ty TNHH Alpha (MST 0101234567): dự án được hưởng ưu đãi.")
    form = intake.get(f"/petitions/{code}/publish").get_data(as_text=True)
    assert "Trả lời […] (MST […]): dự án được hưởng ưu đãi." in form and "0101234567" not in form
    assert login_as("dn_a").get(f"/petitions/{code}/publish").status_code == 403
    response = intake.post(f"/petitions/{code}/publish", data={
        "action": "publish", "title": "Hướng dẫn ưu đãi đầu tư", "question": "Doanh nghiệp hỏi về ưu đãi.",
        "answer_text": "Dự án được hưởng ưu đãi."})
    assert response.status_code == 302
    listing = client.get("/answers?q=uu+dai&category=DTU&zone=TL").get_data(as_text=True)
    assert "Hướng dẫn ưu đãi đầu tư" in listing and "Alpha" not in listing
    assert "Hướng dẫn ưu đãi đầu tư" not in client.get("/answers?zone=NB").get_data(as_text=True)
    answer_id = re.search(r'href="/answers/(\d+)"', listing).group(1)
    assert "Dự án được hưởng ưu đãi." in client.get(f"/answers/{answer_id}").get_data(as_text=True)
    assert intake.post(f"/petitions/{code}/unpublish").status_code == 302
    assert client.get(f"/answers/{answer_id}").status_code == 404


# ---- in a real browser ------------------------------------------------------------------------------------


@pytest.mark.browser
def test_enterprise_registers_submits_with_a_file_answers_and_rates_in_chromium(
    app: Flask, live_server: str, users: dict[str, Any], complete_step: Callable, tmp_path: Path
) -> None:
    """Acceptance 1: register, submit with a file, receipt, information request, dissatisfied, reopen, close."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make chromium)")
    from playwright.sync_api import expect, sync_playwright

    from engine.models import OutboxMessage

    ARTIFACTS.mkdir(exist_ok=True)
    scan = tmp_path / "so-do-mat-bang.pdf"
    scan.write_bytes(PDF)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{live_server}/login")
            page.get_by_test_id("register-link").click()
            for field, value in (("tax_code", "0388888888"), ("enterprise_name", "Công ty TNHH Omega"),
                                 ("contact_name", "Hà Thị O"), ("email", "o@omega.example.vn"),
                                 ("username", "omega"), ("password", TEST_PASSWORD)):
                page.get_by_test_id(field).fill(value)
            page.get_by_test_id("zone").select_option("TL")
            page.get_by_test_id("register-submit").click()
            expect(page.get_by_test_id("register-done")).to_contain_text("o@omega.example.vn")
            with app.extensions["petitions.sessions"]() as session:
                body = session.scalar(select(OutboxMessage.body_text)
                                      .where(OutboxMessage.recipient == "o@omega.example.vn"))
            page.goto(live_server + re.search(r"https?://[^/]+(/register/verify/\S+)", body).group(1))
            page.get_by_test_id("verify-confirm").click()
            expect(page.get_by_test_id("verify-ok")).to_be_visible()

            page.goto(f"{live_server}/login")
            page.get_by_test_id("username").fill("omega")
            page.get_by_test_id("password").fill(TEST_PASSWORD)
            page.get_by_test_id("login-submit").click()
            page.get_by_test_id("nav-new").click()
            page.get_by_test_id("title").fill("Đề nghị đấu nối điện cho nhà xưởng mới")
            page.get_by_test_id("zone").select_option("TL")
            page.get_by_test_id("category").select_option("DIEN")
            page.get_by_test_id("content").fill("Nhà xưởng mới cần đấu nối 2 MVA trước quý II/2026.")
            page.get_by_test_id("attachments").set_input_files(str(scan))
            page.get_by_test_id("submit").click()
            expect(page.get_by_test_id("receipt")).to_be_visible()
            code = page.get_by_test_id("tracking-code").inner_text().strip()
            assert CODE.fullmatch(code)
            expect(page.get_by_test_id("receipt-files")).to_contain_text("so-do-mat-bang.pdf")
            expect(page.get_by_test_id("expected-answer-date")).to_contain_text("/")
            page.screenshot(path=str(ARTIFACTS / "portal-receipt.png"), full_page=True)

            complete_step(code, "register", users["intake"], {"register_decision": "request_info",
                                                              "info_request": "Đề nghị gửi công suất từng máy."})
            page.get_by_test_id("receipt-open").click()
            expect(page.get_by_test_id("info-request-text")).to_have_text("Đề nghị gửi công suất từng máy.")
            page.get_by_test_id("supplied-info").fill("Danh mục máy và công suất gửi kèm.")
            page.get_by_test_id("supply-attachments").set_input_files(str(scan))
            page.get_by_test_id("supply-info-submit").click()
            expect(page.get_by_test_id("flash")).to_contain_text("thông tin bổ sung đã được gửi")

            complete_step(code, "register", users["intake"], {"register_decision": "accept"})
            complete_step(code, "classify", users["intake"], {
                "petition_type": "KN", "category": "DIEN", "priority": "THUONG",
                "triage_outcome": "THUOC_THAM_QUYEN", "within_authority": True})
            complete_step(code, "assign", users["leader"], {"lead_unit": "QLDT", "coordinating_agencies": [],
                                                            "working_days": 10})
            complete_step(code, "handle", users["qldt"], {"handling_notes": "Đã làm việc với điện lực."})
            _answer(code, users, complete_step, "Điện lực sẽ đấu nối trong tháng 3/2026.")
            page.reload()
            expect(page.get_by_test_id("petition-answer")).to_contain_text("Điện lực sẽ đấu nối")
            expect(page.get_by_test_id("reopen-note")).to_contain_text("mở lại một lần")
            page.get_by_test_id("rating-khong_hai_long").check()
            page.get_by_test_id("rating-comment").fill("Chưa có ngày đấu nối cụ thể.")
            page.get_by_test_id("rating-submit").click()
            expect(page.get_by_test_id("flash")).to_contain_text("Cảm ơn")
            expect(page.get_by_test_id("status").first).to_have_text("Mở lại")

            _answer(code, users, complete_step, "Ngày đấu nối: 16/03/2026.")
            page.reload()
            expect(page.get_by_test_id("reopen-note")).to_contain_text("đã được mở lại một lần")
            page.get_by_test_id("rating-hai_long").check()
            page.get_by_test_id("rating-submit").click()
            expect(page.get_by_test_id("status").first).to_have_text("Đã đóng")
            expect(page.get_by_test_id("rating-form")).to_have_count(0)
            page.screenshot(path=str(ARTIFACTS / "portal-closed.png"), full_page=True)
        finally:
            browser.close()
