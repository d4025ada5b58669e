"""`accord federation demo`: three instances on loopback ports in one process, and the single-instance hook."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from accord.federation.demo import run_federation_demo


def test_federation_demo_runs_end_to_end(tmp_path: Path) -> None:
    out = io.StringIO()
    summary = run_federation_demo(Console(file=out, width=160), days=5, seed=3, workdir=tmp_path)
    states = {m["member"]: m["state"] for m in summary["members"]}
    assert states == {"AV": "current", "BO": "current", "CE": "silent"}
    assert summary["world_confirmed"] > 0
    shipped = {(s["origin"], s["destination"], s["status"]) for s in summary["shipments"]}
    assert ("AV", "BO", "accepted") in shipped
    assert not any(s["origin"] == "AV" and s["destination"] == "CE" for s in summary["shipments"])  # export ban
    text = out.getvalue()
    assert "WORLD pulled AV package 2: applied" in text


def test_single_instance_demo_gets_its_signing_key(tmp_path: Path) -> None:
    import datetime as dt

    import pandas as pd

    from accord.demo.context import DemoContext
    from accord.federation.demo import extend
    from accord.settings import Settings

    from .helpers import country_tree, new_store

    sessions = new_store(tmp_path / "x.db", country_tree("AR"))
    ctx = DemoContext(
        sessions=sessions,
        geo=pd.DataFrame(),
        truth=pd.DataFrame(),
        start=dt.date(2026, 1, 1),
        now=dt.datetime.now(dt.UTC),
        seed=1,
        root="AR",
        settings=Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}"),
        console=Console(file=io.StringIO()),
    )
    first = extend(ctx)
    assert first == extend(ctx) and "AR signs its packages with key" in first[0]  # idempotent
    sessions.kw["bind"].dispose()
