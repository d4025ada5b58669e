"""``accord``: the command line of every coordinator. Errors are one sentence and a non-zero exit code.

Exit codes: 0 done, 1 input rejected, 2 usage, 3 not found, 4 not allowed, 5 conflict, 6 too large.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, MutableMapping
from typing import Annotated, Any

import typer
from typer._click.core import Command  # typer carries its own click: the types of its commands
from typer._click.core import Context as ClickContext
from typer.core import TyperGroup

from accord import clikit


def _as_group(sub: typer.Typer) -> Command:
    """``sub`` as ``add_typer`` mounts it: a group even when it holds a single command."""
    holder = typer.Typer()
    holder.add_typer(sub, name="sub")
    holder.command("unused")(lambda: None)  # two entries: the holder itself stays a group
    group = typer.main.get_command(holder)
    assert isinstance(group, TyperGroup)
    return group.commands["sub"]


def _group(module: str, attr: str = "app") -> Callable[[], Command]:
    def load() -> Command:
        return _as_group(getattr(importlib.import_module(module), attr))

    return load


def _command(module: str, attr: str, name: str) -> Callable[[], Command]:
    def load() -> Command:
        one = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
        one.command(name)(getattr(importlib.import_module(module), attr))
        return typer.main.get_command(one)

    return load


def _scenarios() -> Command:
    from accord.analytics import cli as analytics_cli
    from accord.policy.scenarios.cli import grid_command

    if not any(c.name == "grid" for c in analytics_cli.scenario_app.registered_commands):
        analytics_cli.scenario_app.command("grid")(grid_command)  # epidemic vs economy: the Pareto frontier
    return _as_group(analytics_cli.scenario_app)


#: every capability's commands, imported only when used: a command starts with its own capability's modules, not
#: the whole application's (the offline health-code verifier checks thousands of codes a second from the shell)
SUBCOMMANDS: dict[str, Callable[[], Command]] = {
    "places": _group("accord.places.cli"),
    "report": _group("accord.surveillance.cli"),
    "users": _group("accord.auth.cli"),
    "rumors": _group("accord.rumors.cli"),
    "resources": _group("accord.resources.cli"),
    "policy": _group("accord.policy.cli"),
    "tracing": _group("accord.tracing.cli"),
    "healthcode": _group("accord.healthcode.cli"),
    "federation": _group("accord.federation.cli"),
    "import": _command("accord.surveillance.cli", "import_command", "import"),
    "export": _command("accord.surveillance.cli", "export_command", "export"),
    "bulletin": _command("accord.disclosure.cli", "bulletin", "bulletin"),
    "rt": _command("accord.analytics.cli", "rt_command", "rt"),
    "forecast": _group("accord.analytics.cli", "forecast_app"),
    "scenario": _scenarios,
    "opendata": _group("accord.disclosure.cli", "opendata_app"),
}


class _LazyCommands(MutableMapping[str, Command]):
    """A group's commands by name; a lazy one is built (its module imported) on first access."""

    def __init__(self, loaded: dict[str, Command], loaders: dict[str, Callable[[], Command]]) -> None:
        self._loaded = dict(loaded)
        self._loaders = loaders

    def __getitem__(self, name: str) -> Command:
        if name not in self._loaded:
            command = self._loaders[name]()  # KeyError for an unknown name, as a dict
            command.name = name
            self._loaded[name] = command
        return self._loaded[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        self._loaded.pop(name, None)
        self._loaders.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        yield from self._loaders
        yield from (name for name in self._loaded if name not in self._loaders)

    def __len__(self) -> int:
        return len(set(self._loaders) | set(self._loaded))


class _LazyRoot(TyperGroup):
    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _LazyCommands(dict(self.commands), dict(SUBCOMMANDS))

    def list_commands(self, ctx: ClickContext) -> list[str]:
        return list(self.commands)  # names only: listing imports nothing


app = typer.Typer(
    cls=_LazyRoot,
    help="Accord: multi-level pandemic response coordination.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


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
