"""Metapopulation model at scale: one stochastic run of 3,000 regions x 16 age groups x 365 days (seconds, peak
RSS, region-days per second), side by side with the ``epydemix`` package's 100-member ensemble of a single
16-age-group population with the same compartments (population-days per second), and their ratio.

epydemix is run in a separate virtual environment outside the repository (it is not a dependency of Accord):
``python3 -m venv /tmp/epyvenv && /tmp/epyvenv/bin/pip install epydemix``; give another interpreter with
``--epydemix-python``; without one the comparison is skipped and said so.

Contacts are Prem et al. (2021) China matrices by setting from ``../shared/data/population-contacts-epydemix``
when present (synthetic otherwise); regions are synthetic: populations log-uniform 20k-2M, a sparse commuting
network (each region sends ~10% of its time to 8 neighbours on a plane, gravity-weighted).

    uv run python benchmarks/metapop_scale.py [--regions 3000] [--days 365] [--repeat 1] [--members 100]

BLAS is limited to one thread (set before numpy loads): the model's matrix products are small (16 x 16 contact
matrices), and on a shared 2-core machine OpenBLAS threads made them ~20x slower in our measurements.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import subprocess
import time
from pathlib import Path

import numpy as np
from scipy import sparse

from accord.epi import metapop as mp
from accord.epi import params
from common import peak_rss_mib, print_table, say, shared_data, write_results

SETTINGS = ("home", "school", "work", "community")


def contacts() -> tuple[np.ndarray, np.ndarray, str]:
    """Prem 2021 China matrices (settings x 16 x 16) and China's population in the 16 bands, or synthetic ones."""
    data = shared_data()
    folder = data / "population-contacts-epydemix" if data else None
    if folder and folder.is_dir():
        import pandas as pd

        prem = pd.read_csv(folder / "contact_matrices_prem_2021_all_settings.csv")
        china = prem[prem.location == "China"]
        mats = np.stack([china[china.setting == s].iloc[:, 3:].to_numpy(dtype=float) for s in SETTINGS])
        ages = pd.read_csv(folder / "age_distributions_all_locations_long.csv")
        pop = ages[ages.location == "China"].population.to_numpy(dtype=float)  # single years 0..84+
        bands = np.add.reduceat(pop, np.arange(0, 80, 5))
        return mats, bands / bands.sum(), "Prem et al. 2021 (China), UN WPP age structure"
    rng = np.random.default_rng(3)
    return rng.uniform(0.1, 2.0, size=(4, 16, 16)), np.full(16, 1 / 16), "synthetic"


def synthetic_country(regions: int, age_share: np.ndarray, seed: int = 1) -> tuple[np.ndarray, sparse.csr_matrix]:
    rng = np.random.default_rng(seed)
    pop = np.round(np.exp(rng.uniform(np.log(2e4), np.log(2e6), size=regions))[:, None] * age_share)
    xy = rng.uniform(0, 100, size=(regions, 2))
    k = 8
    rows, cols, vals = [], [], []
    for i in range(regions):  # set-up only: the model itself never loops over regions
        d = np.hypot(*(xy - xy[i]).T)
        d[i] = np.inf
        near = np.argpartition(d, k)[:k]
        w = pop[near].sum(axis=1) / d[near] ** 2
        rows += [i] * k
        cols += near.tolist()
        vals += (0.10 * w / w.sum()).tolist()
    travel = sparse.csr_matrix((vals, (rows, cols)), shape=(regions, regions))
    return pop, (travel + sparse.diags(1.0 - np.asarray(travel.sum(axis=1)).ravel())).tocsr()


