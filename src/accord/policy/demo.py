"""What the policy capability adds to the demo country: a national lockdown directive on the outbreak's lockdown
day, a stricter local order in the hardest-hit city, a province relaxing what the centre allows it to, and the
daily risk classification of every community over the whole run."""

from __future__ import annotations

import datetime as dt
import inspect

from accord.auth.roles import SYSTEM
from accord.db import transaction
from accord.demo import outbreak
from accord.demo.context import DemoContext
from accord.policy import measures, risk_areas
from accord.policy.measures import MeasureInput

#: the day of the run the simulated outbreak locks down (its default; the demo does not change it)
LOCKDOWN_DAY: int = inspect.signature(outbreak.simulate_outbreak).parameters["lockdown_day"].default


def _hardest_hit_city(ctx: DemoContext) -> tuple[str, str]:
    """(city code, its province code) with the most true confirmed cases."""
    cases = ctx.truth[(ctx.truth["indicator"] == "new_confirmed") & (ctx.truth["disaggregation"] == "")]
    by_community = cases.groupby("jurisdiction")["value"].sum()
    parent = ctx.geo.set_index("code")["parent_code"]
    by_city = by_community.groupby(parent.reindex(by_community.index).to_numpy()).sum()
    city = str(by_city.idxmax())
    return city, str(parent[city])


def _national_orders(root: str, lockdown: dt.date) -> list[MeasureInput]:
    src = "demo: State Council notice on the lockdown"
    return [
        MeasureInput(root, "C6", 2, lockdown, None, notes="stay at home except for essential trips", source=src),
        MeasureInput(root, "C7", 2, lockdown, None, notes="no travel between cities without a permit", source=src),
        MeasureInput(root, "C3", 2, lockdown, None, notes="public events cancelled", source=src),
        MeasureInput(root, "C4", 4, lockdown, None, notes="no gatherings of more than 10 people", source=src),
        MeasureInput(
            root, "C1", 3, lockdown, None, allow_relaxation=True, notes="schools closed; local reopening allowed"
        ),
        MeasureInput(root, "H2", 2, lockdown - dt.timedelta(days=5), None, notes="test everyone with symptoms"),
        MeasureInput(root, "H3", 2, lockdown - dt.timedelta(days=5), None, notes="trace every contact"),
        MeasureInput(root, "H6", 3, lockdown, None, notes="masks in all shared spaces", source=src),
    ]


def extend(ctx: DemoContext) -> list[str]:
    """Add this capability's demo data; return the summary lines to print."""
    lockdown = ctx.start + dt.timedelta(days=LOCKDOWN_DAY)
    city, province = _hardest_hit_city(ctx)
    with transaction(ctx.sessions) as s:
        for order in _national_orders(ctx.root, lockdown):
            measures.add_measure(s, SYSTEM, order)
        measures.add_measure(
            s,
            SYSTEM,
            MeasureInput(
                city,
                "C6",
                3,
                lockdown + dt.timedelta(days=3),
                lockdown + dt.timedelta(days=30),
                notes="hardest-hit city: households may send one person out every other day",
                source="demo: city epidemic prevention headquarters, notice no. 1",
            ),
        )
        # a province reopens schools partly, which the national order allows
        others = sorted(set(ctx.geo.loc[ctx.geo["level"] == "province", "code"]) - {province})
        other = others[0] if others else province
        measures.add_measure(
            s,
            SYSTEM,
            MeasureInput(other, "C1", 2, lockdown + dt.timedelta(days=45), None, notes="secondary schools reopen"),
        )
    last = (ctx.now - dt.timedelta(days=1)).date()
    first = min(ctx.start + dt.timedelta(days=13), last)  # the first 13 days only fill the first window
    with transaction(ctx.sessions) as s:
        out = risk_areas.classify(s, SYSTEM, ctx.root, first, last)
    latest = out.frame[out.frame["date"] == last]["level"].value_counts()
    peak = out.frame.groupby("date")["level"].apply(lambda x: int((x == "high").sum()))
    peak_day = str(peak.idxmax()) if len(peak) else str(last)
    return [
        f"policy: national lockdown directive from {lockdown} (8 measures), a stricter C6 order in {city}, "
        f"a permitted school reopening in {other}",
        f"policy: risk areas classified daily {first}..{last} over {out.frame['jurisdiction'].nunique():,} communities "
        f"by rule {out.rule.version}; on {last}: {int(latest.get('high', 0))} high, {int(latest.get('medium', 0))} "
        f"medium, {int(latest.get('low', 0))} low (peak {int(peak.max()) if len(peak) else 0} high on {peak_day})",
        "policy: see /public/policy/risk and /public/policy/in-force/" + city,
    ]
