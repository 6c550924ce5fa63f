"""RestrictedPython script environment for SpiffWorkflow 3.2: every BPMN expression and script runs here.

Gateway conditions, script tasks, pre/post scripts, timer expressions, multi-instance expressions and the
`dueDate` properties all go through `PythonScriptEngine.evaluate/execute`, and so through
`RestrictedEnvironment`:

- the source is compiled with `compile_restricted_eval/exec` under a policy that also refuses imports,
  class definitions, `print`, calls to `open`/`getattr`/`type`/`vars`..., `str.format` on literals, and
  operations whose size is a large constant (`10**100`, `10**10**10`, `'a' * 10**9`, `1 << 10**9`, huge
  format widths). A refusal raises `ScriptError` naming the construct and line, before anything runs;
  `compile_check` applies the same compiler at deploy time. Compiled code is cached by source text;
- the globals are: visible task data (keys not starting with `_` and not naming a builtin or helper),
  then the helpers, then the guards and the builtins allow-list, so task data can shadow none of them;
- `+ * ** << %`, in-place operators, `sum`, `round` and the padding/joining `str` methods check the size
  of their result before the C code runs;
- a per-thread `sys.settrace` wall-clock budget (default 2 s) stops the compiled BPMN code at its next
  bytecode step once the deadline has passed (`ScriptTimeout`), and stops calls nested deeper than 50.
  CPython drops a tracer that has raised once, so the stop signal is a BaseException the script cannot
  catch: bare `except:`, `finally`, `with`, computed `except` types and `.mro` are refused at compile time;
- after a script, only JSON-storable values (plus datetime/timedelta/UUID, which the serializer handles)
  are written back to the task data: functions, modules, sets, generators... are dropped, with a warning.

Residual risks (this is defence in depth, not an OS-level sandbox; BPMN upload stays a privileged act):
- a single C-level operation cannot be interrupted by the trace budget. The size checks cover the obvious
  amplifiers, but a C call that is slow or large in a way not listed above (for example a pathological
  `str.replace` chain, or `sorted` over a large list built in a loop) runs to completion;
- memory is not limited: a Python loop can allocate a lot within the time budget;
- helpers are trusted code and run outside the budget; a slow helper is not interrupted;
- while a script runs, any tracer previously set on the thread (a debugger, coverage) is suspended.
For hard guarantees run engine steps in a worker process with `RLIMIT_CPU` / `RLIMIT_AS`.
"""
from __future__ import annotations

import ast
import logging
import operator
import re
import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import CodeType, FrameType
from typing import Any
from uuid import UUID

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr_raise,
)
from RestrictedPython.Limits import limited_range
from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.errors import ScriptError

log = logging.getLogger(__name__)

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