EPYDEMIX_SCRIPT = r"""
import json, sys, time
import numpy as np
from epydemix import EpiModel
from epydemix.population import Population

cfg = json.loads(sys.argv[1])
Nk = np.array(cfg["population"], dtype=float)
pop = Population(name="one")
pop.add_population(Nk)
for name, m in zip(cfg["settings"], cfg["contacts"]):
    pop.add_contact_matrix(np.array(m), layer_name=name)
m = EpiModel(compartments=["S", "E", "P", "I", "A", "H", "C", "R", "D"])  # default population: no download
m.set_population(pop)
p = cfg["params"]
m.add_parameter(parameters_dict=p)
m.add_transition("S", "E", kind="mediated", params=("beta_p", "P"))
m.add_transition("S", "E", kind="mediated", params=("beta", "I"))
m.add_transition("S", "E", kind="mediated", params=("beta_a", "A"))
for src, dst, rate in [("E", "P", "e_p"), ("E", "A", "e_a"), ("P", "I", "p_i"), ("A", "R", "a_r"),
                       ("I", "H", "i_h"), ("I", "C", "i_c"), ("I", "R", "i_r"),
                       ("H", "R", "h_r"), ("H", "D", "h_d"), ("C", "R", "c_r"), ("C", "D", "c_d")]:
    m.add_transition(src, dst, kind="spontaneous", params=rate)
seed = np.zeros(Nk.size); seed[4:10] = 10
init = {c: np.zeros(Nk.size) for c in m.compartments}
init["S"] = Nk - seed; init["E"] = seed
t0 = time.perf_counter(); c0 = time.process_time()
res = m.run_simulations(start_date="2020-01-01", end_date=cfg["end_date"], initial_conditions_dict=init,
                        Nsim=cfg["members"], rng=1)
out = {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
# VmHWM: this process's own peak (ru_maxrss would include the parent's, inherited across fork)
hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM")]
out["peak_rss_mib"] = int(hwm[0].split()[1]) / 1024 if hwm else float("nan")
stacked = res.get_stacked_compartments()
out["mean_attack_rate"] = float(1 - np.mean(stacked["S_total"][:, -1]) / Nk.sum())
print(json.dumps(out))
"""


