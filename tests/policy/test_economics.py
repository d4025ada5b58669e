"""Economic cost of measures: the full February 2020 bundle costs about a quarter of output (OECD 2020), losses
combine like independent cuts, support spending follows E1."""

from __future__ import annotations

import numpy as np
import pytest

from accord.policy import economics, effects

FULL = {"C1": 3, "C2": 3, "C3": 2, "C4": 4, "C5": 2, "C6": 3, "C7": 2}


def test_full_lockdown_costs_a_fifth_to_a_third_of_output() -> None:
    share = economics.output_lost_share(effects.bundle(FULL))
    assert 0.2 <= share <= 0.3
    assert economics.output_lost_share(effects.bundle({})) == 0.0


def test_daily_cost_and_support() -> None:
    levels = np.zeros((2, 2, len(effects.INDICATORS)), dtype=int)
    levels[:, 0] = effects.bundle({**FULL, "E1": 2})
    levels[1, 1] = effects.bundle({"C1": 3})
    prm = economics.EconomicParams(gdp_per_capita_year=365.0)  # 1 unit a day per person
    cost = economics.daily_cost(levels, np.array([1000.0, 10.0]), params=prm)
    lost0 = economics.output_lost_share(effects.bundle(FULL)) * 1000
    np.testing.assert_allclose(cost.output_lost[:, 0], lost0)
    np.testing.assert_allclose(cost.support[:, 0], lost0 * 0.51 * 0.5)
    assert cost.output_lost[0, 1] == 0 and cost.output_lost[1, 1] > 0
    np.testing.assert_allclose(cost.total, cost.output_lost + cost.support)


def test_bad_economic_parameters_are_named() -> None:
    with pytest.raises(ValueError, match="summing to 1"):
        economics.EconomicParams(sector_shares=(0.5,) * 7)
    with pytest.raises(ValueError, match="unknown sector"):
        economics.EconomicParams(losses={("C1", 1): {"mining": 0.1}})
    with pytest.raises(ValueError, match="C1 has levels"):
        economics.EconomicParams(losses={("C1", 7): {"education": 0.1}})
