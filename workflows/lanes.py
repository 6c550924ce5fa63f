"""Lanes are roles; the scope of a task comes from its data (DESIGN decision 6)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.contracts import Principal
from workflows.models import Enterprise, User

# lane name in the BPMN -> (role, scope kind, task-data key holding the scope value)
LANES: dict[str, tuple[str, str | None, str | None]] = {
    "intake": ("intake", None, None),
    "leader": ("leader", None, None),
    "unit": ("unit", "unit", "lead_unit"),
    "agency": ("agency", "agency", "agency"),
    "enterprise": ("enterprise", "enterprise", "enterprise_tax_code"),
}

# When several tasks are open at once, the petition shows the most telling status.
_STATUS_PRECEDENCE = ("CHO_BO_SUNG", "MO_LAI", "DANG_XU_LY", "CHO_PHOI_HOP")


def lane_scope(lane: str, data: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
    """Return (role, scope kind, scope value) of a task in `lane` with `data`."""
    if lane not in LANES:
        raise ValueError(f"lane '{lane}' is not mapped to a role")
    role, kind, key = LANES[lane]
    return role, kind, (str(data.get(key)) if key and data.get(key) is not None else None)


def choose_status(statuses: list[str]) -> str:
    """Pick the status a petition shows when several of its tasks are open."""
    for status in _STATUS_PRECEDENCE:
        if status in statuses:
            return status
    return statuses[0] if statuses else ""


def principal_for(user: User, enterprise: Enterprise | None) -> Principal:
    """Return the engine principal of a user: roles and the scopes they carry."""
    scopes: dict[str, str] = {}
    if user.unit_code:
        scopes["unit"] = user.unit_code
    if user.agency_code:
        scopes["agency"] = user.agency_code
    if enterprise is not None:
        scopes["enterprise"] = enterprise.tax_code
    return Principal(name=user.username, roles=frozenset(user.roles), scopes=scopes)
