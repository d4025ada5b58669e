"""Hospital demand for 3,000 regions at once (``accord.epi.hospital.chime``) beside the ``penn-chime`` package called
once per region, on the same inputs: wall time, ratio, and agreement of the census (general beds, ICU, ventilators).

penn-chime pins old dependencies and is not part of Accord: install it in a throwaway virtual environment outside
the repository, ``python3 -m venv /tmp/chimevenv && /tmp/chimevenv/bin/pip install penn-chime``, and give its
interpreter with ``--chime-python`` (default /tmp/chimevenv/bin/python); without it the comparison is skipped.
CHIME takes ~0.1-0.3 s a region, so by default it runs on the first ``--chime-regions`` (200) regions and its time
for all regions is that per-region time x regions (said so in the output).

    uv run python benchmarks/hospital_vs_chime.py [--regions 3000] [--chime-regions 200] [--days 100]

The model-driven census (``accord.epi.hospital.demand`` on the metapopulation model's admissions) is timed too.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from accord.epi import hospital
from common import print_table, say, write_results

CHIME_SCRIPT = r"""
import json, logging, sys, time
from datetime import date
import numpy as np
logging.disable(logging.CRITICAL)
from penn_chime.model.parameters import Parameters, Disposition
from penn_chime.model.sir import Sir
cfg = json.loads(open(sys.argv[1]).read())
today = date(2020, 4, 1)
out = []
t0 = time.perf_counter()
for k in range(cfg["regions"]):
    p = Parameters(
        population=int(cfg["population"][k]), current_hospitalized=int(cfg["current"][k]),
        doubling_time=float(cfg["doubling"][k]), relative_contact_rate=float(cfg["rcr"][k]),
        hospitalized=Disposition.create(days=cfg["los"][0], rate=cfg["rates"][0]),
        icu=Disposition.create(days=cfg["los"][1], rate=cfg["rates"][1]),
        ventilated=Disposition.create(days=cfg["los"][2], rate=cfg["rates"][2]),
        infectious_days=cfg["infectious_days"], market_share=cfg["market_share"], n_days=cfg["n_days"],
        current_date=today, mitigation_date=today, recovered=0,
    )
    m = Sir(p)
    c = m.census_df
    out.append([m.i_day, c.census_hospitalized.to_numpy(float).tolist(), c.census_icu.to_numpy(float).tolist(),
                c.census_ventilated.to_numpy(float).tolist()])
