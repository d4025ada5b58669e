"""``accord healthcode``: verify codes offline, issue them, manage keys, trust lists and rule sets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from accord import clikit
from accord.errors import AccordError
from accord.healthcode import codec, service, trustlist

app = typer.Typer(
    help="Health codes: published status rules, signed QR credentials, trust lists, offline verification.",
    no_args_is_help=True,
)
keys_app = typer.Typer(
    help="Signing keys: the national root and the issuer keys of provinces and cities.", no_args_is_help=True
)
trust_app = typer.Typer(help="The signed trust list verifiers download.", no_args_is_help=True)
rules_app = typer.Typer(help="The published status rule sets.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(trust_app, name="trustlist")
app.add_typer(rules_app, name="rules")

UserOpt = Annotated[str | None, typer.Option("--user", help="act as this user (role and scope apply)")]


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except AccordError as exc:
        raise typer.Exit(clikit.handle(exc)) from None


def _code_from(value: str) -> str:
    """CODE as given, or the text of the QR code in the image file it names."""
    path = Path(value)
    if value.startswith((codec.OUR_PREFIX, codec.EU_PREFIX)) or not path.is_file():
        return value
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        found = [r for r in zxingcpp.read_barcodes(Image.open(path)) if r.format == zxingcpp.BarcodeFormat.QRCode]
    except (UnidentifiedImageError, OSError) as exc:
        clikit.fail(f"{path}: not an image ({exc})")
        raise
    if not found:
        clikit.fail(f"{path}: no QR code found in the image")
    return str(found[0].text)


def _trust_from(path: Path, root: str | None) -> codec.Trust:
    data = clikit.read_file(path, 50 * 1024 * 1024)
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return trustlist.load_pem_bundle(data)
        return trustlist.load_trust_list(data.decode("utf-8"), root_fingerprint=root).trust
    except (trustlist.TrustListError, UnicodeDecodeError) as exc:
        clikit.fail(f"{path}: {exc}")
        raise


def _at(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        clikit.fail(f"--at '{value}' is not an ISO 8601 time (e.g. 2026-03-01T08:00:00Z)")
        raise
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@app.command()
def verify(
    code: Annotated[str, typer.Argument(help="the code text (AC1:... or HC1:...) or a QR image file")],
    trust: Annotated[Path, typer.Option("--trust", help="our signed trust list (JSON) or a PEM bundle for HC1")],
    at: Annotated[str | None, typer.Option("--at", help="validation time, ISO 8601 (default: now)")] = None,
    root: Annotated[str | None, typer.Option(help="pinned SHA-256 fingerprint of the root certificate")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the verdict as JSON")] = False,
) -> None:
    """Verify a code offline. Exit 0 only when it is valid; 2 when it is not."""
    verdict = codec.verify(_code_from(code), _trust_from(trust, root), _at(at))
    if as_json:
        out = {
            "valid": verdict.valid,
            "reason": verdict.reason.value,
            "stage": verdict.stage.value,
            "detail": verdict.detail,
            "kid": verdict.kid,
            "claims": verdict.claims,
        }
        clikit.console.print_json(json.dumps(out, default=str))
    elif verdict.valid:
        c = verdict.claims
        what = c.get("colour") or ("EU DCC" if c.get("kind") == "eu-dcc" else "")
        clikit.console.print(f"[bold green]valid[/] {what} {c.get('initials', '')} issued by {c.get('iss', '?')}")
    else:
        clikit.err.print(f"[bold red]invalid:[/] {verdict.sentence()}", highlight=False)
    raise typer.Exit(0 if verdict.valid else 2)


@app.command()
def issue(
    person: Annotated[str, typer.Argument(help="pseudonymous person id")],
    jurisdiction: Annotated[str, typer.Option(help="issuing jurisdiction (its active issuer key signs)")],
    initials: Annotated[str, typer.Option(help="holder's initials, printed on the code")],
    birth_day: Annotated[str, typer.Option(help="holder's day and month of birth, MM-DD")],
    qr: Annotated[Path | None, typer.Option(help="also write the QR code as SVG or PNG here")] = None,
) -> None:
    """Sign a code for a person's current status and print it."""
    import segno

    with _errors(), clikit.session_scope() as s:
        code, _row = service.issue_code(s, person, jurisdiction, initials=initials, birth_day=birth_day)
    if qr is not None:
        segno.make_qr(code, mode="alphanumeric", error="q").save(str(qr), scale=6)
    typer.echo(code)  # plain: Base45 contains spaces, and a wrapped line would break the code


