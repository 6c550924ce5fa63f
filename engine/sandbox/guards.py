"""Run-time guards: size-checked operators and str methods, the guarded getattr and the builtins allow-list."""
from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from RestrictedPython import safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr_raise,
)
from RestrictedPython.Limits import limited_range

from engine.errors import ScriptError
from engine.sandbox.limits import (
    MAX_CONST_EXPONENT,
    MAX_FORMAT_WIDTH,
    MAX_INT_BITS,
    MAX_SEQUENCE_LENGTH,
    percent_format_ok,
)

_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "*": operator.mul, "**": operator.pow, "<<": operator.lshift, "%": operator.mod,
}
_INPLACE: dict[str, tuple[str, Callable[[Any, Any], Any]]] = {
    "+=": ("+", operator.iadd), "-=": ("-", operator.isub), "*=": ("*", operator.imul), "/=": ("/", operator.itruediv),
}
_SEQUENCES = (str, bytes, list, tuple)
_STR_AMPLIFIERS = frozenset({"join", "ljust", "rjust", "center", "zfill", "expandtabs", "replace"})


def _too_big(what: str) -> ScriptError:
    return ScriptError(f"Refused by the sandbox: {what} would be too large")


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
    if isinstance(left, (str, bytes)) and not percent_format_ok(left):
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
