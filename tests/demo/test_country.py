"""The fictional country: a well-formed tree, deterministic for a seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.demo.country import (
    COLUMNS,
    COUNTRY_CODE,
    LAT_RANGE,
    LEVELS,
    LON_RANGE,
    generate_country,
    stream,
)
from accord.errors import AccordError


@pytest.fixture(scope="module")
def country() -> pd.DataFrame:
    return generate_country()


def check_tree(frame: pd.DataFrame, provinces: int, cities: int, communities: int) -> None:
    assert list(frame.columns) == list(COLUMNS)
    counts = frame["level"].value_counts().to_dict()
    assert counts == {"country": 1, "province": provinces, "city": cities, "community": communities}
    assert frame["code"].is_unique
    assert frame["name"].is_unique
    assert frame["local_name"].is_unique

    root = frame[frame["level"] == "country"].iloc[0]
    assert root["code"] == COUNTRY_CODE and root["parent_code"] == ""

    by_code = frame.set_index("code")
    depth = {level: k for k, level in enumerate(LEVELS)}
    children = frame[frame["level"] != "country"]
    assert children["parent_code"].isin(by_code.index).all()
    parent_levels = by_code.loc[children["parent_code"], "level"].map(depth).to_numpy()
    assert (parent_levels == children["level"].map(depth).to_numpy() - 1).all()
    assert all(c.startswith(p + "-") for c, p in zip(children["code"], children["parent_code"], strict=True))

    # every node above communities has children, and its population is their sum
    sums = children.groupby("parent_code")["population"].sum()
    inner = frame[frame["level"] != "community"].set_index("code")["population"]
    assert set(sums.index) == set(inner.index)
    assert (sums.reindex(inner.index) == inner).all()
    assert frame["population"].dtype == np.int64
    assert (frame["population"] > 0).all()

    assert frame["lon"].between(*LON_RANGE).all() and frame["lat"].between(*LAT_RANGE).all()


def test_default_country_is_a_well_formed_tree(country: pd.DataFrame) -> None:
    check_tree(country, 8, 60, 1000)
    assert country["code"].tolist()[:3] == ["AR", "AR-01", "AR-02"]
    communities = country[country["level"] == "community"]
    assert communities["code"].str.fullmatch(r"AR-\d{2}-\d{2}-\d{3}").all()
    assert country.loc[0, "name"] == "Arcadia" and country.loc[0, "local_name"] == "阿卡迪亚"


def test_populations_are_heavy_tailed_around_eight_thousand(country: pd.DataFrame) -> None:
    pop = country.loc[country["level"] == "community", "population"]
    assert 6_000 < pop.median() < 10_000
    assert 1 <= (pop >= 50_000).sum() <= 40
    assert pop.mean() > pop.median()


def test_distribution_is_uneven(country: pd.DataFrame) -> None:
    per_province = country[country["level"] == "city"].groupby("parent_code").size()
    per_city = country[country["level"] == "community"].groupby("parent_code").size()
    assert per_province.max() >= 2 * per_province.min()
    assert per_city.max() >= 4 * per_city.min()


def test_communities_cluster_around_their_city(country: pd.DataFrame) -> None:
    xy = country.set_index("code")[["lon", "lat"]]
    comms = country[country["level"] == "community"]
    own = np.hypot(*(comms[["lon", "lat"]].to_numpy() - xy.loc[comms["parent_code"]].to_numpy()).T)
    cities = xy.loc[country.loc[country["level"] == "city", "code"]].to_numpy()
    pts = comms[["lon", "lat"]].to_numpy()
    nearest = np.sqrt(((pts[:, None, :] - cities[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    # most communities lie nearer their own city than twice the distance to the nearest city
    assert (own <= 2 * nearest + 1e-9).mean() > 0.8
    # distinct points (a Voronoi tessellation needs them)
    assert not country.duplicated(["lon", "lat"]).any()


def test_names_are_pronounceable_words(country: pd.DataFrame) -> None:
    names = country["name"]
    assert names.str.fullmatch(r"[A-Z][a-z]{3,}").all()
    assert not names.str.contains(r"[bcdfghjklmnpqrstvwxz]{4}").any()
    local = country["local_name"].iloc[1:]
    assert local.str.fullmatch(r"[\u4e00-\u9fff]+(省|市|社区)").all()


def test_same_seed_same_country_and_other_seed_another() -> None:
    a = generate_country(seed=11, provinces=4, cities=12, communities=80)
    b = generate_country(seed=11, provinces=4, cities=12, communities=80)
    c = generate_country(seed=12, provinces=4, cities=12, communities=80)
    pd.testing.assert_frame_equal(a, b)
    assert not a["name"].equals(c["name"])
    assert not a["population"].equals(c["population"])


def test_streams_are_per_purpose_and_reproducible() -> None:
    assert stream(3, "geography").random() == stream(3, "geography").random()
    assert stream(3, "geography").random() != stream(3, "populations").random()
    with pytest.raises(ValueError):
        stream(3, "weather")


def test_impossible_sizes_are_refused_with_a_sentence() -> None:
    with pytest.raises(AccordError) as info:
        generate_country(provinces=5, cities=3, communities=10)
    assert "cities" in str(info.value)
    with pytest.raises(AccordError):
        generate_country(provinces=2, cities=4, communities=3)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    provinces=st.integers(1, 5),
    extra_cities=st.integers(0, 8),
    extra_communities=st.integers(0, 40),
)
def test_small_countries_are_well_formed(seed: int, provinces: int, extra_cities: int, extra_communities: int) -> None:
    cities = provinces + extra_cities
    communities = cities + extra_communities
    check_tree(generate_country(seed, provinces, cities, communities), provinces, cities, communities)
