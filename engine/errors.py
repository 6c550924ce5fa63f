"""One error hierarchy for the engine; the web layer maps each class to an HTTP status in one place."""
from __future__ import annotations

from dataclasses import dataclass


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    http_status = 500

    def __init__(self, message: str = "", **context: object) -> None:
        super().__init__(message)
        self.message = message
        self.context = context


class NotFound(EngineError):
    """The instance, task or definition does not exist (or is not visible to the caller)."""

    http_status = 404


class Forbidden(EngineError):
    """The caller's role or scope does not allow the action."""

    http_status = 403


class Conflict(EngineError):
    """The object changed meanwhile: task taken, already completed, or a lost race."""

    http_status = 409


class ValidationFailed(EngineError):
    """Submitted data does not satisfy the form; `errors` maps field name to message."""

    http_status = 400

    def __init__(self, errors: dict[str, str], message: str = "invalid data") -> None:
        super().__init__(message)
        self.errors = errors


class ScriptError(EngineError):
    """A BPMN expression or script was refused by the sandbox or failed while running."""

    http_status = 400


@dataclass(frozen=True)
class Problem:
    """One problem found in a BPMN file: where it is and what is wrong."""

    message: str
    file: str = ""
    line: int | None = None
    element_id: str = ""
    element_name: str = ""

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p)
        elem = f" [{self.element_id}{' ' + self.element_name if self.element_name else ''}]" if self.element_id else ""
        return f"{where}{elem}: {self.message}" if where or elem else self.message


class BpmnRejected(EngineError):
    """A BPMN model (or its XML) cannot be accepted; `problems` lists every reason found."""

    http_status = 400

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class ProcessFailed(EngineError):
    """The process model failed while running (a script, condition or expression); the step is rolled back."""

    http_status = 500


class StateVersionUnsupported(ProcessFailed):
    """A stored instance is in a serialized format this release does not read (written by a newer release, or
    an old format whose migration would run code); it is refused before anything is deserialized."""
