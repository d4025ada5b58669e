"""Forecast skill on real data: the 31 mainland provinces fitted on canghailan's daily confirmed cases up to
2020-02-08, 14-day forecasts (ensemble median) scored by MASE against persistence (last value carried forward)
and the last week's mean carried forward. Other cut-offs: benchmarks/forecast_skill.py and docs/epi.md."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from accord.analytics import skill

pytestmark = pytest.mark.shared_data


def test_china_provinces_forecast_beats_naive_at_8_february(data_dir: Path) -> None:
    for sub in ("china-covid19-canghailan", "china-mobility-kraemer2020", "population-contacts-epydemix"):
        if not (data_dir / sub).exists():
            pytest.skip(f"{data_dir / sub} is not present")
    inputs = skill.china_inputs(data_dir)
    assert len(inputs.provinces) == 31
    result = skill.forecast_skill(inputs, pd.Timestamp("2020-02-08"), members=40, fixed={"rho": 0.5})
    table = result.table
    assert result.fit.converged
    assert np.all(np.isfinite(table["r_after"]))
    # transmission fell after 23 January nearly everywhere
    assert (table["r_after"] < table["r0"]).all()
    median = table[["mase_model", "mase_persistence", "mase_mean7"]].median()
    assert median["mase_model"] < median["mase_persistence"] < median["mase_mean7"]
    assert median["mase_model"] < 2.0
    # the fan is not degenerate: observed values fall inside the 95% band on a fair share of province-days
    assert table["coverage95"].mean() > 0.3
