"""``accord rt``: Rt (Cori et al. 2013) of every region in a plain CSV of daily cases, no database needed.
``accord forecast`` and ``accord scenario run|compare``: calibrated ensemble forecasts of every unit under a
jurisdiction from the store, and scenarios against their baseline (common random numbers), on a local process pool
or a Dask cluster (``--dask ADDRESS``). The root CLI registers them as ``forecast_app`` and ``scenario_app``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from typer._click.core import Context as ClickContext  # typer carries its own click
from typer.core import TyperGroup

from accord import clikit
from accord.analytics import service, skill
from accord.analytics.casefile import CaseFileError, Columns, estimates_frame, read_cases
from accord.epi import executor, forecast, rt, serial_interval
from accord.errors import AccordError

app = typer.Typer(
    help="Epidemic analytics: Rt, forecasts, hospital demand.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

SI_HELP = "serial interval"


@app.command("rt")
def rt_command(
    file: Annotated[Path, typer.Argument(help="CSV of daily cases: a date column, a cases column, optionally more")],
    si_mean: Annotated[
        float | None, typer.Option(help="mean serial interval, days (gamma)", rich_help_panel=SI_HELP)
    ] = None,
    si_sd: Annotated[
        float | None, typer.Option(help="sd of the serial interval, days", rich_help_panel=SI_HELP)
    ] = None,
    si_file: Annotated[
        Path | None,
        typer.Option(
            help="serial interval as a CSV: one probability per line for days 0,1,2,... or day,probability",
            rich_help_panel=SI_HELP,
        ),
    ] = None,
    si_mean_sd: Annotated[
        float, typer.Option(help="uncertainty (sd) of the SI mean; > 0 integrates over it", rich_help_panel=SI_HELP)
    ] = 0.0,
    si_sd_sd: Annotated[float, typer.Option(help="uncertainty (sd) of the SI sd", rich_help_panel=SI_HELP)] = 0.0,
    si_samples: Annotated[
        int, typer.Option(help="serial intervals drawn when uncertain", rich_help_panel=SI_HELP)
    ] = 100,
    seed: Annotated[int, typer.Option(help="seed of the serial interval draws")] = 1,
    window: Annotated[int, typer.Option(help="days per estimate; each estimate is dated by its window's last day")] = 7,
    date_column: str = "date",
    cases_column: Annotated[
        str, typer.Option(help="locally acquired cases (imported ones go in --imported-column)")
    ] = "cases",
    imported_column: Annotated[
        str | None, typer.Option(help="imported cases: they infect but were not infected here")
    ] = None,
    region_column: Annotated[str | None, typer.Option(help="region of each row, for many regions at once")] = None,
    prior_mean: Annotated[float, typer.Option(help="mean of the gamma prior on R (EpiEstim: 5)")] = rt.PRIOR_MEAN,
    prior_sd: Annotated[float, typer.Option(help="sd of the gamma prior on R (EpiEstim: 5)")] = rt.PRIOR_SD,
    level: Annotated[float, typer.Option(help="credible level of lower..upper")] = 0.95,
    min_cases: Annotated[
        float, typer.Option(help="flag windows with fewer local cases (posterior CV ~0.3)")
    ] = rt.MIN_CASES,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="CSV to write (default: standard output)")
    ] = None,
) -> None:
    """Estimate Rt on sliding windows (Cori et al. 2013, as EpiEstim) for every region of a CSV of daily cases.

    Writes date (the last day of the window), region (with --region-column), posterior mean, sd, lower and upper
    credible bounds, cases_in_window, warning (fewer than --min-cases local cases in the window, or no infection
    pressure) and window_start.
    """
    columns = Columns(date_column, cases_column, imported_column, region_column)
    try:
        table = read_cases(file, columns)
    except CaseFileError as exc:
        clikit.fail(str(exc))
        return
    too_short = [r for r, n in zip(table.regions, table.lengths, strict=True) if n <= window]
    if len(too_short) == len(table.regions):
        clikit.fail(
            f"{file.name}: a {window}-day window needs more than {window} days of cases, and no series has that."
        )
    try:
        if si_mean_sd > 0 or si_sd_sd > 0:
            est = _uncertain(
                table.local,
                table.imported,
                si_mean,
                si_sd,
                si_mean_sd,
                si_sd_sd,
                si_samples,
                seed,
                window=window,
                prior_mean=prior_mean,
                prior_sd=prior_sd,
                level=level,
                min_cases=min_cases,
            )
        else:
            si = _serial_interval(si_mean, si_sd, si_file)
            est = rt.estimate_rt(
                table.local,
                si,
                imported=table.imported,
                window=window,
                prior_mean=prior_mean,
                prior_sd=prior_sd,
                level=level,
                min_cases=min_cases,
            )
    except (ValueError, OSError) as exc:
        clikit.fail(str(exc).rstrip(".") + ".")
        return
    frame = estimates_frame(table, est, with_region=region_column is not None)
    frame.to_csv(output if output is not None else sys.stdout, index=False, float_format="%.6g")
    _summary(frame, table.regions, too_short, window, min_cases, output)


def _serial_interval(si_mean: float | None, si_sd: float | None, si_file: Path | None) -> np.ndarray:
    if si_file is not None:
        if si_mean is not None or si_sd is not None:
            clikit.fail("give the serial interval either as --si-mean/--si-sd or as --si-file, not both.", 2)
        if not si_file.is_file():
            clikit.fail(f"{si_file}: no such file.")
        return serial_interval.read_distribution(si_file)
    if si_mean is None or si_sd is None:
        clikit.fail("give the serial interval as --si-mean and --si-sd (days), or as --si-file.", 2)
    assert si_mean is not None and si_sd is not None
    return serial_interval.discretise_gamma(si_mean, si_sd)


def _uncertain(
    local: np.ndarray,
    imported: np.ndarray,
    si_mean: float | None,
    si_sd: float | None,
    mean_sd: float,
    sd_sd: float,
    n: int,
    seed: int,
    **options: float,
) -> rt.RtEstimate:
    if si_mean is None or si_sd is None:
        clikit.fail("an uncertain serial interval needs --si-mean and --si-sd.", 2)
    assert si_mean is not None and si_sd is not None
    dists, _ = serial_interval.sample_gamma_distributions(si_mean, si_sd, mean_sd=mean_sd, sd_sd=sd_sd, n=n, seed=seed)
    with Progress(console=clikit.err, transient=True) as progress:
        task = progress.add_task("serial interval samples", total=n)
        return rt.estimate_rt_uncertain_si(
            local,
            dists,
            imported=imported,
            window=int(options.pop("window")),
            progress=lambda done, _total: progress.update(task, completed=done),
            **options,
        )


def _summary(
    frame: pd.DataFrame, regions: list[str], too_short: list[str], window: int, min_cases: float, output: Path | None
) -> None:
    where = f" to {output}" if output is not None else ""
    flagged = int(frame["warning"].sum()) if len(frame) else 0
    clikit.err.print(
        f"{len(frame):,} estimates for {len(regions) - len(too_short):,} series{where}; each dated by the last day of "
        f"its {window}-day window; {flagged:,} flagged (under {min_cases:g} local cases in the window).",
        highlight=False,
        soft_wrap=True,
    )
    if too_short:
        shown = ", ".join(too_short[:5]) + (" ..." if len(too_short) > 5 else "")
        clikit.err.print(f"skipped {len(too_short)} series with {window} days or fewer: {shown}", highlight=False)


# ------------------------------------------------------------------------------------ forecast, scenario
Dask = Annotated[
    str | None,
    typer.Option("--dask", help="Dask scheduler address (default: $ACCORD_DASK_ADDRESS, else a local process pool)"),
]
Workers = Annotated[int | None, typer.Option(help="local worker processes (default: CPUs, at most 8)")]
Level = Annotated[str | None, typer.Option(help="forecast every unit at this level under CODE (default: children)")]
End = Annotated[str | None, typer.Option(help="cut-off: last observed day used (YYYY-MM-DD; default: all)")]
Horizon = Annotated[int, typer.Option(help="days to forecast")]
Members = Annotated[int, typer.Option(help="ensemble members (seeded stochastic runs)")]
Seed = Annotated[int, typer.Option(help="seed of the ensemble: same seed, same numbers")]
Change = Annotated[
    str | None, typer.Option(help="date from which transmission changed (e.g. a lockdown), fitted as a factor")
]
View = Annotated[str, typer.Option(help="public (approved figures) or all (provisional too)")]
Output = Annotated[Path | None, typer.Option("--output", "-o", help="CSV to write (default: standard output)")]


def _forecast(
    code: str,
    level: str | None,
    end: str | None,
    horizon: int,
    members: int,
    seed: int,
    change_date: str | None,
    view: str,
    dask: str | None,
    workers: int | None,
    scenario: forecast.Scenario | None = None,
) -> tuple[service.RegionalForecast, service.RegionalForecast | None]:
    """Calibrate, run the ensemble (and the scenario) with progress bars; errors as one sentence."""
    try:
        service.check_forecast(horizon, members)
    except AccordError as exc:
        raise typer.Exit(clikit.handle(exc)) from None
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=clikit.err, transient=True,
    )  # fmt: skip
    try:
        with executor.open_executor(dask, workers) as pool, progress:
            task = progress.add_task("calibrating and running the ensemble", total=members)

            def advance(done: int, _total: int) -> None:
                progress.update(task, completed=done)

            with clikit.session_scope() as session:
                result = service.regional_forecast(
                    session, code, level=level, end=clikit.parse_day(end) if end else None, horizon=horizon,
                    members=members, seed=seed, change_date=clikit.parse_day(change_date) if change_date else None,
                    view=view, pool=pool, progress=advance,
                )  # fmt: skip
            alt = None
            if scenario is not None:
                task2 = progress.add_task(f"scenario: {scenario.name}", total=members)
                alt = service.scenario_forecast(
                    result, scenario, pool=pool, progress=lambda d, _t: progress.update(task2, completed=d)
                )
    except AccordError as exc:
        raise typer.Exit(clikit.handle(exc)) from None
    except (ConnectionError, ValueError) as exc:
        clikit.fail(str(exc).rstrip(".") + ".")
        raise AssertionError from None  # not reached
    return result, alt


def _write(frame: pd.DataFrame, output: Path | None) -> None:
    frame.to_csv(output if output is not None else sys.stdout, index=False, float_format="%.6g")


def _fit_summary(result: service.RegionalForecast) -> None:
    fit = result.fit_frame()
    clikit.err.print(
        f"{len(result.units)} unit(s) fitted to {len(result.dates)} days up to {result.dates[-1].date()} "
        f"({'converged' if result.fit.converged else 'NOT converged'}); {result.meta()['members']} members, "
        f"{len(result.forecast_dates)} days ahead.",
        highlight=False,
    )
    for _, r in fit.head(10).iterrows():
        clikit.err.print(
            f"  {r['jurisdiction']}: R0 {r['r0']:.2f} [{r['r0_lower']:.2f}-{r['r0_upper']:.2f}], R now "
            f"{r['r_now']:.2f}, reporting share {r['rho']:.2f}, median forecast {r['cases_forecast_median']:.0f} cases",
            highlight=False,
        )
    for note in result.notes:
        clikit.err.print(f"note: {note}", highlight=False)


def forecast_command(
    code: Annotated[str, typer.Argument(help="jurisdiction whose children (or units at --level) are forecast")],
    level: Level = None,
    end: End = None,
    horizon: Horizon = service.FORECAST_HORIZON,
    members: Members = 200,
    seed: Seed = 1,
    change_date: Change = None,
    view: View = "public",
    dask: Dask = None,
    workers: Workers = None,
    output: Output = None,
    fit_output: Annotated[Path | None, typer.Option(help="CSV of the fit report (parameters with intervals)")] = None,
) -> None:
    """Fit every unit's daily confirmed cases (negative binomial maximum likelihood on the metapopulation model)
    and forecast them with an ensemble of seeded stochastic runs.

    Writes jurisdiction, date, kind (observed / forecast), observed, fitted and the forecast quantiles q025, q25,
    q50, q75, q975 (the 95% and 50% fans)."""
    result, _ = _forecast(code, level, end, horizon, members, seed, change_date, view, dask, workers)
    _write(result.frame(), output)
    if fit_output is not None:
        _write(result.fit_frame(), fit_output)
    _fit_summary(result)


class _RunByDefault(TyperGroup):
    """``accord forecast CODE ...`` runs a forecast (the ``run`` command); named sub-commands do the rest."""

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


forecast_app = typer.Typer(
    cls=_RunByDefault,
    help="Forecasts: calibrate and forecast every unit (run, the default), score rolling backtests (score).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
forecast_app.command("run")(forecast_command)

SETS = ("china", "us")


@forecast_app.command("score")
def score_command(
    code: Annotated[
        str | None, typer.Argument(help="score the forecasts of this jurisdiction's children from the store")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", envvar="ACCORD_SHARED_DATA", help="folder of the reference data sets (JHU CSSE time series)"
        ),
    ] = None,
    sets: Annotated[str, typer.Option("--sets", help="china, us, or both (china,us)")] = "china,us",
    start: Annotated[str | None, typer.Option("--from", help="first origin (YYYY-MM-DD, a Saturday)")] = None,
    until: Annotated[str | None, typer.Option("--to", help="last origin (YYYY-MM-DD)")] = None,
    regions: Annotated[str | None, typer.Option(help="only these regions (comma-separated names)")] = None,
    members: Annotated[int, typer.Option(help="simulated runs per forecast")] = 400,
    uncoupled: Annotated[bool, typer.Option("--uncoupled", help="fit China's provinces without importations")] = False,
    level: Level = None,
    hub_csv: Annotated[
        Path | None, typer.Option("--hub-csv", help="write every forecast in the Forecast Hub's CSV layout here")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the table as JSON")] = False,
) -> None:
    """Rolling backtests of the weekly forecasts (1-4 weeks ahead) scored like the COVID-19 Forecast Hub: WIS,
    50% and 95% interval coverage, relative WIS against the Hub baseline. On a jurisdiction of the store (CODE),
    or on the reference data: China's provinces and the US states in 2020 (JHU CSSE)."""
    if not 50 <= members <= 5000:
        clikit.fail(f"--members must be 50 to 5,000, not {members}")
    backtests = []
    if code is not None:
        with clikit.session_scope() as session:
            try:
                weekly = service.weekly_forecast(session, code, level=level, members=members)
            except AccordError as exc:
                raise typer.Exit(clikit.handle(exc)) from None
        backtests.append(weekly.backtest)
    else:
        backtests += _reference_backtests(data, sets, start, until, regions, members, not uncoupled)
    table = pd.concat([skill.score_table(b) for b in backtests], ignore_index=True)
    if hub_csv is not None:
        pd.concat([skill.hub_csv(b) for b in backtests], ignore_index=True).to_csv(hub_csv, index=False)
        clikit.err.print(f"forecasts in the Forecast Hub's layout: {hub_csv}", highlight=False)
    if as_json:
        typer.echo(table.to_json(orient="records", double_precision=6))
        return
    _print_scores(table)


