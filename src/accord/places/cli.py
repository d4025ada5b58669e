"""``accord places``: build and inspect the jurisdiction tree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from accord import clikit
from accord.errors import AccordError, Problem
from accord.places import service

app = typer.Typer(help="The jurisdiction tree: import, inspect, boundaries.", no_args_is_help=True)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="places CSV, or the MCA ChinaAreaCode.csv with --format china")],
    format: Annotated[
        str, typer.Option(help="csv (code,name,local_name,level,parent_code,population) or china (MCA admin codes)")
    ] = "csv",
) -> None:
    """Create or update jurisdictions from a file (all or nothing)."""
    s = clikit.settings()
    data = clikit.read_file(file, s.max_upload_bytes)
    if format == "china":
        from accord.places import china_codes

        parsed = china_codes.parse(data, file.name)
    elif format == "csv":
        from accord.places import csvformat

        parsed = csvformat.parse(data, file.name)
    else:
        clikit.fail(f"unknown places format '{format}' (use csv or china)")
        return
    if parsed.problems:
        raise AccordError(f"{file.name} was not imported; nothing was stored", parsed.problems)
    with clikit.session_scope() as session:
        result = service.import_places(session, parsed.frame, file=file.name)
    clikit.console.print(
        f"{file.name}: {result.created} created, {result.updated} updated, {result.unchanged} unchanged"
    )


@app.command()
def show(code: str, depth: Annotated[int, typer.Option(help="levels of children to list")] = 1) -> None:
    """Show one jurisdiction, its path and its children."""
    with clikit.session_scope() as session:
        node = service.get(session, code)
        path = " > ".join(f"{a.name} ({a.code})" for a in service.ancestors(session, node.id))
        clikit.console.print(
            f"[bold]{node.name}[/] {node.local_name or ''} — level {node.level}, "
            f"population {node.population or 'unknown'}\n{path}"
        )
        table = Table("code", "name", "local name", "level", "population")
        for j, d in service.subtree(session, node.id, max_distance=depth):
            if d:
                table.add_row(
                    j.code,
                    "  " * (d - 1) + j.name,
                    j.local_name or "",
                    j.level,
                    f"{j.population:,}" if j.population else "",
                )
        clikit.console.print(table)


@app.command()
def boundaries(
    file: Annotated[Path, typer.Argument(help="GeoJSON FeatureCollection")],
    key: Annotated[str, typer.Option(help="feature property holding the jurisdiction code")] = "code",
) -> None:
    """Store GeoJSON boundaries with the jurisdictions (matched by a property of each feature)."""
    s = clikit.settings()
    raw = clikit.read_file(file, s.max_upload_bytes)
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AccordError(f"{file.name} is not valid GeoJSON", [Problem(str(exc), file=file.name)]) from None
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        raise AccordError(
            f"{file.name} is not a GeoJSON FeatureCollection", [Problem("no 'features' list", file=file.name)]
        )
    found: dict[str, dict[str, object]] = {}
    problems = []
    for i, feat in enumerate(features):
        props = feat.get("properties") if isinstance(feat, dict) else None
        geom = feat.get("geometry") if isinstance(feat, dict) else None
        code = props.get(key) if isinstance(props, dict) else None
        if not code or not isinstance(geom, dict) or geom.get("type") not in ("Polygon", "MultiPolygon"):
            problems.append(
                Problem(
                    f"feature {i} needs a '{key}' property and a Polygon or MultiPolygon geometry",
                    file=file.name,
                    line=i + 1,
                    field=key,
                )
            )
            continue
        found[str(code)] = geom
    if problems:
        raise AccordError(f"{file.name} was not stored", problems)
    with clikit.session_scope() as session:
        n = service.set_boundaries(session, found)
    clikit.console.print(f"stored {n} boundaries")


@app.command()
def delete(code: str) -> None:
    """Delete a jurisdiction without data or children."""
    with clikit.session_scope() as session:
        service.delete_place(session, code)
    clikit.console.print(f"deleted {code}")


@app.command()
def move(code: str, new_parent: str) -> None:
    """Move a jurisdiction (and its subtree) under another parent; refused when it holds data."""
    with clikit.session_scope() as session:
        node = service.get(session, code)
        parent = service.get(session, new_parent)
        service.move(session, node, parent.id)
    clikit.console.print(f"moved {code} under {new_parent}")
