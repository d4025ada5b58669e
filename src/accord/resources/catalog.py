"""The resource catalog, units and the tables that turn epidemic load into need (pure: no database, web or CLI).

A resource is *reusable* (beds, ICU beds, ventilators, staff: a unit serves one patient at a time and comes back)
or *consumable* (masks, gowns, gloves, test kits, oxygen, food: a unit is used up). Quantities are kept in the
resource's own unit; a quantity given in another unit of the same dimension is converted (``kg`` -> ``t``,
``L`` -> ``m3``, ``box of 50`` -> ``each``); across dimensions (``kg`` of oil -> ``L``) there is no unambiguous
conversion and the input is refused.

Need rules say how many units one unit of epidemic load calls for per day, e.g. 1 ICU bed per ICU patient,
1.5 nurses per ICU patient-day. Defaults below carry their source; every figure is configurable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from accord.errors import AccordError, Problem


class Kind(StrEnum):
    REUSABLE = "reusable"
    CONSUMABLE = "consumable"


class Category(StrEnum):
    CAPACITY = "capacity"  # beds, ICU beds
    EQUIPMENT = "equipment"  # ventilators
    STAFF = "staff"  # by profession
    MEDICAL = "medical"  # PPE, test kits, oxygen
    FOOD = "food"  # essential goods


#: what drives a need rule: the reported census (surveillance indicators) or the population served
BASES = ("hospitalised", "icu", "ventilated", "population")


@dataclass(frozen=True, slots=True)
class ResourceType:
    code: str
    name: str
    local_name: str
    unit: str
    kind: Kind
    category: Category


@dataclass(frozen=True, slots=True)
class NeedRule:
    """``per_day`` units of ``resource`` per unit of ``basis`` per day (per patient, or per person for food)."""

    resource: str
    basis: str
    per_day: float
    source: str


DEFAULT_CATALOG: tuple[ResourceType, ...] = (
    ResourceType("beds", "Hospital beds", "床位", "each", Kind.REUSABLE, Category.CAPACITY),
    ResourceType("icu_beds", "ICU beds", "重症监护床位", "each", Kind.REUSABLE, Category.CAPACITY),
    ResourceType("ventilators", "Ventilators", "呼吸机", "each", Kind.REUSABLE, Category.EQUIPMENT),
    ResourceType("doctors", "Doctors", "医生", "person", Kind.REUSABLE, Category.STAFF),
    ResourceType("nurses", "Nurses", "护士", "person", Kind.REUSABLE, Category.STAFF),
    ResourceType(
        "respiratory_therapists", "Respiratory therapists", "呼吸治疗师", "person", Kind.REUSABLE, Category.STAFF
    ),
    ResourceType("n95", "N95 respirators", "N95口罩", "each", Kind.CONSUMABLE, Category.MEDICAL),
    ResourceType("surgical_masks", "Surgical masks", "医用外科口罩", "each", Kind.CONSUMABLE, Category.MEDICAL),
    ResourceType("gowns", "Protective gowns", "防护服", "each", Kind.CONSUMABLE, Category.MEDICAL),
    ResourceType("gloves", "Examination gloves", "检查手套", "pair", Kind.CONSUMABLE, Category.MEDICAL),
    ResourceType("test_kits", "Test kits", "检测试剂", "test", Kind.CONSUMABLE, Category.MEDICAL),
    ResourceType("oxygen", "Medical oxygen", "医用氧气", "m3", Kind.CONSUMABLE, Category.MEDICAL),
    ResourceType("rice", "Rice", "大米", "kg", Kind.CONSUMABLE, Category.FOOD),
    ResourceType("flour", "Wheat flour", "面粉", "kg", Kind.CONSUMABLE, Category.FOOD),
    ResourceType("cooking_oil", "Cooking oil", "食用油", "L", Kind.CONSUMABLE, Category.FOOD),
    ResourceType("vegetables", "Vegetables", "蔬菜", "kg", Kind.CONSUMABLE, Category.FOOD),
)

_CHIME = "CHIME (Penn Medicine 2020): ventilated 0.5% vs ICU 0.75% of infections, i.e. 2/3 of ICU patients"
_CA_RATIOS = "California Code of Regulations Title 22 §70217 nurse-to-patient ratios (ICU 1:2, ward 1:5), 3 shifts"
_SCCM = "SCCM Task Force (Ward et al., Crit Care Med 2013): at most ~14 ICU patients per intensivist, 2 shifts"
_CDG = "Chinese Dietary Guidelines 2016 (Chinese Nutrition Society), adult daily intake"
_ASSUMPTION = "planning assumption of this project (no single published figure); set your own"

DEFAULT_RULES: tuple[NeedRule, ...] = (
    NeedRule("beds", "hospitalised", 1.0, "definition: one bed per hospitalised patient"),
    NeedRule("icu_beds", "icu", 1.0, "definition: one ICU bed per ICU patient"),
    NeedRule("ventilators", "icu", 2 / 3, _CHIME),
    NeedRule("nurses", "icu", 1.5, _CA_RATIOS),
    NeedRule("nurses", "hospitalised", 0.6, _CA_RATIOS),
    NeedRule("doctors", "icu", 2 / 14, _SCCM),
    NeedRule("respiratory_therapists", "ventilated", 0.3, _ASSUMPTION),
    NeedRule("n95", "hospitalised", 6.0, _ASSUMPTION + " (about one respirator per staff shift-contact)"),
    NeedRule("n95", "icu", 20.0, _ASSUMPTION),
    NeedRule("surgical_masks", "hospitalised", 10.0, _ASSUMPTION),
    NeedRule("gowns", "hospitalised", 4.0, _ASSUMPTION),
    NeedRule("gowns", "icu", 12.0, _ASSUMPTION),
    NeedRule("gloves", "hospitalised", 20.0, _ASSUMPTION),
    NeedRule("oxygen", "hospitalised", 4.3, "about 3 L/min per patient on supplemental oxygen for 24 h = 4.3 m3"),
    NeedRule("oxygen", "ventilated", 14.4, "about 10 L/min per ventilated patient for 24 h = 14.4 m3"),
    NeedRule("rice", "population", 0.15, _CDG + ": cereals 250-400 g, about 150 g of it rice"),
    NeedRule("flour", "population", 0.1, _CDG + ": cereals 250-400 g, about 100 g of it wheat"),
    NeedRule("cooking_oil", "population", 0.03, _CDG + ": oil 25-30 g (about 0.03 L)"),
    NeedRule("vegetables", "population", 0.4, _CDG + ": vegetables 300-500 g"),
)


# ------------------------------------------------------------------------------------------------ units
#: unit -> (dimension, size in the dimension's base unit)
UNITS: dict[str, tuple[str, float]] = {
    "each": ("count", 1.0),
    "piece": ("count", 1.0),
    "pcs": ("count", 1.0),
    "unit": ("count", 1.0),
    "device": ("count", 1.0),
    "test": ("count", 1.0),
    "dozen": ("count", 12.0),
    "box of 10": ("count", 10.0),
    "box of 20": ("count", 20.0),
    "box of 50": ("count", 50.0),
    "box of 100": ("count", 100.0),
    "thousand": ("count", 1000.0),
    "pair": ("pair", 1.0),
    "box of 50 pairs": ("pair", 50.0),
    "person": ("person", 1.0),
    "g": ("mass", 0.001),
    "kg": ("mass", 1.0),
    "t": ("mass", 1000.0),
    "lb": ("mass", 0.45359237),
    "mL": ("volume", 0.001),
    "L": ("volume", 1.0),
    "m3": ("volume", 1000.0),
}
_ALIASES = {
    "pieces": "piece",
    "ea": "each",
    "items": "each",
    "item": "each",
    "pairs": "pair",
    "persons": "person",
    "people": "person",
    "staff": "person",
    "tests": "test",
    "kits": "test",
    "devices": "device",
    "units": "unit",
    "l": "L",
    "litre": "L",
    "liter": "L",
    "litres": "L",
    "liters": "L",
    "ml": "mL",
    "m³": "m3",
    "tonne": "t",
    "tonnes": "t",
    "kilogram": "kg",
    "kilograms": "kg",
    "gram": "g",
    "grams": "g",
    "lbs": "lb",
}


def canonical_unit(unit: str) -> str | None:
    text = " ".join(unit.strip().split())
    if text in UNITS:
        return text
    low = text.lower()
    if low in UNITS:
        return low
    return _ALIASES.get(low) or _ALIASES.get(text)


def conversion_factor(from_unit: str, to_unit: str, *, field: str = "unit") -> float:
    """Multiply a quantity in ``from_unit`` by this to get it in ``to_unit``; refuse when it is not unambiguous."""
    src, dst = canonical_unit(from_unit), canonical_unit(to_unit)
    if src is None:
        raise AccordError(
            "unknown unit", [Problem(f"unknown unit '{from_unit}' (known: {', '.join(sorted(UNITS))})", field=field)]
        )
    if dst is None:
        raise AccordError("unknown unit", [Problem(f"unknown unit '{to_unit}'", field=field)])
    (d1, s1), (d2, s2) = UNITS[src], UNITS[dst]
    if d1 != d2:
        raise AccordError(
            "no unambiguous unit conversion",
            [
                Problem(
                    f"cannot convert '{from_unit}' ({d1}) to '{to_unit}' ({d2}) without a density or pack size",
                    field=field,
                )
            ],
        )
    return s1 / s2


# ----------------------------------------------------------------------------------------- quantities
#: quantities are stored as whole thousandths of the resource's unit: exact sums, so the ledger balances exactly
SCALE = 1000
MAX_QUANTITY = 10**12


def parse_quantity(
    value: object, *, field: str = "quantity", line: int | None = None, file: str | None = None
) -> float:
    """A finite, non-negative number, or a clear refusal naming where."""

    def bad(message: str) -> AccordError:
        return AccordError("invalid quantity", [Problem(message, file=file, line=line, field=field)])

    if isinstance(value, bool) or value is None:
        raise bad(f"quantity is missing or not a number: {value!r}")
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise bad(f"'{value}' is not a number") from None
    if not math.isfinite(number):
        raise bad(f"'{value}' is not a finite number")
    if number < 0:
        raise bad(f"quantity {value} is negative")
    if number > MAX_QUANTITY:
        raise bad(f"quantity {value} is implausibly large (over {MAX_QUANTITY:,})")
    return number


def to_milli(quantity: float) -> int:
    return round(quantity * SCALE)


def from_milli(milli: int) -> float:
    return milli / SCALE


def rules_by_resource(rules: tuple[NeedRule, ...] | list[NeedRule]) -> dict[str, list[NeedRule]]:
    out: dict[str, list[NeedRule]] = {}
    for r in rules:
        out.setdefault(r.resource, []).append(r)
    return out


def validate_rule(rule: NeedRule, known: set[str], line: int | None = None, file: str | None = None) -> list[Problem]:
    problems = []
    if rule.resource not in known:
        problems.append(Problem(f"unknown resource '{rule.resource}'", file=file, line=line, field="resource"))
    if rule.basis not in BASES:
        problems.append(Problem(f"basis must be one of {', '.join(BASES)}, not '{rule.basis}'", file, line, "basis"))
    if not (math.isfinite(rule.per_day) and rule.per_day >= 0):
        problems.append(Problem(f"per_day must be a non-negative number, not {rule.per_day}", file, line, "per_day"))
    return problems