def _reference_backtests(
    data: Path | None, sets: str, start: str | None, until: str | None, regions: str | None, members: int,
    coupled: bool,
) -> list[skill.Backtest]:  # fmt: skip
    if data is None:
        clikit.fail("give a jurisdiction CODE, or --data FOLDER (or ACCORD_SHARED_DATA) with the JHU time series")
        raise AssertionError  # not reached
    chosen = [s.strip() for s in sets.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SETS]
    if unknown or not chosen:
        clikit.fail(f"--sets: {', '.join(unknown) or 'nothing'} is not one of {', '.join(SETS)}")
    if not (data / "jhu-csse-covid19-timeseries").is_dir():
        clikit.fail(f"{data}: no jhu-csse-covid19-timeseries folder in it")
    out = []
    for name in chosen:
        series = skill.jhu_china(data) if name == "china" else skill.jhu_us_states(data)
        first, last = skill.BACKTEST_SPANS[name]
        origins = skill.saturdays(series, start or first, until or last)
        if not origins:
            clikit.fail(f"no Saturday between {start or first} and {until or last} has four weeks of outcomes after it")
        picked = [r.strip() for r in regions.split(",") if r.strip()] if regions else None
        picked = picked or None
        missing = [r for r in picked or [] if r not in series.regions]
        if missing:
            clikit.fail(f"--regions: {', '.join(missing)} is not a region of {series.name}")
        count = len(picked or series.regions)
        clikit.err.print(f"{series.name}: {len(origins)} origins, {count} regions", highlight=False)
        out.append(skill.rolling_backtest(series, origins, regions=picked, members=members, coupled=coupled))
    return out


