"""What process designers' models must respect in this domain: the lanes that are roles, the helpers, forms."""
from __future__ import annotations

from engine.validation import Rules
from workflows.helpers import HELPERS
from workflows.lanes import LANES


def validation_rules() -> Rules:
    """Return the validation rules of petition processes: lane name -> role, helper names, forms required."""
    return Rules(lanes={lane: role for lane, (role, _, _) in LANES.items()}, helpers=frozenset(HELPERS),
                 require_forms=True)
