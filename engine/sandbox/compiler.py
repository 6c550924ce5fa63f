"""Compiling BPMN code under the sandbox policy, with an LRU cache and the deploy-time `compile_check`."""
from __future__ import annotations

import ast
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from types import CodeType

from RestrictedPython import compile_restricted_eval, compile_restricted_exec

from engine.errors import ScriptError
from engine.sandbox.limits import CACHE_SIZE, MAX_SOURCE_CHARS, SCRIPT_FILENAME
from engine.sandbox.policy import Policy, StaticLimits


@dataclass(frozen=True)
class _Compiled:
    code: CodeType | None
    errors: tuple[str, ...]


_cache: OrderedDict[tuple[str, str], _Compiled] = OrderedDict()
_cache_lock = threading.Lock()


def _syntax_error(exc: SyntaxError) -> str:
    statement = exc.text.strip()[:80] if exc.text else ""
    return f"Line {exc.lineno or 1}: SyntaxError: {exc.msg} at statement: {statement!r}"


def _compile_uncached(source: str, mode: str) -> _Compiled:
    if len(source) > MAX_SOURCE_CHARS:
        return _Compiled(None, (f"Line 1: the text is too long ({len(source)} characters, at most {MAX_SOURCE_CHARS})",))
    try:
        tree = ast.parse(source, SCRIPT_FILENAME, mode)
    except SyntaxError as exc:
        return _Compiled(None, (_syntax_error(exc),))
    checker = StaticLimits()
    checker.visit(tree)
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compiler(tree, SCRIPT_FILENAME, policy=Policy)
    errors = tuple(result.errors) + tuple(checker.problems)
    return _Compiled(None if errors else result.code, errors)


def _compile(source: str, mode: str) -> _Compiled:
    """Compile (or fetch from the LRU cache) one expression or script."""
    if mode not in ("eval", "exec"):
        raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
    if not isinstance(source, str):
        return _Compiled(None, (f"Line 1: expected text, got {type(source).__name__}",))
    key = (mode, source)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    try:
        compiled = _compile_uncached(source, mode)
    except (RecursionError, MemoryError):
        compiled = _Compiled(None, ("Line 1: the text is too deeply nested to compile",))
    except ValueError as exc:  # e.g. a NUL character in the source
        compiled = _Compiled(None, (f"Line 1: the text cannot be compiled: {exc}",))
    with _cache_lock:
        _cache[key] = compiled
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled


def _error_line(errors: Iterable[str]) -> int | None:
    for error in errors:
        match = re.match(r"Line (\d+)", error)
        if match:
            return int(match.group(1))
    return None


def compile_check(source: str, mode: str = "eval") -> list[str]:
    """Return why the sandbox refuses `source` (empty list when it compiles)."""
    return list(_compile(source, mode).errors)


def compiled_or_refuse(source: str, mode: str) -> CodeType:
    """Return the compiled code of `source`, or raise `ScriptError` listing why the sandbox refuses it."""
    compiled = _compile(source, mode)
    if compiled.errors or compiled.code is None:
        errors = list(compiled.errors)
        raise ScriptError(f"Refused by the sandbox: {'; '.join(errors)}", errors=errors, line=_error_line(errors))
    return compiled.code