def _print_scores(table: pd.DataFrame) -> None:
    """The table as plain aligned text (it stays readable in a pipe or a log), then the targets, met or missed."""
    shown = pd.DataFrame(
        {
            "series": table["series"],
            "weeks ahead": table["horizon"],
            "forecasts": table["forecasts"],
            "no forecast": table["no_forecast"],
            "WIS": table["wis"].map(lambda v: f"{v:,.1f}"),
            "WIS baseline": table["wis_baseline"].map(lambda v: f"{v:,.1f}"),
            "relative WIS": table["relative_wis"].map(lambda v: f"{v:.3f}"),
            "50% covers": table["cover50"].map(lambda v: f"{v:.1%}"),
            "95% covers": table["cover95"].map(lambda v: f"{v:.1%}"),
            "baseline 50%": table["cover50_baseline"].map(lambda v: f"{v:.1%}"),
            "baseline 95%": table["cover95_baseline"].map(lambda v: f"{v:.1%}"),
        }
    ).replace({"nan": "", "nan%": ""})
    typer.echo(shown.to_string(index=False))
    for row in table[table["horizon"] != "all"].to_dict(orient="records"):
        if not row["forecasts"]:
            continue
        cover95, relative = float(row["cover95"]), float(row["relative_wis"])
        cover = "met" if 0.90 <= cover95 <= 0.98 else "MISSED"
        wis = "met" if relative < 1 else "MISSED"
        typer.echo(
            f"{row['series']}, {row['horizon']} wk: 95% coverage {cover95:.1%} (target 90-98%: {cover}); "
            f"relative WIS {relative:.3f} (target < 1: {wis})"
        )


