"""What the demo hands each capability that adds to it (cases and contacts, measures, stocks, health codes)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from accord.settings import Settings


@dataclass(frozen=True)
class DemoContext:
    sessions: sessionmaker[Session]
    geo: pd.DataFrame  # the generated tree: code, name, level, parent_code, population, lon, lat
    truth: pd.DataFrame  # the true daily values per community (accord.demo.outbreak.TRUTH_COLUMNS)
    start: dt.date  # first simulated day
    now: dt.datetime  # the demo's "now" (UTC)
    seed: int
    root: str  # code of the demo country
    settings: Settings
    console: Console