seconds = time.perf_counter() - t0
json.dump({"seconds": seconds, "runs": out}, open(sys.argv[2], "w"))
"""


def inputs(regions: int, days: int, seed: int = 7) -> hospital.ChimeInputs:
    rng = np.random.default_rng(seed)
    pop = np.round(np.exp(rng.uniform(np.log(2e4), np.log(2e6), regions)))
    return hospital.ChimeInputs(
        population=pop,
        current_hospitalized=np.round(rng.uniform(1, 200, regions)),
        doubling_time=np.round(rng.uniform(3, 10, regions), 1),
        relative_contact_rate=np.round(rng.uniform(0, 0.5, regions), 2),
        n_days=days,
    )


def run_chime(python: str, inp: hospital.ChimeInputs, count: int) -> dict | str:
    if not Path(python).exists():
        return f"penn-chime interpreter {python} not found (python3 -m venv /tmp/chimevenv && pip install penn-chime)"
    cfg = {
        "regions": count,
        "population": inp.population[:count].tolist(),
        "current": np.asarray(inp.current_hospitalized)[:count].tolist(),
        "doubling": np.asarray(inp.doubling_time)[:count].tolist(),
        "rcr": np.asarray(inp.relative_contact_rate)[:count].tolist(),
        "los": [inp.hospitalized_days, inp.icu_days, inp.ventilated_days],
        "rates": [inp.hospitalized_rate, inp.icu_rate, inp.ventilated_rate],
        "infectious_days": inp.infectious_days,
        "market_share": inp.market_share,
        "n_days": inp.n_days,
    }
    with tempfile.TemporaryDirectory() as tmp:
        cfg_path, out_path = Path(tmp) / "cfg.json", Path(tmp) / "out.json"
        cfg_path.write_text(json.dumps(cfg))
        proc = subprocess.run([python, "-c", CHIME_SCRIPT, str(cfg_path), str(out_path)], capture_output=True,
                              text=True, timeout=7200)  # fmt: skip
        if proc.returncode != 0:
            return "penn-chime failed: " + (proc.stderr.strip().splitlines() or ["no message"])[-1]
        result: dict = json.loads(out_path.read_text())
        return result


def agreement(ours: hospital.ChimeResult, theirs: list) -> dict:
    worst = 0.0
    same_day = 0
    for k, (i_day, *series) in enumerate(theirs):
        same_day += int(ours.i_day[k] == i_day)
        for mine, ref in zip((ours.hospitalized, ours.icu, ours.ventilated), series, strict=True):
            ref_arr = np.asarray(ref, dtype=float)
            got = mine[k, : ref_arr.size]
            if got.size != ref_arr.size or np.isnan(got).any():
                worst = np.inf
                continue
            worst = max(worst, float(np.max(np.abs(got - ref_arr) / np.maximum(np.abs(ref_arr), 1.0))))
    return {"regions_compared": len(theirs), "same_current_day": same_day, "max_relative_difference": worst}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=3000)
    parser.add_argument("--chime-regions", type=int, default=200)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--chime-python", default="/tmp/chimevenv/bin/python")
    args = parser.parse_args()
    inp = inputs(args.regions, args.days)
    t0, c0 = time.perf_counter(), time.process_time()
    ours = hospital.chime(inp)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    say(f"Accord: {args.regions:,} regions in {seconds:.2f} s ({cpu:.2f} s CPU)")
    # census from model admissions (fixed stays), 3,000 regions x 365 days
    adm = np.random.default_rng(1).poisson(20, size=(args.regions, 365)).astype(float)
    t1 = time.perf_counter()
    hospital.demand(adm, icu_share=0.3, vent_share=0.2)
    demand_seconds = time.perf_counter() - t1
    result: dict = {"regions": args.regions, "days": args.days, "accord_seconds": seconds, "accord_cpu_seconds": cpu,
                    "demand_from_admissions_seconds_3000x365": demand_seconds}  # fmt: skip
    rows = [["Accord hospital.chime (all regions, vectorised)", args.regions, f"{seconds:.2f}",
             f"{seconds / args.regions * 1e3:.3f}"]]  # fmt: skip
    count = min(args.chime_regions, args.regions)
    theirs = run_chime(args.chime_python, inp, count)
    if isinstance(theirs, str):
        say(theirs)
        result["chime"] = theirs
    else:
        per_region = theirs["seconds"] / count
        projected = per_region * args.regions
        rows.append([f"penn-chime Sir() per region ({count} measured)", count, f"{theirs['seconds']:.2f}",
                     f"{per_region * 1e3:.3f}"])  # fmt: skip
        label = "measured" if count == args.regions else "projected"
        rows.append([f"penn-chime, {args.regions:,} regions ({label})", args.regions, f"{projected:.1f}", "-"])
        agree = agreement(ours, theirs["runs"])
        result["chime"] = {"seconds": theirs["seconds"], "regions": count, "per_region_seconds": per_region,
                           "projected_seconds": projected, **agree}  # fmt: skip
        result["ratio"] = projected / seconds
        say(f"agreement on {agree['regions_compared']} regions: same current day in {agree['same_current_day']}, "
            f"max relative difference of census {agree['max_relative_difference']:.2e}")  # fmt: skip
    print_table("Hospital demand: Accord vs penn-chime", ["run", "regions", "seconds", "ms / region"], rows)
    if "ratio" in result:
        say(f"ratio penn-chime / Accord for {args.regions:,} regions: {result['ratio']:.0f}x (target >= 100x)")
    write_results("hospital_vs_chime", result)


if __name__ == "__main__":
    main()
