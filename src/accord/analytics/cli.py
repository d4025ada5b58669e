"""``accord rt``: Rt (Cori et al. 2013) of every region in a plain CSV of daily cases, no database needed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.progress import Progress

from accord import clikit
from accord.analytics.casefile import CaseFileError, Columns, estimates_frame, read_cases
from accord.epi import rt, serial_interval

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


if __name__ == "__main__":
    clikit.run(app)
