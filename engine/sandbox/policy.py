"""The compile-time policy: static limits on the AST and the RestrictedPython transformer."""
from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from typing import Any

from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations

from engine.sandbox.limits import (
    MAX_CONST_EXPONENT,
    MAX_FORMAT_WIDTH,
    MAX_REPEAT_LITERAL,
    percent_format_ok,
)

_AST_OPERATORS: dict[type[ast.operator], str] = {
    ast.Add: "+", ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<", ast.Mod: "%",
}
_FORBIDDEN_CALLS = frozenset({
    "open", "getattr", "setattr", "delattr", "hasattr", "type", "vars", "globals", "locals", "dir", "compile",
    "breakpoint", "input", "help", "exit", "quit", "memoryview", "object", "super", "classmethod",
    "staticmethod", "property",
})


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


class StaticLimits(ast.NodeVisitor):
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
        if isinstance(value, (str, bytes)) and not percent_format_ok(value):
            self.refuse(node, f"%-format widths must be constant and at most {MAX_FORMAT_WIDTH} ({_snippet(node)})")


class Policy(RestrictingNodeTransformer):
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
