"""Open311 GeoReport v2 under /open311/v2, exercised as a GeoReport client would (form-encoded POST, JSON/XML)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from flask import Flask

from workflows.reference import get_reference

BASE = "/open311/v2"


def _add_client(app: Flask, name: str) -> Any:
    from webapp.cli import cli

    return app.test_cli_runner().invoke(cli, ["open311", "add-client", name])


@pytest.fixture
def api_key(app: Flask) -> str:
    """A registered client's key, created with `petitions open311 add-client`."""
    result = _add_client(app, "iHanoi")
    assert result.exit_code == 0, result.output
    return result.output.split("api_key: ")[1].split()[0]


def _post(client: Any, key: str | None, fmt: str = "json", **fields: str) -> Any:
    data = {"service_code": "DIEN", "description": "Mất điện kéo dài tại lô CN2, cần kiểm tra trạm biến áp.",
            "attribute[zone]": "TL", "attribute[tax_code]": "0101234567", "attribute[enterprise_name]": "Công ty A",
            "email": "a@a.example.vn", "first_name": "Văn", "last_name": "A"} | fields
    if key is not None:
        data["api_key"] = key
    return client.post(f"{BASE}/requests.{fmt}", data=data)


def test_services_come_from_the_categories(client: Any) -> None:
    services = client.get(f"{BASE}/services.json").get_json()
    assert [s["service_code"] for s in services] == list(get_reference().categories)
    electricity = next(s for s in services if s["service_code"] == "DIEN")
    assert electricity["service_name"] == "Cấp điện" and electricity["metadata"] is True
    assert electricity["type"] == "realtime"
    assert client.get(f"{BASE}/services.json?locale=en").get_json()[0]["service_name"] == "Administrative procedures"
    xml = ET.fromstring(client.get(f"{BASE}/services.xml").data)
    assert xml.tag == "services" and xml.find("service/service_code").text == "TTHC"


def test_service_definition_lists_the_attributes(client: Any) -> None:
    body = client.get(f"{BASE}/services/DIEN.json").get_json()
    zone = next(a for a in body["attributes"] if a["code"] == "zone")
    assert zone["required"] and zone["datatype"] == "singlevaluelist"
    assert {"key": "TL", "name": "KCN Thăng Long"} in zone["values"]
    assert client.get(f"{BASE}/services/NOPE.json").status_code == 404
    xml = ET.fromstring(client.get(f"{BASE}/services/DIEN.xml").data)
    assert xml.find("attributes/attribute/code").text == "zone"


def test_post_needs_a_valid_api_key(client: Any, api_key: str) -> None:
    missing = _post(client, None)
    assert missing.status_code == 400 and missing.get_json()[0]["code"] == 400
    wrong = _post(client, "o311_not-a-real-key")
    assert wrong.status_code == 403 and wrong.get_json() == [{"code": 403, "description": "api_key is invalid."}]
    assert ET.fromstring(_post(client, "bad", fmt="xml").data).find("error/code").text == "403"


def test_post_creates_a_petition_and_get_returns_its_status(app: Flask, client: Any, api_key: str) -> None:
    response = _post(client, api_key)
    assert response.status_code == 200, response.get_data(as_text=True)
    [created] = response.get_json()
    code = created["service_request_id"]
    assert code.startswith("KN.") and code in created["service_notice"]
    [request] = client.get(f"{BASE}/requests/{code}.json").get_json()
    assert request["status"] == "open" and request["service_code"] == "DIEN"
    assert request["status_notes"] == "Mới tiếp nhận"
    assert request["address"] == "KCN Thăng Long"
    expected = dt.datetime.fromisoformat(request["expected_datetime"])
    assert expected.utcoffset() == dt.timedelta(hours=7)
    assert dt.datetime.fromisoformat(request["requested_datetime"]) <= dt.datetime.now(dt.timezone.utc)
    assert "description" not in request and "Công ty A" not in str(request)  # public fields only
    with app.extensions["petitions.sessions"]() as session:
        from workflows import petitions

        petition = petitions.get(session, code)
        assert petition.channel == "IHANOI" and petition.category_hint == "DIEN"
    xml = ET.fromstring(client.get(f"{BASE}/requests/{code}.xml").data)
    assert xml.tag == "service_requests" and xml.find("request/status").text == "open"
    assert client.get(f"{BASE}/requests/KN.20990101.9999.json").status_code == 404


