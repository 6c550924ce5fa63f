"""An intake officer registers a petition in a real headless Chromium against the app served by waitress."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.webapp.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser



@pytest.fixture
def waiting_petition(app: Flask, make_user: Callable[..., Any]) -> str:
    """A petition of an enterprise, just received and waiting at `register`; returns its tracking code."""
    from engine.audit import Actor
    from workflows import petitions
    from workflows.users import get_or_create_enterprise

    make_user("tiepnhan", "intake")
    with app.extensions["petitions.sessions"]() as session:
        enterprise = get_or_create_enterprise(session, "0101234567", "Công ty TNHH Alpha", "TL")
        petition = petitions.submit(
            session, app.extensions["petitions.runtime"], Actor("dn_a", "enterprise"), enterprise,
            petitions.Submission(title="Đề nghị cấp điện cho nhà xưởng", content="Nội dung chi tiết", zone="TL"),
        )
        session.commit()
        return petition.tracking_code


def test_intake_officer_claims_and_registers_a_petition(live_server: str, waiting_petition: str) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make chromium)")
    from playwright.sync_api import expect, sync_playwright

    from tests.conftest import TEST_PASSWORD

    ARTIFACTS.mkdir(exist_ok=True)
    code = waiting_petition
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{live_server}/login")
            page.get_by_test_id("username").fill("tiepnhan")
            page.get_by_test_id("password").fill(TEST_PASSWORD)
            page.get_by_test_id("login-submit").click()
            expect(page).to_have_url(f"{live_server}/inbox")
            expect(page.get_by_test_id("user-name")).to_have_text("tiepnhan")

            row = page.locator('[data-testid="task-row"][data-step="register"]').filter(has_text=code)
            expect(row).to_have_count(1)
            expect(row.get_by_test_id("due-date")).to_contain_text("/")
            row.get_by_test_id("claim").click()  # claiming opens the task page
            expect(page.get_by_test_id("flash")).to_contain_text("Bạn đã nhận xử lý công việc này.")
            expect(page.get_by_test_id("task-title")).to_have_text("Tiếp nhận, vào sổ")
            expect(page.get_by_test_id("summary-code")).to_have_text(code)

            page.locator("#f-register_decision").select_option("accept")
            page.locator("#f-register_note").fill("Hồ sơ đầy đủ, tiếp nhận.")
            page.screenshot(path=str(ARTIFACTS / "task-register.png"), full_page=True)
            page.get_by_test_id("complete").click()

            expect(page).to_have_url(f"{live_server}/inbox")
            expect(page.get_by_test_id("flash")).to_contain_text("Đã hoàn thành bước xử lý.")
            classify = page.locator('[data-testid="task-row"][data-step="classify"]').filter(has_text=code)
            expect(classify).to_have_count(1)
            expect(classify).to_contain_text("Phân loại")
            expect(page.locator('[data-testid="task-row"][data-step="register"]').filter(has_text=code)).to_have_count(0)
            page.screenshot(path=str(ARTIFACTS / "inbox-after-register.png"), full_page=True)

            page.get_by_role("link", name=code).click()
            expect(page.get_by_test_id("petition-code")).to_have_text(code)
            expect(page.locator('[data-testid="stage-step"][data-step="classify"]')).to_have_count(1)
            page.screenshot(path=str(ARTIFACTS / "petition.png"), full_page=True)
        finally:
            browser.close()
