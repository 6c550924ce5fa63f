"""Security of accounts and sessions (ASVS L2): passwords, throttling, server-side sessions, rate limits.

Counters and sessions live in the database: the tests that show they hold across worker processes use two
separate app instances (two engines, no shared Python state) on one database, on SQLite and PostgreSQL.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy import select

from tests.conftest import TEST_PASSWORD

NEW_PASSWORD = "a-brand-new-passphrase-42"


@pytest.fixture
def second_app(app: Flask) -> Iterator[Flask]:
    """Another app instance (another worker, as it were) on the same database as `app`."""
    from webapp import create_app

    other = create_app({"PETITIONS_DATABASE_URL": app.config["PETITIONS_DATABASE_URL"], "TESTING": True,
                        "WTF_CSRF_ENABLED": False, "SESSION_COOKIE_SECURE": False})
    yield other
    other.extensions["petitions.engine"].dispose()


def _stored_hash(app: Flask, username: str) -> str:
    from workflows.models import User

    with app.extensions["petitions.sessions"]() as session:
        return session.scalar(select(User.password_hash).where(User.username == username))


def _session_cookie(client: Any) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _replay(app: Flask, cookie: str, url: str = "/inbox") -> Any:
    """Send a copied session cookie from a fresh client (as a thief would)."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief.get(url)


def _login(client: Any, username: str, password: str = TEST_PASSWORD, **kwargs: Any) -> Any:
    return client.post("/login", data={"username": username, "password": password}, **kwargs)


# --- passwords ------------------------------------------------------------------------------------------------

def test_passwords_are_stored_as_argon2id_with_the_recommended_parameters(users: dict[str, Any], app: Flask) -> None:
    stored = _stored_hash(app, "tiepnhan")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert TEST_PASSWORD not in stored


def test_login_rehashes_a_password_stored_with_older_parameters(users: dict[str, Any], app: Flask) -> None:
    from workflows.models import User

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(TEST_PASSWORD)
    with app.extensions["petitions.sessions"]() as session:
        session.scalar(select(User).where(User.username == "tiepnhan")).password_hash = weak
        session.commit()
    assert _login(app.test_client(), "tiepnhan").status_code == 302
    stored = _stored_hash(app, "tiepnhan")
    assert stored != weak and stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PasswordHasher().verify(stored, TEST_PASSWORD)
    assert _login(app.test_client(), "tiepnhan").status_code == 302


@pytest.mark.parametrize(("password", "problem"), [
    ("short-pw-11", "Password must have at least 12 characters."),
    ("x" * 129, "Password must have at most 128 characters."),
    ("password1234", "This password is too common."),
    ("qwerty123456", "This password is too common."),  # only in zxcvbn's list, not in the local one
    ("1qaz2wsx3edc", "This password is too common."),
    ("QAZWSXEDCRFV", "This password is too common."),  # case does not help
    ("aaaaaaaaaaaaaaaa", "This password is too common."),
])
def test_password_policy_refuses_short_long_and_common_passwords(password: str, problem: str) -> None:
    from workflows.passwords import policy_problem

    assert policy_problem(password) == problem


def test_password_policy_accepts_long_passphrases_without_composition_rules() -> None:
    from workflows.passwords import common_passwords, policy_problem

    assert len(common_passwords()) > 20000  # a real list, not a handful of examples
    sixty_four = "the quick brown fox jumps over the lazy dog at Hoa Lac 2026 ok!!"
    assert len(sixty_four) == 64
    for password in ("correct-horse-battery", "đèn đỏ ở ngã tư Hoà Lạc", sixty_four, sixty_four * 2):
        assert policy_problem(password) is None, password


def test_registration_refuses_a_common_password_in_vietnamese(client: Any) -> None:
    response = client.post("/register", data={
        "tax_code": "0398765432", "enterprise_name": "Công ty TNHH Epsilon", "zone": "NB", "contact_name": "Vũ E",
        "email": "e@epsilon.example.vn", "username": "epsilon", "password": "qwerty123456"})
    assert response.status_code == 400
    assert "Mật khẩu này quá phổ biến." in response.get_data(as_text=True)


