"""A scenario setting from a table of regions (CSV, or the store's units): population, people infected now
and ICU beds per region; contacts by age and setting (Prem et al.), travel between regions in proportion to
population. Pure: a table in, a :class:`accord.policy.scenarios.runs.Setting` out; no database.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accord.epi import metapop as mp
from accord.epi import params
from accord.errors import AccordError, Problem
from accord.policy.scenarios import runs as sc
from accord.surveillance.formats.common import shape_problem

FloatArray = NDArray[np.float64]


SETTINGS = ("home", "school", "work", "community")


def need_file(path: Path) -> Path:
    if not path.exists():
        raise AccordError("missing data", [Problem("file not found", file=str(path))])
    return path


#: mean daily contacts per setting (home, school, work, community) for a one-age-group model when no contact
#: matrices are given: an assumption of the order of Prem et al. (2017) country averages (~13 contacts a day)
DEFAULT_CONTACTS = (4.0, 2.0, 3.5, 3.5)
#: share of their time residents spend in other regions when no mobility is given (assumption; spread over the
#: other regions in proportion to their population)
DEFAULT_TRAVEL = 0.05
REGION_COLUMNS = ("code", "population", "infected", "icu_beds")


def read_regions(source: str | Path | bytes | IO[bytes], name: str = "regions.csv") -> pd.DataFrame:
    """Regions for a scenario grid from CSV: ``code``, ``population`` (> 0), ``infected`` (people infected now,
    >= 0; default 0) and ``icu_beds`` (>= 0; empty = unknown). Errors name the line and field."""
    if isinstance(source, Path):
        if not source.is_file():
            raise AccordError("no regions file", [Problem("no such file", file=str(source))])
        name, data = source.name, source.read_bytes()
    elif isinstance(source, str | bytes):
        data = source.encode() if isinstance(source, str) else source
    else:
        data = source.read()
    too_big = shape_problem(data.decode("utf-8", "replace"), name)
    if too_big:
        raise AccordError("unreadable regions file", [too_big])
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
        raise AccordError(
            "unreadable regions file", [Problem("not a UTF-8 CSV file with a header", file=name)]
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    for col in ("code", "population"):
        if col not in frame.columns:
            raise AccordError("invalid regions file", [Problem(f"missing column '{col}'", file=name, line=1)])
    if frame.empty:
        raise AccordError("invalid regions file", [Problem("no regions", file=name, line=2)])
    out = pd.DataFrame({"code": frame["code"].str.strip()})
    problems = []
    for col, low, required in (("population", 1.0, True), ("infected", 0.0, False), ("icu_beds", 0.0, False)):
        text = frame[col].str.strip() if col in frame.columns else pd.Series([""] * len(frame))
        values = pd.to_numeric(text.where(text != "", None), errors="coerce").astype(float)
        bad = ((text != "") & ~(np.isfinite(values) & (values >= low))) | ((text == "") & required)
        for i in np.flatnonzero(bad.to_numpy())[:5]:
            problems.append(
                Problem(f"'{text.iat[i]}' is not a number >= {low:g}", file=name, line=int(i) + 2, field=col)
            )
        out[col] = values.fillna(0.0) if col == "infected" else values
    if (out["infected"] > out["population"]).any():
        i = int(np.flatnonzero((out["infected"] > out["population"]).to_numpy())[0])
        problems.append(Problem("more infected than residents", file=name, line=i + 2, field="infected"))
    for i in np.flatnonzero(out["code"].duplicated().to_numpy())[:5]:
        problems.append(Problem(f"'{out['code'].iat[i]}' appears twice", file=name, line=int(i) + 2, field="code"))
    if problems:
        raise AccordError("invalid regions file", problems)
    return out


def population_travel(population: FloatArray, travel: float = DEFAULT_TRAVEL) -> FloatArray:
    """Row-stochastic mobility: each region spends ``travel`` of its time in the others, in proportion to their
    population; one region: nobody travels."""
    n = population.size
    if n == 1:
        return np.ones((1, 1))
    others = np.broadcast_to(population[None, :], (n, n)).copy()
    np.fill_diagonal(others, 0.0)
    m = travel * others / others.sum(axis=1, keepdims=True)
    np.fill_diagonal(m, 1.0 - travel)
    return np.asarray(m, dtype=np.float64)


def build_setting(
    regions: pd.DataFrame,
    days: int,
    *,
    contacts: FloatArray | None = None,
    age_share: FloatArray | None = None,
    mobility: FloatArray | None = None,
    r0: float = params.R0,
    steps_per_day: int = 2,
    check_every: int = 7,
) -> sc.Setting:
    """A scenario setting from :func:`read_regions`' table: the infected start in the latent stage spread over
    ages like the population; contacts ``settings x ages x ages`` with ``age_share`` (default: one age group with
    :data:`DEFAULT_CONTACTS`); mobility default :func:`population_travel`; transmission from ``r0``."""
    if contacts is None:
        contacts = np.asarray(DEFAULT_CONTACTS, dtype=np.float64)[:, None, None]
        age_share = np.ones(1)
        prm = params.covid19(bands=(0,))
    else:
        prm = params.covid19()
    share = np.asarray(age_share if age_share is not None else np.full(contacts.shape[1], 1 / contacts.shape[1]))
    pop_total = regions["population"].to_numpy(dtype=float)
    population = np.round(pop_total[:, None] * share[None, :] / share.sum())
    infected = np.minimum(
        np.round(regions["infected"].to_numpy(dtype=float)[:, None] * share / share.sum()), population
    )
    beta = mp.beta_for_r0(prm, contacts, population.sum(axis=0), r0)
    move = population_travel(pop_total) if mobility is None else mobility
    model = mp.Metapop(prm, population, contacts, beta, mobility=move)
    icu = regions["icu_beds"].to_numpy(dtype=float) if "icu_beds" in regions else None
    icu_capacity = None if icu is None or np.isnan(icu).all() else icu
    return sc.Setting(model=model, initial=mp.initial_state(population, infected), days=days,
                      icu_capacity=icu_capacity, steps_per_day=steps_per_day, check_every=check_every)  # fmt: skip


def prem_contacts(path: Path, location: str = "China") -> tuple[FloatArray, FloatArray]:
    """Prem et al. 2021 contact matrices by setting (settings x 16 x 16) for ``location`` from the epydemix-format
    CSV (``location, setting, ...``), and that location's age shares in the 16 bands from the sibling age file when
    present (uniform otherwise)."""
    prem = pd.read_csv(need_file(path))
    here = prem[prem.location == location]
    if here.empty:
        raise AccordError("unknown location", [Problem(f"no contact matrices for '{location}'", file=path.name)])
    mats = np.stack([here[here.setting == s].iloc[:, 3:].to_numpy(dtype=float) for s in SETTINGS])
    ages_file = path.with_name("age_distributions_all_locations_long.csv")
    share = np.full(16, 1 / 16)
    if ages_file.exists():
        ages = pd.read_csv(ages_file)
        single = ages[ages.location == location].population.to_numpy(dtype=float)
        if single.size:
            share = np.add.reduceat(single, np.arange(0, 80, 5))
            share = share / share.sum()
    return mats, share
