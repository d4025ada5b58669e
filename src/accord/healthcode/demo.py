"""What the healthcode capability adds to the demo country.

Keys: a national root for the demo country and one issuer key per province, a signed trust list, the default
rule set. Statuses: from tracing's persons when the tracing demo created some (inputs from
``tracing.person_status.health_inputs`` and ``policy.risk_areas.risk_levels``), otherwise from a documented sample of
500 synthetic persons (see :func:`sample_population`). Then one code is issued per person (the demo holder's
initials and day of birth are drawn from the seeded stream: tracing keeps identities encrypted and the demo
does not decrypt them), and a demo employer with three employees is registered.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.auth.roles import SYSTEM
from accord.db import transaction
from accord.demo.context import DemoContext
from accord.errors import NotFound
from accord.healthcode import api, rules, service, workplace
from accord.healthcode.model import PersonStatus

SAMPLE_SIZE = 500
LETTERS = np.array(list("ABCDEFGHJKLMNPQRSTWXYZ"))


def sample_population(
    geo: pd.DataFrame, rng: np.random.Generator, n: int = SAMPLE_SIZE, now: pd.Timestamp | None = None
) -> pd.DataFrame:
    """The documented sample when tracing has no persons: residences spread over the communities, 0.5 %
    confirmed, 2 % in quarantine for up to 14 more days, 5 % back from a medium- or high-risk area in the
    last 20 days, 30 % with a test in the last 10 days (3 % of those positive)."""
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    communities = geo.loc[geo["level"] == "community", "code"].to_numpy()

    def maybe(share: float, values: np.ndarray) -> pd.Series:
        return pd.Series(values, dtype=object).where(rng.random(n) < share, None)

    def days(share: float, lo: int, hi: int) -> pd.Series:
        offsets = pd.to_timedelta(rng.integers(lo * 24, hi * 24, n), unit="h")
        return pd.Series(now + offsets).where(rng.random(n) < share)

    return pd.DataFrame(
        {
            "person_id": [f"sample-{i:04d}" for i in range(n)],
            "residence_code": rng.choice(communities, n),
            "case_status": maybe(0.005, np.full(n, "confirmed", dtype=object)),
            "case_date": days(1.0, -5, 0),
            "quarantine_until": days(0.02, 0, 14),
            "travel_risk": maybe(0.05, rng.choice(np.array(["medium", "high"], dtype=object), n)),
            "travel_date": days(1.0, -20, 0),
            "test_result": maybe(0.3, np.where(rng.random(n) < 0.03, "positive", "negative").astype(object)),
            "test_date": days(1.0, -10, 0),
        }
    )


def extend(ctx: DemoContext) -> list[str]:
    """Add this capability's demo data; return the summary lines to print."""
    rng = np.random.default_rng(ctx.seed + 8)
    provinces = ctx.geo.loc[ctx.geo["parent_code"] == ctx.root, "code"].tolist()
    now = ctx.now
    with transaction(ctx.sessions) as s:
        service.init_root(s, ctx.root, SYSTEM, now=now - timedelta(days=1))
        for code in provinces:
            service.add_issuer(s, code, SYSTEM, now=now - timedelta(hours=1))
        service.publish_trust_list(s, SYSTEM, now=now)
        service.publish_rules(s, rules.DEFAULT.as_dict(), SYSTEM, now=now)
    with transaction(ctx.sessions) as s:
        try:
            frame = service.inputs_from_tracing(s, now)
        except NotFound:
            frame = pd.DataFrame()
        source = "tracing persons"
        if frame.empty:
            frame = _sample(s, ctx, rng)
            source = "a sample of synthetic persons (tracing has none)"
        frame["initials"] = [
            a + b for a, b in zip(rng.choice(LETTERS, len(frame)), rng.choice(LETTERS, len(frame)), strict=True)
        ]
        frame["birth_day"] = [
            f"{m:02d}-{d:02d}"
            for m, d in zip(rng.integers(1, 13, len(frame)), rng.integers(1, 29, len(frame)), strict=True)
        ]
        service.refresh_statuses(s, frame, now)
    with transaction(ctx.sessions) as s:
        colours: Counter[str] = Counter()
        example = None
        for row in s.scalars(select(PersonStatus).order_by(PersonStatus.person_id)):
            if row.jurisdiction is None:
                continue
            service.issue_code(s, row.person_id, now=now)
            colours[row.colour] += 1
            if example is None or (row.colour != "green" and example.colour == "green"):
                example = row
        employer, key = workplace.register(s, "Arcadia Textile Mill", provinces[0], SYSTEM)
        for i, initials in enumerate(("MA", "LB", "KC")):
            workplace.add_employee(s, employer, f"staff-{i + 1}", initials, f"0{i + 1}-1{i}")
    link = (
        f"/public/healthcode/me/{example.person_id}/{api.holder_token(ctx.settings.secret_key, example.person_id)}"
        if example
        else ""
    )
    return [
        f"healthcode: {sum(colours.values())} codes issued from {source}: "
        + ", ".join(f"{c} {colours[c]}" for c in rules.COLOURS),
        f"healthcode: root and {len(provinces)} provincial issuer keys, trust list v1; verifier at "
        f"/public/healthcode/verify, rules at /public/healthcode/rules",
        f"healthcode: a holder page: {link}",
        f"healthcode: employer 'Arcadia Textile Mill' (id {employer.id}) key {key} (X-Employer-Key)",
    ]


def _sample(session: Session, ctx: DemoContext, rng: np.random.Generator) -> pd.DataFrame:
    from accord.places import service as places

    frame = sample_population(ctx.geo, rng, now=pd.Timestamp(ctx.now))
    index = places.load_index(session)
    issuing = service.nearest_ancestor(index, set(ctx.geo.loc[ctx.geo["parent_code"] == ctx.root, "code"]))
    frame["jurisdiction"] = frame["residence_code"].map(issuing)
    frame["residence_risk"] = None
    return frame
