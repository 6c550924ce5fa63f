"""Open311 GeoReport v2 under /open311/v2 (JSON and XML), a standard door for city platforms.

GET endpoints are public and show only public fields; POST requests needs a registered client's `api_key`.
Errors use the GeoReport shape: a list of {code, description}. CSRF does not apply (no cookie is used).
"""
from __future__ import annotations

import datetime as dt
from typing import Any
from xml.etree import ElementTree as ET

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from engine.errors import EngineError, ValidationFailed
from webapp import db
from webapp.auth import public
from webapp.ratelimit import limited
from workflows import open311
from workflows.open311 import NewRequest, RequestFilter

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
FORMATS = ("json", "xml")


def _lang() -> str:
    return "en" if (request.args.get("locale") or request.form.get("locale") or "").startswith("en") else "vi"


def _xml_value(parent: ET.Element, key: str, value: Any) -> None:
    child = ET.SubElement(parent, key)
    if isinstance(value, list):
        for item in value:
            _xml_item(child, "value" if key == "values" else key.rstrip("s"), item)
    elif isinstance(value, dict):
        for k, v in value.items():
            _xml_value(child, k, v)
    elif isinstance(value, bool):
        child.text = "true" if value else "false"
    elif value is not None:
        child.text = str(value)


def _xml_item(parent: ET.Element, tag: str, item: Any) -> None:
    element = ET.SubElement(parent, tag)
    for key, value in (item.items() if isinstance(item, dict) else ()):
        _xml_value(element, key, value)


def _respond(fmt: str, body: Any, root: str, item: str, status: int = 200) -> Response:
    if fmt == "json":
        response = jsonify(body)
        response.status_code = status
        return response
    element = ET.Element(root)
    if isinstance(body, list):
        for entry in body:
            _xml_item(element, item, entry)
    else:
        for key, value in body.items():
            _xml_value(element, key, value)
    xml = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(element, encoding="utf-8", xml_declaration=False)
    return Response(xml, status=status, mimetype="text/xml", content_type="text/xml; charset=utf-8")


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise _Error(404, "Unknown response format: use .json or .xml.")
    return fmt


class _Error(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


def _error_format() -> str:
    return "xml" if request.path.endswith(".xml") else "json"


@bp.errorhandler(_Error)
def _own_error(exc: _Error) -> Response:
    return _respond(_error_format(), [{"code": exc.code, "description": exc.description}], "errors", "error",
                    exc.code)


@bp.errorhandler(EngineError)
def _engine_error(exc: EngineError) -> Response:
    if isinstance(exc, ValidationFailed):
        body = [{"code": 400, "description": f"{field}: {message}"} for field, message in exc.errors.items()]
        return _respond(_error_format(), body, "errors", "error", 400)
    status = exc.http_status if exc.http_status < 500 else 500
    return _respond(_error_format(), [{"code": status, "description": exc.message or "error"}], "errors", "error",
                    status)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    return _respond(_error_format(), [{"code": status, "description": exc.name}], "errors", "error", status)


@bp.get("/discovery.<fmt>")
@public
def discovery(fmt: str) -> Response:
    """Describe this endpoint (GeoReport service discovery)."""
    base = request.host_url.rstrip("/") + bp.url_prefix + "/"
    body = {"changeset": "2026-01-01T00:00:00+07:00", "contact": "Ban Quản lý các KCNC và KCN TP Hà Nội",
            "key_service": "Liên hệ Văn phòng Ban để được cấp api_key",
            "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": base,
                           "changeset": "2026-01-01T00:00:00+07:00", "type": "production",
                           "formats": ["application/json", "text/xml"]}]}
    return _respond(_fmt(fmt), body, "discovery", "endpoint")


@bp.get("/services.<fmt>")
@public
def services(fmt: str) -> Response:
    """List the services: one per petition category."""
    return _respond(_fmt(fmt), open311.services(_lang()), "services", "service")


@bp.get("/services/<code>.<fmt>")
@public
def service_definition(code: str, fmt: str) -> Response:
    """Describe the attributes of a service's requests."""
    return _respond(_fmt(fmt), open311.service_definition(code, _lang()), "service_definition", "attribute")


def _datetime(name: str) -> dt.datetime | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _Error(400, f"{name} is not a W3C date-time.") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=open311.HANOI)


def _list(name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in request.args.get(name, "").split(",") if part.strip())


@bp.get("/requests.<fmt>")
@public
def list_requests(fmt: str) -> Response:
    """List requests: filters service_request_id, service_code, status (open/closed), start_date, end_date."""
    fmt = _fmt(fmt)
    flt = RequestFilter(ids=_list("service_request_id"), service_codes=_list("service_code"),
                        statuses=_list("status"), start=_datetime("start_date"), end=_datetime("end_date"))
    return _respond(fmt, open311.find_requests(db.session(), flt, _lang()), "service_requests", "request")


@bp.get("/requests/<request_id>.<fmt>")
@public
def get_request(request_id: str, fmt: str) -> Response:
    """Return one request (a one-element list, as the specification says)."""
    fmt = _fmt(fmt)
    return _respond(fmt, [open311.get_request(db.session(), request_id.strip().upper()[:40], _lang())],
                    "service_requests", "request")


def _attributes() -> dict[str, str]:
    found = {}
    for key, value in request.form.items():
        if key.startswith("attribute[") and key.endswith("]"):
            found[key[len("attribute["):-1]] = value
    return found


@bp.post("/requests.<fmt>")
@public
@limited("open311")
def create_request(fmt: str) -> Response:
    """Create a petition from a request; needs the client's api_key."""
    fmt = _fmt(fmt)
    session = db.session()
    key = request.form.get("api_key") or request.args.get("api_key")
    if not key:
        raise _Error(400, "api_key was not provided.")
    client = open311.client_for_key(session, key)
    if client is None:
        raise _Error(403, "api_key is invalid.")
    if not request.form.get("service_code"):
        raise _Error(400, "service_code was not provided.")
    form = request.form
    req = NewRequest(
        service_code=form.get("service_code", ""), description=form.get("description", ""),
        attributes=_attributes(), email=form.get("email", ""), first_name=form.get("first_name", ""),
        last_name=form.get("last_name", ""), phone=form.get("phone", ""),
        address_string=form.get("address_string", ""),
        idempotency_key=request.headers.get("Idempotency-Key", "")[:200],
    )
    petition = open311.create_request(session, current_app.extensions["petitions.runtime"], client, req)
    session.commit()
    notice = f"Đã tiếp nhận. Mã theo dõi {petition.tracking_code}; tra cứu tại /track?code={petition.tracking_code}"
    return _respond(fmt, [{"service_request_id": petition.tracking_code, "service_notice": notice,
                           "account_id": None}], "service_requests", "request")
