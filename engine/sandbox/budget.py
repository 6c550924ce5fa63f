"""The per-thread `sys.settrace` time and call-depth budget, and its uncatchable stop signal."""
from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from engine.errors import ScriptError
from engine.sandbox.limits import MAX_CALL_DEPTH, SCRIPT_FILENAME


class ScriptTimeout(ScriptError):
    """A script or expression ran longer than its wall-clock budget."""


class _Abort(BaseException):
    """Carries a sandbox error out of BPMN code; a BaseException so `except Exception` in a script cannot stop it."""

    def __init__(self, error: ScriptError) -> None:
        super().__init__(str(error))
        self.error = error


@contextmanager
def time_budget(seconds: float, max_depth: int = MAX_CALL_DEPTH) -> Iterator[None]:
    """Stop BPMN code at its next step after `seconds`, or when its calls nest deeper than `max_depth`.

    Only frames of the compiled BPMN code are traced, per thread. CPython unsets the tracer once it has raised,
    so the error must not be catchable by the script: `_Abort` is a BaseException, the compiler refuses bare
    `except:`, `finally`, `with` and computed `except` types, and `mro` is not reachable. It is turned into a
    `ScriptError` (`ScriptTimeout` for the budget) when it leaves the BPMN code.
    """
    deadline = time.monotonic() + seconds
    depth = 0

    def on_step(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal depth
        if event == "return":
            depth -= 1
        elif time.monotonic() > deadline:
            raise _Abort(ScriptTimeout(f"Stopped: the script ran longer than its time budget of {seconds:g} s"))
        return on_step

    def on_call(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal depth
        if frame.f_code.co_filename != SCRIPT_FILENAME:
            return None
        depth += 1
        if depth > max_depth:  # well before Python's own limit, which would make the tracer itself fail
            raise _Abort(ScriptError(f"Refused by the sandbox: calls nested deeper than {max_depth}"))
        frame.f_trace_opcodes = True  # `while True: pass` is one jump to itself: it emits no line events
        return on_step(frame, event, arg)

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        yield
    except _Abort as abort:
        raise abort.error.with_traceback(abort.__traceback__) from None
    finally:
        sys.settrace(previous)
