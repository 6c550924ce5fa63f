"""Validate a task submission against its JSON-Schema form; only declared fields survive."""
from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from engine.errors import ValidationFailed

# Fixed English messages: the web layer uses them as gettext message ids.
_MESSAGES = {
    "required": "This field is required.",
    "enum": "Choose one of the allowed values.",
    "const": "Choose one of the allowed values.",
    "oneOf": "Choose one of the allowed values.",
    "type": "The value has the wrong type.",
    "maxLength": "The text is too long.",
    "minLength": "The text is too short.",
    "minimum": "The value is too small.",
    "maximum": "The value is too large.",
    "format": "The value has the wrong format.",
    "uniqueItems": "Each item may appear only once.",
    "minItems": "Choose at least one item.",
    "maxItems": "Too many items.",
    "pattern": "The value has the wrong format.",
}


def _field_of(error: ValidationError) -> str:
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in (error.instance or {})]
        return ".".join([*map(str, error.absolute_path), missing[0]]) if missing else "_form"
    return ".".join(str(p) for p in error.absolute_path) or "_form"


def clean_submission(schema: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Return the declared fields of `data` after validating them; raise ValidationFailed with field messages."""
    if not isinstance(data, dict):
        raise ValidationFailed({"_form": "The submission must be an object."})
    declared = schema.get("properties", {})
    kept = {k: v for k, v in data.items() if k in declared and not k.startswith("_")}
    kept = {k: v for k, v in kept.items() if v is not None and v != ""}
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors: dict[str, str] = {}
    for error in sorted(validator.iter_errors(kept), key=lambda e: list(e.absolute_path)):
        if error.validator == "additionalProperties":
            continue  # undeclared fields were dropped above
        errors.setdefault(_field_of(error), _MESSAGES.get(str(error.validator), "The value is not valid."))
    if errors:
        raise ValidationFailed(errors)
    return kept


def check_schema(schema: dict[str, Any]) -> list[str]:
    """Return the problems of a form schema itself (empty when it is a valid JSON Schema)."""
    return [e.message for e in Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(schema)]