@keys_app.command("init-root")
def init_root(jurisdiction: Annotated[str, typer.Argument(help="code of the national jurisdiction")]) -> None:
    """Create the national root key (once)."""
    with _errors(), clikit.session_scope() as s:
        row = service.init_root(s, jurisdiction, clikit.actor_from(s, None))
        clikit.console.print(f"root key {row.kid} for {jurisdiction}")


@keys_app.command("add")
def add_key(jurisdiction: Annotated[str, typer.Argument(help="province or city code")]) -> None:
    """Create (or rotate) the issuer key of a jurisdiction, certified by the root."""
    with _errors(), clikit.session_scope() as s:
        row = service.add_issuer(s, jurisdiction, clikit.actor_from(s, None))
        clikit.console.print(f"issuer key {row.kid} for {jurisdiction}")


@keys_app.command("revoke")
def revoke_key(
    kid: Annotated[str, typer.Argument(help="key id (16 hex digits)")],
    reason: Annotated[str, typer.Option(help="why (e.g. 'key leaked')")],
) -> None:
    """Revoke a compromised issuer key (publish a new trust list afterwards)."""
    with _errors(), clikit.session_scope() as s:
        service.revoke(s, kid, reason, clikit.actor_from(s, None))
        clikit.console.print(f"revoked {kid}; run 'accord healthcode trustlist publish' to tell verifiers")


@keys_app.command("list")
def list_keys() -> None:
    """Keys with their status (never their private halves)."""
    with _errors(), clikit.session_scope() as s:
        table = Table("kid", "role", "jurisdiction", "status", "created")
        for r in service.list_keys(s):
            table.add_row(r.kid, r.role, r.jurisdiction, r.status, r.created_at.isoformat(timespec="seconds"))
        clikit.console.print(table)


@trust_app.command("publish")
def publish_trust() -> None:
    """Sign a new trust list with the root key."""
    with _errors(), clikit.session_scope() as s:
        row = service.publish_trust_list(s, clikit.actor_from(s, None))
        clikit.console.print(f"trust list version {row.version} published")


@trust_app.command("export")
def export_trust(out: Annotated[Path, typer.Argument(help="file to write the signed trust list to")]) -> None:
    """Write the newest signed trust list (for offline verifiers)."""
    with _errors(), clikit.session_scope() as s:
        row = service.current_trust_list(s)
        out.write_text(row.document, encoding="utf-8")
        clikit.console.print(f"trust list version {row.version} written to {out}")


@rules_app.command("show")
def show_rules() -> None:
    """The rule set in force, as published JSON."""
    with _errors(), clikit.session_scope() as s:
        clikit.console.print_json(service.current_rules(s).to_json())


@rules_app.command("publish")
def publish_rules(path: Annotated[Path, typer.Argument(help="rule set JSON (version, validity_hours, rules)")]) -> None:
    """Publish a new rule set version."""
    try:
        body = json.loads(clikit.read_file(path, 5 * 1024 * 1024))
    except json.JSONDecodeError as exc:
        clikit.fail(f"{path}, line {exc.lineno}: not JSON ({exc.msg})")
        raise
    with _errors(), clikit.session_scope() as s:
        rs = service.publish_rules(s, body, clikit.actor_from(s, None))
        clikit.console.print(f"rule set {rs.version} published ({len(rs.rules)} rules)")


status_app = typer.Typer(help="Person statuses: refresh from tracing, inspect, override.", no_args_is_help=True)
app.add_typer(status_app, name="status")


@status_app.command("refresh")
def refresh(full: Annotated[bool, typer.Option(help="re-evaluate everybody, not only who changed")] = False) -> None:
    """Re-evaluate statuses from tracing's cases and contacts and policy's risk areas (incremental)."""
    with _errors(), clikit.session_scope() as s:
        done = service.refresh_from_tracing(s, datetime.now(UTC), full=full)
        clikit.console.print(f"{done['evaluated']:,} of {done['persons']:,} persons re-evaluated")


@status_app.command("override")
def override_status(
    person: Annotated[str, typer.Argument(help="pseudonymous person id")],
    colour: Annotated[str, typer.Option(help="green, yellow or red")],
    reason: Annotated[str, typer.Option(help="why (kept in the audit log, shown to the holder)")],
    hours: Annotated[float, typer.Option(help="how long the override holds")] = 24,
    user: UserOpt = None,
) -> None:
    """Set a person's colour by hand, with a reason (audited)."""
    with _errors(), clikit.session_scope() as s:
        row = service.override(s, person, colour, reason, hours, clikit.actor_from(s, user))
        clikit.console.print(f"{person}: {colour} until {row.override_until}")
