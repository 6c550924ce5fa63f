"""The inbox page (50 rows and a "Xem tiếp" link) and GET /api/v1/tasks (?limit=, ?after=, next) with paging."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.conftest import TEST_PASSWORD
from tests.engine.test_inbox_paging import PRINCIPALS, expected, seed

ROW = re.compile(r'data-testid="task-row" data-task="([^"]+)"')


def _seeded(app: Flask, count: int) -> list[str]:
    with app.extensions["petitions.sessions"]() as session:
        rows = seed(session, count)
        return expected(rows, PRINCIPALS["without scope"])  # the intake officer's tasks


def _more_link(html: str) -> str | None:
    match = re.search(r'<a [^>]*href="([^"]+)"[^>]*data-testid="inbox-more"', html)
    return match.group(1).replace("&amp;", "&") if match else None


@pytest.mark.usefixtures("db_kind")
def test_the_inbox_page_shows_50_rows_and_a_more_link_through_every_task(
        app: Flask, users: dict[str, Any], login_as: Callable[[str], Any]) -> None:
    whole = _seeded(app, 900)
    assert len(whole) > 100  # three pages
    client, url, seen, pages = login_as("tiepnhan"), "/inbox", [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        rows = ROW.findall(html)
        seen += rows
        pages += 1
        url = _more_link(html)
        assert len(rows) == (50 if url else len(whole) - 50 * (pages - 1))
        assert ("Xem tiếp" in html) == bool(url)
        assert ('data-testid="inbox-first"' in html) == (pages > 1)
    assert seen == whole and pages == -(-len(whole) // 50)


def test_a_short_inbox_has_no_pager_and_counts_its_tasks(
        app: Flask, users: dict[str, Any], login_as: Callable[[str], Any]) -> None:
    whole = _seeded(app, 40)
    html = login_as("tiepnhan").get("/inbox").get_data(as_text=True)
    assert ROW.findall(html) == whole
    assert 'data-testid="inbox-more"' not in html and 'class="pager"' not in html
    assert f"{len(whole)} công việc đang chờ" in html


@pytest.mark.usefixtures("db_kind")
def test_the_api_pages_with_limit_and_the_next_cursor(app: Flask, users: dict[str, Any]) -> None:
    whole = _seeded(app, 600)
    assert len(whole) > 50
    client = app.test_client()
    token = client.post("/api/v1/auth/token", json={"username": "tiepnhan", "password": TEST_PASSWORD}).get_json()
    bearer = {"Authorization": f"Bearer {token['token']}"}
    first = client.get("/api/v1/tasks", headers=bearer).get_json()
    assert [t["id"] for t in first["tasks"]] == whole[:50] and first["next"]
    seen, after = [], None
    while True:
        query = {"limit": 13} | ({"after": after} if after else {})
        body = client.get("/api/v1/tasks", query_string=query, headers=bearer).get_json()
        seen += [t["id"] for t in body["tasks"]]
        after = body["next"]
        if after is None:
            break
        assert len(body["tasks"]) == 13
    assert seen == whole
    big = client.get("/api/v1/tasks", query_string={"limit": 200}, headers=bearer).get_json()
    assert len(big["tasks"]) == min(200, len(whole))


def test_the_api_refuses_an_invalid_cursor_or_limit_with_400(app: Flask, users: dict[str, Any]) -> None:
    client = app.test_client()
    token = client.post("/api/v1/auth/token", json={"username": "tiepnhan", "password": TEST_PASSWORD}).get_json()
    bearer = {"Authorization": f"Bearer {token['token']}"}
    refused = client.get("/api/v1/tasks?after=garbage", headers=bearer)
    assert refused.status_code == 400
    assert "trang đầu" in refused.get_json()["errors"]["after"]  # Vietnamese by default
    english = client.get("/api/v1/tasks?after=garbage", headers=bearer | {"Accept-Language": "en"})
    assert english.status_code == 400
    for limit in ("0", "201", "-1", "abc", "1.5"):
        response = client.get(f"/api/v1/tasks?limit={limit}", headers=bearer)
        assert response.status_code == 400, limit
        assert "limit" in response.get_json()["errors"]


def test_the_inbox_page_refuses_an_invalid_cursor_with_400(users: dict[str, Any],
                                                           login_as: Callable[[str], Any]) -> None:
    response = login_as("tiepnhan").get("/inbox?after=not-a-cursor")
    assert response.status_code == 400
    assert "Đường dẫn trang không hợp lệ" in response.get_data(as_text=True)
