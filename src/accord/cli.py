"""``accord``: the command line of every coordinator. Errors are one sentence and a non-zero exit code.

Exit codes: 0 done, 1 input rejected, 2 usage, 3 not found, 4 not allowed, 5 conflict, 6 too large.
"""

from __future__ import annotations

from typing import Annotated

import typer

from accord import clikit
from accord.analytics import cli as analytics_cli
from accord.auth.cli import app as users_app
from accord.disclosure import cli as disclosure_cli
from accord.federation import cli as federation_cli
from accord.healthcode import cli as healthcode_cli
from accord.places.cli import app as places_app
from accord.policy import cli as policy_cli
from accord.policy.scenario_cli import grid_command
from accord.resources import cli as resources_cli
from accord.rumors import cli as rumors_cli
from accord.surveillance import cli as surveillance_cli
from accord.tracing import cli as tracing_cli

app = typer.Typer(
    help="Accord: multi-level pandemic response coordination.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(places_app, name="places")
app.add_typer(surveillance_cli.app, name="report")
app.add_typer(users_app, name="users")
app.add_typer(rumors_cli.app, name="rumors")
app.add_typer(resources_cli.app, name="resources")
app.add_typer(policy_cli.app, name="policy")
app.add_typer(tracing_cli.app, name="tracing")
app.add_typer(healthcode_cli.app, name="healthcode")
app.add_typer(federation_cli.app, name="federation")
app.command("import")(surveillance_cli.import_command)
app.command("export")(surveillance_cli.export_command)
app.command("bulletin")(disclosure_cli.bulletin)
app.command("rt")(analytics_cli.rt_command)
app.command("forecast")(analytics_cli.forecast_command)
analytics_cli.scenario_app.command("grid")(grid_command)  # epidemic vs economy: the Pareto frontier
app.add_typer(analytics_cli.scenario_app, name="scenario")
app.add_typer(disclosure_cli.opendata_app, name="opendata")


@app.command()
def init() -> None:
    """Create or upgrade the database and seed the indicator catalog."""
    from accord.surveillance import service

    with clikit.session_scope() as session:
        service.seed_indicators(session)
    s = clikit.settings()
    clikit.console.print(f"database ready: {s.effective_database_url.split('@')[-1]}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default ACCORD_HOST (127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="default ACCORD_PORT (8000)")] = None,
    workers: int = 1,
) -> None:
    """Serve the API (and pages) with auto-publication running in the background."""
    import uvicorn

    from accord.app import create_app
    from accord.surveillance import service

    s = clikit.settings()
    with clikit.session_scope() as session:
        service.seed_indicators(session)
    bind_host, bind_port = host or s.host, port or s.port
    clikit.err.print(f"Accord on http://{bind_host}:{bind_port}/  (API docs at /docs)")
    uvicorn.run(create_app(s, background=True), host=bind_host, port=bind_port, workers=workers, log_level="warning")


@app.command()
def demo(
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="serve the API afterwards")] = False,
    seed: int = 7,
    days: int = 120,
    communities: int = 1000,
    federation: Annotated[
        bool, typer.Option("--federation", help="instead: a small federation, a hub and two countries")
    ] = False,
) -> None:
    """Create a synthetic multi-level country with a seeded outbreak, reported through the real services."""
    if federation:
        from accord.federation.demo import run_federation_demo

        run_federation_demo(clikit.err, seed=seed)
        return
    from accord.demo import service as demo_service

    demo_service.run_demo(seed=seed, days=days, communities=communities, console=clikit.err)
    if serve_after:
        serve(None, None, 1)


def main() -> None:
    clikit.run(app)


if __name__ == "__main__":
    main()
