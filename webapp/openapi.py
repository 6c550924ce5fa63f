"""OpenAPI 3.1 description of /api/v1."""
from __future__ import annotations

from typing import Any

_ERR = {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_AUTH = [{"bearer": []}]


def _op(summary: str, ok: str = "OK", body: str | None = None, secured: bool = True, **codes: str) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {"200": {"description": ok}}}
    if secured:
        op["security"] = _AUTH
        op["responses"]["401"] = _ERR
    for code, _ in codes.items():
        op["responses"][code.lstrip("_")] = _ERR
    if body:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}}}
    return op


_TASK_ID = [{"name": "task_id", "in": "path", "required": True, "schema": {"type": "string"}}]

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Petitions API — Ban Quản lý các KCNC và KCN TP Hà Nội", "version": "1.0.0",
             "description": "Submit petitions, follow them, and work task inboxes. Dates are ISO 8601."},
    "servers": [{"url": "/api/v1"}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "string"},
                                                       "errors": {"type": "object", "additionalProperties": {"type": "string"}}}},
            "Credentials": {"type": "object", "required": ["username", "password"],
                            "properties": {"username": {"type": "string"}, "password": {"type": "string"}}},
            "NewPetition": {"type": "object", "required": ["title", "content", "zone"], "properties": {
                "title": {"type": "string", "maxLength": 500}, "content": {"type": "string", "maxLength": 20000},
                "zone": {"type": "string", "description": "zone code, e.g. TL, HHTP"},
                "channel": {"type": "string", "description": "channel code, e.g. CONG_DVC, VAN_BAN, EMAIL"},
                "category_hint": {"type": "string"},
                "tax_code": {"type": "string", "description": "intake officers: the enterprise's tax code"},
                "enterprise_name": {"type": "string", "description": "creates the enterprise if the tax code is new"},
                "submission_key": {"type": "string", "description": "idempotency key (or the Idempotency-Key header)"}}},
            "Completion": {"type": "object", "required": ["data"], "properties": {
                "data": {"type": "object", "description": "the fields of the task's form"},
                "version": {"type": "integer", "description": "instance version seen by the client (optional)"}}},
        },
    },
    "paths": {
        "/auth/token": {"post": _op("Get a bearer token", "token", "Credentials", secured=False, _400="")},
        "/petitions": {
            "post": {**_op("Submit a petition", "created", "NewPetition", _400="", _403="", _422=""),
                     "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                     "schema": {"type": "string", "minLength": 8, "maxLength": 64},
                                     "description": "a retry with the same key and body returns the first "
                                                    "petition (header Idempotent-Replayed: true); the same key "
                                                    "with another body is refused with 422"}]},
            "get": _op("List the petitions visible to the caller"),
        },
        "/petitions/{tracking_code}": {"get": {**_op("Public status, or the full record with history", secured=False,
                                                     _404=""),
                                               "parameters": [{"name": "tracking_code", "in": "path", "required": True,
                                                               "schema": {"type": "string"}}]}},
        "/tasks": {"get": {**_op("One page of the caller's inbox (due date, then priority KHAN, CAO, THUONG, "
                                 "then the oldest first)", _400=""),
                           "parameters": [
                               {"name": "limit", "in": "query", "required": False,
                                "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
                               {"name": "after", "in": "query", "required": False, "schema": {"type": "string"},
                                "description": "the `next` cursor of the previous page; the response's `next` "
                                               "is null on the last page"}]}},
        "/tasks/{task_id}": {"get": {**_op("A task with its form", _403="", _404=""), "parameters": _TASK_ID}},
        "/tasks/{task_id}/claim": {"post": {**_op("Claim a task", _403="", _404="", _409=""), "parameters": _TASK_ID}},
        "/tasks/{task_id}/release": {"post": {**_op("Release a task", _403="", _404="", _409=""), "parameters": _TASK_ID}},
        "/tasks/{task_id}/complete": {"post": {**_op("Complete a task", "completed", "Completion", _400="", _403="",
                                                     _404="", _409=""), "parameters": _TASK_ID}},
        "/openapi.json": {"get": _op("This description", secured=False)},
    },
}
