"""Pure cores of tracing: clusters, offspring dispersion, quarantine and task rules, line-list parsing, keys."""

from __future__ import annotations

import datetime as dt

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.tracing import chains, crypto, linelist, mapping, offspring, tasks


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 60), st.lists(st.tuples(st.integers(0, 59), st.integers(0, 59)), max_size=120))
def test_components_agree_with_networkx(n: int, pairs: list[tuple[int, int]]) -> None:
    pairs = [(a % n, b % n) for a, b in pairs]
    src = np.array([a for a, _ in pairs], dtype=np.int64)
    dst = np.array([b for _, b in pairs], dtype=np.int64)
    labels = chains.components(n, src, dst)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(pairs)
    ours = {frozenset(np.flatnonzero(labels == lab).tolist()) for lab in np.unique(labels)}
    theirs = {frozenset(c) for c in nx.connected_components(g)}
    assert ours == theirs


def test_cluster_table_size_span_settings() -> None:
    onset = np.array(["2020-01-01", "2020-01-05", "2020-01-09", "2020-02-01", "NaT"], dtype="datetime64[D]")
    labels = chains.components(5, np.array([0, 1]), np.array([1, 2]))
    table = chains.cluster_table(labels, onset, np.array([0, 1]), np.array(["household", "work"], dtype=object))
    assert table[["cluster", "size", "span_days", "settings"]].values.tolist() == [[1, 3, 8, "household;work"]]


def test_serial_interval_and_earliest_onset_rule() -> None:
    onset = np.array(["2020-01-01", "2020-01-05", "2020-01-04", "NaT"], dtype="datetime64[D]")
    infector, infectee = chains.infector_by_earliest_onset(4, np.array([0, 1, 2]), np.array([1, 2, 3]), onset)
    pairs = dict(zip(infectee.tolist(), infector.tolist(), strict=True))
    assert pairs == {1: 0}  # 2 (onset 4th) is linked only to 1 (5th, later) and 3 (unknown): an index case
    si = chains.serial_interval(np.array([2.0, 4.0, 6.0, np.nan]))
    assert (si.pairs, si.mean) == (3, 4.0) and si.low < 4.0 < si.high


def test_generations_follow_the_infector_forest() -> None:
    gen = chains.generations(5, np.array([0, 1, 1]), np.array([1, 2, 3]))
    assert gen.tolist() == [0, 1, 2, 2, 0]


def test_dispersion_recovers_k_from_a_negative_binomial_sample() -> None:
    rng = np.random.default_rng(20200229)
    r, k = 2.0, 0.3
    sample = rng.negative_binomial(k, k / (k + r), size=4000)
    fit = offspring.fit_dispersion(sample)
    assert fit.k_low < k < fit.k_high and abs(fit.mean - r) < 0.2
    assert fit.k_high - fit.k_low < 0.1


def test_poisson_counts_give_infinite_k_and_bad_input_is_refused() -> None:
    fit = offspring.fit_dispersion(np.random.default_rng(1).poisson(1.0, 2000))
    assert fit.k > 50 and fit.k_high == np.inf
    with pytest.raises(ValueError):
        offspring.fit_dispersion([])
    assert offspring.top_share(np.array([10.0, 0, 0, 0, 0, 0, 0, 0, 0, 0])) == pytest.approx(0.1)


def test_quarantine_followups_and_escalation_rules() -> None:
    end = tasks.quarantine_end(
        np.array([1, 1, 2]), np.array(["2020-02-01", "2020-02-05", "NaT"], dtype="datetime64[D]"), 14
    )
    assert end.to_dict() == {1: np.datetime64("2020-02-19")}
    due = tasks.due_followups(
        np.array(["2020-02-19", "2020-02-09", "2020-02-19", "NaT"], dtype="datetime64[D]"),
        np.array(["none", "none", "confirmed", "none"], dtype=object),
        dt.date(2020, 2, 10),
    )
    assert due.tolist() == [True, False, False, False]
    levels = tasks.escalation_levels(
        np.array(["2020-02-10", "2020-02-08", "2020-02-05"], dtype="datetime64[D]"), dt.date(2020, 2, 10), grace_days=2
    )
    assert levels.tolist() == [0, 1, 2]
    up = tasks.ancestor_at(np.array([4, 4, 4]), np.array([0, 1, 5]), {4: 3, 3: 2, 2: 1})
    assert up.tolist() == [4, 3, 1]


MAPPING = """
[source]
name = "test"
date_format = "%d/%m/%Y"
[columns]
case_id = "id"
onset_date = "onset"
classification = "status"
residence_code = "where"
infector_ids = "from"
name = "who"
[maps.classification]
lab = "confirmed"
[patterns]
infector_ids = "C\\\\d+"
"""


def test_linelist_mixed_good_and_bad_rows_name_every_problem() -> None:
    data = b"id,onset,status,where,from,who\nC1,01/02/2020,lab,A,,Ann\nC2,31/02/2020,lab,A,C1,Bob\nC2,,maybe,B,,\n"
    parsed = linelist.parse(data, linelist.load_mapping(MAPPING), "cases.csv")
    sentences = [p.sentence() for p in parsed.problems]
    assert "cases.csv, line 3, field 'onset_date': not a date in the format %d/%m/%Y" in sentences
    assert any("line 4, field 'case_id'" in x and "twice" in x for x in sentences)
    assert any("line 4, field 'classification'" in x and "'maybe'" in x for x in sentences)


