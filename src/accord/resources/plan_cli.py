"""``accord resources plan --instance FILE``: solve a standalone planning instance without a database.

``resources/cli.py`` registers :func:`plan_from_instance_command` (or calls it from its own ``plan`` command when
``--instance`` is given). The instance format and the files written are in docs/resources-optimiser.md.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from accord.errors import AccordError
from accord.resources.optimiser import Plan, solve
from accord.resources.problem_files import load_instance, plan_summary, write_plan

console = Console()


def run_instance(
    instance: Path,
    out: Path | None = None,
    *,
    equity: str | None = None,
    solver: str | None = None,
    duals: bool | None = None,
) -> tuple[Plan, dict[str, Path]]:
    """Load, solve and write; command-line choices override the instance's options. Raises ``AccordError``."""
    parsed = load_instance(instance)
    options = parsed.options
    if equity is not None:
        options = replace(options, equity=equity)  # type: ignore[arg-type]  # checked by solve()
    if solver is not None:
        options = replace(options, solver=solver)  # type: ignore[arg-type]
    if duals is not None:
        options = replace(options, duals=duals)
    plan = solve(parsed.problem, options)
    target = out if out is not None else _default_out(instance)
    return plan, write_plan(plan, target, parsed.start_date)


def _default_out(instance: Path) -> Path:
    base = instance if instance.is_dir() else instance.with_suffix("")
    return base.parent / f"{base.name}-plan"


def plan_from_instance_command(
    instance: Path = typer.Option(..., "--instance", help="Instance: a .json file or a folder of CSV files."),
    out: Path | None = typer.Option(None, "--out", help="Folder for the plan (default: <instance>-plan)."),
    equity: str | None = typer.Option(None, "--equity", help="total, minmax or participation (overrides file)."),
    solver: str | None = typer.Option(None, "--solver", help="auto, network or lp (overrides the file)."),
    duals: bool | None = typer.Option(None, "--duals/--no-duals", help="Also write dual prices (duals.csv)."),
) -> None:
    """Solve a standalone allocation instance and write shipments and shortfall by region and day."""
    from accord.clikit import handle

    try:
        plan, paths = run_instance(instance, out, equity=equity, solver=solver, duals=duals)
    except AccordError as exc:
        raise typer.Exit(handle(exc)) from None
    summary = plan_summary(plan)
    table = Table(title=f"Plan ({plan.solver}, {plan.equity}, {plan.status})", title_justify="left")
    table.add_column("resource")
    table.add_column("shortfall", justify="right")
    table.add_column("worst unmet share", justify="right")
    for res in plan.problem.resources:
        table.add_row(
            res,
            f"{summary['shortfall_by_resource'][res]:,.0f}",
            f"{summary['worst_unmet_share_by_resource'].get(res, 0.0):.1%}",
        )
    console.print(table)
    console.print(
        f"{summary['shipments']:,} shipments, {summary['units_shipped']:,.0f} units; "
        f"total shortfall {summary['total_shortfall']:,.0f} of {summary['total_demand']:,.0f} demanded; "
        f"build {plan.build_seconds:.2f} s, solve {plan.solve_seconds:.2f} s",
        highlight=False,
    )
    for warning in plan.warnings[:10]:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    for name, path in paths.items():
        console.print(f"{name}: {path}", highlight=False)
