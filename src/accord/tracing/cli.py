"""``accord tracing``: the tracing capability from a terminal."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from accord import clikit
from accord.errors import AccordError
from accord.tracing import chain_sets, crypto, key_rotation, linelist_import, reconciliation, worklists

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
            moved = key_rotation.rotate_key(session, old, new)
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
            report = linelist_import.import_linelist(
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
        added = worklists.generate_followups(session, the_day) if generate else 0
        moved = worklists.escalate_overdue(session, the_day)
    clikit.console.print(f"{the_day}: {added} follow-up task(s) added, {moved} overdue task(s) escalated")


@app.command()
def clusters(
    root: Annotated[str, typer.Argument(help="jurisdiction code")],
    min_size: Annotated[int, typer.Option(help="smallest cluster listed")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="statistics as JSON")] = False,
    user: UserOpt = None,
) -> None:
    """Clusters (groups of 2 or more linked cases; single cases counted apart), serial interval and offspring
    dispersion k of the cases under ROOT (no personal data)."""
    with _errors(), clikit.session_scope() as session:
        actor = clikit.actor_from(session, user)
        cs = chain_sets.chains_for(session, actor, root, min_size)
        stats = chain_sets.chain_statistics(chain_sets.chain_set(session, root, 1))
    if as_json:
        typer.echo(json.dumps(_plain(stats), indent=1))
        return
    table = Table("cluster", "size", "first onset", "last onset", "span (days)", "settings")
    for row in cs.clusters.head(50).itertuples(index=False):
        table.add_row(
            str(row.cluster),
            str(row.size),
            _day(row.first_onset),
            _day(row.last_onset),
            _whole(row.span_days),
            str(row.settings),
        )
    clikit.console.print(table)
    clikit.console.print(
        f"{stats['cases']:,} cases: {stats['clusters']:,} clusters of 2 or more ({stats['cases_in_clusters']:,} "
        f"cases, the largest {stats['largest_cluster']:,}), {stats['single_cases']:,} single cases",
        highlight=False,
    )
    si, k = stats["serial_interval"], stats["offspring"]
    clikit.console.print(
        f"serial interval {_fig(si['mean'])} days (95% CI {_fig(si['low'])}-{_fig(si['high'])}, {si['pairs']} pairs)"
        + (
            f"; offspring mean {_fig(k['mean'])}, k = {_fig(k['k'], 3)} (95% CI {_fig(k['k_low'], 3)}-"
            f"{_fig(k['k_high'], 3)})"
            if k
            else ""
        ),
        highlight=False,
    )


def _day(value: object) -> str:
    """A date for a table: YYYY-MM-DD, or empty when unknown (never 'NaT')."""
    if value is None or bool(pd.isna(value)):  # type: ignore[call-overload]
        return ""
    return pd.Timestamp(value).date().isoformat()  # type: ignore[arg-type]


def _whole(value: object) -> str:
    """A whole number for a table, or empty when unknown (never 'nan')."""
    return "" if value is None or value is pd.NA or value != value else str(value)


def _fig(value: float | None, digits: int = 2) -> str:
    """A figure for a sentence: empty-looking '-' when unknown (never 'nan'), '∞' when infinite."""
    if value is None or math.isnan(value):
        return "-"
    return "∞" if math.isinf(value) else f"{value:.{digits}f}"


def _plain(value: Any) -> Any:
    """JSON values: NaN, infinity and unknown dates as null (JSON has none of them), numpy scalars as numbers."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if value is None or (not isinstance(value, str | int | float) and pd.isna(value)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value.isoformat() if hasattr(value, "isoformat") else value


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
        frame = reconciliation.reconcile_for(session, actor, root, clikit.parse_day(start), clikit.parse_day(end))
    bad = frame[frame["mismatch"]]
    clikit.console.print(f"{len(frame)} community-days compared, {len(bad)} mismatch(es) flagged")
    for row in bad.head(30).itertuples(index=False):
        clikit.console.print(f"  {row.jurisdiction} {row.date}: cases {row.case_based}, reported {row.reported:g}")