_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "*": operator.mul, "**": operator.pow, "<<": operator.lshift, "%": operator.mod,
}
_INPLACE: dict[str, tuple[str, Callable[[Any, Any], Any]]] = {
    "+=": ("+", operator.iadd), "-=": ("-", operator.isub), "*=": ("*", operator.imul), "/=": ("/", operator.itruediv),
}
_AST_OPERATORS: dict[type[ast.operator], str] = {
    ast.Add: "+", ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<", ast.Mod: "%",
}
_FORBIDDEN_CALLS = frozenset({
    "open", "getattr", "setattr", "delattr", "hasattr", "type", "vars", "globals", "locals", "dir", "compile",
    "breakpoint", "input", "help", "exit", "quit", "memoryview", "object", "super", "classmethod",
    "staticmethod", "property",
})
_SEQUENCES = (str, bytes, list, tuple)
_SCALARS = frozenset({type(None), bool, int, float, str, datetime, timedelta, UUID})
_KEYS = frozenset({str, int, float, bool, type(None)})
_PERCENT_SPEC = re.compile(rb"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_STR_AMPLIFIERS = frozenset({"join", "ljust", "rjust", "center", "zfill", "expandtabs", "replace"})


class ScriptTimeout(ScriptError):
    """A script or expression ran longer than its wall-clock budget."""


# ---- compile-time checks ------------------------------------------------------------------------------


def _where(node: ast.AST) -> str:
    return f"Line {getattr(node, 'lineno', '?')}"


def _snippet(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


def _const_number(node: ast.AST) -> int | float | None:
    """Return the value of a numeric literal (with an optional sign), else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _const_number(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    return None


_FOLDABLE: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Pow: operator.pow,
}


def _folded(node: ast.AST) -> int | float | None:
    """Return the value of a small constant arithmetic expression (`10**9`, `2*1000`), else None."""
    if not isinstance(node, ast.BinOp) or type(node.op) not in _FOLDABLE:
        return _const_number(node)
    left, right = _folded(node.left), _folded(node.right)
    if left is None or right is None or abs(left) > 2**64 or abs(right) > 2**64:
        return None
    if isinstance(node.op, ast.Pow) and abs(right) > MAX_CONST_EXPONENT:
        return None
    try:
        return _FOLDABLE[type(node.op)](left, right)
    except ArithmeticError:  # 0 ** -1, float overflow: not a size, let it fail at run time
        return None


def _is_sequence_literal(node: ast.AST) -> bool:
    return (isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes))) or isinstance(
        node, (ast.List, ast.Tuple, ast.ListComp, ast.JoinedStr)
    )


class _StaticLimits(ast.NodeVisitor):
    """Find constructs the sandbox refuses before RestrictedPython sees the tree."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def refuse(self, node: ast.AST, message: str) -> None:
        """Record one refusal at the node's line."""
        self.problems.append(f"{_where(node)}: {message}")

    def visit_Import(self, node: ast.Import) -> None:
        """Refuse `import x`."""
        self.refuse(node, f"import statements are not allowed ({_snippet(node)})")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        """Refuse `from x import y`."""
        self.refuse(node, f"import statements are not allowed ({_snippet(node)})")

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        """Refuse class definitions."""
        self.refuse(node, f"class definitions are not allowed (class {node.name})")

    def visit_Name(self, node: ast.Name) -> None:
        """Refuse `print`, whose output would go nowhere."""
        if node.id in ("print", "printed"):
            self.refuse(node, "print() is not available in BPMN scripts")

    def visit_Call(self, node: ast.Call) -> None:
        """Refuse calls to introspection and I/O builtins, and `.format` on string literals."""
        func = node.func
        if isinstance(func, ast.Name) and func.id in _FORBIDDEN_CALLS:
            self.refuse(node, f"calling {func.id}() is not allowed ({_snippet(node)})")
        if isinstance(func, ast.Attribute) and func.attr in ("format", "format_map") and _is_sequence_literal(func.value):
            self.refuse(node, f"str.{func.attr}() is not allowed, use an f-string ({_snippet(node)})")
        self.generic_visit(node)

    def visit_Try(self, node: ast.Try) -> None:
        """Refuse what could catch or outlast a sandbox abort: `finally`, bare `except:`, computed types."""
        if node.finalbody:
            self.refuse(node, "try/finally is not allowed")
        for handler in node.handlers:
            names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
            if handler.type is None:
                self.refuse(handler, "a bare 'except:' is not allowed, name the exception (except ValueError:)")
            elif not all(isinstance(name, ast.Name) for name in names):
                self.refuse(handler, f"except clauses must name exception classes ({_snippet(handler.type)})")
        self.generic_visit(node)

    def visit_TryStar(self, node: ast.AST) -> None:
        """Refuse `except*`."""
        self.refuse(node, "'except*' is not allowed")

    def visit_With(self, node: ast.With) -> None:
        """Refuse `with` statements (no context manager is available anyway)."""
        self.refuse(node, "'with' statements are not allowed")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        """Refuse `.mro`, which reaches BaseException and object."""
        if node.attr == "mro":
            self.refuse(node, f"'mro' is not allowed ({_snippet(node)})")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        """Allow only `+= -= *= /=`."""
        if type(node.op) not in (ast.Add, ast.Sub, ast.Mult, ast.Div):
            self.refuse(node, f"only +=, -=, *= and /= are allowed ({_snippet(node)})")
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        """Refuse powers, shifts and repetitions whose size is a large constant."""
        if isinstance(node.op, ast.Pow):
            self._check_power(node)
        elif isinstance(node.op, ast.LShift):
            shift = _folded(node.right)
            if shift is not None and shift > MAX_CONST_EXPONENT:
                self.refuse(node, f"shift by a large constant ({_snippet(node)}); shifts are limited to {MAX_CONST_EXPONENT}")
        elif isinstance(node.op, ast.Mult):
            self._check_repetition(node)
        elif isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant):
            self._check_percent_format(node)
        self.generic_visit(node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> None:
        """Refuse f-string format specs with nested fields or large widths."""
        spec = node.format_spec
        if isinstance(spec, ast.JoinedStr):
            if any(isinstance(part, ast.FormattedValue) for part in spec.values):
                self.refuse(node, "f-string format specs must be constant")
            texts = [part.value for part in spec.values if isinstance(part, ast.Constant)]
            if any(int(n) > MAX_FORMAT_WIDTH for text in texts for n in re.findall(r"\d+", str(text))):
                self.refuse(node, f"f-string format widths are limited to {MAX_FORMAT_WIDTH}")
        self.visit(node.value)

    def _check_power(self, node: ast.BinOp) -> None:
        if any(isinstance(side, ast.BinOp) and isinstance(side.op, ast.Pow) for side in (node.left, node.right)):
            self.refuse(node, f"nested powers are not allowed ({_snippet(node)})")
            return
        exponent = _const_number(node.right)
        if exponent is not None and abs(exponent) > MAX_CONST_EXPONENT:
            self.refuse(node, f"power with a large constant exponent ({_snippet(node)}); "
                              f"exponents are limited to {MAX_CONST_EXPONENT}")

    def _check_repetition(self, node: ast.BinOp) -> None:
        for seq, count in ((node.left, node.right), (node.right, node.left)):
            if not _is_sequence_literal(seq):
                continue
            number = _folded(count)
            if number is not None and number > MAX_REPEAT_LITERAL:
                self.refuse(node, f"repetition by a large constant ({_snippet(node)}); "
                                  f"at most {MAX_REPEAT_LITERAL} repetitions")

    def _check_percent_format(self, node: ast.BinOp) -> None:
        value = node.left.value if isinstance(node.left, ast.Constant) else None
        if isinstance(value, (str, bytes)) and not _percent_format_ok(value):
            self.refuse(node, f"%-format widths must be constant and at most {MAX_FORMAT_WIDTH} ({_snippet(node)})")


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, with size-amplifying operators routed through `_binop_`."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        """Rewrite `a <op> b` into `_binop_('<op>', a, b)` for the guarded operators."""
        node = self.node_contents_visit(node)
        symbol = _AST_OPERATORS.get(type(node.op))
        if symbol is None:
            return node
        call = ast.Call(func=ast.Name("_binop_", ast.Load()), args=[ast.Constant(symbol), node.left, node.right],
                        keywords=[])
        copy_locations(call, node)
        return call


# ---- compiling and caching ----------------------------------------------------------------------------


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
    checker = _StaticLimits()
    checker.visit(tree)
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compiler(tree, SCRIPT_FILENAME, policy=_Policy)
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


def _compiled_or_refuse(source: str, mode: str) -> CodeType:
    compiled = _compile(source, mode)
    if compiled.errors or compiled.code is None:
        errors = list(compiled.errors)
        raise ScriptError(f"Refused by the sandbox: {'; '.join(errors)}", errors=errors, line=_error_line(errors))
    return compiled.code


# ---- run-time guards ----------------------------------------------------------------------------------


def _too_big(what: str) -> ScriptError:
    return ScriptError(f"Refused by the sandbox: {what} would be too large")


def _percent_format_ok(template: str | bytes) -> bool:
    raw = template.encode("utf-8", "surrogatepass") if isinstance(template, str) else template
    for match in _PERCENT_SPEC.finditer(raw):
        for group in match.groups():
            if group == b"*" or (group is not None and int(group) > MAX_FORMAT_WIDTH):
                return False
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int)


def _check_add(left: Any, right: Any) -> None:
    if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        if len(left) + len(right) > MAX_SEQUENCE_LENGTH:
            raise _too_big("the concatenation")


def _check_mul(left: Any, right: Any) -> None:
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, _SEQUENCES) and _is_int(count) and len(seq) * count > MAX_SEQUENCE_LENGTH:
            raise _too_big("the repetition")
    if _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise _too_big("the product")


def _check_pow(base: Any, exponent: Any) -> None:
    if _is_int(base) and _is_int(exponent) and exponent > 0 and abs(base) > 1:
        if base.bit_length() * exponent > MAX_INT_BITS:
            raise _too_big("the power")


def _check_lshift(left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right) and left and left.bit_length() + right > MAX_INT_BITS:
        raise _too_big("the shift")


def _check_mod(left: Any, right: Any) -> None:
    if isinstance(left, (str, bytes)) and not _percent_format_ok(left):
        raise ScriptError(f"Refused by the sandbox: %-format widths must be constant and at most {MAX_FORMAT_WIDTH}")


_CHECKS: dict[str, Callable[[Any, Any], None]] = {
    "+": _check_add, "*": _check_mul, "**": _check_pow, "<<": _check_lshift, "%": _check_mod,
}


def guarded_binop(op: str, left: Any, right: Any) -> Any:
    """Apply `left <op> right` after checking that the result stays small."""
    _CHECKS[op](left, right)
    return _OPERATORS[op](left, right)


def guarded_inplacevar(op: str, target: Any, value: Any) -> Any:
    """Apply `target <op>= value` for `+= -= *= /=` only, with the size checks of `guarded_binop`."""
    if op not in _INPLACE:
        raise ScriptError(f"Refused by the sandbox: the operator {op} is not allowed")
    symbol, apply = _INPLACE[op]
    if symbol in _CHECKS:
        _CHECKS[symbol](target, value)
    return apply(target, value)


def guarded_sum(iterable: Iterable[Any], start: Any = 0) -> Any:
    """Add numbers (no list or string concatenation, which is quadratic in C)."""
    if type(start) not in (int, float):
        raise ScriptError("Refused by the sandbox: sum() only adds numbers")
    return sum(iterable, start)


def guarded_round(number: Any, ndigits: int | None = None) -> Any:
    """Round like `round`, with at most 64 digits either side."""
    if ndigits is None:
        return round(number)
    if _is_int(ndigits) and abs(ndigits) > MAX_CONST_EXPONENT:
        raise ScriptError(f"Refused by the sandbox: round() to more than {MAX_CONST_EXPONENT} digits")
    return round(number, ndigits)


def _check_width(width: Any) -> None:
    if _is_int(width) and width > MAX_SEQUENCE_LENGTH:
        raise _too_big("the padded string")


def _checked_join(sep: str | bytes, items: Iterable[Any]) -> Any:
    parts = list(items)
    size = sum(len(p) for p in parts if isinstance(p, (str, bytes))) + len(sep) * max(len(parts) - 1, 0)
    if size > MAX_SEQUENCE_LENGTH:
        raise _too_big("the joined string")
    return sep.join(parts)


def _checked_replace(text: str | bytes, old: Any, new: Any, count: int = -1) -> Any:
    if isinstance(old, (str, bytes)) and isinstance(new, (str, bytes)):
        hits = len(text) + 1 if not old else text.count(old)
        hits = min(hits, count) if _is_int(count) and count >= 0 else hits
        if len(text) + hits * (len(new) - len(old)) > MAX_SEQUENCE_LENGTH:
            raise _too_big("the replaced string")
    return text.replace(old, new, count)


def _bounded_method(obj: str | bytes, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    if name == "join":
        return lambda items: _checked_join(obj, items)
    if name == "replace":
        return lambda old, new, count=-1: _checked_replace(obj, old, new, count)
    if name == "expandtabs":
        def expandtabs(tabsize: int = 8) -> Any:
            _check_width(len(obj) + obj.count("\t" if isinstance(obj, str) else b"\t") * tabsize)
            return method(tabsize)
        return expandtabs

    def pad(width: int, *args: Any) -> Any:
        _check_width(width)
        return method(width, *args)
    return pad


def guarded_getattr(obj: Any, name: str) -> Any:
    """RestrictedPython's `safer_getattr` (raising), with size checks on the padding and joining str methods."""
    if name == "mro":
        raise ScriptError("Refused by the sandbox: 'mro' is not allowed")
    value = safer_getattr_raise(obj, name)
    if name in _STR_AMPLIFIERS and (obj is str or obj is bytes):
        raise ScriptError(f"Refused by the sandbox: call {name} on a string value, not on the str type")
    if name in _STR_AMPLIFIERS and isinstance(obj, (str, bytes)):
        return _bounded_method(obj, name, value)
    return value


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


_REMOVED_BUILTINS = frozenset({
    "__build_class__", "_getattr_", "setattr", "delattr", "pow", "range", "round",
    "BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit",
})
BUILTINS: Mapping[str, Any] = {
    **{name: value for name, value in safe_builtins.items() if name not in _REMOVED_BUILTINS},
    "len": len, "min": min, "max": max, "sum": guarded_sum, "sorted": sorted, "any": any, "all": all,
    "enumerate": enumerate, "dict": dict, "list": list, "tuple": tuple, "str": str, "int": int, "float": float,
    "bool": bool, "round": guarded_round, "abs": abs, "range": limited_range, "zip": zip, "isinstance": isinstance,
}
GUARDS: Mapping[str, Any] = {
    "_getattr_": guarded_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": guarded_inplacevar,
    "_binop_": guarded_binop,
    "_apply_": _apply,
}


# ---- time budget --------------------------------------------------------------------------------------


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


# ---- task data ----------------------------------------------------------------------------------------


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
        code = _compiled_or_refuse(expression, "eval")
        scope = self.scope(context, external_context)
        try:
            with time_budget(self.time_budget):
                return eval(code, scope)
        finally:
            self.drop_unstorable(context, containers_only=True)

    def execute(self, script: str, context: dict[str, Any],
                external_context: Mapping[str, Any] | None = None) -> bool:
        """Run a restricted script and write its storable variables back into the task data."""
        code = _compiled_or_refuse(script, "exec")
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


# ---- the script engine --------------------------------------------------------------------------------


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
