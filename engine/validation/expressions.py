"""Static analysis of Python expressions and scripts: JUEL/FEEL hints, called and assigned names."""
from __future__ import annotations

import ast
import re

_ISO = re.compile(r"^(R\d*/.+|P(?=\d|T\d)(\d+([.,]\d+)?[YMWD])*(T(\d+([.,]\d+)?[HMS])+)?|\d{4}-\d{2}-\d{2}([T ][\d:.]+)?"
                  r"(Z|[+-]\d{2}:?\d{2})?)$")
_JUEL = re.compile(r"^\s*[$#]\{(?P<body>.*)\}\s*$", re.S)
_FEEL_WORDS = ((r"\btrue\b", "True"), (r"\bfalse\b", "False"), (r"\bnull\b", "None"), (r"&&", " and "),
               (r"\|\|", " or "), (r"!(?!=)", " not "), (r"\beq\b", "=="), (r"\bne\b", "!="), (r"\bgt\b", ">"),
               (r"\blt\b", "<"), (r"\bge\b", ">="), (r"\ble\b", "<="), (r"(?<![<>!=])=(?!=)", "=="))


def _suggest_python(body: str) -> str:
    text = body.strip()
    for pattern, replacement in _FEEL_WORDS:
        text = re.sub(pattern, replacement, text)
    return re.sub(r"\s+", " ", text).strip() or "True"


def _called_names(tree: ast.AST) -> list[tuple[str, int]]:
    return [(node.func.id, node.lineno) for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)]


def _defined_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.Lambda)) and hasattr(node, "name"):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _store_targets(node: ast.AST, names: set[str]) -> None:
    if isinstance(node, ast.Name):
        names.add(node.id)
    elif isinstance(node, (ast.Tuple, ast.List)):
        for item in node.elts:
            _store_targets(item, names)
    elif isinstance(node, (ast.Starred, ast.Subscript, ast.Attribute)):
        _store_targets(node.value, names)


def _collect_assignments(node: ast.AST, names: set[str]) -> None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
        return  # names bound inside functions are local to them
    if isinstance(node, ast.Assign):
        for item in node.targets:
            _store_targets(item, names)
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For)):
        _store_targets(node.target, names)
    for child in ast.iter_child_nodes(node):
        _collect_assignments(child, names)


def assigned_names(script: str) -> set[str]:
    """Return the task data keys a script writes (assignment targets, and containers it mutates)."""
    try:
        tree = ast.parse(script, mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    names: set[str] = set()
    try:
        _collect_assignments(tree, names)
    except RecursionError:
        return names
    return {n for n in names if not n.startswith("_")}


def _short(text: str, limit: int = 80) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."
