"""Weekly case forecasts scored like the COVID-19 Forecast Hub: the full rolling backtests on JHU CSSE's 2020 data,
China's 31 provinces (origins 8 February - 4 April) and the 50 US states and DC (4 April - 28 November), 1-4
weeks ahead, beside the Hub baseline. Prints the score table of each variant (the default model; China without
its importation coupling; both without the recalibration on past errors) and whether the targets are met: 95%
intervals covering 90-98% of outcomes, relative WIS below 1 at every horizon.

    uv run python benchmarks/forecast_hub_score.py [--members 400] [--hub-csv forecasts.csv]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small products: threads only thrash on a shared machine

import pandas as pd

from accord.analytics import skill
from common import print_table, say, shared_data, write_results

VARIANTS = {
    "model": {"coupled": True, "calibrate": True},
    "China uncoupled": {"coupled": False, "calibrate": True},
    "no recalibration": {"coupled": True, "calibrate": False},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=400)
    parser.add_argument("--hub-csv", default=None, help="write the default model's forecasts in the Hub's layout")
    args = parser.parse_args()
    data = shared_data()
    if data is None:
        raise SystemExit("the shared data (../shared/data) is not present")
    series = {"china": skill.jhu_china(data), "us": skill.jhu_us_states(data)}
    tables, hub, timing = [], [], {}
    for variant, options in VARIANTS.items():
        for name, s in series.items():
            if variant == "China uncoupled" and name != "china":
                continue
            origins = skill.saturdays(s, *skill.BACKTEST_SPANS[name])
            say(f"{variant}: {s.name}, {len(origins)} origins x {len(s.regions)} regions")
            bt = skill.rolling_backtest(s, origins, members=args.members, **options)
            timing[f"{variant} / {s.name}"] = bt.seconds
            tables.append(skill.score_table(bt).assign(variant=variant))
            if variant == "model":
                hub.append(skill.hub_csv(bt))
    table = pd.concat(tables, ignore_index=True)
    for variant in VARIANTS:
        part = table[table["variant"] == variant]
        print_table(
            f"{variant}: weekly forecasts against the Hub baseline ({args.members} runs per forecast)",
            ["series", "weeks", "forecasts", "no forecast", "WIS", "baseline WIS", "relative WIS", "50% cover",
             "95% cover", "baseline 50%", "baseline 95%"],
            [[r.series, r.horizon, r.forecasts, r.no_forecast, r.wis, r.wis_baseline, round(r.relative_wis, 3),
              round(r.cover50, 3), round(r.cover95, 3), round(r.cover50_baseline, 3), round(r.cover95_baseline, 3)]
             for r in part.itertuples()],
        )  # fmt: skip
    model = table[(table["variant"] == "model") & (table["horizon"] != "all")]
    for r in model.itertuples():
        cover = (
            "met" if 0.90 <= r.cover95 <= 0.98 else f"MISSED by {min(abs(r.cover95 - 0.90), abs(r.cover95 - 0.98)):.1%}"
        )
        wis = "met" if r.relative_wis < 1 else f"MISSED by {r.relative_wis - 1:.1%}"
        print(
            f"{r.series}, {r.horizon} wk: 95% coverage {r.cover95:.1%} ({cover}); "
            f"relative WIS {r.relative_wis:.3f} ({wis})"
        )
    for key, seconds in timing.items():
        print(f"{key}: {seconds:.1f} s")
    if args.hub_csv:
        pd.concat(hub, ignore_index=True).to_csv(args.hub_csv, index=False)
        say(f"Hub CSV in {args.hub_csv}")
    path = write_results(
        "forecast_hub_score",
        {"members": args.members, "table": table.to_dict(orient="records"), "seconds": timing},
    )
    say(f"results in {path}")


if __name__ == "__main__":
    main()