def test_unknown_user_and_wrong_password_get_the_same_answer(users: dict[str, Any], app: Flask) -> None:
    client = app.test_client()
    wrong = _login(client, "tiepnhan", "wrong-password-123")
    unknown = _login(client, "khong-ton-tai", "wrong-password-123")
    assert wrong.status_code == unknown.status_code == 401

    def message(response: Any) -> str:
        return re.search(r'data-testid="login-error">([^<]*)<', response.get_data(as_text=True)).group(1)

    assert message(wrong) == message(unknown) == "Tên đăng nhập hoặc mật khẩu không đúng."
    api_wrong = client.post("/api/v1/auth/token", json={"username": "tiepnhan", "password": "wrong-password-123"})
    api_unknown = client.post("/api/v1/auth/token", json={"username": "nobody", "password": "wrong-password-123"})
    assert (api_wrong.status_code, api_wrong.get_json()) == (api_unknown.status_code, api_unknown.get_json())


# --- login throttling -----------------------------------------------------------------------------------------

@pytest.mark.usefixtures("db_kind")
def test_the_eleventh_attempt_on_an_account_is_refused_across_two_workers(
    users: dict[str, Any], app: Flask, second_app: Flask
) -> None:
    workers = [app.test_client(), second_app.test_client()]
    for attempt in range(10):
        assert _login(workers[attempt % 2], "tiepnhan", "wrong-password-123").status_code == 401, attempt
    for worker in workers:
        refused = _login(worker, "tiepnhan")  # even the right password: the account waits
        assert refused.status_code == 429
        assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
        assert "Quá nhiều yêu cầu" in refused.get_data(as_text=True)
    assert _login(workers[0], "lanhdao").status_code == 302  # other accounts are not affected
    token = workers[1].post("/api/v1/auth/token", json={"username": "tiepnhan", "password": TEST_PASSWORD})
    assert token.status_code == 429 and "Retry-After" in token.headers
    with time_machine.travel(dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=15, seconds=1)):
        assert _login(app.test_client(), "tiepnhan").status_code == 302


def test_a_successful_login_resets_the_account_counter(users: dict[str, Any], app: Flask) -> None:
    client = app.test_client()
    for _ in range(9):
        assert _login(client, "tiepnhan", "wrong-password-123").status_code == 401
    assert _login(client, "tiepnhan").status_code == 302
    for _ in range(9):
        assert _login(app.test_client(), "tiepnhan", "wrong-password-123").status_code == 401
    assert _login(app.test_client(), "tiepnhan").status_code == 302


@pytest.mark.usefixtures("db_kind")
def test_failed_logins_are_throttled_per_address_across_two_workers(
    users: dict[str, Any], app: Flask, second_app: Flask
) -> None:
    for instance in (app, second_app):
        instance.config["PETITIONS_RATE_LIMITS"] = instance.config["PETITIONS_RATE_LIMITS"] | {
            "login-ip": [(4, 900)]}
    attacker = {"REMOTE_ADDR": "203.0.113.7"}
    workers = [app.test_client(), second_app.test_client()]
    for n in range(4):  # a different account each time: only the address limit can stop this
        response = _login(workers[n % 2], f"guess{n}", "wrong-password-123", environ_base=attacker)
        assert response.status_code == 401
    spoofed = _login(workers[0], "guess9", "wrong-password-123", environ_base=attacker,
                     headers={"X-Forwarded-For": "198.51.100.1"})
    assert spoofed.status_code == 429 and "Retry-After" in spoofed.headers
    assert _login(workers[1], "tiepnhan", environ_base=attacker).status_code == 429
    assert _login(workers[1], "tiepnhan", environ_base={"REMOTE_ADDR": "192.0.2.10"}).status_code == 302


# --- sessions -------------------------------------------------------------------------------------------------

def test_session_cookie_is_secure_httponly_lax_with_the_host_prefix(users: dict[str, Any], app: Flask) -> None:
    from webapp import create_app

    production = create_app({"PETITIONS_DATABASE_URL": app.config["PETITIONS_DATABASE_URL"]})
    try:
        browser = production.test_client()
        page = browser.get("/login", base_url="https://localhost").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        response = browser.post("/login", data={"username": "tiepnhan", "password": TEST_PASSWORD,
                                                "csrf_token": csrf}, base_url="https://localhost",
                                headers={"Referer": "https://localhost/login"})
        assert response.status_code == 302
        cookie = response.headers["Set-Cookie"]
        assert cookie.startswith("__Host-session=")
        for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
            assert flag in cookie, flag
        assert "Domain=" not in cookie
    finally:
        production.extensions["petitions.engine"].dispose()