scenario_app = typer.Typer(
    help="Scenarios against the baseline forecast, with common random numbers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _scenario(code: str, level: str | None, name: str, contacts: float, from_day: int, regions: str | None) -> Any:
    """The scenario the options describe, its --regions checked against the units that will be forecast."""
    with clikit.session_scope() as session:
        _, units = service.units_under(session, code, level)
    result_units = [u.code for u in units]
    picked = None
    if regions:
        codes = [c.strip() for c in regions.split(",") if c.strip()]
        unknown = [c for c in codes if c not in result_units]
        if unknown:
            clikit.fail(
                f"--regions: {', '.join(unknown)} is not among the forecast units ({', '.join(result_units[:8])})."
            )
        picked = tuple(result_units.index(c) for c in codes)
    return forecast.Scenario(name or f"contacts x{contacts:g} from day {from_day}", contacts, from_day, None, picked)


Contacts = Annotated[float, typer.Option(help="multiply contact rates by this factor (e.g. 0.5: halve; 1.5: lift)")]
FromDay = Annotated[int, typer.Option(help="first forecast day the change applies to (0 = the first)")]
Regions = Annotated[str | None, typer.Option(help="comma-separated unit codes the change applies to (default: all)")]
Name = Annotated[str, typer.Option(help="a name for the scenario")]


@scenario_app.command("run")
def scenario_run(
    code: Annotated[str, typer.Argument(help="jurisdiction whose children (or units at --level) are forecast")],
    contacts: Contacts = 1.0,
    from_day: FromDay = 0,
    regions: Regions = None,
    name: Name = "",
    level: Level = None,
    end: End = None,
    horizon: Horizon = service.FORECAST_HORIZON,
    members: Members = 200,
    seed: Seed = 1,
    change_date: Change = None,
    view: View = "public",
    dask: Dask = None,
    workers: Workers = None,
    output: Output = None,
) -> None:
    """Forecast under a scenario: the same fit and member seeds as the baseline, contacts changed from a day.
    Writes the scenario's forecast in the layout of `accord forecast`."""
    scenario = _scenario(code, level, name, contacts, from_day, regions)
    _, shown = _forecast(code, level, end, horizon, members, seed, change_date, view, dask, workers, scenario)
    assert shown is not None
    _write(shown.frame(), output)
    _fit_summary(shown)


@scenario_app.command("compare")
def scenario_compare(
    code: Annotated[str, typer.Argument(help="jurisdiction whose children (or units at --level) are forecast")],
    contacts: Contacts = 0.5,
    from_day: FromDay = 0,
    regions: Regions = None,
    name: Name = "",
    level: Level = None,
    end: End = None,
    horizon: Horizon = service.FORECAST_HORIZON,
    members: Members = 200,
    seed: Seed = 1,
    change_date: Change = None,
    view: View = "public",
    dask: Dask = None,
    workers: Workers = None,
    output: Output = None,
) -> None:
    """Scenario vs baseline, member by member (common random numbers): per unit, quantiles of the total reported
    cases over the horizon under the baseline, the scenario, and their difference."""
    scenario = _scenario(code, level, name, contacts, from_day, regions)
    result, alt = _forecast(code, level, end, horizon, members, seed, change_date, view, dask, workers, scenario)
    assert alt is not None
    table = service.scenario_comparison(result, alt, scenario.name)
    _write(table, output)
    total = table[["baseline_q50", "scenario_q50", "difference_q50"]].sum()
    clikit.err.print(
        f"{scenario.name}: median total {total['baseline_q50']:,.0f} -> {total['scenario_q50']:,.0f} cases over "
        f"{horizon} days (sum of unit medians); same seeds, so differences are member by member.",
        highlight=False,
    )


if __name__ == "__main__":
    clikit.run(app)
