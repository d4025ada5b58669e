"""``accord tracing``: the tracing capability from a terminal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from accord import clikit
from accord.errors import AccordError
from accord.tracing import crypto, service

app = typer.Typer(
    help="Case and contact tracing: persons, cases, contacts, follow-up tasks, transmission chains.",
    no_args_is_help=True,
)
MAPPINGS = Path(__file__).parent / "mappings"
UserOpt = Annotated[str | None, typer.Option("--user", help="act as this user (role and scope apply)")]


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except AccordError as exc:
        raise typer.Exit(clikit.handle(exc)) from None


def _mapping(name: str) -> tuple[str, str]:
    path = Path(name)
    if not path.is_file():
        path = MAPPINGS / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in MAPPINGS.glob("*.toml")))
        clikit.fail(f"no mapping file '{name}' (a path, or one of the shipped mappings: {known})")
    return path.read_text(encoding="utf-8"), path.name


@app.command("new-key")
def new_key() -> None:
    """Print a fresh personal-data key for ACCORD_PERSONAL_DATA_KEY (keep it secret and backed up)."""
    typer.echo(crypto.new_key())


@app.command("rotate-key")
def rotate_key(
    old_key_env: Annotated[
        str,
        typer.Option(
            help="name of the environment variable that holds the OLD key (the new one is in ACCORD_PERSONAL_DATA_KEY)"
        ),
    ] = "ACCORD_OLD_PERSONAL_DATA_KEY",
) -> None:
    """Re-encrypt all identities and re-hash all identifiers under the new key (one transaction)."""
    import base64
    import os

    value = os.environ.get(old_key_env)
    if not value:
        clikit.fail(f"set {old_key_env} to the old key (URL-safe base64) first")
        return
    with _errors():
        old = crypto.keyring_from_key(base64.urlsafe_b64decode(value.encode()))
        new = crypto.keyring_from_settings(crypto.PersonalDataSettings())
        with clikit.session_scope() as session:
            moved = service.rotate_key(session, old, new)
    clikit.console.print(f"{moved} identities moved from key {old.key_id} to key {new.key_id}")


@app.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(help="line-list CSV files")],
    mapping: Annotated[str, typer.Option(help="mapping file (TOML) or a shipped one: xu2020, tindale2020-...")],
    into: Annotated[str, typer.Option(help="code of the jurisdiction the cases belong under")],
    user: UserOpt = None,
) -> None:
    """Import line lists through a column-mapping file; each file all or nothing. Unplaced rows are reported."""
    text, mapping_file = _mapping(mapping)
    limit = clikit.settings().max_upload_bytes
    for file in files:
        data = clikit.read_file(file, limit)
        with _errors(), clikit.session_scope() as session:
            actor = clikit.actor_from(session, user)
            report = service.import_linelist(
                session, actor, data, text, into, file=file.name, mapping_file=mapping_file
            )
        for line in report.lines():
            clikit.console.print(line, highlight=False, markup=False)


@app.command()
def tasks(
    day: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today)")] = None,
    generate: Annotated[bool, typer.Option(help="generate the day's follow-ups and escalate overdue tasks")] = True,
) -> None:
    """Generate the day's follow-up tasks for every community and escalate overdue ones (run daily)."""
    the_day = clikit.parse_day(day) if day else date.today()
    with _errors(), clikit.session_scope() as session:
        added = service.generate_followups(session, the_day) if generate else 0
        moved = service.escalate_overdue(session, the_day)
    clikit.console.print(f"{the_day}: {added} follow-up task(s) added, {moved} overdue task(s) escalated")


@app.command()
def clusters(
    root: Annotated[str, typer.Argument(help="jurisdiction code")],
    min_size: Annotated[int, typer.Option(help="smallest cluster listed")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="statistics as JSON")] = False,
    user: UserOpt = None,
) -> None:
    """Clusters, serial interval and offspring dispersion k of the cases under ROOT (no personal data)."""
    with _errors(), clikit.session_scope() as session:
        actor = clikit.actor_from(session, user)
        cs = service.chains_for(session, actor, root, min_size)
        stats = service.chain_statistics(service.chain_set(session, root, 1))
    if as_json:
        typer.echo(json.dumps(stats, default=str, indent=1))
        return
    table = Table("cluster", "size", "first onset", "last onset", "span (days)", "settings")
    for row in cs.clusters.head(50).itertuples(index=False):
        table.add_row(
            str(row.cluster),
            str(row.size),
            str(row.first_onset)[:10],
            str(row.last_onset)[:10],
            str(row.span_days),
            str(row.settings),
        )
    clikit.console.print(table)
    si, k = stats["serial_interval"], stats["offspring"]
    clikit.console.print(
        f"serial interval {si['mean']:.2f} days (95% CI {si['low']:.2f}-{si['high']:.2f}, {si['pairs']} pairs); "
        f"offspring mean {k['mean']:.2f}, k = {k['k']:.3f} (95% CI {k['k_low']:.3f}-{k['k_high']:.3f})",
        highlight=False,
    )


@app.command()
def reconcile(
    root: Annotated[str, typer.Argument(help="jurisdiction code")],
    start: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    end: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    user: UserOpt = None,
) -> None:
    """Case-based confirmed counts beside the reported ones; mismatches become warning flags."""
    with _errors(), clikit.session_scope() as session:
        actor = clikit.actor_from(session, user)
        frame = service.reconcile_for(session, actor, root, clikit.parse_day(start), clikit.parse_day(end))
    bad = frame[frame["mismatch"]]
    clikit.console.print(f"{len(frame)} community-days compared, {len(bad)} mismatch(es) flagged")
    for row in bad.head(30).itertuples(index=False):
        clikit.console.print(f"  {row.jurisdiction} {row.date}: cases {row.case_based}, reported {row.reported:g}")