def test_insecure_cookie_switch_is_for_plain_http_demos(monkeypatch: pytest.MonkeyPatch, app: Flask) -> None:
    from webapp.config import Settings

    monkeypatch.setenv("PETITIONS_INSECURE_COOKIES", "1")
    config = Settings.from_env(Path(app.instance_path)).flask_config()
    assert config["SESSION_COOKIE_SECURE"] is False and config["SESSION_COOKIE_NAME"] == "session"
    assert config["SESSION_COOKIE_HTTPONLY"] is True and config["SESSION_COOKIE_SAMESITE"] == "Lax"
    monkeypatch.delenv("PETITIONS_INSECURE_COOKIES")
    config = Settings.from_env(Path(app.instance_path)).flask_config()
    assert config["SESSION_COOKIE_SECURE"] is True and config["SESSION_COOKIE_NAME"] == "__Host-session"


def test_a_copied_cookie_stops_working_after_logout(users: dict[str, Any], login_as: Callable, app: Flask) -> None:
    client = login_as("tiepnhan")
    stolen = _session_cookie(client)
    assert _replay(app, stolen).status_code == 200
    client.post("/logout")
    replay = _replay(app, stolen)
    assert replay.status_code == 302 and replay.headers["Location"].startswith("/login")


@pytest.mark.usefixtures("db_kind")
def test_logout_on_one_worker_revokes_the_session_on_the_other(
    users: dict[str, Any], app: Flask, second_app: Flask
) -> None:
    client = app.test_client()
    assert _login(client, "tiepnhan").status_code == 302
    cookie = _session_cookie(client)
    assert _replay(second_app, cookie).status_code == 200
    client.post("/logout")
    assert _replay(second_app, cookie).status_code == 302


def test_login_rotates_the_session_id_and_revokes_the_previous_one(
    users: dict[str, Any], app: Flask
) -> None:
    from workflows.models import WebSession

    client = app.test_client()
    client.get("/login")
    anonymous = client.get_cookie("session")
    assert _login(client, "tiepnhan").status_code == 302
    first = _session_cookie(client)
    assert anonymous is None or anonymous.value != first
    assert _login(client, "tiepnhan").status_code == 302  # logging in again from a logged-in browser
    second = _session_cookie(client)
    assert second != first
    assert _replay(app, first).status_code == 302
    assert _replay(app, second).status_code == 200
    with app.extensions["petitions.sessions"]() as session:
        rows = list(session.scalars(select(WebSession).order_by(WebSession.created_at)))
    assert len(rows) == 2 and rows[0].id != rows[1].id
    assert rows[0].revoked_at is not None and rows[1].revoked_at is None
    assert all(len(row.id) == 64 for row in rows)  # only a digest is stored, never the cookie's token
    assert not any(row.id in first or row.id in second for row in rows)


def test_idle_timeout_ends_an_unused_session(users: dict[str, Any], app: Flask) -> None:
    start = dt.datetime.now(dt.timezone.utc)
    with time_machine.travel(start, tick=False) as clock:
        client = app.test_client()
        assert _login(client, "tiepnhan").status_code == 302
        cookie = _session_cookie(client)
        for _ in range(4):  # active every 29 minutes: two hours in all
            clock.shift(dt.timedelta(minutes=29))
            assert _replay(app, cookie).status_code == 200
        clock.shift(dt.timedelta(minutes=31))
        assert _replay(app, cookie).status_code == 302


def test_idle_timeout_is_configurable(monkeypatch: pytest.MonkeyPatch, users: dict[str, Any], app: Flask) -> None:
    from webapp import create_app

    monkeypatch.setenv("PETITIONS_SESSION_IDLE_MINUTES", "5")
    short = create_app({"PETITIONS_DATABASE_URL": app.config["PETITIONS_DATABASE_URL"], "TESTING": True,
                        "WTF_CSRF_ENABLED": False, "SESSION_COOKIE_SECURE": False})
    try:
        with time_machine.travel(dt.datetime.now(dt.timezone.utc), tick=False) as clock:
            client = short.test_client()
            assert _login(client, "tiepnhan").status_code == 302
            cookie = _session_cookie(client)
            clock.shift(dt.timedelta(minutes=4))
            assert _replay(short, cookie).status_code == 200
            clock.shift(dt.timedelta(minutes=6))
            assert _replay(short, cookie).status_code == 302
    finally:
        short.extensions["petitions.engine"].dispose()


def test_absolute_timeout_ends_even_an_active_session(users: dict[str, Any], app: Flask) -> None:
    # The signed cookie itself would outlive the limit here: only the server-side record ends the session.
    app.config["PERMANENT_SESSION_LIFETIME"] = dt.timedelta(days=30)
    assert app.config["PETITIONS_SESSION_MAX_SECONDS"] == 12 * 3600
    with time_machine.travel(dt.datetime.now(dt.timezone.utc), tick=False) as clock:
        client = app.test_client()
        assert _login(client, "tiepnhan").status_code == 302
        cookie = _session_cookie(client)
        for _ in range(35):  # a request every 20 minutes for 11 h 40 min
            clock.shift(dt.timedelta(minutes=20))
            assert _replay(app, cookie).status_code == 200
        clock.shift(dt.timedelta(minutes=21))
        assert _replay(app, cookie).status_code == 302


