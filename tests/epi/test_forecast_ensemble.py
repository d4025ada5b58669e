"""Forecast ensembles and scenarios: seeded members, fan-chart quantiles, common random numbers, and the same
numbers whichever executor runs them (inline, a local process pool, a Dask cluster)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from accord.epi import calibrate as cal
from accord.epi import forecast as fc
from accord.epi import params
from accord.epi.executor import WORKER_MALLOC_PAD, chunks, map_chunks, open_executor


@pytest.fixture(scope="module")
def spec() -> fc.EnsembleSpec:
    p = params.covid19((0, 20, 60))
    contacts = np.array(
        [[[3.0, 1.0, 0.5], [1.0, 4.0, 1.0], [0.5, 1.0, 2.0]], [[1.0, 2.0, 0.1], [2.0, 6.0, 1.0], [0.1, 1.0, 1.0]]]
    )
    pop = np.array([[30_000.0, 50_000, 20_000], [60_000, 90_000, 40_000], [10_000, 12_000, 8_000]])
    setup = cal.FitSetup(p, pop, contacts, days=40, observed_from=5, report_delay=cal.gamma_delay(3.0, 1.5))
    values = np.array([[2.5, 1.0, 30.0, 0.5, 1.0], [1.8, 1.0, 10.0, 0.3, 1.0], [3.0, 1.0, 5.0, 0.8, 1.0]])
    sim = cal.simulate(setup, values)
    fit = cal.Fit(
        setup, values, values, values, np.array([20.0, np.inf, 5.0]), sim.expected[5:], sim.expected[5:],
        np.zeros(3), sim.final, sim.onsets, True, 1, "given",
    )  # fmt: skip
    return fc.spec_from_fit(fit, horizon=21, seed=2024)


def test_members_are_seeded_and_quantiles_ordered(spec: fc.EnsembleSpec) -> None:
    a = fc.run_ensemble(spec, 12)
    b = fc.run_ensemble(spec, 12, chunk_size=5)
    assert np.array_equal(a.members, b.members)
    assert a.members.shape == (12, len(fc.OUTPUTS), 21, 3)
    assert not np.array_equal(a.members[0], a.members[1])  # members differ
    q = a.quantiles()
    assert q.shape == (5, 21, 3)
    assert np.all(np.diff(q, axis=0) >= 0)
    assert np.all(a.members >= 0) and np.all(a.members == np.round(a.members))
    other = fc.run_ensemble(fc.EnsembleSpec(**{**spec.__dict__, "seed": 7}), 12)
    assert not np.array_equal(a.members, other.members)


def test_ensemble_mean_follows_the_deterministic_model(spec: fc.EnsembleSpec) -> None:
    """Large regions: the members' mean infections stay near the ODE from the same state."""
    runs = fc.run_ensemble(spec, 40)
    model = cal.mp.Metapop(spec.params, spec.population, spec.contacts, 1.0)
    ode = cal.mp.simulate_deterministic(model, spec.state, spec.horizon, contact_scale=spec.contact_scale)
    big = 1  # the largest region
    mean = runs.output("infections")[:, :, big].sum(axis=1).mean()
    assert mean == pytest.approx(ode.infections[:, big].sum(), rel=0.1)


def test_identical_scenario_is_identical_to_baseline(spec: fc.EnsembleSpec) -> None:
    same = fc.compare(spec, fc.Scenario("nothing changes"), 6)
    assert np.array_equal(same.baseline.members, same.scenario.members)
    assert np.all(same.difference == 0)


def test_scenario_changes_only_after_its_start(spec: fc.EnsembleSpec) -> None:
    lockdown = fc.Scenario("school and work closed", contact_factor=0.2, from_day=7, settings=(1,))
    cmp = fc.compare(spec, lockdown, 10)
    base, alt = cmp.baseline.members, cmp.scenario.members
    # infections of day t depend on the contacts of day t: identical through day 6
    assert np.array_equal(base[:, :, :7], alt[:, :, :7])
    assert not np.array_equal(base[:, :, 7:], alt[:, :, 7:])
    # fewer infections in every member (common random numbers), and a negative difference interval
    inf_b = cmp.baseline.output("infections").sum(axis=(1, 2))
    inf_s = cmp.scenario.output("infections").sum(axis=(1, 2))
    assert np.all(inf_s < inf_b)
    assert np.all(cmp.quantiles()["difference"][-1] <= 0)


def test_scenario_checks_its_inputs(spec: fc.EnsembleSpec) -> None:
    with pytest.raises(ValueError, match="region"):
        fc.Scenario("x", regions=(9,)).apply(spec)
    with pytest.raises(ValueError, match="mobility factor"):
        fc.Scenario("x", mobility_factor=2.0).apply(spec)


def test_process_pool_gives_the_same_numbers(spec: fc.EnsembleSpec) -> None:
    from concurrent.futures import ProcessPoolExecutor

    inline = fc.run_ensemble(spec, 8)
    with ProcessPoolExecutor(max_workers=2) as pool:
        pooled = fc.run_ensemble(spec, 8, pool=pool, chunk_size=3)
    assert np.array_equal(inline.members, pooled.members)


def test_dask_cluster_gives_the_same_numbers(spec: fc.EnsembleSpec) -> None:
    distributed = pytest.importorskip("dask.distributed")
    inline = fc.run_ensemble(spec, 8)
    with (
        distributed.LocalCluster(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        seen: list[int] = []
        on_dask = fc.run_ensemble(
            spec, 8, pool=client.get_executor(), chunk_size=3, progress=lambda d, t: seen.append(d)
        )
    assert np.array_equal(inline.members, on_dask.members)
    assert seen[-1] == 8


def test_dask_workers_without_a_malloc_pad_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check reads each worker process's own environment: this process has no pad in either case."""
    dask = pytest.importorskip("dask")
    distributed = pytest.importorskip("dask.distributed")
    name, value = WORKER_MALLOC_PAD
    monkeypatch.delenv(name, raising=False)
    spawn_env = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    spawn_env.pop(name, None)
    for env, warned in ((spawn_env, True), ({**spawn_env, name: value}, False)):
        with (
            dask.config.set({"distributed.nanny.pre-spawn-environ": env}),
            distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as c,
            warnings.catch_warnings(record=True) as caught,
        ):
            warnings.simplefilter("always")
            with open_executor(c.scheduler_address) as pool:
                assert pool.submit(abs, -3).result() == 3
        hits = [w for w in caught if issubclass(w.category, RuntimeWarning) and f"{name}={value}" in str(w.message)]
        assert len(hits) == (1 if warned else 0)
        if warned:
            assert str(hits[0].message).startswith("1 Dask worker")


def test_chunks_cover_every_index() -> None:
    assert [list(c) for c in chunks(7, 3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert map_chunks(_squares, 5, chunk_size=2) == [0, 1, 4, 9, 16]
    with pytest.raises(ValueError):
        chunks(3, 0)


def _squares(start: int, stop: int) -> list[int]:
    return [i * i for i in range(start, stop)]


def test_mase_and_persistence() -> None:
    train = np.array([[1.0, 5.0], [3.0, 5.0], [2.0, 5.0]])
    actual = np.array([[4.0, 6.0], [2.0, 5.0]])
    naive = fc.persistence(train, 2)
    assert np.array_equal(naive, [[2.0, 5.0], [2.0, 5.0]])
    m = fc.mase(actual, naive, train)
    assert m[0] == pytest.approx(1.0 / 1.5)  # errors 2, 0 -> 1; scale (2 + 1) / 2
    assert np.isnan(m[1])  # a flat training series has no scale
