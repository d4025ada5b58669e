"""Pooling curve on real data: ventilator shortfall of US states in spring 2020 with and without sharing.

Built from the JHU CSSE US county time series (``../shared/data/jhu-csse-covid19-timeseries``), summed by state:

* active cases on day t = cumulative confirmed(t) - cumulative confirmed(t - 14) (a 14-day illness window);
* ventilators needed on day t = ``VENTILATED_SHARE`` of active cases (reusable, ``use_days = 1``: units in
  service that day). 3 % is our round figure for "hospitalised x in ICU x ventilated" (~20 % x ~25 % x ~60 %) of
  confirmed cases in spring 2020; the qualitative result does not hinge on it, because supply is scaled to demand;
* ventilators on hand: proportional to state population, scaled so that the national stock equals
  ``adequacy`` x the national peak of simultaneous demand over the horizon (adequacy 1 = exactly enough
  nationally if perfectly placed at the peak);
* pooling: every state may lend to every other (48 contiguous states + DC), lead time 1 day + 1 day per
  1,000 km between the states' centroids (JHU lookup table), cost 0.001 per km; without pooling each state
  keeps what it has.

Both cases are solved exactly (OR-Tools min-cost flow); the curve is shortfall in ventilator-days against national
adequacy. The literature (Mehrotra et al. 2020; Bertsimas et al. 2021) found that sharing removes most of the
shortfall while national supply is adequate and little once it is not.

    uv run python benchmarks/allocation_pooling.py [--start 2020-04-01] [--days 30]
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from accord.resources.optimiser import AllocationProblem, Options, Routes, solve

VENTILATED_SHARE = 0.03
ACTIVE_DAYS = 14
EXCLUDED = {"Alaska", "Hawaii"}  # not reachable overland; the territories are not states
ADEQUACY = (0.4, 0.6, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0)


def state_demand(data_dir: Path, start: date, days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(states x days ventilator demand, states with population and centroid) from the JHU tables."""
    folder = data_dir / "jhu-csse-covid19-timeseries"
    lookup = pd.read_csv(folder / "UID_ISO_FIPS_LookUp_Table.csv", dtype={"FIPS": "string"})
    states = lookup[(lookup["Country_Region"] == "US") & lookup["Admin2"].isna() & lookup["Province_State"].notna()]
    states = states[(states["UID"] > 84000000) & (states["UID"] < 84000100)]  # the 50 states + DC
    states = states[~states["Province_State"].isin(EXCLUDED)]
    states = states.set_index("Province_State")[["Lat", "Long_", "Population"]]
    confirmed = pd.read_csv(folder / "time_series_covid19_confirmed_US.csv")
    date_cols = [c for c in confirmed.columns if c.count("/") == 2]
    by_state = confirmed.groupby("Province_State")[date_cols].sum()
    by_state.columns = pd.to_datetime(by_state.columns, format="%m/%d/%y")
    by_state = by_state.loc[states.index]
    cumulative = by_state.cummax(axis=1)  # later downward corrections must not create negative active counts
    active = cumulative - cumulative.shift(ACTIVE_DAYS, axis=1).fillna(0)
    window = pd.date_range(pd.Timestamp(start), periods=days, freq="D")
    demand = np.rint(VENTILATED_SHARE * active.loc[:, window])
    return demand, states


def _distance_km(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    dlat = la[:, None] - la[None, :]
    dlon = lo[:, None] - lo[None, :]
    h = np.sin(dlat / 2) ** 2 + np.cos(la[:, None]) * np.cos(la[None, :]) * np.sin(dlon / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(h))


def pooling_instance(demand: pd.DataFrame, states: pd.DataFrame, adequacy: float, pooled: bool) -> AllocationProblem:
    """The ventilator instance at national ``adequacy``; ``pooled=False`` closes every route."""
    need = demand.to_numpy(float)
    n, days = need.shape
    national = adequacy * need.sum(axis=0).max()
    pop = states["Population"].to_numpy(float)
    stock = np.floor(national * pop / pop.sum())
    dist = _distance_km(states["Lat"].to_numpy(float), states["Long_"].to_numpy(float))
    o, d = np.nonzero(~np.eye(n, dtype=bool)) if pooled else (np.zeros(0, int), np.zeros(0, int))
    return AllocationProblem(
        nodes=tuple(states.index),
        resources=("ventilator",),
        reusable=np.array([True]),
        use_days=np.array([1]),
        days=days,
        initial_stock=stock[:, None],
        supply=np.zeros((n, 1, days)),
        demand=need[:, None, :],
        routes=Routes(
            origin=o.astype(np.int64),
            destination=d.astype(np.int64),
            lead_days=(1 + dist[o, d] // 1000).astype(np.int64),
            unit_cost=0.001 * dist[o, d],
        ),
        holding_cost=np.array([0.0]),
    )


def pooling_curve(data_dir: Path, start: date, days: int, levels: tuple[float, ...] = ADEQUACY) -> pd.DataFrame:
    """Shortfall (ventilator-days) alone and pooled at each national adequacy level."""
    demand, states = state_demand(data_dir, start, days)
    rows = []
    for level in levels:
        alone = solve(pooling_instance(demand, states, level, pooled=False), Options(solver="network"))
        pooled = solve(pooling_instance(demand, states, level, pooled=True), Options(solver="network"))
        rows.append(
            {
                "adequacy": level,
                "demand_ventilator_days": float(demand.to_numpy().sum()),
                "shortfall_alone": alone.total_shortfall,
                "shortfall_pooled": pooled.total_shortfall,
                "removed_share": 1 - pooled.total_shortfall / alone.total_shortfall if alone.total_shortfall else 0.0,
                "states_short_alone": int((alone.shortfall.sum(axis=(1, 2)) > 0).sum()),
                "states_short_pooled": int((pooled.shortfall.sum(axis=(1, 2)) > 0).sum()),
                "ventilators_moved": float(pooled.shipments["quantity"].sum()),
                "solve_seconds": pooled.build_seconds + pooled.solve_seconds,
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    from common import print_table, say, shared_data, write_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=date.fromisoformat, default=date(2020, 4, 1))
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    data = shared_data()
    if data is None:
        say("skipped: ../shared/data is not present (the JHU time series are needed)")
        return
    curve = pooling_curve(data, args.start, args.days)
    end = args.start + timedelta(days=args.days - 1)
    print_table(
        f"Ventilator shortfall, 49 US states, {args.start}..{end} (ventilator-days)",
        ["national adequacy", "demand", "alone", "pooled", "removed", "states short alone", "pooled", "moved", "s"],
        [
            [
                r.adequacy,
                r.demand_ventilator_days,
                r.shortfall_alone,
                r.shortfall_pooled,
                f"{r.removed_share:.0%}",
                r.states_short_alone,
                r.states_short_pooled,
                r.ventilators_moved,
                r.solve_seconds,
            ]
            for r in curve.itertuples()
        ],
    )
    out = write_results(
        "allocation_pooling",
        {
            "start": args.start,
            "days": args.days,
            "ventilated_share": VENTILATED_SHARE,
            "curve": curve.to_dict("records"),
        },
    )
    say(f"results in {out}")


if __name__ == "__main__":
    main()
