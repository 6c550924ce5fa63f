"""HTML forms from task JSON Schemas: convert posted values by type, and describe the widgets to render.

Conversion only shapes the values (numbers, booleans, lists); the engine validates the result against
the same schema (engine/forms.py), so a value that cannot be converted is passed on as typed, to be
reported there with a message on its field.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

BOOLEAN_OPTIONS = (("true", _l("Yes")), ("false", _l("No")))


@dataclass(frozen=True)
class Field:
    """One form field as the template renders it; `value` is a string, or a list of strings for checkboxes."""

    name: str
    label: str
    widget: str  # select | checkboxes | textarea | date | number | radio | text
    required: bool
    value: Any
    options: tuple[tuple[str, Any], ...] = ()
    help: str = ""
    attrs: Mapping[str, Any] = field(default_factory=dict)


def _type(prop: Mapping[str, Any]) -> str:
    kind = prop.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return str(kind)


def _scalar(kind: str, raw: str) -> Any:
    text = raw.strip()
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            return text
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            return text
        return number if math.isfinite(number) else text
    if kind == "boolean":
        return {"true": True, "false": False}.get(text.lower(), text)
    return text


def coerce_form(schema: Mapping[str, Any], form: MultiDict[str, str]) -> dict[str, Any]:
    """Return the declared fields of a posted form converted by the schema's types; empty values dropped.

    An array is always present (an empty list when no box is ticked), because unticked checkboxes send
    nothing at all.
    """
    values: dict[str, Any] = {}
    for name, prop in (schema or {}).get("properties", {}).items():
        kind = _type(prop)
        if kind == "array":
            item_kind = _type(prop.get("items") or {})
            values[name] = [_scalar(item_kind, v) for v in form.getlist(name) if v.strip()]
            continue
        raw = form.get(name)
        if raw is not None and raw.strip():
            values[name] = _scalar(kind, raw)
    return values


def _title(node: Mapping[str, Any], lang: str, fallback: str) -> str:
    if lang == "en" and node.get("x-title-en"):
        return str(node["x-title-en"])
    return str(node.get("title") or fallback)


def _options(prop: Mapping[str, Any], lang: str) -> tuple[tuple[str, str], ...]:
    choices = prop.get("oneOf")
    if isinstance(choices, list) and choices and all(isinstance(c, dict) and "const" in c for c in choices):
        return tuple((str(c["const"]), _title(c, lang, str(c["const"]))) for c in choices)
    if isinstance(prop.get("enum"), list):
        names = prop.get("x-labels") or {}
        return tuple((str(code), (names.get(code) or {}).get(lang) or str(code)) for code in prop["enum"])
    return ()


def _widget(prop: Mapping[str, Any], kind: str, options: tuple[tuple[str, str], ...]) -> str:
    if kind == "array":
        return "checkboxes" if options else "text"
    if options:
        return "select"
    if prop.get("x-widget") == "textarea":
        return "textarea"
    if prop.get("format") == "date":
        return "date"
    if kind in ("integer", "number"):
        return "number"
    return "radio" if kind == "boolean" else "text"


def _current(name: str, prop: Mapping[str, Any], data: Mapping[str, Any]) -> Any:
    if name in data:
        return data[name]
    source = prop.get("x-default-from")
    if source and data.get(source) is not None:
        return data[source]
    return prop.get("default")


def _display(value: Any, widget: str) -> Any:
    if widget == "checkboxes":
        items = value if isinstance(value, list | tuple) else ([] if value in (None, "") else [value])
        return [str(v) for v in items]
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _attrs(prop: Mapping[str, Any], kind: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if "maxLength" in prop:
        attrs["maxlength"] = prop["maxLength"]
    if "minimum" in prop:
        attrs["min"] = prop["minimum"]
    if "maximum" in prop:
        attrs["max"] = prop["maximum"]
    if kind in ("integer", "number"):
        attrs["step"] = 1 if kind == "integer" else "any"
    return attrs


def _field(name: str, prop: Mapping[str, Any], required: bool, data: Mapping[str, Any], lang: str) -> Field:
    kind = _type(prop)
    options = _options(prop.get("items") or {}, lang) if kind == "array" else _options(prop, lang)
    widget = _widget(prop, kind, options)
    if widget == "radio":
        options = BOOLEAN_OPTIONS
    description = prop.get("x-description-en") if lang == "en" and prop.get("x-description-en") else prop.get(
        "description", "")
    return Field(
        name=name, label=_title(prop, lang, name), widget=widget, required=required,
        value=_display(_current(name, prop, data), widget), options=options, help=str(description or ""),
        attrs=_attrs(prop, kind),
    )


def field_widgets(schema: Mapping[str, Any] | None, data: Mapping[str, Any], lang: str) -> list[Field]:
    """Describe each property of a form schema for the template, in schema order, labelled in `lang`."""
    if not schema:
        return []
    required = set(schema.get("required") or ())
    return [
        _field(name, prop, name in required, data, lang)
        for name, prop in (schema.get("properties") or {}).items()
        if not name.startswith("_") and not prop.get("readOnly")
    ]
