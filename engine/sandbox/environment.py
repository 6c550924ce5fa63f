"""The task-data environment and the SpiffWorkflow script engine that run BPMN code in the sandbox."""
from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.errors import ScriptError
from engine.sandbox.budget import time_budget
from engine.sandbox.compiler import compiled_or_refuse
from engine.sandbox.guards import BUILTINS, GUARDS
from engine.sandbox.limits import DEFAULT_TIME_BUDGET, MAX_DATA_DEPTH, SCRIPT_FILENAME

# The package's name, as before the split into modules, so logging configured for it keeps matching.
log = logging.getLogger(__package__)

_SCALARS = frozenset({type(None), bool, int, float, str, datetime, timedelta, UUID})
_KEYS = frozenset({str, int, float, bool, type(None)})


def storable(value: Any, depth: int = 0) -> bool:
    """Tell whether a value can be saved in task data (JSON, datetime, timedelta, UUID; no callables)."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if depth >= MAX_DATA_DEPTH:
        return False
    if kind in (list, tuple):
        return all(storable(item, depth + 1) for item in value)
    if kind is dict:
        return all(type(k) in _KEYS and storable(v, depth + 1) for k, v in value.items())
    return False


class RestrictedEnvironment(TaskDataEnvironment):
    """Evaluate and execute BPMN code with RestrictedPython, guards, size checks and a time budget."""

    def __init__(self, helpers: Mapping[str, Callable[..., Any]] | None = None,
                 time_budget: float = DEFAULT_TIME_BUDGET) -> None:
        helpers = dict(helpers or {})
        for name, func in helpers.items():
            if not name.isidentifier() or name.startswith("_") or not callable(func):
                raise ValueError(f"helper {name!r} must be a callable with a public identifier name")
        if time_budget <= 0:
            raise ValueError("time_budget must be positive")
        super().__init__(environment_globals=helpers)
        self.helpers = helpers
        self.time_budget = time_budget
        self.reserved = frozenset(BUILTINS) | frozenset(helpers)

    def visible(self, key: Any) -> bool:
        """Tell whether a task data key is exposed to scripts (and may be written by them)."""
        return isinstance(key, str) and not key.startswith("_") and key not in self.reserved

    def scope(self, context: Mapping[str, Any], external_context: Mapping[str, Any] | None) -> dict[str, Any]:
        """Build the globals: task data, external context, helpers, then guards and builtins last."""
        scope = {k: v for k, v in context.items() if self.visible(k)}
        scope.update({k: v for k, v in (external_context or {}).items() if self.visible(k)})
        scope.update(self.helpers)
        scope.update(GUARDS)
        scope["__builtins__"] = dict(BUILTINS)
        return scope

    def evaluate(self, expression: str, context: dict[str, Any],
                 external_context: Mapping[str, Any] | None = None) -> Any:
        """Return the value of a restricted expression evaluated against the task data."""
        code = compiled_or_refuse(expression, "eval")
        scope = self.scope(context, external_context)
        try:
            with time_budget(self.time_budget):
                return eval(code, scope)
        finally:
            self.drop_unstorable(context, containers_only=True)

    def execute(self, script: str, context: dict[str, Any],
                external_context: Mapping[str, Any] | None = None) -> bool:
        """Run a restricted script and write its storable variables back into the task data."""
        code = compiled_or_refuse(script, "exec")
        scope = self.scope(context, external_context)
        try:
            with time_budget(self.time_budget):
                exec(code, scope)
        finally:
            self.write_back(context, scope, external_context or {})
        return True

    def write_back(self, context: dict[str, Any], scope: Mapping[str, Any], external: Mapping[str, Any]) -> None:
        """Copy the script's variables into the task data: deletions too, but nothing unstorable."""
        for key in [k for k in context if self.visible(k) and k not in scope]:
            del context[key]
        dropped = []
        for key, value in scope.items():
            if not self.visible(key) or key in external:
                continue
            if storable(value):
                context[key] = value
            else:
                context.pop(key, None)
                dropped.append(key)
        if dropped:
            log.warning("sandbox dropped unstorable task data: %s", ", ".join(sorted(dropped)))

    def drop_unstorable(self, context: dict[str, Any], containers_only: bool = False) -> None:
        """Remove task data values that cannot be saved (an expression may have mutated a list or dict)."""
        dropped = [k for k, v in context.items() if self.visible(k)
                   and (not containers_only or type(v) in (list, dict)) and not storable(v)]
        for key in dropped:
            del context[key]
        if dropped:
            log.warning("sandbox dropped unstorable task data: %s", ", ".join(sorted(dropped)))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class RestrictedScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's engine with clearer errors: the cause and line are kept on the workflow exception."""

    def evaluate(self, task: Any, expression: str, external_context: Mapping[str, Any] | None = None) -> Any:
        """Evaluate like SpiffWorkflow, adding the underlying error to the `WorkflowTaskException`."""
        try:
            return super().evaluate(task, expression, external_context)
        except WorkflowTaskException as exc:
            cause = exc.__context__
            if cause is not None and not isinstance(cause, SpiffWorkflowException):
                exc.__cause__ = cause
                exc.add_note(_describe(cause))
                if isinstance(cause, ScriptError) and cause.context.get("line"):
                    exc.line_number = cause.context["line"]
            raise

    def create_task_exec_exception(self, task: Any, script: str, err: Exception) -> Exception:
        """Wrap a script error with its task and line (robust to exceptions whose args are not text)."""
        if isinstance(err, SpiffWorkflowException):
            return super().create_task_exec_exception(task, script, err)
        line_number, error_line = self.get_error_line_number_and_content(script, err)
        wrapped = WorkflowTaskException(_describe(err), task=task, exception=err, line_number=line_number,
                                        error_line=error_line)
        wrapped.__cause__ = err
        return wrapped

    def get_error_line_number_and_content(self, script: str, err: BaseException) -> tuple[int, str]:
        """Return the failing line of the BPMN script (0 and '' when unknown)."""
        line = 0
        if isinstance(err, SyntaxError):
            line = err.lineno or 0
        elif isinstance(err, ScriptError):
            line = err.context.get("line") or 0
        for frame in traceback.extract_tb(err.__traceback__):
            if frame.filename == SCRIPT_FILENAME and frame.lineno:
                line = frame.lineno
        lines = script.splitlines() if isinstance(script, str) else []
        return line, lines[line - 1] if 0 < line <= len(lines) else ""


def make_script_engine(helpers: Mapping[str, Callable[..., Any]],
                       time_budget: float = DEFAULT_TIME_BUDGET) -> PythonScriptEngine:
    """Return the sandboxed script engine exposing `helpers` to BPMN expressions and scripts."""
    return RestrictedScriptEngine(environment=RestrictedEnvironment(helpers, time_budget=time_budget))