def test_linelist_parses_ranges_ids_and_repairs_encoding() -> None:
    data = "id,onset,status,where,from,who\nC1,pre 01/02/2020,lab,A,,Zoë\nC2,02/02/2020 - 04/02/2020,,A,C1 or C3,\n"
    raw = data.encode("utf-8").replace("Zoë".encode(), b"Zo\xeb")  # one Latin-1 byte
    parsed = linelist.parse(raw, linelist.load_mapping(MAPPING), "cases.csv")
    assert parsed.problems == []
    assert parsed.frame["onset_date"].tolist() == [dt.date(2020, 2, 1), dt.date(2020, 2, 4)]
    assert parsed.frame["infector_ids"].tolist() == [[], ["C1", "C3"]]
    assert parsed.frame["name"].tolist() == ["Zoë", ""]
    assert parsed.notes and "1 invalid byte(s) on 1 line(s) (first: 2)" in parsed.notes[0]


def test_mapping_file_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        linelist.load_mapping('[source]\nname="x"\n[columns]\ncase_id="a"\nshoe_size="b"\n')
    with pytest.raises(ValueError, match="case_id"):
        linelist.load_mapping('[source]\nname="x"\n[columns]\nonset_date="a"\n')
    parsed = linelist.parse(b"x,y\n1,2\n", linelist.load_mapping(MAPPING), "f.csv")
    assert "f.csv, line 1, field 'id': the mapping names this column but the file has none" in [
        p.sentence() for p in parsed.problems
    ]


def test_place_by_code_fallback_name_and_unmapped() -> None:
    import pandas as pd

    by_code = {"CN": 1, "340000": 2, "340100": 3, "420100": 4}
    by_name = {"hefei": [3], "wuhan": [4], "springfield": [2, 4]}
    placed = mapping.place(
        pd.Series(["420100", "340181", "", "", ""]),
        [(), (), ("Wuhan City",), ("Springfield",), ("Atlantis",)],
        by_code,
        by_name,
        {1, 2, 3, 4},
        1,
        ["{code:.4}00"],
        [" City"],
    )
    assert placed.ids.tolist() == [4, 3, 4, 1, 1]
    assert placed.how.tolist() == ["code", "code-fallback", "name", "unmapped", "unmapped"]


def test_keys_normalise_identifiers_and_refuse_production_without_key() -> None:
    keys = crypto.keyring_from_key(bytes(32))
    a = keys.identifier_digests({"phone": "+86 138-0000-0001", "national_id": "11010519491231002x"})
    b = keys.identifier_digests({"phone": "0086 13800000001", "national_id": "110105 19491231 002X"})
    assert a == b
    assert keys.identifier_digests({"name": "Li Wei"}) == []  # a name alone identifies nobody
    other = crypto.keyring_from_key(bytes([1]) * 32)
    assert other.identifier_digests({"phone": "13800000001"}) != keys.identifier_digests({"phone": "13800000001"})
    blob = keys.encrypt("P1", {"name": "x"})
    assert keys.decrypt("P1", blob) == {"name": "x"}
    with pytest.raises(crypto.MissingKey, match="outside development"):
        crypto.keyring_from_settings(crypto.PersonalDataSettings(environment="production", personal_data_key=None))
    real = crypto.keyring_from_settings(
        crypto.PersonalDataSettings(environment="production", personal_data_key=crypto.new_key())
    )
    assert len(real.key_id) == 8


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=2, max_size=200))
def test_dispersion_interval_always_brackets_the_estimate(counts: list[int]) -> None:
    fit = offspring.fit_dispersion(counts)
    if sum(counts) == 0:
        assert fit.mean == 0 and np.isnan(fit.k)
        return
    assert fit.k_low <= fit.k <= fit.k_high and fit.mean == pytest.approx(np.mean(counts))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 9), st.integers(0, 40)), min_size=1, max_size=60),
    st.integers(1, 21),
    st.integers(0, 60),
)
def test_followups_are_due_exactly_within_quarantine(exposures: list[tuple[int, int]], days: int, day: int) -> None:
    base = np.datetime64("2020-01-01")
    person = np.array([p for p, _ in exposures], dtype=np.int64)
    last = np.array([base + np.timedelta64(d, "D") for _, d in exposures], dtype="datetime64[D]")
    end = tasks.quarantine_end(person, last, days)
    today = (base + np.timedelta64(day, "D")).astype(dt.date)
    due = tasks.due_followups(end.to_numpy(), np.array(["none"] * len(end), dtype=object), today)
    latest = {p: max(d for q, d in exposures if q == p) for p in set(person.tolist())}
    expected = [day <= latest[p] + days for p in end.index]
    assert due.tolist() == expected


def test_singletons_are_counted_apart_from_clusters() -> None:
    # components: {0, 1, 2}, {3, 4}, {5}, {6}
    labels = chains.components(7, np.array([0, 1, 3]), np.array([1, 2, 4]))
    count = chains.count_clusters(labels)
    assert (count.clusters, count.cases_in_clusters, count.single_cases, count.largest) == (2, 5, 2, 3)
    assert chains.count_clusters(np.zeros(0, dtype=np.int64)) == chains.ClusterCount(0, 0, 0, 0)


def test_a_cluster_without_known_onsets_has_an_unknown_span_not_nan() -> None:
    labels = np.array([0, 0, 1, 1])
    onset = np.array(["2020-01-01", "2020-01-04", "NaT", "NaT"], dtype="datetime64[D]")
    table = chains.cluster_table(labels, onset, np.zeros(0, np.int64), np.zeros(0, object))
    assert str(table["span_days"].dtype) == "Int64"
    assert table["span_days"].tolist()[0] == 3 and table["span_days"].isna().tolist() == [False, True]