# --- password change ------------------------------------------------------------------------------------------

def test_password_change_revokes_other_sessions_and_api_tokens(users: dict[str, Any], app: Flask) -> None:
    mine, other = app.test_client(), app.test_client()
    assert _login(mine, "tiepnhan").status_code == 302 and _login(other, "tiepnhan").status_code == 302
    token = mine.post("/api/v1/auth/token", json={"username": "tiepnhan", "password": TEST_PASSWORD}).get_json()
    bearer = {"Authorization": f"Bearer {token['token']}"}
    assert mine.get("/api/v1/tasks", headers=bearer).status_code == 200
    before = _session_cookie(mine)
    page = mine.get("/account/password")
    assert page.status_code == 200 and "Đổi mật khẩu" in page.get_data(as_text=True)
    response = mine.post("/account/password", data={"current_password": TEST_PASSWORD,
                                                     "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
                         follow_redirects=True)
    assert response.status_code == 200 and response.request.path == "/inbox"  # this browser goes on
    assert "Đã đổi mật khẩu" in response.get_data(as_text=True)
    assert _session_cookie(mine) != before
    assert other.get("/inbox").status_code == 302
    assert _replay(app, before).status_code == 302
    assert mine.get("/api/v1/tasks", headers=bearer).status_code == 401
    assert _login(app.test_client(), "tiepnhan").status_code == 401
    assert _login(app.test_client(), "tiepnhan", NEW_PASSWORD).status_code == 302


def test_password_change_checks_the_current_password_and_the_policy(users: dict[str, Any], login_as: Callable,
                                                                   app: Flask) -> None:
    client = login_as("tiepnhan")
    cases = [
        ({"current_password": "not-my-password", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
         "Mật khẩu hiện tại không đúng."),
        ({"current_password": TEST_PASSWORD, "new_password": "qwerty123456", "confirm_password": "qwerty123456"},
         "Mật khẩu này quá phổ biến."),
        ({"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD + "x"},
         "Hai lần nhập mật khẩu mới không khớp."),
        ({"current_password": TEST_PASSWORD, "new_password": "tiepnhan-2026-moi", "confirm_password":
          "tiepnhan-2026-moi"}, "Mật khẩu không được chứa tên đăng nhập."),
    ]
    for form, message in cases:
        response = client.post("/account/password", data=form)
        assert response.status_code == 400 and message in response.get_data(as_text=True), message
    assert client.get("/inbox").status_code == 200  # nothing was revoked
    assert _login(app.test_client(), "tiepnhan").status_code == 302


def test_anonymous_visitors_cannot_reach_the_password_page(client: Any) -> None:
    response = client.get("/account/password")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


# --- JSON API -------------------------------------------------------------------------------------------------

def test_api_ignores_session_cookies_and_needs_a_bearer_token(users: dict[str, Any], login_as: Callable) -> None:
    client = login_as("tiepnhan")
    assert client.get("/inbox").status_code == 200
    assert client.get("/api/v1/tasks").status_code == 401
    assert client.post("/api/v1/tasks/some-task/claim").status_code == 401
    assert client.get("/api/v1/tasks", headers={"Authorization": "Bearer forged.token"}).status_code == 401
    token = client.post("/api/v1/auth/token", json={"username": "tiepnhan", "password": TEST_PASSWORD}).get_json()
    assert client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token['token']}"}).status_code == 200


# --- rate limits of public intake and lookup -----------------------------------------------------------------

@pytest.mark.usefixtures("db_kind")
def test_track_lookups_are_limited_per_address_across_two_workers(app: Flask, second_app: Flask) -> None:
    workers = [app.test_client(), second_app.test_client()]
    for n in range(30):
        assert workers[n % 2].get("/track?code=KN.20000101.0001").status_code == 404, n
    refused = workers[0].get("/track?code=KN.20000101.0001", headers={"X-Forwarded-For": f"198.51.100.{n}"})
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert "Quá nhiều yêu cầu. Vui lòng đợi" in refused.get_data(as_text=True)
    assert "Content-Security-Policy" in refused.headers
    other = app.test_client().get("/track?code=KN.20000101.0001", environ_base={"REMOTE_ADDR": "192.0.2.20"})
    assert other.status_code == 404
    with time_machine.travel(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=61)):
        assert workers[1].get("/track?code=KN.20000101.0001").status_code == 404


@pytest.mark.usefixtures("db_kind")
def test_enterprise_submissions_are_limited_across_two_workers_but_not_intake_officers(
    users: dict[str, Any], app: Flask, second_app: Flask
) -> None:
    from tests.webapp.conftest import login

    workers = [app.test_client(), second_app.test_client()]
    for worker in workers:
        login(worker, "dn_a")
    topics = ["cấp điện", "thoát nước", "phòng cháy", "nhà ở công nhân", "hải quan", "thuế đất", "môi trường"]

    def form(n: int) -> dict[str, str]:  # distinct topics: a repeated title would be held as a likely duplicate
        return {"title": f"Vướng mắc về {topics[n]}", "content": f"Doanh nghiệp đề nghị hướng dẫn về {topics[n]}.",
                "zone": "TL", "submission_key": f"rate-key-{n:04d}", "confirm_duplicate": "1"}

    for n in range(5):
        response = workers[n % 2].post("/petitions/new", data=form(n))
        assert response.status_code == 302, n
    refused = workers[1].post("/petitions/new", data=form(5))
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    token = workers[0].post("/api/v1/auth/token", json={"username": "dn_a", "password": TEST_PASSWORD}).get_json()
    api = workers[0].post("/api/v1/petitions", json=form(6), headers={"Authorization": f"Bearer {token['token']}"})
    assert api.status_code == 429 and api.get_json()["retry_after"] > 0
    officer = app.test_client()
    login(officer, "tiepnhan")
    paper = {"title": "Công văn đề nghị", "content": "Nội dung công văn", "zone": "NB", "tax_code": "0101234567",
             "channel": "VAN_BAN", "incoming_doc_no": "45/2025/CV-LBP", "incoming_doc_date": "2025-12-22",
             "confirm_duplicate": "1"}
    for n in range(6):
        assert officer.post("/petitions/new", data=paper | {"submission_key": f"paper-key-{n:04d}"}).status_code == 302


def test_registration_is_limited_per_address(client: Any) -> None:
    for _ in range(5):
        assert client.post("/register", data={"tax_code": "1"}).status_code == 400
    refused = client.post("/register", data={"tax_code": "1"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert client.get("/register").status_code == 200  # showing the form is not counted


def test_open311_posts_and_token_requests_are_limited_per_address(client: Any) -> None:
    for _ in range(60):
        assert client.post("/open311/v2/requests.json", data={}).status_code == 400
    refused = client.post("/open311/v2/requests.json", data={})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Quá nhiều yêu cầu" in refused.get_json()["error"]
    for _ in range(20):
        assert client.post("/api/v1/auth/token", data="not json").status_code == 400
    assert client.post("/api/v1/auth/token", data="not json").status_code == 429


def test_migration_0007_matches_the_security_models(app: Flask) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from engine.db import Base

    with app.extensions["petitions.engine"].connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if "web_session" in repr(d) or "rate_event" in repr(d)] == []


@pytest.mark.browser
def test_chromium_keeps_the_host_prefixed_secure_cookie_on_local_http(users: dict[str, Any], app: Flask) -> None:
    """`make run` serves plain HTTP on 127.0.0.1 with production cookies: the browser must still log in."""
    import threading

    from playwright.sync_api import expect, sync_playwright
    from waitress.server import create_server

    from tests.webapp.conftest import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed here (make test installs it)")
    app.config.update(WTF_CSRF_ENABLED=True, SESSION_COOKIE_SECURE=True, SESSION_COOKIE_NAME="__Host-session")
    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.effective_port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(f"{base}/login")
                page.get_by_test_id("username").fill("tiepnhan")
                page.get_by_test_id("password").fill(TEST_PASSWORD)
                page.get_by_test_id("login-submit").click()
                expect(page).to_have_url(f"{base}/inbox")
                cookies = {c["name"]: c for c in page.context.cookies()}
                assert cookies["__Host-session"]["secure"] and cookies["__Host-session"]["httpOnly"]
                assert cookies["__Host-session"]["sameSite"] == "Lax"
                page.get_by_test_id("logout").click()
                page.goto(f"{base}/inbox")
                expect(page).to_have_url(re.compile(r"/login\?next="))
            finally:
                browser.close()
    finally:
        server.close()
        server.task_dispatcher.shutdown()
        thread.join(timeout=10)
