"""``accord forecast`` and ``accord scenario run|compare`` end to end on a SQLite store (the analytics test data):
CSV output with the fan-chart quantiles, the fit report, common random numbers, clear one-sentence errors. The
service's numbers are the same inline and on a process pool (same seeds)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from analytics_data import DAYS, START, load
from tests.conftest import SMALL_TREE
from typer.testing import CliRunner

from accord.analytics import cli, service
from accord.clikit import session_scope
from accord.epi import forecast
from accord.places import service as places
from accord.settings import get_settings

app = typer.Typer()
app.command("forecast")(cli.forecast_command)
app.add_typer(cli.scenario_app, name="scenario")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("forecast")
    mp = pytest.MonkeyPatch()
    mp.setenv("ACCORD_DATA_DIR", str(path))
    mp.delenv("ACCORD_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    from accord.surveillance import service as surveillance

    with session_scope() as s:
        surveillance.seed_indicators(s)
        places.import_places(s, SMALL_TREE, file="tree")
        load(s)
    yield path
    mp.undo()
    get_settings.cache_clear()


def invoke(*args: str) -> tuple[int, str, str]:
    run = CliRunner().invoke(app, list(args))
    return run.exit_code, run.stdout, run.stderr


def test_forecast_writes_fans_and_fit_report(store: Path, tmp_path: Path) -> None:
    fit_csv = tmp_path / "fit.csv"
    code, out, err = invoke(
        "forecast", "AR-01", "--members", "30", "--horizon", "10", "--workers", "2", "--fit-output", str(fit_csv)
    )
    assert code == 0, err
    frame = pd.read_csv(io.StringIO(out), parse_dates=["date"])
    assert set(frame["jurisdiction"]) == {"AR-01-01", "AR-01-02"}
    fc = frame[frame["kind"] == "forecast"]
    assert len(fc) == 20 and fc["date"].min() == pd.Timestamp(START) + pd.Timedelta(days=DAYS)
    q = fc[["q025", "q25", "q50", "q75", "q975"]].to_numpy()
    assert np.all(np.diff(q, axis=1) >= 0)
    past = frame[frame["kind"] == "observed"]
    assert past["observed"].notna().all() and past["fitted"].notna().all()
    report = pd.read_csv(fit_csv)
    assert {"r0", "r0_lower", "r0_upper", "rho", "r_now", "nb_size"} <= set(report.columns)
    assert "fitted to" in err and "R0" in err
    # same seed: same numbers on the next run, inline in the service
    with session_scope() as s:
        again = service.regional_forecast(s, "AR-01", members=30, horizon=10)
    assert np.allclose(again.frame()["q50"].fillna(-1), frame["q50"].fillna(-1))


def test_scenario_compare_identity_on_the_cli(store: Path) -> None:
    code, out, err = invoke("scenario", "compare", "AR-01", "--contacts", "1.0", "--members", "12", "--workers", "1")
    assert code == 0, err
    same = pd.read_csv(io.StringIO(out))
    assert (same.filter(like="difference_") == 0).all().all()  # nothing changed: identical to the baseline
    assert "median total" in err


def test_scenario_in_one_unit(store: Path) -> None:
    with session_scope() as s:
        base = service.regional_forecast(s, "AR-01", members=12, horizon=10)
    lockdown = forecast.Scenario("lockdown in Riverton", contact_factor=0.2, regions=(0,))
    alt = service.scenario_forecast(base, lockdown)
    cut = service.scenario_comparison(base, alt, lockdown.name).set_index("jurisdiction")
    assert cut.loc["AR-01-01", "difference_q50"] < 0
    assert cut.loc["AR-01-01", "scenario_q975"] < cut.loc["AR-01-01", "baseline_q975"]
    # the other unit is not bit-identical: the metapop streams are per purpose and day, shared by all regions,
    # and numpy's binomial sampler consumes a variable number of values per draw
    assert alt.frame()["kind"].tolist() == base.frame()["kind"].tolist()
    assert "scenario: lockdown in Riverton" in alt.notes


def test_errors_are_one_sentence(store: Path) -> None:
    code, _, err = invoke("forecast", "AR-01", "--members", "0")
    assert code != 0 and "members must be 1 to" in err and "Traceback" not in err
    code, _, err = invoke("scenario", "compare", "AR-01", "--regions", "AR-99", "--workers", "1")
    assert code != 0 and "AR-99 is not among the forecast units" in err
    code, _, err = invoke("forecast", "AR-01", "--dask", "tcp://127.0.0.1:9", "--members", "2")
    assert code != 0 and "cannot reach the Dask scheduler" in err


def test_forecast_score_on_a_jurisdiction_of_the_store(store: Path) -> None:
    """``accord forecast score CODE``: the rolling backtest of the weekly forecasts on the store's published
    history, as a table (and as JSON)."""
    score = typer.Typer()
    score.command()(cli.score_command)
    run = CliRunner().invoke(score, ["AR", "--members", "100"])
    assert run.exit_code == 0, run.stderr
    assert "relative WIS" in run.stdout and "weeks ahead" in run.stdout
    as_json = CliRunner().invoke(score, ["AR", "--members", "100", "--json"])
    frame = pd.read_json(io.StringIO(as_json.stdout))
    assert list(frame["horizon"].astype(str)) == ["1", "2", "3", "4", "all"] and (frame["series"] == "AR").all()
    none = CliRunner(env={"ACCORD_SHARED_DATA": ""}).invoke(score, [])
    assert none.exit_code == 1 and "give a jurisdiction CODE, or --data" in none.stderr
