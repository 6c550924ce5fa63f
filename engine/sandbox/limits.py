"""Size, depth and time limits shared by the sandbox's compiler, guards and budget."""
from __future__ import annotations

import re

SCRIPT_FILENAME = "<bpmn>"
DEFAULT_TIME_BUDGET = 2.0
MAX_SOURCE_CHARS = 20_000
MAX_CONST_EXPONENT = 64
MAX_REPEAT_LITERAL = 10_000
MAX_SEQUENCE_LENGTH = 100_000
MAX_INT_BITS = 100_000
MAX_FORMAT_WIDTH = 1_000
MAX_DATA_DEPTH = 32
MAX_CALL_DEPTH = 50
CACHE_SIZE = 1024

_PERCENT_SPEC = re.compile(rb"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def percent_format_ok(template: str | bytes) -> bool:
    """Tell whether every width and precision in a %-format template is constant and small."""
    raw = template.encode("utf-8", "surrogatepass") if isinstance(template, str) else template
    for match in _PERCENT_SPEC.finditer(raw):
        for group in match.groups():
            if group == b"*" or (group is not None and int(group) > MAX_FORMAT_WIDTH):
                return False
    return True