def test_anonymous_requests_go_to_the_city_platform_enterprise(app: Flask, client: Any, api_key: str) -> None:
    response = _post(client, api_key, **{"attribute[tax_code]": "", "attribute[enterprise_name]": ""})
    code = response.get_json()[0]["service_request_id"]
    with app.extensions["petitions.sessions"]() as session:
        from workflows import petitions
        from workflows.models import Enterprise

        petition = petitions.get(session, code)
        assert session.get(Enterprise, petition.enterprise_id).tax_code == "0000000000"
    bad = _post(client, api_key, **{"attribute[zone]": "", "description": ""})
    assert bad.status_code == 400 and {e["code"] for e in bad.get_json()} == {400}


def test_idempotency_key_returns_the_same_request(client: Any, api_key: str) -> None:
    first = client.post(f"{BASE}/requests.json", headers={"Idempotency-Key": "abc-123"},
                        data={"api_key": api_key, "service_code": "NUOC", "description": "Mất nước",
                              "attribute[zone]": "NB"}).get_json()
    again = client.post(f"{BASE}/requests.json", headers={"Idempotency-Key": "abc-123"},
                        data={"api_key": api_key, "service_code": "NUOC", "description": "Mất nước",
                              "attribute[zone]": "NB"}).get_json()
    assert first[0]["service_request_id"] == again[0]["service_request_id"]


def test_status_maps_open_and_closed_and_filters_work(
    app: Flask, client: Any, api_key: str, users: dict[str, Any], complete_step: Callable
) -> None:
    open_code = _post(client, api_key).get_json()[0]["service_request_id"]
    closed_code = _post(client, api_key, service_code="NUOC", description="Áp lực nước yếu vào giờ cao điểm."
                        ).get_json()[0]["service_request_id"]
    complete_step(closed_code, "register", users["intake"], {"register_decision": "reject",
                                                             "rejection_reason": "NOI_DUNG_KHONG_RO"})
    [closed] = client.get(f"{BASE}/requests/{closed_code}.json").get_json()
    assert closed["status"] == "closed" and closed["expected_datetime"] is None
    listed = {r["service_request_id"]: r["status"] for r in client.get(f"{BASE}/requests.json").get_json()}
    assert listed == {open_code: "open", closed_code: "closed"}
    only_open = client.get(f"{BASE}/requests.json?status=open").get_json()
    assert [r["service_request_id"] for r in only_open] == [open_code]
    only_water = client.get(f"{BASE}/requests.json?service_code=NUOC").get_json()
    assert [r["service_request_id"] for r in only_water] == [closed_code]
    by_ids = client.get(f"{BASE}/requests.json?service_request_id={open_code},{closed_code}").get_json()
    assert len(by_ids) == 2
    future = client.get(f"{BASE}/requests.json?start_date=2099-01-01T00:00:00Z").get_json()
    assert future == []
    assert client.get(f"{BASE}/requests.json?start_date=yesterday").status_code == 400
    xml = ET.fromstring(client.get(f"{BASE}/requests.xml?status=closed").data)
    assert [e.text for e in xml.findall("request/service_request_id")] == [closed_code]


def test_denunciations_never_appear_in_open311(
    client: Any, api_key: str, users: dict[str, Any], complete_step: Callable
) -> None:
    code = _post(client, api_key).get_json()[0]["service_request_id"]
    complete_step(code, "register", users["intake"], {"register_decision": "accept"})
    complete_step(code, "classify", users["intake"], {"petition_type": "TC", "category": "KHAC",
                                                      "priority": "THUONG", "triage_outcome": "THUOC_THAM_QUYEN",
                                                      "within_authority": True})
    assert client.get(f"{BASE}/requests/{code}.json").status_code == 404
    assert client.get(f"{BASE}/requests.json").get_json() == []


def test_unknown_format_and_discovery(client: Any) -> None:
    assert client.get(f"{BASE}/services.csv").status_code == 404
    discovery = client.get(f"{BASE}/discovery.json").get_json()
    assert discovery["endpoints"][0]["url"].endswith("/open311/v2/")


def test_add_client_refuses_a_duplicate_name(app: Flask, api_key: str) -> None:
    result = _add_client(app, "iHanoi")
    assert result.exit_code == 1 and "A client with this name exists." in result.output
