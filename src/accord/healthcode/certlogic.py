"""CertLogic 1.3.3: the JsonLogic subset of the EU DCC business rules, evaluated per data context (pure).

Written from the specification (``certlogic/specification/README.md``): truthy/falsy values as CertLogic
restricts them, ``var`` paths with ``null`` propagation, ``if``, ``===``, ``and``, the integer comparisons and
their date-time twins (``after``, ``before``, ``not-after``, ``not-before``, with the ternary form), ``in``,
``+``, ``!``, ``reduce``, ``plusTime`` (JavaScript ``Date.setUTC*`` offsetting), ``dccDateOfBirth`` and
``extractFromUVCI``. An invalid expression or a type mismatch raises :class:`CertLogicError`; a rule engine
treats that as "rule failed". The spec's own test suite runs in ``tests/healthcode/test_certlogic.py``.

Our status rules use the same language; :mod:`accord.healthcode.rules` evaluates them column-wise for
millions of persons and is checked against this evaluator.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any


class CertLogicError(ValueError):
    """An invalid expression, or operands of the wrong type."""


@dataclass(frozen=True, order=True)
class DateTime:
    """A CertLogic date-time: a UTC instant with millisecond precision (never a literal, never in data)."""

    value: datetime

    def isoformat(self) -> str:
        return self.value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_DATE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{1,2}(?::?\d{2})?)?)?)?)?$"
)


def _offset(text: str | None) -> timezone:
    if not text or text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    body = text[1:]
    if ":" in body:
        hours, minutes = body.split(":")
    elif len(body) <= 2:
        hours, minutes = body, "0"
    else:
        hours, minutes = body[:-2], body[-2:]
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


def parse_date_time(text: str) -> DateTime:
    m = _DATE.match(text)
    if not m:
        raise CertLogicError(f"not a date(-time) in an allowed format: {text!r}")
    year, month, day, hh, mm, ss, frac, off = m.groups()
    y = int(year)
    if month is None:
        return DateTime(datetime(y, 12, 31, tzinfo=UTC))
    mo = int(month)
    if day is None:
        return DateTime(datetime(y, mo, calendar.monthrange(y, mo)[1], tzinfo=UTC))
    ms = int((frac or "0")[:3].ljust(3, "0"))
    local = datetime(y, mo, int(day), int(hh or 0), int(mm or 0), int(ss or 0), ms * 1000, tzinfo=_offset(off))
    return DateTime(local.astimezone(UTC))


def _shift_months(dt: datetime, months: int) -> datetime:
    """JavaScript setUTCMonth: the day of month overflows into the next month (31 Jan + 1 month = 2/3 Mar)."""
    total = dt.year * 12 + (dt.month - 1) + months
    year, month = divmod(total, 12)
    first = dt.replace(year=year, month=month + 1, day=1)
    return first + timedelta(days=dt.day - 1)


def plus_time(dt: DateTime, amount: int, unit: str) -> DateTime:
    if unit == "hour":
        return DateTime(dt.value + timedelta(hours=amount))
    if unit == "day":
        return DateTime(dt.value + timedelta(days=amount))
    if unit == "month":
        return DateTime(_shift_months(dt.value, amount))
    if unit == "year":
        return DateTime(_shift_months(dt.value, 12 * amount))
    raise CertLogicError(f"time unit must be year, month, day or hour, not {unit!r}")


def is_truthy(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return v != 0
    return isinstance(v, str | list | dict) and len(v) > 0


def is_falsy(v: Any) -> bool:
    if isinstance(v, bool):
        return not v
    if v is None:
        return True
    if isinstance(v, int | float):
        return v == 0
    return isinstance(v, str | list | dict) and len(v) == 0


def _is_int(v: Any) -> bool:
    return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())


def strict_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if a is None or b is None:
        return a is None and b is None
    return a is b


def get_path(data: Any, path: str) -> Any:
    if path == "":
        return data
    current = data
    for fragment in path.split("."):
        if current is None:
            return None
        if isinstance(current, list):
            if not fragment.lstrip("-").isdigit():
                return None
            i = int(fragment)
            current = current[i] if 0 <= i < len(current) else None
        elif isinstance(current, dict):
            current = current.get(fragment)
        else:
            return None
    return current


_INT_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}
_DATE_COMPARE = {"before": "<", "after": ">", "not-after": "<=", "not-before": ">="}
OPERATIONS = frozenset(
    {"var", "if", "===", "and", "in", "+", "!", "reduce", "plusTime", "dccDateOfBirth", "extractFromUVCI"}
    | set(_INT_COMPARE)
    | set(_DATE_COMPARE)
)


def evaluate(expr: Any, data: Any) -> Any:
    """Evaluate one CertLogic expression against one data context."""
    if isinstance(expr, bool | int | float | str):
        return expr
    if isinstance(expr, list):
        return [evaluate(e, data) for e in expr]
    if expr is None:
        raise CertLogicError("null is not a valid CertLogic literal")
    if not isinstance(expr, dict) or len(expr) != 1:
        raise CertLogicError(f"an expression object must have exactly one key: {expr!r}")
    ((op, args),) = expr.items()
    if op == "var":
        return _var(args, data)
    if op not in OPERATIONS:
        raise CertLogicError(f"unknown operation {op!r}")
    if not isinstance(args, list):
        raise CertLogicError(f"operands of {op!r} must be an array")
    return _operate(op, args, data)


def _var(path: Any, data: Any) -> Any:
    if isinstance(path, int) and not isinstance(path, bool):
        path = str(path)
    if not isinstance(path, str):
        raise CertLogicError(f"the path of var must be a string, not {path!r}")
    return get_path(data, path)


def _arity(op: str, args: list[Any], *counts: int) -> None:
    if len(args) not in counts:
        raise CertLogicError(f"{op!r} takes {' or '.join(map(str, counts))} operands, not {len(args)}")


def _operate(op: str, args: list[Any], data: Any) -> Any:
    if op == "if":
        _arity(op, args, 3)
        guard = evaluate(args[0], data)
        if is_truthy(guard):
            return evaluate(args[1], data)
        if is_falsy(guard):
            return evaluate(args[2], data)
        raise CertLogicError(f"the guard of if is neither truthy nor falsy: {guard!r}")
    if op == "and":
        if len(args) < 2:
            raise CertLogicError("'and' takes at least 2 operands")
        value: Any = None
        for arg in args:
            value = evaluate(arg, data)
            if is_falsy(value):
                return value
            if not is_truthy(value):
                raise CertLogicError(f"an operand of and is neither truthy nor falsy: {value!r}")
        return value
    if op == "reduce":
        return _reduce(args, data)
    values = [evaluate(a, data) for a in args]
    return _apply(op, values)


def _reduce(args: list[Any], data: Any) -> Any:
    _arity("reduce", args, 3)
    operand = evaluate(args[0], data)
    accumulator = evaluate(args[2], data)
    if operand is None:
        return accumulator
    if not isinstance(operand, list):
        raise CertLogicError("the operand of reduce must be an array")
    for current in operand:
        accumulator = evaluate(args[1], {"current": current, "accumulator": accumulator})
    return accumulator


def _apply(op: str, values: list[Any]) -> Any:
    if op == "===":
        _arity(op, values, 2)
        return strict_equal(values[0], values[1])
    if op == "!":
        _arity(op, values, 1)
        if is_falsy(values[0]):
            return True
        if is_truthy(values[0]):
            return False
        raise CertLogicError(f"the operand of ! is neither truthy nor falsy: {values[0]!r}")
    if op == "in":
        _arity(op, values, 2)
        if not isinstance(values[1], list):
            raise CertLogicError('the right-hand side of an "in" operation must be an array')
        return any(strict_equal(values[0], v) for v in values[1])
    if op == "+":
        _arity(op, values, 2)
        if not all(_is_int(v) for v in values):
            raise CertLogicError("the operands of + must be integers")
        return values[0] + values[1]
    if op in _INT_COMPARE:
        return _compare(op, values, _is_int, _INT_COMPARE[op])
    if op in _DATE_COMPARE:
        return _compare(op, values, lambda v: isinstance(v, DateTime), _INT_COMPARE[_DATE_COMPARE[op]])
    if op == "plusTime":
        _arity(op, values, 3)
        text, amount, unit = values
        if not isinstance(text, str) or not _is_int(amount):
            raise CertLogicError("plusTime takes a date(-time) string, an integer and a time unit")
        return plus_time(parse_date_time(text), int(amount), unit)
    if op == "dccDateOfBirth":
        _arity(op, values, 1)
        if not isinstance(values[0], str):
            raise CertLogicError("the operand of dccDateOfBirth must be a string")
        return parse_date_time(values[0])
    return _extract_from_uvci(values)


def _compare(op: str, values: list[Any], typed: Callable[[Any], bool], cmp: Callable[[Any, Any], bool]) -> bool:
    _arity(op, values, 2, 3)
    if not all(typed(v) for v in values):
        raise CertLogicError(f"operands of {op!r} have the wrong type: {values!r}")
    return all(cmp(values[i], values[i + 1]) for i in range(len(values) - 1))


_SEPARATORS = re.compile(r"[/#:]")


def _extract_from_uvci(values: list[Any]) -> Any:
    _arity("extractFromUVCI", values, 2)
    uvci, index = values
    if not _is_int(index):
        raise CertLogicError("the index of extractFromUVCI must be an integer")
    if uvci is None:
        return None
    if not isinstance(uvci, str):
        raise CertLogicError("the operand of extractFromUVCI must be a string or null")
    text = uvci[len("URN:UVCI:") :] if uvci.startswith("URN:UVCI:") else uvci
    fragments = _SEPARATORS.split(text)
    i = int(index)
    return fragments[i] if 0 <= i < len(fragments) else None
