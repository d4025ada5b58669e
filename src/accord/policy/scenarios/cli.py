"""``accord scenario grid``: a timing x intensity x duration grid of measure schedules for a table of regions, run
in parallel (local process pool, or a Dask cluster with ``--dask``), with the Pareto frontier of health vs economic
cost; results as JSON (with daily curves) and CSV twins. The root CLI mounts :func:`grid_command` as
``accord scenario grid``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from accord import clikit
from accord.epi.executor import DASK_ENV, open_executor
from accord.errors import AccordError, Problem
from accord.policy.scenarios import regions as scenario_regions
from accord.policy.scenarios import runs as sc


def _ints(text: str, option: str) -> list[int | None]:
    out: list[int | None] = []
    for part in text.split(","):
        part = part.strip()
        if part in ("", "open", "none"):
            out.append(None)
            continue
        try:
            out.append(int(part))
        except ValueError:
            raise AccordError(
                "invalid option", [Problem(f"'{part}' is not a whole number of days", field=option)]
            ) from None
    return out


def grid_command(
    regions: Annotated[Path, typer.Argument(help="CSV: code, population, infected, icu_beds (optional)")],
    days: Annotated[int, typer.Option(help="horizon, days")] = 180,
    timings: Annotated[str, typer.Option(help="start days, comma-separated")] = "0,14,28",
    intensities: Annotated[
        str, typer.Option(help=f"comma-separated, from: {', '.join(sc.INTENSITIES)}")
    ] = "distancing,partial lockdown,full lockdown",
    durations: Annotated[str, typer.Option(help="days, comma-separated ('open' = to the horizon)")] = "30,60,90",
    relax_rt: Annotated[
        float | None, typer.Option(help="lift a region's measures once its Rt stays below this")
    ] = None,
    relax_days: Annotated[int, typer.Option(help="... for this many days")] = 14,
    health: Annotated[
        str, typer.Option(help=f"health cost on the frontier: {', '.join(sc.HEALTH_METRICS)}")
    ] = "deaths",
    contacts: Annotated[
        Path | None,
        typer.Option(help="Prem et al. 2021 contact matrices CSV (epydemix layout); default: one age group"),
    ] = None,
    location: Annotated[str, typer.Option(help="location of the contact matrices")] = "China",
    workers: Annotated[
        int | None, typer.Option(help="local processes (default: CPU count; 1: in this process)")
    ] = None,
    dask: Annotated[str | None, typer.Option(help="Dask scheduler address (or $ACCORD_DASK_ADDRESS)")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write every scenario with its curves")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="write one row per scenario")] = None,
) -> None:
    """Run a scenario grid and print the Pareto frontier of health vs economic cost."""
    try:
        _run(regions, days, timings, intensities, durations, relax_rt, relax_days, health, contacts, location, workers,
             dask, json_out, csv_out)  # fmt: skip
    except AccordError as exc:
        raise typer.Exit(clikit.handle(exc)) from None
    except ConnectionError as exc:
        clikit.fail(str(exc))


def _run(
    regions: Path,
    days: int,
    timings: str,
    intensities: str,
    durations: str,
    relax_rt: float | None,
    relax_days: int,
    health: str,
    contacts: Path | None,
    location: str,
    workers: int | None,
    dask: str | None,
    json_out: Path | None,
    csv_out: Path | None,
) -> None:
    if health not in sc.HEALTH_METRICS:
        raise AccordError("invalid option", [Problem(f"unknown health metric '{health}'", field="health")])
    table = scenario_regions.read_regions(regions)
    mats, share = scenario_regions.prem_contacts(contacts, location) if contacts else (None, None)
    setting = scenario_regions.build_setting(table, days, contacts=mats, age_share=share)
    names = [n.strip() for n in intensities.split(",") if n.strip()]
    try:
        starts = [t or 0 for t in _ints(timings, "timings")]
        grid = sc.grid(starts, names, _ints(durations, "durations"), relax_rt=relax_rt, relax_days=relax_days)
        scenarios = [sc.baseline(), *grid]
        for s in scenarios:
            s.check(setting.days, setting.model.regions)
    except ValueError as exc:
        raise AccordError("invalid scenario grid", [Problem(str(exc))]) from None
    with Progress(TextColumn("scenarios"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as bar:
        task = bar.add_task("grid", total=len(scenarios))

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done)

        if workers == 1 and not dask and not os.environ.get(DASK_ENV):  # one worker: in this process, no pool
            outcomes = sc.run_grid(setting, scenarios, None, progress)
        else:
            with open_executor(dask, workers) as pool:
                outcomes = sc.run_grid(setting, scenarios, pool, progress)
    records = sc.frontier_records(outcomes, health)
    _print_frontier(records, setting.economics.currency)
    if csv_out:
        pd.DataFrame(records).to_csv(csv_out, index=False)
    if json_out:
        scenarios_out = [{**r, "curves": o.curves} for r, o in zip(records, outcomes, strict=True)]
        payload = {"regions": len(table), "days": days, "health_metric": health, "scenarios": scenarios_out}
        json_out.write_text(json.dumps(payload, indent=1, default=str) + "\n")


def _print_frontier(records: list[dict[str, object]], currency: str) -> None:
    front = sorted((r for r in records if r["on_frontier"]), key=lambda r: float(r["health_cost"]))  # type: ignore[arg-type]
    table = Table(title=f"Pareto frontier: {len(front)} of {len(records)} scenarios", title_justify="left")
    for col in ("scenario", str(records[0]["health_metric"]) if records else "health", f"economic cost ({currency})",
                "peak ICU", "days over ICU capacity"):  # fmt: skip
        table.add_column(col, justify="left" if col == "scenario" else "right")
    for r in front:
        table.add_row(str(r["name"]), f"{float(r['health_cost']):,.0f}", f"{float(r['economic_cost']):,.0f}",  # type: ignore[arg-type]
                      f"{float(r['peak_icu']):,.0f}", str(r["days_over_capacity"]))  # type: ignore[arg-type]  # fmt: skip
    Console().print(table)
