"""What the tracing capability adds to the demo country.

For up to ``COMMUNITIES`` communities (those with the most confirmed cases in the last ``DAYS`` days while
staying under ``MAX_CASES`` there) every confirmed case of the simulated truth becomes a person and a case on
its confirmation day, imported or local as the truth says, so the case-based count of those communities equals
the true count (the reported count may differ where the demo's reporting was late or wrong: reconciliation
flags it). Each case gets 2-4 contacts (household, work, transport, social) exposed in the days before its
confirmation; a local case is linked to an earlier case of its community as infector with probability 0.6.
Names are synthetic. Each community gets a tracer (``tracer-<code>``), the first province a data-protection
officer (``dpo-<code>``); today's follow-ups are generated and overdue ones escalated. Seeded: the same seed
gives the same persons, cases and contacts (refs are random, as in production).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.auth import service as auth
from accord.auth.model import User
from accord.db import db_timestamp, transaction
from accord.demo.context import DemoContext
from accord.places import service as places
from accord.surveillance import store
from accord.tracing import linelist_import, person_status, worklists

COMMUNITIES = 10
DAYS = 21
MAX_CASES = 120
SETTINGS = np.array(["household", "work", "transport", "social"], dtype=object)
FAMILY = np.array(["Li", "Wang", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu", "Xu", "Sun"])
GIVEN = np.array(["Wei", "Fang", "Min", "Jing", "Lei", "Yan", "Jun", "Hui", "Qiang", "Ling", "Tao", "Xin"])


def extend(ctx: DemoContext) -> list[str]:
    """Add this capability's demo data; return the summary lines to print."""
    rng = np.random.default_rng(ctx.seed + 7)
    chosen = _communities(ctx)
    if chosen.empty:
        return ["tracing: no confirmed cases in the last weeks, no persons created"]
    today = ctx.now.date()
    with transaction(ctx.sessions) as s:
        index = places.load_index(s)
        cases = _cases(chosen, rng)
        contacts = _contacts(cases, rng)
        persons = pd.concat(
            [cases[["key", "community", "name", "phone"]], contacts[["key", "community", "name", "phone"]]]
        )
        frame = pd.DataFrame(
            {
                "case_id": persons["key"].to_numpy(),
                "name": persons["name"].to_numpy(),
                "phone": persons["phone"].to_numpy(),
                "national_id": "",
                "address": "",
                "sex": "",
                "age": "",
            }
        )
        residence = persons["community"].map(index.by_code).to_numpy(np.int64)
        pid = pd.Series(
            linelist_import.bulk_persons(s, frame, residence, "demo", ctx.now), index=persons["key"].to_numpy()
        )
        _store_cases(s, cases, pid, index.by_code, ctx.now)
        _store_links(s, cases, contacts, pid, ctx.now)
        person_status.refresh_persons(s, None, ctx.now)
        tokens = _users(s, chosen["community"].tolist(), ctx)
        followups = worklists.generate_followups(s, today, ctx.now)
        escalated = worklists.escalate_overdue(s, today, ctx.now)
    first = chosen["community"].iloc[0]
    return [
        f"tracing: {len(cases)} cases and {len(contacts)} contacts in {len(chosen)} communities; "
        f"{followups} follow-ups due today, {escalated} escalated",
        f"tracing: tracer of {first}: token {tokens.get(f'tracer-{first}', '?')} (sign in at /tracing/login)",
    ]


def _communities(ctx: DemoContext) -> pd.DataFrame:
    truth = ctx.truth
    since = ctx.now.date() - dt.timedelta(days=DAYS)
    confirmed = truth[(truth["indicator"] == "new_confirmed") & (truth["disaggregation"] != "")]
    confirmed = confirmed[(pd.to_datetime(confirmed["date"]).dt.date > since) & (confirmed["value"] > 0)]
    totals = confirmed.groupby("jurisdiction")["value"].sum()
    totals = totals[totals <= MAX_CASES].sort_values(ascending=False).head(COMMUNITIES)
    rows = confirmed[confirmed["jurisdiction"].isin(totals.index)]
    return rows.rename(columns={"jurisdiction": "community", "disaggregation": "origin"})[
        ["community", "date", "origin", "value"]
    ]


