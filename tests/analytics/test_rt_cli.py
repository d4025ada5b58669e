"""``accord rt`` on plain CSV files: output columns and dating, regions, imported cases, one-sentence errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from accord.analytics import cli
from accord.epi import rt
from accord.epi import serial_interval as si

root = typer.Typer()
root.command("rt")(cli.rt_command)


@root.callback()
def _group() -> None:
    """A root with sub-commands, as ``accord`` is."""


runner = CliRunner()
SI = ["--si-mean", "7.5", "--si-sd", "3.4"]


def _cases(days: int = 40, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.poisson(np.exp(np.linspace(1, 4, days)))


def _write(tmp_path: Path, text: str, name: str = "cases.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _frame(days: int = 40, seed: int = 1, start: str = "2020-01-01") -> pd.DataFrame:
    return pd.DataFrame({"date": pd.date_range(start, periods=days).strftime("%Y-%m-%d"), "cases": _cases(days, seed)})


def test_single_series_is_estimated_and_dated_by_the_end_of_its_window(tmp_path: Path) -> None:
    src = tmp_path / "cases.csv"
    _frame().to_csv(src, index=False)
    out = tmp_path / "rt.csv"
    result = runner.invoke(root, ["rt", str(src), *SI, "--window", "7", "--output", str(out)])
    assert result.exit_code == 0, result.output
    got = pd.read_csv(out)
    assert list(got.columns) == ["date", "mean", "sd", "lower", "upper", "cases_in_window", "warning", "window_start"]
    # the first window is days 1..7 (the 2nd to the 8th of January), dated by its last day
    assert got["date"].iloc[0] == "2020-01-08" and got["window_start"].iloc[0] == "2020-01-02"
    expected = rt.estimate_rt(_cases(), si.discretise_gamma(7.5, 3.4), window=7)
    np.testing.assert_allclose(got["mean"], expected.mean[7:], rtol=1e-5)
    np.testing.assert_allclose(got["upper"], expected.upper[7:], rtol=1e-5)
    assert (got["cases_in_window"] == expected.cases_in_window[7:]).all()


def test_regions_interleaved_with_different_spans_and_imported_cases(tmp_path: Path) -> None:
    a = _frame(30, seed=1).assign(region="A", imported=1)
    b = _frame(20, seed=2, start="2020-01-10").assign(region="B", imported=0)
    src = tmp_path / "cases.csv"
    pd.concat([a, b]).sort_values("date", kind="stable").to_csv(src, index=False)
    out = tmp_path / "rt.csv"
    args = ["rt", str(src), *SI, "--region-column", "region", "--imported-column", "imported", "-o", str(out)]
    result = runner.invoke(root, args)
    assert result.exit_code == 0, result.output
    got = pd.read_csv(out)
    assert got.columns[1] == "region"
    for name, frame in (("A", a), ("B", b)):
        mine = got[got.region == name]
        alone = rt.estimate_rt(frame.cases, si.discretise_gamma(7.5, 3.4), imported=frame.imported, window=7)
        assert mine["date"].iloc[0] == frame["date"].iloc[7] and mine["date"].iloc[-1] == frame["date"].iloc[-1]
        np.testing.assert_allclose(mine["mean"], alone.mean[7:], rtol=1e-5)


def test_serial_interval_file_and_uncertain_serial_interval(tmp_path: Path) -> None:
    src = tmp_path / "cases.csv"
    _frame().to_csv(src, index=False)
    dist = _write(tmp_path, "day,probability\n1,0.2\n2,0.5\n3,0.3\n", "si.csv")
    result = runner.invoke(root, ["rt", str(src), "--si-file", str(dist)])
    assert result.exit_code == 0, result.output
    expected = rt.estimate_rt(_cases(), [0, 0.2, 0.5, 0.3], window=7)
    first = result.stdout.splitlines()[1].split(",")
    assert float(first[1]) == pytest.approx(expected.mean[7], rel=1e-5)
    uncertain = runner.invoke(
        root, ["rt", str(src), *SI, "--si-mean-sd", "1", "--si-sd-sd", "0.5", "--si-samples", "10"]
    )
    assert uncertain.exit_code == 0, uncertain.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("day,cases\n2020-01-01,1\n", "has no column 'date'"),
        ("date,cases\n2020-01-01,1\n2020-01-02,-3\n", "line 3: '-3' in column 'cases' is negative"),
        ("date,cases\n2020-01-01,1\n2020-01-02,\n", "line 3: 'an empty cell' in column 'cases' is not a number"),
        ("date,cases\n2020-01-01,1\n01/02/2020,4\n", "line 3: '01/02/2020' in column 'date' is not a date"),
        ("date,cases\n2020-01-01,1\n2020-01-01,4\n", "line 3: date 2020-01-01 appears twice"),
        ("date,cases\n2020-01-02,1\n2020-01-01,4\n", "line 3: date 2020-01-01 comes after 2020-01-02"),
        ("date,cases\n2020-01-01,1\n2020-01-03,4\n", "dates jump from 2020-01-01 to 2020-01-03"),
        ("date,cases\n2020-01-01,1\n2020-01-02,4\n", "needs more than 7 days"),
        ("", "is empty"),
    ],
)
def test_bad_files_fail_with_one_sentence_and_exit_code_1(tmp_path: Path, text: str, message: str) -> None:
    result = runner.invoke(root, ["rt", str(_write(tmp_path, text)), *SI])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_missing_file_and_missing_serial_interval(tmp_path: Path) -> None:
    missing = runner.invoke(root, ["rt", str(tmp_path / "nope.csv"), *SI])
    assert missing.exit_code == 1 and "no such file" in missing.output
    src = tmp_path / "cases.csv"
    _frame().to_csv(src, index=False)
    no_si = runner.invoke(root, ["rt", str(src)])
    assert no_si.exit_code == 2 and "--si-mean" in no_si.output
    bad_si = runner.invoke(root, ["rt", str(src), "--si-mean", "0.5", "--si-sd", "1"])
    assert bad_si.exit_code == 1 and "above 1 day" in bad_si.output