def epydemix_run(python: str, mats: np.ndarray, age_share: np.ndarray, days: int, members: int) -> dict | str:
    """Time epydemix's ensemble in its own interpreter; a sentence instead when it cannot run."""
    if not Path(python).exists():
        return (
            f"epydemix interpreter {python} not found (install: python3 -m venv /tmp/epyvenv && pip install epydemix)"
        )
    p = params.covid19()
    n = np.round(1_000_000 * age_share)
    beta = mp.beta_for_r0(p, mats, n, params.R0)
    # epydemix has one value per parameter (no age-specific fractions): age-averaged shares, same rates
    y, h, c = p.symptomatic_fraction.mean(), p.hospitalised_fraction.mean(), p.icu_fraction.mean()
    mu_h, mu_c = p.ward_fatality.mean(), p.icu_fatality.mean()
    rates = {
        "beta": beta,
        "beta_p": beta * p.rel_inf_presymptomatic,
        "beta_a": beta * p.rel_inf_asymptomatic,
        "e_p": y / p.latent,
        "e_a": (1 - y) / p.latent,
        "p_i": 1 / p.presymptomatic,
        "a_r": 1 / p.asymptomatic,
        "i_h": h * (1 - c) / p.symptomatic,
        "i_c": h * c / p.symptomatic,
        "i_r": (1 - h) / p.symptomatic,
        "h_r": (1 - mu_h) / p.ward_stay,
        "h_d": mu_h / p.ward_stay,
        "c_r": (1 - mu_c) / p.icu_stay,
        "c_d": mu_c / p.icu_stay,
    }
    end = (np.datetime64("2020-01-01") + np.timedelta64(days - 1, "D")).astype(str)
    cfg = {
        "population": n.tolist(),
        "settings": list(SETTINGS),
        "contacts": mats.tolist(),
        "params": {k: float(v) for k, v in rates.items()},
        "end_date": end,
        "members": members,
    }
    proc = subprocess.run(
        [python, "-c", EPYDEMIX_SCRIPT, json.dumps(cfg)],
        capture_output=True,
        text=True,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
        timeout=3600,
    )
    if proc.returncode != 0:
        return "epydemix failed: " + (proc.stderr.strip().splitlines() or ["no message"])[-1]
    result: dict = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=3000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=1, help="stochastic runs of the full country (ensemble members)")
    parser.add_argument("--members", type=int, default=100, help="epydemix ensemble size")
    parser.add_argument("--epydemix-python", default="/tmp/epyvenv/bin/python")
    parser.add_argument("--deterministic", action="store_true", help="also time the deterministic integrator")
    args = parser.parse_args()

    mats, age_share, source = contacts()
    pop, mobility = synthetic_country(args.regions, age_share)
    p = params.covid19()
    beta = mp.beta_for_r0(p, mats, pop.sum(axis=0), params.R0)
    model = mp.Metapop(p, pop, mats, beta, mobility=mobility)
    seeds = np.zeros_like(pop)
    seeds[:10, 4:10] = 10
    x0 = mp.initial_state(pop, seeds)
    region_days = args.regions * args.days
    say(
        f"{args.regions:,} regions x 16 ages x {args.days} days; contacts: {source}; "
        f"{pop.sum() / 1e6:,.0f} M people; mobility {mobility.nnz:,} non-zeros"
    )

    runs = []
    for member in np.random.SeedSequence(2020).spawn(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        traj = mp.simulate_stochastic(model, x0, args.days, seed=member)
        runs.append((time.perf_counter() - t0, time.process_time() - c0))
        reached = int((traj.infections.sum(axis=0) > 0).sum())
        say(
            f"stochastic run: {runs[-1][0]:.1f} s ({runs[-1][1]:.1f} s CPU); {traj.infections.sum() / 1e6:,.1f} M "
            f"infections ({traj.infections.sum() / pop.sum():.0%}), {traj.deaths.sum():,.0f} deaths, "
            f"{reached:,} regions reached"
        )
        attack = float(traj.infections.sum() / pop.sum())
    seconds = min(r[0] for r in runs)
    cpu = min(r[1] for r in runs)
    rss = peak_rss_mib()
    rows = [
        ["Accord stochastic (best run)", f"{seconds:.1f}", f"{cpu:.1f}", f"{region_days / seconds:,.0f}", f"{rss:,.0f}"]
    ]
    result: dict = {
        "regions": args.regions,
        "days": args.days,
        "ages": 16,
        "contacts": source,
        "stochastic_seconds": seconds,
        "stochastic_cpu_seconds": cpu,
        "region_days_per_second": region_days / seconds,
        "peak_rss_mib": rss,
        "attack_rate": attack,
        "runs": runs,
    }
    if args.deterministic:
        t0, c0 = time.perf_counter(), time.process_time()
        mp.simulate_deterministic(model, x0, args.days)
        det = time.perf_counter() - t0
        result["deterministic_seconds"] = det
        rows.append(["Accord deterministic (RK4, 4 steps/day)", f"{det:.1f}", f"{time.process_time() - c0:.1f}",
                     f"{region_days / det:,.0f}", f"{peak_rss_mib():,.0f}"])  # fmt: skip

    epy = epydemix_run(args.epydemix_python, mats, age_share, args.days, args.members)
    if isinstance(epy, str):
        say(epy)
        result["epydemix"] = epy
    else:
        pop_days = args.members * args.days
        rate = pop_days / epy["seconds"]
        rows.append([f"epydemix, {args.members} members x 1 population", f"{epy['seconds']:.1f}",
                     f"{epy['cpu_seconds']:.1f}", f"{rate:,.0f}", f"{epy['peak_rss_mib']:,.0f}"])  # fmt: skip
        result["epydemix"] = {**epy, "members": args.members, "population_days_per_second": rate}
        say(f"epydemix mean attack rate {epy['mean_attack_rate']:.0%} (Accord: {attack:.0%})")
        result["throughput_ratio"] = (region_days / seconds) / rate
        result["throughput_ratio_cpu"] = (region_days / cpu) / (pop_days / epy["cpu_seconds"])
    print_table(
        "Metapopulation model: stochastic throughput",
        ["run", "seconds", "CPU s", "(region|population)-days/s", "peak RSS MiB"],
        rows,
    )
    if "throughput_ratio" in result:
        say(
            f"throughput ratio Accord / epydemix per region-day: {result['throughput_ratio']:.0f}x wall, "
            f"{result['throughput_ratio_cpu']:.0f}x CPU (target >= 50x)"
        )
    write_results("metapop_scale", result)


if __name__ == "__main__":
    main()
