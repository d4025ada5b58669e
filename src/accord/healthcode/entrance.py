"""Return to work: the entrance decision from a verified health code and today's declaration (pure).

An employee is admitted only when all hold: the code verifies (signature, trust, time), it is green, it belongs
to this employee (initials and day-month of birth match the employer's record), and a declaration for today
says no fever (below ``FEVER_C``), no symptoms and no travel to a risk area. Each refusal names its reason;
the employer's summary counts reasons, never shows whose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from accord.healthcode.codec import Verdict

FEVER_C = 37.3
SYMPTOMS = ("cough", "sore_throat", "shortness_of_breath", "loss_of_taste_or_smell", "fatigue", "diarrhoea")


@dataclass(frozen=True)
class Declaration:
    day: date
    temperature_c: float
    symptoms: tuple[str, ...]
    travel_risk_area: bool


@dataclass(frozen=True)
class Decision:
    admitted: bool
    reason: str  # "admitted" or why not, one phrase


def validate_declaration(temperature_c: float, symptoms: list[str]) -> list[str]:
    problems = []
    if not 30.0 <= temperature_c <= 45.0:
        problems.append(f"temperature {temperature_c} °C is outside 30-45 °C (a typing error?)")
    unknown = sorted(set(symptoms) - set(SYMPTOMS))
    if unknown:
        problems.append(f"unknown symptoms {', '.join(unknown)} (known: {', '.join(SYMPTOMS)})")
    return problems


def decide(
    verdict: Verdict, declaration: Declaration | None, *, today: date, initials: str, birth_day: str
) -> Decision:
    if not verdict.valid:
        return Decision(False, f"health code not valid: {verdict.reason.value}")
    claims = verdict.claims
    if claims.get("kind") != "accord":
        return Decision(False, "not an Accord health code")
    if (claims.get("initials"), claims.get("birth_day")) != (initials.upper(), birth_day):
        return Decision(False, "health code belongs to someone else")
    if claims.get("colour") != "green":
        return Decision(False, f"health code is {claims.get('colour')}")
    if declaration is None or declaration.day != today:
        return Decision(False, "no health declaration today")
    if declaration.temperature_c >= FEVER_C:
        return Decision(False, "fever declared")
    if declaration.symptoms:
        return Decision(False, "symptoms declared")
    if declaration.travel_risk_area:
        return Decision(False, "travel to a risk area declared")
    return Decision(True, "admitted")
