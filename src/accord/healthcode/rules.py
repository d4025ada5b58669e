"""Our published status rules (CertLogic) and their column-wise evaluation for millions of persons (pure).

A rule set is versioned data: each rule has an id, the colour it gives when its CertLogic ``logic`` is truthy,
and a plain-language description. A person's colour is the worst colour among the rules that fire (none
fire: green); the reasons are the ids of the rules that fired; the code is valid until the earlier of
``now + validity[colour]`` and the next moment one of the rule's date comparisons can flip for that person
(a quarantine ends, a 14-day window closes), so a code never outlives its status.

The data context of one person is ``{"person": {...inputs...}, "external": {"now": ISO date-time}}`` with the
inputs in :data:`INPUTS`. :func:`evaluate_person` runs the rules with the reference evaluator
(:mod:`accord.healthcode.certlogic`); :func:`evaluate_frame` compiles the same expressions to numpy over a
DataFrame (one row per person). Tests check both give the same colours, reasons and validity.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from accord.healthcode import certlogic

COLOURS = ("green", "yellow", "red")
#: the inputs of a person, and their kind
INPUTS = {
    "case_status": "text",  # none | suspected | probable | confirmed | discarded | recovered
    "case_date": "date",
    "quarantine_until": "date",
    "residence_risk": "text",  # high | medium | low (from the risk-area classification)
    "travel_risk": "text",  # the highest risk level among areas visited in the window
    "travel_date": "date",  # last day in such an area
    "test_result": "text",  # positive | negative
    "test_date": "date",
}


def _v(name: str) -> dict[str, str]:
    return {"var": f"person.{name}"}


NOW: dict[str, Any] = {"plusTime": [{"var": "external.now"}, 0, "hour"]}


def _within(date_field: str, days: int) -> dict[str, Any]:
    """True while now is before date_field + days (guarded: a missing date is false)."""
    return {"if": [_v(date_field), {"before": [NOW, {"plusTime": [_v(date_field), days, "day"]}]}, False]}


def default_rules(window_days: int = 14) -> list[dict[str, Any]]:
    n = window_days
    negative_recent = {"if": [{"===": [_v("test_result"), "negative"]}, _within("test_date", 7), False]}
    return [
        {
            "id": "HC-R1",
            "colour": "red",
            "description": "Confirmed, probable or suspected case.",
            "logic": {"in": [_v("case_status"), ["confirmed", "probable", "suspected"]]},
        },
        {
            "id": "HC-R2",
            "colour": "red",
            "description": "In quarantine (close contact) until the date set.",
            "logic": {
                "if": [
                    _v("quarantine_until"),
                    {"before": [NOW, {"plusTime": [_v("quarantine_until"), 0, "hour"]}]},
                    False,
                ]
            },
        },
        {
            "id": "HC-R3",
            "colour": "red",
            "description": f"Positive test in the last {n} days.",
            "logic": {"if": [{"===": [_v("test_result"), "positive"]}, _within("test_date", n), False]},
        },
        {
            "id": "HC-Y1",
            "colour": "yellow",
            "description": "Lives in a high-risk area.",
            "logic": {"===": [_v("residence_risk"), "high"]},
        },
        {
            "id": "HC-Y2",
            "colour": "yellow",
            "description": f"Was in a high- or medium-risk area in the last {n} days.",
            "logic": {"if": [{"in": [_v("travel_risk"), ["high", "medium"]]}, _within("travel_date", n), False]},
        },
        {
            "id": "HC-Y3",
            "colour": "yellow",
            "description": f"Recovered case, in the {n} days after recovery.",
            "logic": {"if": [{"===": [_v("case_status"), "recovered"]}, _within("case_date", n), False]},
        },
        {
            "id": "HC-Y4",
            "colour": "yellow",
            "description": "Lives in a medium-risk area without a negative test in the last 7 days.",
            "logic": {"if": [{"===": [_v("residence_risk"), "medium"]}, {"!": [negative_recent]}, False]},
        },
    ]


@dataclass(frozen=True)
class RuleSet:
    version: str
    rules: tuple[dict[str, Any], ...]
    validity_hours: Mapping[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "validity_hours": dict(self.validity_hours), "rules": list(self.rules)}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RuleSet:
        rules = tuple(d["rules"])
        for i, r in enumerate(rules):
            if not isinstance(r, dict) or not {"id", "colour", "logic"} <= set(r):
                raise ValueError(f"rule {i}: needs id, colour and logic")
            if r["colour"] not in COLOURS:
                raise ValueError(f"rule {r['id']}: colour must be one of {COLOURS}")
            certlogic.evaluate(r["logic"], _blank_context())  # raises on an invalid expression
        ids = [r["id"] for r in rules]
        if len(set(ids)) != len(ids):
            raise ValueError("rule ids must be unique")
        hours = {c: float(d.get("validity_hours", {}).get(c, 24)) for c in COLOURS}
        return cls(str(d["version"]), rules, hours)


def _blank_context() -> dict[str, Any]:
    return {"person": dict.fromkeys(INPUTS), "external": {"now": "2020-01-01T00:00:00Z"}}


DEFAULT = RuleSet.from_dict(
    {"version": "2026.1", "validity_hours": {"green": 24, "yellow": 12, "red": 12}, "rules": default_rules()}
)


@dataclass(frozen=True)
class Status:
    colour: str
    reasons: tuple[str, ...]
    #: until when a code issued now is valid: min(now + validity[colour], next_change)
    valid_until: datetime
    #: the next moment a date comparison of the rules flips for this person (None: only new inputs change it)
    next_change: datetime | None = None


def _iso(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, str):
        return value
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return str(ts.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")


def context(person: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    p = {k: (_iso(person.get(k)) if kind == "date" else person.get(k)) for k, kind in INPUTS.items()}
    return {"person": p, "external": {"now": _iso(now)}}


def evaluate_person(ruleset: RuleSet, person: Mapping[str, Any], now: datetime) -> Status:
    """The reference evaluation: one person, one CertLogic evaluation per rule."""
    data = context(person, now)
    fired = []
    for rule in ruleset.rules:
        try:
            hit = certlogic.is_truthy(certlogic.evaluate(rule["logic"], data))
        except certlogic.CertLogicError:
            hit = rule["colour"] != "green"  # a rule that cannot be evaluated errs on the side of caution
        if hit:
            fired.append(rule)
    colour = max((r["colour"] for r in fired), key=COLOURS.index, default="green")
    later = [t for t in _thresholds_scalar(ruleset, data) if t > now]
    next_change = min(later) if later else None
    until = now + timedelta(hours=ruleset.validity_hours[colour])
    if next_change is not None and next_change < until:
        until = next_change
    return Status(colour, tuple(r["id"] for r in fired), until, next_change)


# ------------------------------------------------------------------------------------ column-wise evaluation

# a compiled value: ("bool", ndarray[bool]) | ("text", Series) | ("date", ndarray[datetime64[ms]]) | ("int", int)
Value = tuple[str, Any]


class Unsupported(ValueError):
    """An expression outside the subset the column-wise evaluator compiles."""


def _frame_column(frame: pd.DataFrame, name: str) -> Value:
    kind = INPUTS.get(name)
    if kind is None:
        raise Unsupported(f"unknown input person.{name}")
    col = frame[name] if name in frame else pd.Series([None] * len(frame), index=frame.index)
    if kind == "date":
        values = pd.to_datetime(col, utc=True).dt.tz_localize(None).to_numpy("datetime64[ms]")
        return ("date", values)
    return ("text", col)


def _truthy(v: Value, n: int) -> np.ndarray:
    kind, x = v
    if kind == "bool":
        return np.asarray(x, dtype=bool)
    if kind == "text":
        if isinstance(x.dtype, pd.CategoricalDtype):  # per category, then by code: no strings per row
            good = np.array([isinstance(c, str) and len(c) > 0 for c in x.cat.categories] + [False])
            return np.asarray(good[x.cat.codes.to_numpy()], dtype=bool)
        s = x.astype("string")
        return np.asarray(s.notna() & (s.str.len() > 0), dtype=bool)
    if kind == "date":
        return np.asarray(~np.isnat(x), dtype=bool)
    if kind == "lit":
        return np.full(n, certlogic.is_truthy(x))
    raise Unsupported(f"no truthiness for {kind}")


class _Compiler:
    def __init__(self, frame: pd.DataFrame, now: datetime) -> None:
        self.frame, self.n = frame, len(frame)
        self.now = np.datetime64(now.astimezone(UTC).replace(tzinfo=None), "ms")
        self.thresholds: list[np.ndarray] = []
        self.columns: dict[str, Value] = {}  # each input converted once, however often the rules read it

    def run(self, expr: Any) -> Value:
        if isinstance(expr, bool | int | str | list):
            return ("lit", expr)
        ((op, args),) = expr.items()
        if op == "var":
            if args == "external.now":
                return ("nowtext", None)
            if not str(args).startswith("person."):
                raise Unsupported(f"var {args!r}")
            name = str(args).removeprefix("person.")
            if name not in self.columns:
                self.columns[name] = _frame_column(self.frame, name)
            return self.columns[name]
        handler = getattr(
            self,
            "op_" + {"===": "eq", "!": "not", "not-after": "not_after", "not-before": "not_before"}.get(op, op),
            None,
        )
        if handler is None:
            raise Unsupported(f"operation {op!r}")
        return handler(args)  # type: ignore[no-any-return]

    def op_eq(self, args: list[Any]) -> Value:
        a, b = (self.run(x) for x in args)
        if a[0] == "lit":
            a, b = b, a
        if a[0] != "text" or b[0] != "lit":
            raise Unsupported("=== compares an input with a literal")
        return ("bool", np.asarray(a[1].eq(b[1]).fillna(False), dtype=bool))

    def op_in(self, args: list[Any]) -> Value:
        a, b = (self.run(x) for x in args)
        if a[0] != "text" or b[0] != "lit" or not isinstance(b[1], list):
            raise Unsupported("in tests an input against a literal array")
        return ("bool", np.asarray(a[1].isin(b[1]).fillna(False), dtype=bool))

    def op_and(self, args: list[Any]) -> Value:
        out = np.ones(self.n, dtype=bool)
        for x in args:
            out &= _truthy(self.run(x), self.n)
        return ("bool", out)

    def op_not(self, args: list[Any]) -> Value:
        return ("bool", ~_truthy(self.run(args[0]), self.n))

    def op_if(self, args: list[Any]) -> Value:
        guard = _truthy(self.run(args[0]), self.n)
        then, other = (_truthy(self.run(x), self.n) for x in args[1:])
        return ("bool", np.where(guard, then, other))

    def op_plusTime(self, args: list[Any]) -> Value:
        base, amount, unit = self.run(args[0]), args[1], args[2]
        step = {"hour": np.timedelta64(1, "h"), "day": np.timedelta64(1, "D")}.get(unit)
        if step is None or not isinstance(amount, int):
            raise Unsupported("plusTime by a literal number of hours or days")
        if base[0] == "nowtext":
            return ("now", self.now + amount * step)
        if base[0] != "date":
            raise Unsupported("plusTime of a date input")
        return ("date", base[1] + amount * step)

    def _date_cmp(self, args: list[Any], cmp: Any) -> Value:
        vals = [self.run(x) for x in args]
        if len(vals) != 2 or not all(v[0] in ("date", "now") for v in vals):
            raise Unsupported("date comparisons of two date-times")
        a, b = vals[0][1], vals[1][1]
        for v in vals:
            if v[0] == "date":  # a person's date compared with now: when it may flip
                self.thresholds.append(v[1])
        with np.errstate(invalid="ignore"):
            return (
                "bool",
                np.asarray(cmp(a, b), dtype=bool)
                & ~np.isnat(np.broadcast_to(a, (self.n,)))
                & ~np.isnat(np.broadcast_to(b, (self.n,))),
            )

    def op_before(self, args: list[Any]) -> Value:
        return self._date_cmp(args, np.less)

    def op_after(self, args: list[Any]) -> Value:
        return self._date_cmp(args, np.greater)

    def op_not_after(self, args: list[Any]) -> Value:
        return self._date_cmp(args, np.less_equal)

    def op_not_before(self, args: list[Any]) -> Value:
        return self._date_cmp(args, np.greater_equal)


def evaluate_frame(ruleset: RuleSet, frame: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """All persons at once: colour (category), reasons ("HC-R1;HC-Y2"), valid_until, one row per input row."""
    comp = _Compiler(frame, now)
    n = len(frame)
    severity = np.zeros(n, dtype=np.int8)
    fired_cols = []
    for rule in ruleset.rules:
        hit = _truthy(comp.run(rule["logic"]), n)
        severity = np.maximum(severity, np.where(hit, COLOURS.index(rule["colour"]), 0).astype(np.int8))
        fired_cols.append(hit)
    bits = np.zeros(n, dtype=np.int64)  # bit i set: rule i fired
    for i, hit in enumerate(fired_cols):
        bits |= hit.astype(np.int64) << i
    never = np.datetime64("NaT", "ms")
    next_change = np.full(n, never, dtype="datetime64[ms]")
    for t in comp.thresholds:
        sooner = (t > comp.now) & (np.isnat(next_change) | (t < next_change))
        next_change = np.where(sooner, t, next_change)
    hours = np.array([ruleset.validity_hours[c] for c in COLOURS]) * 3_600_000
    until = comp.now + hours[severity].astype("timedelta64[ms]")
    until = np.where(~np.isnat(next_change) & (next_change < until), next_change, until)
    return pd.DataFrame(
        {
            "colour": pd.Categorical.from_codes(severity, categories=pd.Index(list(COLOURS))),
            "reasons": _reason_strings(ruleset, bits),
            "reason_bits": bits,
            "valid_until": pd.DatetimeIndex(until).tz_localize("UTC"),
            "next_change": pd.DatetimeIndex(next_change).tz_localize("UTC"),
        },
        index=frame.index,
    )


def reason_labels(ruleset: RuleSet, bits: np.ndarray) -> pd.Categorical:
    """Reasons as a categorical of ';'-joined ids, joined once per distinct bit pattern, not once per person."""
    return _reason_strings(ruleset, bits)


def _reason_strings(ruleset: RuleSet, bits: np.ndarray) -> pd.Categorical:
    if len(bits) == 0:
        return pd.Categorical([])
    # few rules, so few patterns: count them (linear) instead of sorting (n log n)
    seen = np.flatnonzero(np.bincount(bits))
    lookup = np.zeros(int(seen[-1]) + 1, dtype=np.int32)
    lookup[seen] = np.arange(len(seen), dtype=np.int32)
    ids = [r["id"] for r in ruleset.rules]
    labels = [";".join(ids[i] for i in range(len(ids)) if int(p) >> i & 1) for p in seen]
    return pd.Categorical.from_codes(lookup[bits], categories=pd.Index(labels, dtype=object))


def _thresholds_scalar(ruleset: RuleSet, data: dict[str, Any]) -> list[datetime]:
    """The person-side date-times of every date comparison (the moments a rule may flip)."""
    out: list[datetime] = []

    def walk(expr: Any) -> None:
        if isinstance(expr, list):
            for e in expr:
                walk(e)
        elif isinstance(expr, dict):
            ((op, args),) = expr.items()
            if op == "plusTime" and args[0] != {"var": "external.now"}:
                with contextlib.suppress(certlogic.CertLogicError):  # a missing date: no threshold
                    out.append(certlogic.evaluate(expr, data).value)
            elif op != "var":
                walk(args)

    for rule in ruleset.rules:
        walk(rule["logic"])
    return out
