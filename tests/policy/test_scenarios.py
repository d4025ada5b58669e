"""Twin-objective scenarios: outcomes respond to measures as they must, relaxation triggers lift measures, grids
run identically in-process and through an executor, the Pareto frontier is exactly the non-dominated set, bad
input is named."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from accord.errors import AccordError
from accord.policy import pareto
from accord.policy.scenarios import regions as scenario_regions
from accord.policy.scenarios import runs as sc

REGIONS = "code,population,infected,icu_beds\nA,1000000,300,20\nB,400000,0,8\nC,2500000,20,\n"


@pytest.fixture(scope="module")
def setting() -> sc.Setting:
    return scenario_regions.build_setting(scenario_regions.read_regions(REGIONS), 150)


def test_measures_cut_deaths_and_cost_output(setting: sc.Setting) -> None:
    base = sc.run_scenario(setting, sc.baseline())
    lock = sc.run_scenario(setting, sc.Scenario("lockdown", sc.INTENSITIES["full lockdown"], start=10, duration=60))
    light = sc.run_scenario(setting, sc.Scenario("advice", sc.INTENSITIES["advice"], start=10, duration=60))
    assert base.economic_cost == 0 and base.measure_days == 0
    assert lock.deaths < light.deaths < base.deaths
    assert lock.economic_cost > light.economic_cost > 0
    assert lock.measure_days == pytest.approx(60)
    assert base.peak_icu > 28 and base.days_over_capacity > 0  # capacity of A and B (C unknown)
    assert base.icu_capacity == 28
    assert len(base.curves["infections"]) == 150
    assert sum(base.curves["infections"]) == pytest.approx(base.infections)


def test_relaxation_trigger_lifts_measures(setting: sc.Setting) -> None:
    held = sc.Scenario("held", sc.INTENSITIES["full lockdown"], start=5)
    relaxed = sc.Scenario("relaxed", sc.INTENSITIES["full lockdown"], start=5, relax_rt=1.0, relax_days=14)
    a, b = sc.run_scenario(setting, held), sc.run_scenario(setting, relaxed)
    assert b.measure_days < a.measure_days  # lifted once Rt stayed below 1 for 14 days
    assert b.economic_cost < a.economic_cost
    assert b.measure_days >= 14  # not before the 14 days had passed
    under = np.array(b.curves["under_measures"])
    assert under[10] == pytest.approx(1.0) and under[-1] < 1.0


def test_model_rt_of_exponential_growth() -> None:
    t = np.arange(120)
    inc = np.exp(0.1 * t)[:, None] * np.ones((1, 2))
    r = sc.model_rt(inc)
    assert np.all(r[60:] > 1.5) and np.allclose(r[60:, 0], r[60:, 1])
    assert np.all(sc.model_rt(np.exp(-0.05 * t)[:, None])[60:] < 1)


def test_grid_through_an_executor_equals_in_process(setting: sc.Setting) -> None:
    grid = sc.grid([20], ["distancing", "full lockdown"], [30, None])
    assert len(grid) == 4 and grid[-1].coords == {"start": 20, "intensity": "full lockdown", "duration": None}
    seen: list[int] = []
    inline = sc.run_grid(setting, grid, None, lambda done, total: seen.append(done))
    with ProcessPoolExecutor(max_workers=2) as pool:
        pooled = sc.run_grid(setting, grid, pool)
    assert seen == list(range(1, 5))
    assert [o.name for o in pooled] == [s.name for s in grid]
    assert all(a.deaths == b.deaths and a.economic_cost == b.economic_cost for a, b in zip(inline, pooled, strict=True))
    records = sc.frontier_records(inline)
    assert any(r["on_frontier"] for r in records)


def test_scenarios_that_do_not_fit_are_rejected(setting: sc.Setting) -> None:
    with pytest.raises(ValueError, match="outside the horizon"):
        sc.run_scenario(setting, sc.Scenario("late", {"C1": 3}, start=150))
    with pytest.raises(ValueError, match="region index"):
        sc.run_scenario(setting, sc.Scenario("far", {"C1": 3}, regions=(5,)))
    with pytest.raises(ValueError, match="C1 has levels"):
        sc.run_scenario(setting, sc.Scenario("bad", {"C1": 9}))
    with pytest.raises(ValueError, match="unknown intensity"):
        sc.grid([0], ["curfew"], [30])


def test_regions_file_errors_name_line_and_field() -> None:
    with pytest.raises(AccordError) as err:
        scenario_regions.read_regions("code,population,infected\nA,100,5\nB,-3,0\nA,10,20\n")
    text = " ".join(p.sentence() for p in err.value.problems)
    assert "line 3" in text and "population" in text
    assert "appears twice" in text and "more infected than residents" in text
    with pytest.raises(AccordError, match="invalid regions file"):
        scenario_regions.read_regions("name,pop\nA,1\n")


def _brute(h: np.ndarray, e: np.ndarray) -> np.ndarray:
    n = len(h)
    dominated = np.zeros(n, bool)
    for i in range(n):
        for j in range(n):
            if h[j] <= h[i] and e[j] <= e[i] and (h[j] < h[i] or e[j] < e[i]):
                dominated[i] = True
    return ~dominated


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=30))
def test_frontier_is_exactly_the_non_dominated_set(points: list[tuple[int, int]]) -> None:
    h = np.array([p[0] for p in points], float)
    e = np.array([p[1] for p in points], float)
    np.testing.assert_array_equal(pareto.non_dominated(h, e), _brute(h, e))
    order = pareto.frontier_order(h, e)
    assert np.all(np.diff(h[order]) >= 0)


def test_cli_grid_writes_json_and_csv_twins(tmp_path: Path) -> None:
    import typer

    from accord.policy.scenarios.cli import grid_command

    app = typer.Typer()
    app.command("grid")(grid_command)
    app.callback()(lambda: None)
    regions = tmp_path / "regions.csv"
    regions.write_text(REGIONS)
    out_json, out_csv = tmp_path / "grid.json", tmp_path / "grid.csv"
    args = ["grid", str(regions), "--days", "90", "--timings", "0,10", "--intensities", "distancing,full lockdown",
            "--durations", "30", "--workers", "1", "--json", str(out_json), "--csv", str(out_csv)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Pareto frontier" in result.output
    import json

    import pandas as pd

    payload = json.loads(out_json.read_text())
    frame = pd.read_csv(out_csv)
    assert len(payload["scenarios"]) == len(frame) == 5  # baseline + 2 x 2 x 1
    assert frame["on_frontier"].any() and len(payload["scenarios"][0]["curves"]["icu"]) == 90
    bad = CliRunner().invoke(app, ["grid", str(regions), "--intensities", "curfew"])
    assert bad.exit_code != 0 and "unknown intensity" in bad.output
