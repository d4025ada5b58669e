"""EU DCC business rules, in the DCC Gateway's rule format, evaluated on a certificate payload (pure).

A rule is a JSON object with ``Identifier`` (e.g. ``VR-EU-0001``), ``Version`` (semantic), ``CertificateType``
(``General``, ``Test``, ``Vaccination``, ``Recovery``), ``ValidFrom`` and ``ValidTo`` (ISO 8601 date-times),
``Description`` (``[{"lang": "en", "desc": "..."}]``), ``AffectedFields`` and ``Logic`` (a CertLogic expression).
A rule set is a JSON array of rules, ``{"rules": [...]}``, or a single rule.

Which rules apply at the validation clock, as the EU verifier apps choose them: those with
``ValidFrom <= clock < ValidTo``, of the highest ``Version`` per ``Identifier``, whose ``CertificateType`` is
``General`` or the payload's type (``v`` vaccination, ``t`` test, ``r`` recovery). Each applicable rule's
``Logic`` is evaluated with :func:`accord.healthcode.certlogic.evaluate` on the data context the EU engines
build::

    {"payload": <the DCC>, "external": {"validationClock": "<clock>", "valueSets": {...},
                                         "countryCode": "..", "exp": "..", "iat": ".."}}

A rule **passes** when the result is exactly ``true``, **fails** when it is anything else, and is **open** when
the expression cannot be evaluated (a CertLogic error): the EU apps' three outcomes. The certificate passes the
rule set when every applicable rule passes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from accord.healthcode import certlogic

CERTIFICATE_TYPES = {"v": "Vaccination", "t": "Test", "r": "Recovery"}
OUTCOMES = ("passed", "failed", "open")


class RuleSetError(ValueError):
    """The rule set or the payload is not in the expected format; the message says where."""


@dataclass(frozen=True)
class Rule:
    identifier: str
    version: str
    certificate_type: str
    valid_from: datetime | None
    valid_to: datetime | None
    description: str
    logic: Any
    affected_fields: tuple[str, ...] = ()
    country: str = ""
    kind: str = "Acceptance"

    def valid_at(self, at: datetime) -> bool:
        return (self.valid_from is None or self.valid_from <= at) and (self.valid_to is None or at < self.valid_to)


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    outcome: str  # passed | failed | open
    value: Any = None  # what the Logic evaluated to (None when open)
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.identifier,
            "version": self.rule.version,
            "certificate_type": self.rule.certificate_type,
            "outcome": self.outcome,
            "result": _plain(self.value),
            "description": self.rule.description,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Evaluation:
    at: datetime
    certificate_type: str | None
    results: list[RuleResult]
    #: rules left out, with why (not valid at the clock, superseded, another certificate type)
    not_applicable: list[tuple[Rule, str]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.outcome == "passed" for r in self.results)

    @property
    def failing(self) -> list[RuleResult]:
        return [r for r in self.results if r.outcome != "passed"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "validation_clock": _iso(self.at),
            "certificate_type": self.certificate_type,
            "results": [r.as_dict() for r in self.results],
            "failing": [r.rule.identifier for r in self.failing],
            "not_applicable": [
                {"rule": r.identifier, "version": r.version, "why": why} for r, why in self.not_applicable
            ],
        }


# ------------------------------------------------------------------------------------------------ reading
def parse_rules(document: Any, source: str = "rules") -> list[Rule]:
    """The rules of a rule-set document (an array, ``{"rules": [...]}`` or one rule); errors name the rule."""
    if isinstance(document, Mapping) and "rules" in document:
        document = document["rules"]
    elif isinstance(document, Mapping):
        document = [document]
    if not isinstance(document, list) or not document:
        raise RuleSetError(f'{source}: a rule set is a non-empty JSON array of rules (or {{"rules": [...]}})')
    return [_rule(item, f"{source}, rule {i + 1}") for i, item in enumerate(document)]


def _rule(item: Any, where: str) -> Rule:
    if not isinstance(item, Mapping):
        raise RuleSetError(f"{where}: a rule is a JSON object")
    identifier = item.get("Identifier")
    if not isinstance(identifier, str) or not identifier.strip():
        raise RuleSetError(f"{where}: field 'Identifier' is missing or not text")
    where = f"{where} ({identifier})"
    if "Logic" not in item:
        raise RuleSetError(f"{where}: field 'Logic' is missing")
    version = item.get("Version", "1.0.0")
    if not isinstance(version, str) or not _SEMVER.match(version):
        raise RuleSetError(f"{where}: field 'Version' must be a version such as 1.0.0, not {version!r}")
    kind = item.get("CertificateType", "General")
    if kind not in ("General", *CERTIFICATE_TYPES.values()):
        raise RuleSetError(f"{where}: field 'CertificateType' must be General, Vaccination, Test or Recovery")
    return Rule(
        identifier=identifier,
        version=version,
        certificate_type=kind,
        valid_from=_time(item.get("ValidFrom"), where, "ValidFrom"),
        valid_to=_time(item.get("ValidTo"), where, "ValidTo"),
        description=_description(item.get("Description")),
        logic=item["Logic"],
        affected_fields=tuple(str(f) for f in item.get("AffectedFields") or ()),
        country=str(item.get("Country", "")),
        kind=str(item.get("Type", "Acceptance")),
    )


_SEMVER = re.compile(r"^\d+(\.\d+){0,2}$")


def _time(value: Any, where: str, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RuleSetError(f"{where}: field '{name}' must be an ISO 8601 date-time")
    try:
        return parse_time(value)
    except ValueError:
        raise RuleSetError(f"{where}: field '{name}' is not an ISO 8601 date-time: {value!r}") from None


def parse_time(text: str) -> datetime:
    """An ISO 8601 date-time; without a zone it is UTC."""
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _description(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = {str(d.get("lang", "")): str(d.get("desc", "")) for d in value if isinstance(d, Mapping)}
        return texts.get("en") or next(iter(texts.values()), "")
    return ""


def parse_value_sets(document: Any, source: str = "value sets") -> dict[str, list[str]]:
    """Value sets as the rules read them (``external.valueSets``: id -> list of codes), from the compressed form
    ``{id: [codes]}`` or the EU's value-set documents (``{"valueSetId": id, "valueSetValues": {code: {...}}}``,
    one, a list, or a map of them)."""
    docs: list[Any]
    if isinstance(document, Mapping) and "valueSetId" in document:
        docs = [document]
    elif isinstance(document, list):
        docs = document
    elif isinstance(document, Mapping):
        out: dict[str, list[str]] = {}
        for key, value in document.items():
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                out[str(key)] = list(value)
            elif isinstance(value, Mapping) and isinstance(value.get("valueSetValues"), Mapping):
                out[str(key)] = [str(code) for code in value["valueSetValues"]]
            else:
                raise RuleSetError(f"{source}: value set {key!r} is neither a list of codes nor a value-set document")
        return out
    else:
        raise RuleSetError(f"{source}: value sets are a JSON object (id -> codes) or a list of value-set documents")
    out = {}
    for i, doc in enumerate(docs):
        if not (isinstance(doc, Mapping) and isinstance(doc.get("valueSetValues"), Mapping) and "valueSetId" in doc):
            raise RuleSetError(f"{source}, item {i + 1}: a value-set document has valueSetId and valueSetValues")
        out[str(doc["valueSetId"])] = [str(code) for code in doc["valueSetValues"]]
    return out


def certificate_type(payload: Any) -> str | None:
    """Vaccination, Test or Recovery: the entry the DCC holds (None when it holds none of them)."""
    if not isinstance(payload, Mapping):
        return None
    held = [name for key, name in CERTIFICATE_TYPES.items() if payload.get(key)]
    return held[0] if len(held) == 1 else None


# ----------------------------------------------------------------------------------------------- evaluating
def applicable(rules: list[Rule], payload: Any, at: datetime) -> tuple[list[Rule], list[tuple[Rule, str]]]:
    """The rules that apply to ``payload`` at ``at`` (see the module doc) and the others with why."""
    kind = certificate_type(payload)
    left_out: list[tuple[Rule, str]] = []
    newest: dict[str, Rule] = {}
    for rule in rules:
        if not rule.valid_at(at):
            left_out.append((rule, f"not valid at {_iso(at)} (valid {_span(rule)})"))
            continue
        best = newest.get(rule.identifier)
        if best is None or _version(rule.version) > _version(best.version):
            if best is not None:
                left_out.append((best, f"superseded by version {rule.version}"))
            newest[rule.identifier] = rule
        else:
            left_out.append((rule, f"superseded by version {best.version}"))
    chosen = []
    for rule in newest.values():
        if rule.certificate_type not in ("General", kind):
            left_out.append((rule, f"a {rule.certificate_type} rule; the certificate is {kind or 'of no single type'}"))
        else:
            chosen.append(rule)
    return chosen, left_out


def evaluate(
    rules: list[Rule],
    payload: Any,
    at: datetime,
    *,
    value_sets: Mapping[str, Any] | None = None,
    country: str | None = None,
    exp: datetime | None = None,
    iat: datetime | None = None,
) -> Evaluation:
    """Every applicable rule evaluated on ``payload`` at validation time ``at``."""
    chosen, left_out = applicable(rules, payload, at)
    external: dict[str, Any] = {"validationClock": _iso(at), "valueSets": dict(value_sets or {})}
    if country:
        external["countryCode"] = country
    if exp is not None:
        external["exp"] = _iso(exp)
    if iat is not None:
        external["iat"] = _iso(iat)
    data = {"payload": payload, "external": external}
    return Evaluation(at, certificate_type(payload), [_one(rule, data) for rule in chosen], left_out)


def _one(rule: Rule, data: dict[str, Any]) -> RuleResult:
    try:
        value = certlogic.evaluate(rule.logic, data)
    except (certlogic.CertLogicError, RecursionError) as exc:
        return RuleResult(rule, "open", None, f"cannot be evaluated: {exc}")
    return RuleResult(rule, "passed" if value is True else "failed", value)


def _plain(value: Any) -> Any:
    """A rule's value as JSON: date-times (a Logic may end in plusTime) as ISO text."""
    if isinstance(value, certlogic.DateTime):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _span(rule: Rule) -> str:
    start = _iso(rule.valid_from) if rule.valid_from else "always"
    end = _iso(rule.valid_to) if rule.valid_to else "on"
    return f"{start} to {end}"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
