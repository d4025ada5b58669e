"""``accord bulletin`` and ``accord opendata build``: the daily bulletin and bulk open-data files offline."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from accord import clikit
from accord.disclosure import bulletin as bulletin_text
from accord.disclosure import codebook, opendata, service
from accord.disclosure.config import load_policy

opendata_app = typer.Typer(help="Open-data bulk files with codebook and errata.", no_args_is_help=True)


def _facts(session: object, jurisdiction: str, day: str | None) -> bulletin_text.Facts:
    try:
        return service.bulletin_facts(session, jurisdiction, day, load_policy())  # type: ignore[arg-type]
    except service.PageNotFound as exc:
        clikit.fail(str(exc), 3)
        raise  # unreachable: fail exits


def bulletin(
    jurisdiction: Annotated[str, typer.Option("--jurisdiction", "-j", help="jurisdiction code, e.g. CN-HB")],
    date: Annotated[str | None, typer.Option(help="YYYY-MM-DD; default: the latest published day")] = None,
    lang: Annotated[str, typer.Option(help="en or zh")] = "en",
    format: Annotated[str, typer.Option("--format", help="md or html")] = "md",
) -> None:
    """Print the daily bulletin of a jurisdiction (published figures only)."""
    if lang not in bulletin_text.LANGS or format not in ("md", "html"):
        clikit.fail("--lang must be en or zh and --format md or html", 2)
    with clikit.session_scope() as session:
        b = bulletin_text.compose(_facts(session, jurisdiction, date), lang)
    if format == "md":
        sys.stdout.write(bulletin_text.to_markdown(b))
        return
    from accord.disclosure.pages import env

    sys.stdout.write(env.get_template("bulletin_standalone.html").render(b=b))


@opendata_app.command("build")
def build(
    jurisdiction: Annotated[str, typer.Option("--jurisdiction", "-j", help="root of the files")],
    out: Annotated[Path, typer.Option(help="directory to write into")] = Path("opendata"),
) -> None:
    """Write every level under a jurisdiction in every layout, plus codebook.csv and errata.csv."""
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    policy = load_policy()
    with clikit.session_scope() as session:
        try:
            levels = service.opendata_levels(session, jurisdiction)
        except service.PageNotFound as exc:
            clikit.fail(str(exc), 3)
            return
        for level, _ in levels:
            for fmt in ("csv", "owid", "jhu", "who", "parquet"):
                data, _, name = opendata.export(session, fmt, jurisdiction, level, policy)
                (out / name).write_bytes(data)
                written += 1
        service.errata(session, jurisdiction, policy=policy).to_csv(out / "errata.csv", index=False)
    pd.DataFrame([c.as_dict() for c in codebook.codebook()]).to_csv(out / "codebook.csv", index=False)
    manifest = {"jurisdiction": jurisdiction, "levels": [lvl for lvl, _ in levels], "files": written + 2}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    buf = io.StringIO()
    buf.write(f"wrote {written + 2} files to {out}")
    clikit.console.print(buf.getvalue(), highlight=False)