def _cases(chosen: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    reps = chosen["value"].astype(int).to_numpy()
    cases = chosen.loc[chosen.index.repeat(reps), ["community", "date", "origin"]].reset_index(drop=True)
    cases["date"] = pd.to_datetime(cases["date"]).dt.date
    cases = cases.sort_values(["community", "date"]).reset_index(drop=True)
    n = len(cases)
    cases["key"] = [f"c{i}" for i in range(n)]
    cases["onset"] = [d - dt.timedelta(days=int(k)) for d, k in zip(cases["date"], rng.integers(1, 6, n), strict=True)]
    cases["name"] = _names(rng, n)
    cases["phone"] = [f"+86 13{x:09d}" for x in rng.integers(0, 10**9, n)]
    return cases


def _contacts(cases: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    per = rng.integers(2, 5, len(cases))
    src = np.repeat(np.arange(len(cases)), per)
    m = len(src)
    back = rng.integers(0, 3, m)
    return pd.DataFrame(
        {
            "key": [f"k{i}" for i in range(m)],
            "source": cases["key"].to_numpy()[src],
            "community": cases["community"].to_numpy()[src],
            "last": [d - dt.timedelta(days=int(b)) for d, b in zip(cases["date"].to_numpy()[src], back, strict=True)],
            "setting": SETTINGS[rng.integers(0, len(SETTINGS), m)],
            "minutes": rng.integers(15, 600, m),
            "name": _names(rng, m),
            "phone": [f"+86 15{x:09d}" for x in rng.integers(0, 10**9, m)],
        }
    )


def _names(rng: np.random.Generator, n: int) -> list[str]:
    return [
        f"{a} {b}"
        for a, b in zip(FAMILY[rng.integers(0, len(FAMILY), n)], GIVEN[rng.integers(0, len(GIVEN), n)], strict=True)
    ]


def _store_cases(s: Session, cases: pd.DataFrame, pid: pd.Series, by_code: dict[str, int], now: dt.datetime) -> None:
    name = store.dialect(s)
    ts = db_timestamp(now, name)
    rows = [
        (
            int(pid[k]),
            "confirmed",
            store.date_param(o, name),
            store.date_param(d, name),
            store.date_param(d, name),
            origin,
            "mild",
            int(by_code[c]),
            ts,
            ts,
        )
        for k, o, d, origin, c in zip(
            cases["key"], cases["onset"], cases["date"], cases["origin"], cases["community"], strict=True
        )
    ]
    store.insert_rows(
        s,
        "tracing_case",
        [
            "person_id",
            "classification",
            "onset_date",
            "report_date",
            "confirmation_date",
            "origin",
            "severity",
            "residence_id",
            "created_at",
            "updated_at",
        ],
        rows,
    )


def _store_links(s: Session, cases: pd.DataFrame, contacts: pd.DataFrame, pid: pd.Series, now: dt.datetime) -> None:
    name = store.dialect(s)
    ts = db_timestamp(now, name)
    rows = [
        (
            int(pid[a]),
            int(pid[b]),
            store.date_param(last, name),
            store.date_param(last, name),
            setting,
            "close",
            int(minutes),
            False,
            ts,
        )
        for a, b, last, setting, minutes in zip(
            contacts["source"], contacts["key"], contacts["last"], contacts["setting"], contacts["minutes"], strict=True
        )
    ]
    rng = np.random.default_rng(len(cases))
    for _community, group in cases.groupby("community"):
        keys, onsets = group["key"].to_numpy(), group["onset"].to_numpy()
        for i in range(1, len(group)):
            if group["origin"].iloc[i] == "local" and rng.random() < 0.6:
                j = int(rng.integers(0, i))
                if onsets[j] <= onsets[i]:
                    rows.append(
                        (
                            int(pid[keys[j]]),
                            int(pid[keys[i]]),
                            store.date_param(onsets[i], name),
                            store.date_param(onsets[i], name),
                            "household",
                            "close",
                            600,
                            True,
                            ts,
                        )
                    )
    store.insert_rows(
        s,
        "tracing_contact",
        [
            "source_id",
            "contact_id",
            "first_exposure",
            "last_exposure",
            "setting",
            "proximity",
            "duration_minutes",
            "infector",
            "created_at",
        ],
        rows,
    )


def _users(s: Session, communities: list[str], ctx: DemoContext) -> dict[str, str]:
    province = ctx.geo.loc[ctx.geo["level"] == "province", "code"].iloc[0]
    specs = [(f"tracer-{c}", "tracer", c) for c in communities] + [(f"dpo-{province}", "dpo", province)]
    tokens = {}
    for username, role, scope in specs:
        if s.scalar(select(User).where(User.username == username)) is None:
            auth.add_user(s, username, role, scope)
        tokens[username] = auth.issue_token(s, username, label="demo")
    return tokens
