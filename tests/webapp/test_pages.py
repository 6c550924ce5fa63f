"""The HTML pages through the Flask test client: intake, inbox, task forms, access rules, escaping, language."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask

from tests.webapp.conftest import CODE

XSS = "<script>alert(1)</script>"


def _version(html: str) -> str:
    match = re.search(r'name="version" value="(\d+)"', html)
    assert match, "the task form carries the instance version"
    return match.group(1)


def test_enterprise_submission_shows_receipt_with_tracking_code(users: dict[str, Any], login_as: Callable) -> None:
    client = login_as("dn_a")
    form = client.get("/petitions/new")
    assert form.status_code == 200
    assert "Gửi phản ánh, kiến nghị của doanh nghiệp đến Ban Quản lý." in form.get_data(as_text=True)
    response = client.post("/petitions/new", data={
        "title": "Đề nghị hướng dẫn thủ tục", "content": "Nội dung đề nghị", "zone": "TL",
        "submission_key": "receipt-test-0001",
    }, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-testid="receipt"' in html
    assert CODE.search(html)
    assert "Đã tiếp nhận phản ánh, kiến nghị" in html
    assert re.search(r'data-testid="received-date">\d{2}/\d{2}/\d{4}<', html)


def test_repeated_submission_key_returns_the_first_petition(users: dict[str, Any], login_as: Callable) -> None:
    client = login_as("dn_a")
    data = {"title": "Một lần", "content": "Nội dung", "zone": "TL", "submission_key": "same-key-123456"}
    first = client.post("/petitions/new", data=data).headers["Location"]
    second = client.post("/petitions/new", data=data).headers["Location"]
    assert first == second


def test_intake_officer_records_a_paper_petition_for_an_enterprise(users: dict[str, Any], login_as: Callable) -> None:
    client = login_as("tiepnhan")
    form = client.get("/petitions/new").get_data(as_text=True)
    assert 'name="tax_code"' in form and 'value="VAN_BAN"' in form
    response = client.post("/petitions/new", data={
        "tax_code": "0109999999", "enterprise_name": "Công ty Gamma", "channel": "VAN_BAN",
        "title": "Công văn đề nghị", "content": "Nội dung công văn", "zone": "NB", "submission_key": "paper-0001",
        "incoming_doc_no": "45/2025/CV-LBP", "incoming_doc_date": "2025-12-22",  # required for a paper letter
    }, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and CODE.search(html)
    assert "Văn bản giấy" in html


def test_submission_errors_are_shown_per_field_in_vietnamese(users: dict[str, Any], login_as: Callable) -> None:
    client = login_as("tiepnhan")
    response = client.post("/petitions/new", data={"title": "", "content": "x", "zone": "??", "tax_code": "123",
                                                   "submission_key": "bad-form-001"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'data-testid="error-title"' in html and "Trường này là bắt buộc." in html
    assert 'data-testid="error-zone"' in html and "Vui lòng chọn một giá trị trong danh sách." in html
    assert 'data-testid="error-tax_code"' in html


def test_inbox_of_intake_officer_lists_register_task_with_due_date(
    users: dict[str, Any], submit_petition: Callable, login_as: Callable, open_tasks: Callable
) -> None:
    code = submit_petition()
    task = open_tasks(code)[0]
    assert task.bpmn_id == "register"
    html = login_as("tiepnhan").get("/inbox").get_data(as_text=True)
    row = re.search(rf'<tr[^>]*data-task="{task.id}".*?</tr>', html, re.S)
    assert row, html
    assert "Tiếp nhận, vào sổ" in row.group(0)
    assert code in row.group(0)
    assert task.due_date.strftime("%d/%m/%Y") in row.group(0)
    assert re.search(r'data-state="(on_time|due_soon|overdue)"', row.group(0))
    assert 'data-testid="claim"' in row.group(0)


def test_claim_then_release_from_the_inbox(
    users: dict[str, Any], submit_petition: Callable, login_as: Callable, open_tasks: Callable
) -> None:
    code = submit_petition()
    task = open_tasks(code)[0]
    client = login_as("tiepnhan")
    response = client.post(f"/tasks/{task.id}/claim", follow_redirects=True)
    assert response.status_code == 200
    assert "Bạn đã nhận xử lý công việc này." in response.get_data(as_text=True)
    assert open_tasks(code)[0].claimed_by == "tiepnhan"
    assert 'data-testid="release"' in client.get("/inbox").get_data(as_text=True)
    client.post(f"/tasks/{task.id}/release")
    assert open_tasks(code)[0].claimed_by is None


def test_completing_register_through_the_form_advances_the_petition(
    users: dict[str, Any], submit_petition: Callable, login_as: Callable, open_tasks: Callable
) -> None:
    code = submit_petition()
    task = open_tasks(code)[0]
    client = login_as("tiepnhan")
    page = client.get(f"/tasks/{task.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'name="register_decision"' in html and "Quyết định tiếp nhận" in html
    response = client.post(f"/tasks/{task.id}/complete", data={"register_decision": "accept",
                                                               "version": _version(html)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/inbox")
    assert [t.bpmn_id for t in open_tasks(code)] == ["classify"]
    detail = client.get(f"/petitions/{code}").get_data(as_text=True)
    assert 'data-step="classify"' in detail and "Phân loại" in detail
    assert "Hoàn thành bước" in detail  # the timeline records the completed step


def test_stale_version_is_refused_with_409(
    users: dict[str, Any], submit_petition: Callable, login_as: Callable, open_tasks: Callable
) -> None:
    code = submit_petition()
    task = open_tasks(code)[0]
    client = login_as("tiepnhan")
    stale = int(_version(client.get(f"/tasks/{task.id}").get_data(as_text=True))) - 1
    response = client.post(f"/tasks/{task.id}/complete", data={"register_decision": "accept", "version": stale})
    assert response.status_code == 409
    assert [t.bpmn_id for t in open_tasks(code)] == ["register"]


def test_validation_error_rerenders_the_form_with_vietnamese_message(
    users: dict[str, Any], submit_petition: Callable, login_as: Callable, open_tasks: Callable
) -> None:
    code = submit_petition()
    task = open_tasks(code)[0]
    client = login_as("tiepnhan")
    version = _version(client.get(f"/tasks/{task.id}").get_data(as_text=True))
    response = client.post(f"/tasks/{task.id}/complete", data={
        "register_decision": "reject", "register_note": "ghi chú của cán bộ", "version": version,
    })
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'data-testid="task-form"' in html  # the form again, not the generic error page
    assert re.search(r'data-testid="error-rejection_reason">Trường này là bắt buộc.<', html)
    assert '<option value="reject" selected>' in html
    assert "ghi chú của cán bộ</textarea>" in html
    assert [t.bpmn_id for t in open_tasks(code)] == ["register"]


def test_enterprise_cannot_open_another_enterprises_petition(
    users: dict[str, Any], submit_petition: Callable, login_as: Callable
) -> None:
    code = submit_petition("dn_a", title="Bí mật kinh doanh của Alpha")
    other = login_as("dn_b")
    for url in (f"/petitions/{code}", f"/petitions/{code}/receipt"):
        response = other.get(url)
        assert response.status_code == 404
        assert "Bí mật kinh doanh" not in response.get_data(as_text=True)
    assert other.get("/petitions/KN.19990101.9999").status_code == 404
    assert code not in other.get("/petitions").get_data(as_text=True)
    own = login_as("dn_a").get(f"/petitions/{code}")
    assert own.status_code == 200 and "Bí mật kinh doanh của Alpha" in own.get_data(as_text=True)


def test_unit_officer_gets_403_on_a_task_of_another_unit(
    petition_at_handle: str, login_as: Callable, open_tasks: Callable
) -> None:
    handle = next(t for t in open_tasks(petition_at_handle) if t.bpmn_id == "handle")
    assert handle.scope_value == "QLDT"
    intruder = login_as("cv_qhxd")
    assert intruder.get(f"/tasks/{handle.id}").status_code == 403
    assert intruder.post(f"/tasks/{handle.id}/claim").status_code == 403
    assert intruder.post(f"/tasks/{handle.id}/complete", data={"handling_notes": "x"}).status_code == 403
    assert handle.id not in intruder.get("/inbox").get_data(as_text=True)
    owner = login_as("cv_qldt")
    page = owner.get(f"/tasks/{handle.id}")
    assert page.status_code == 200
    assert "Đơn vị chủ trì" in page.get_data(as_text=True)  # context from the assign step


def test_petition_text_is_escaped_on_inbox_task_and_petition_pages(
    users: dict[str, Any], submit_petition: Callable, login_as: Callable, open_tasks: Callable
) -> None:
    code = submit_petition(title=f"Tiêu đề {XSS}", content=f"Nội dung {XSS}<img src=x onerror=alert(1)>")
    task = open_tasks(code)[0]
    client = login_as("tiepnhan")
    for url in ("/inbox", f"/tasks/{task.id}", f"/petitions/{code}", "/petitions"):
        html = client.get(url).get_data(as_text=True)
        assert XSS not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
        assert "<img src=x" not in html, url


def test_language_switch_shows_english(
    users: dict[str, Any], submit_petition: Callable, login_as: Callable
) -> None:
    submit_petition()
    client = login_as("tiepnhan")
    assert "Việc cần xử lý" in client.get("/inbox").get_data(as_text=True)
    response = client.post("/lang", data={"lang": "en", "next": "/inbox?"})
    assert response.status_code == 302 and response.headers["Location"] == "/inbox"
    html = client.get("/inbox").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert ">Inbox<" in html and "Register the petition" in html and "Log out" in html
    assert "Tiếp nhận, vào sổ" not in html
    client.post("/lang", data={"lang": "vi", "next": "/inbox"})
    assert "Tiếp nhận, vào sổ" in client.get("/inbox").get_data(as_text=True)


def test_language_switch_refuses_foreign_redirects(client: Any) -> None:
    response = client.post("/lang", data={"lang": "en", "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"


def test_track_shows_only_public_fields(
    users: dict[str, Any], submit_petition: Callable, client: Any
) -> None:
    code = submit_petition(title="Tiêu đề riêng tư", content="Nội dung riêng tư của doanh nghiệp")
    response = client.get(f"/track?code={code.lower()}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-testid="track-result"' in html
    assert "Mới tiếp nhận" in html and "Chưa giao" in html
    for private in ("Tiêu đề riêng tư", "Nội dung riêng tư", "Công ty TNHH Alpha", "0101234567"):
        assert private not in html


def test_track_unknown_code_shows_a_friendly_message(client: Any) -> None:
    response = client.get("/track?code=KN.20000101.0001")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert 'data-testid="track-not-found"' in html and "Không tìm thấy hồ sơ có mã KN.20000101.0001" in html


def test_every_page_carries_the_csp_header(
    users: dict[str, Any], submit_petition: Callable, login_as: Callable, open_tasks: Callable, client: Any
) -> None:
    code = submit_petition()
    task = open_tasks(code)[0]
    officer = login_as("tiepnhan")
    responses = [client.get(url) for url in ("/", "/login", "/track", f"/track?code={code}", "/no-such-page")]
    responses += [officer.get(url) for url in ("/inbox", "/petitions", "/petitions/new", f"/tasks/{task.id}",
                                               f"/petitions/{code}", f"/petitions/{code}/receipt")]
    responses.append(officer.post(f"/tasks/{task.id}/complete", data={"register_decision": "reject"}))
    for response in responses:
        csp = response.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in csp and "style-src 'self'" in csp, response.request.path


def test_pages_are_vietnamese_by_default(client: Any) -> None:
    landing = client.get("/").get_data(as_text=True)
    assert '<html lang="vi">' in landing
    assert "Tra cứu phản ánh, kiến nghị" in landing and "Mã hồ sơ" in landing and "Đăng nhập" in landing
    page = client.get("/login").get_data(as_text=True)
    assert "Tên đăng nhập" in page and "Mật khẩu" in page


def test_login_failure_and_next_url_restricted_to_local_paths(users: dict[str, Any], app: Flask) -> None:
    from tests.conftest import TEST_PASSWORD

    client = app.test_client()
    failed = client.post("/login", data={"username": "tiepnhan", "password": "wrong-password-123"})
    assert failed.status_code == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in failed.get_data(as_text=True)
    for target, expected in (("https://evil.example/x", "/inbox"), ("//evil.example", "/inbox"),
                             ("/\\evil.example", "/inbox"), ("/petitions", "/petitions")):
        client = app.test_client()
        response = client.post("/login", data={"username": "tiepnhan", "password": TEST_PASSWORD, "next": target})
        assert response.headers["Location"] == expected, target


def test_anonymous_visitor_is_sent_to_login_and_back(users: dict[str, Any], app: Flask) -> None:
    client = app.test_client()
    response = client.get("/petitions")
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]
    login_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="next" value="/petitions"' in login_page


def test_landing_redirects_logged_in_users_to_their_inbox(users: dict[str, Any], login_as: Callable) -> None:
    response = login_as("tiepnhan").get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/inbox"


def test_logout_is_a_post_that_ends_the_session(users: dict[str, Any], login_as: Callable) -> None:
    client = login_as("tiepnhan")
    assert client.get("/logout").status_code == 405
    client.post("/logout")
    assert client.get("/inbox").status_code == 302


def test_only_enterprise_users_and_intake_officers_may_submit(users: dict[str, Any], login_as: Callable) -> None:
    assert login_as("dn_a").get("/petitions/new").status_code == 200
    assert login_as("lanhdao").get("/petitions/new").status_code == 403
    assert login_as("cv_qldt").post("/petitions/new", data={"title": "x"}).status_code == 403


def test_every_page_endpoint_declares_a_policy(app: Flask) -> None:
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        assert hasattr(app.view_functions[rule.endpoint], "_policy"), rule.endpoint


def test_every_post_form_carries_a_csrf_token(
    users: dict[str, Any], submit_petition: Callable, login_as: Callable, open_tasks: Callable
) -> None:
    code = submit_petition()
    task = open_tasks(code)[0]
    client = login_as("tiepnhan")
    for url in ("/inbox", f"/tasks/{task.id}", "/petitions/new", f"/petitions/{code}"):
        html = client.get(url).get_data(as_text=True)
        forms = re.findall(r'<form[^>]*method="post".*?</form>', html, re.S)
        assert forms, url
        for form in forms:
            assert 'name="csrf_token"' in form, (url, form[:120])


def test_a_post_without_csrf_token_is_refused_when_csrf_is_on(users: dict[str, Any], app: Flask) -> None:
    from tests.conftest import TEST_PASSWORD

    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    response = client.post("/login", data={"username": "tiepnhan", "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert "Biểu mẫu đã hết hiệu lực" in response.get_data(as_text=True)
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": "tiepnhan", "password": TEST_PASSWORD, "csrf_token": token})
    assert response.status_code == 302
