"""Weekly forecasts scored like the COVID-19 Forecast Hub on real data (JHU CSSE): rolling backtests on the US
states and China's provinces in 2020, the score table, the Hub's CSV layout, and ``accord forecast score``.

The test runs a subset of origins (every other Saturday, June to November, for the US); the full run is
``uv run python benchmarks/forecast_hub_score.py`` (figures in docs/epi.md). Targets: 95% intervals cover
90-98% of outcomes, relative WIS below 1 at every horizon. Where a target is met on this subset it is asserted;
where it is missed the miss is stated here and in docs/epi.md, not asserted away:

- US, 4 weeks ahead: relative WIS 1.016 on this subset (1.004 on the full run): missed by 2% (0.4%). The
  forecasts then lag turning points: R reverts towards 1 at the pace measured on the history.
- China: every target missed (relative WIS 1.2-1.8, 95% coverage 37-84%): JHU's series starts on 22 January, so
  the recalibration has few past errors to learn from, Hubei's change of case definition on 12-13 February lies
  in the first origins' outcomes, and from March most provinces' few cases are imported from abroad, which
  JHU's counts do not separate from local ones.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from accord.analytics import skill
from accord.cli import app
from accord.epi import scoring

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def us(data_dir: Path) -> skill.Backtest:
    series = skill.jhu_us_states(data_dir)
    origins = skill.saturdays(series, "2020-06-06", "2020-11-28")[::2]
    return skill.rolling_backtest(series, origins, members=200)


@pytest.fixture(scope="module")
def china(data_dir: Path) -> skill.Backtest:
    series = skill.jhu_china(data_dir)
    return skill.rolling_backtest(series, skill.saturdays(series, "2020-02-08", "2020-04-04"), members=200)


def test_us_states_meet_the_coverage_target_and_beat_the_baseline_to_three_weeks(us: skill.Backtest) -> None:
    table = skill.score_table(us).set_index("horizon")
    print("\n" + table.round(3).to_string())
    assert table.loc["all", "forecasts"] == 13 * 51 * 4 and set(us.rows["location"]) >= {"06", "36", "48"}
    for h in ("1", "2", "3", "4"):
        assert 0.90 <= table.loc[h, "cover95"] <= 0.98, (h, table.loc[h, "cover95"])
        # the baseline's intervals are far too narrow here: ours are not
        assert table.loc[h, "cover95_baseline"] < 0.80
    for h in ("1", "2", "3"):
        assert table.loc[h, "relative_wis"] < 1.0, (h, table.loc[h, "relative_wis"])
    # 4 weeks ahead: missed, see the module doc; measured, not asserted below 1
    assert np.isfinite(table.loc["4", "relative_wis"])


def test_china_provinces_are_scored_and_their_misses_measured(china: skill.Backtest) -> None:
    table = skill.score_table(china).set_index("horizon")
    print("\n" + table.round(3).to_string())
    rows = china.rows
    assert rows["region"].nunique() == 31 and "Hubei" in set(rows["region"])
    # a forecast is made where the last week holds enough cases; the others are counted, not scored
    assert table.loc["all", "forecasts"] + table.loc["all", "no_forecast"] == 9 * 31 * 4
    assert (rows.loc[~rows["supported"], "last_week"] < 20).all()
    for h in ("1", "2", "3", "4"):
        assert np.isfinite(table.loc[h, "relative_wis"]) and 0 <= table.loc[h, "cover95"] <= 1


def test_the_hub_csv_layout(us: skill.Backtest) -> None:
    hub = skill.hub_csv(us)
    assert list(hub.columns) == ["forecast_date", "target", "target_end_date", "location", "type", "quantile", "value"]
    assert set(hub["target"]) == {f"{h} wk ahead inc case" for h in range(1, 5)}
    per_forecast = hub.groupby(["forecast_date", "target", "location"])
    assert (per_forecast.size() == 24).all()  # one point and the 23 quantiles
    quantiles = hub[hub["type"] == "quantile"]
    assert sorted(quantiles["quantile"].unique().tolist()) == list(scoring.HUB_QUANTILES)
    assert (pd.to_datetime(hub["forecast_date"]).dt.day_of_week == 0).all()  # Mondays
    assert (pd.to_datetime(hub["target_end_date"]).dt.day_of_week == 5).all()  # Saturdays, epiweek ends
    ordered = quantiles.sort_values(["forecast_date", "target", "location", "quantile"])
    steps = ordered.groupby(["forecast_date", "target", "location"])["value"].diff().dropna()
    assert (steps >= 0).all()
    point = hub[hub["type"] == "point"].set_index(["forecast_date", "target", "location"])["value"]
    median = quantiles[quantiles["quantile"] == 0.5].set_index(["forecast_date", "target", "location"])["value"]
    pd.testing.assert_series_equal(point.sort_index(), median.sort_index(), check_names=False)


def test_accord_forecast_score_prints_the_table(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "hub.csv"
    r = CliRunner().invoke(
        app,
        ["forecast", "score", "--data", str(data_dir), "--sets", "us", "--from", "2020-10-03", "--to",
         "2020-10-17", "--regions", "California,Texas,New York,Florida,Illinois", "--members", "100",
         "--hub-csv", str(out)],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "relative WIS" in r.stdout and "95% covers" in r.stdout and "US states 2020" in r.stdout
    assert "4 wk: 95% coverage" in r.stdout and "target 90-98%" in r.stdout
    hub = pd.read_csv(out, dtype={"location": str})
    assert len(hub) == 3 * 5 * 4 * 24 and set(hub["location"]) == {"06", "48", "36", "12", "17"}
    bad = CliRunner().invoke(app, ["forecast", "score", "--data", str(data_dir), "--sets", "mars"])
    assert bad.exit_code == 1 and "mars" in bad.output
    table = CliRunner().invoke(
        app, ["forecast", "score", "--data", str(data_dir), "--sets", "us", "--from", "2020-10-03", "--to",
              "2020-10-03", "--members", "100", "--json"],
    )  # fmt: skip
    assert table.exit_code == 0, table.output
    frame = pd.read_json(io.StringIO(table.stdout))
    assert list(frame["horizon"].astype(str)) == ["1", "2", "3", "4", "all"]
    assert frame["forecasts"].tolist() == [51, 51, 51, 51, 204]
