"""``accord healthcode``: verify codes offline (one, or a batch from a file or standard input), evaluate EU
business rules on a certificate, issue codes, manage keys, trust lists and rule sets.

Verifying and rule evaluation need no database: this module imports only the codec at start, and the database
layer inside the commands that use it, so a batch of codes is checked at thousands per second from the shell."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from accord import clikit
from accord.errors import AccordError

if TYPE_CHECKING:
    from accord.healthcode import codec

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
    from accord.healthcode import codec

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
    from accord.healthcode import trustlist

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
    code: Annotated[
        str | None,
        typer.Argument(help="the code text (AC1:... or HC1:...), a QR image file, or - for codes on standard input"),
    ] = None,
    *,
    trust: Annotated[Path, typer.Option("--trust", help="our signed trust list (JSON) or a PEM bundle for HC1")],
    at: Annotated[str | None, typer.Option("--at", help="validation time, ISO 8601 (default: now)")] = None,
    root: Annotated[str | None, typer.Option(help="pinned SHA-256 fingerprint of the root certificate")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the verdict as JSON (JSON lines for a batch)")] = False,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="a file of codes, one per line ('-': standard input)")
    ] = None,
) -> None:
    """Verify a code offline, or every code of a file (one per line), printing one verdict per code.

    Exit 0 only when every code is valid; 2 when one is not."""
    from accord.healthcode import codec

    if code is None and file is None:
        clikit.fail("give a CODE, or --file FILE (or -) with one code per line")
    if code is not None and file is not None:
        clikit.fail("give a CODE or --file, not both")
    checker = _trust_from(trust, root)
    when = _at(at)
    if file is not None or code == "-":
        source = file if file is not None else Path("-")
        raise typer.Exit(_verify_batch(source, checker, when, as_json))
    assert code is not None
    verdict = codec.verify(_code_from(code), checker, when)
    if as_json:
        clikit.console.print_json(json.dumps(_verdict_dict(verdict), default=str))
    elif verdict.valid:
        clikit.console.print(f"[bold green]valid[/] {_holder(verdict)}")
    else:
        clikit.err.print(f"[bold red]invalid:[/] {verdict.sentence()}", highlight=False)
    raise typer.Exit(0 if verdict.valid else 2)


def _verdict_dict(verdict: codec.Verdict) -> dict[str, Any]:
    return {
        "valid": verdict.valid,
        "reason": verdict.reason.value,
        "stage": verdict.stage.value,
        "detail": verdict.detail,
        "kid": verdict.kid,
        "claims": verdict.claims,
    }


def _holder(verdict: codec.Verdict) -> str:
    c = verdict.claims
    what = c.get("colour") or ("EU DCC" if c.get("kind") == "eu-dcc" else "")
    return f"{what} {c.get('initials', '')} issued by {c.get('iss', '?')}".replace("  ", " ")


def _verify_batch(source: Path, trust: codec.Trust, at: datetime, as_json: bool) -> int:
    """One verdict per non-blank line, written as it comes (plain text: ``line<TAB>valid|invalid<TAB>what``);
    a count on stderr. The exit code: 0 all valid, 2 any invalid, 1 no code at all."""
    from accord.healthcode import codec

    if str(source) != "-" and not source.is_file():
        clikit.fail(f"{source}: no such file")
    out = sys.stdout
    valid = invalid = 0
    with _lines(source) as lines:
        for number, line in lines:
            verdict = codec.verify(line, trust, at)
            valid += verdict.valid
            invalid += not verdict.valid
            if as_json:
                out.write(json.dumps({"line": number, **_verdict_dict(verdict)}, default=str) + "\n")
            elif verdict.valid:
                out.write(f"{number}\tvalid\t{_holder(verdict)}\n")
            else:
                out.write(f"{number}\tinvalid\t{verdict.sentence()}\n")
    out.flush()
    if valid + invalid == 0:
        clikit.fail(f"{source}: no codes (one code per line)")
    clikit.err.print(f"{valid + invalid:,} codes: {valid:,} valid, {invalid:,} invalid", highlight=False)
    return 0 if invalid == 0 else 2


@contextmanager
def _lines(source: Path) -> Iterator[Iterable[tuple[int, str]]]:
    """Numbered non-blank lines of a file or standard input (line ends removed; a code's own spaces kept)."""
    handle: TextIO = sys.stdin if str(source) == "-" else source.open(encoding="utf-8-sig", errors="replace")
    try:
        yield ((number, line.rstrip("\r\n")) for number, line in enumerate(handle, start=1) if line.strip())
    finally:
        if handle is not sys.stdin:
            handle.close()


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

    from accord.healthcode import service

    with _errors(), clikit.session_scope() as s:
        code, _row = service.issue_code(s, person, jurisdiction, initials=initials, birth_day=birth_day)
    if qr is not None:
        segno.make_qr(code, mode="alphanumeric", error="q").save(str(qr), scale=6)
    typer.echo(code)  # plain: Base45 contains spaces, and a wrapped line would break the code


@keys_app.command("init-root")
def init_root(jurisdiction: Annotated[str, typer.Argument(help="code of the national jurisdiction")]) -> None:
    """Create the national root key (once)."""
    from accord.healthcode import service

    with _errors(), clikit.session_scope() as s:
        row = service.init_root(s, jurisdiction, clikit.actor_from(s, None))
        clikit.console.print(f"root key {row.kid} for {jurisdiction}")


@keys_app.command("add")
def add_key(jurisdiction: Annotated[str, typer.Argument(help="province or city code")]) -> None:
    """Create (or rotate) the issuer key of a jurisdiction, certified by the root."""
    from accord.healthcode import service

    with _errors(), clikit.session_scope() as s:
        row = service.add_issuer(s, jurisdiction, clikit.actor_from(s, None))
        clikit.console.print(f"issuer key {row.kid} for {jurisdiction}")


@keys_app.command("revoke")
def revoke_key(
    kid: Annotated[str, typer.Argument(help="key id (16 hex digits)")],
    reason: Annotated[str, typer.Option(help="why (e.g. 'key leaked')")],
) -> None:
    """Revoke a compromised issuer key (publish a new trust list afterwards)."""
    from accord.healthcode import service

    with _errors(), clikit.session_scope() as s:
        service.revoke(s, kid, reason, clikit.actor_from(s, None))
        clikit.console.print(f"revoked {kid}; run 'accord healthcode trustlist publish' to tell verifiers")


@keys_app.command("list")
def list_keys() -> None:
    """Keys with their status (never their private halves)."""
    from accord.healthcode import service

    with _errors(), clikit.session_scope() as s:
        from rich.table import Table

        table = Table("kid", "role", "jurisdiction", "status", "created")
        for r in service.list_keys(s):
            table.add_row(r.kid, r.role, r.jurisdiction, r.status, r.created_at.isoformat(timespec="seconds"))
        clikit.console.print(table)


@trust_app.command("publish")
def publish_trust() -> None:
    """Sign a new trust list with the root key."""
    from accord.healthcode import service

    with _errors(), clikit.session_scope() as s:
        row = service.publish_trust_list(s, clikit.actor_from(s, None))
        clikit.console.print(f"trust list version {row.version} published")


@trust_app.command("export")
def export_trust(out: Annotated[Path, typer.Argument(help="file to write the signed trust list to")]) -> None:
    """Write the newest signed trust list (for offline verifiers)."""
    from accord.healthcode import service

    with _errors(), clikit.session_scope() as s:
        row = service.current_trust_list(s)
        out.write_text(row.document, encoding="utf-8")
        clikit.console.print(f"trust list version {row.version} written to {out}")


@rules_app.command("show")
def show_rules() -> None:
    """The rule set in force, as published JSON."""
    from accord.healthcode import service

    with _errors(), clikit.session_scope() as s:
        clikit.console.print_json(service.current_rules(s).to_json())


@rules_app.command("publish")
def publish_rules(path: Annotated[Path, typer.Argument(help="rule set JSON (version, validity_hours, rules)")]) -> None:
    """Publish a new rule set version."""
    from accord.healthcode import service

    try:
        body = json.loads(clikit.read_file(path, 5 * 1024 * 1024))
    except json.JSONDecodeError as exc:
        clikit.fail(f"{path}, line {exc.lineno}: not JSON ({exc.msg})")
        raise
    with _errors(), clikit.session_scope() as s:
        rs = service.publish_rules(s, body, clikit.actor_from(s, None))
        clikit.console.print(f"rule set {rs.version} published ({len(rs.rules)} rules)")


@rules_app.command("evaluate")
def evaluate_rules(
    rules: Annotated[Path, typer.Option("--rules", help="rule set JSON in the EU DCC Gateway format (CertLogic)")],
    payload: Annotated[
        Path, typer.Option("--payload", help="the certificate: its DCC payload as JSON, or an HC1: code (not verified)")
    ],
    at: Annotated[str | None, typer.Option("--at", help="validation clock, ISO 8601 (default: now)")] = None,
    value_sets: Annotated[
        Path | None, typer.Option("--value-sets", help="value sets JSON: {id: [codes]} or the EU's value-set files")
    ] = None,
    country: Annotated[str | None, typer.Option(help="the country of arrival (external.countryCode)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print every rule's result as JSON")] = False,
) -> None:
    """Evaluate a published EU business-rule set (CertLogic) on a certificate at a validation time.

    Exit 0 when every applicable rule passes; 2 when one fails or cannot be evaluated (named on stderr)."""
    from accord.healthcode import eu_rules

    when = _at(at)
    try:
        rule_set = eu_rules.parse_rules(_json_file(rules), str(rules))
        dcc, exp, iat = _certificate(payload)
        sets = eu_rules.parse_value_sets(_json_file(value_sets), str(value_sets)) if value_sets else None
    except eu_rules.RuleSetError as exc:
        clikit.fail(str(exc))
        raise
    result = eu_rules.evaluate(rule_set, dcc, when, value_sets=sets, country=country, exp=exp, iat=iat)
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict(), default=str, ensure_ascii=False) + "\n")
    else:
        for r in result.results:
            mark = {"passed": "[green]passed[/]", "failed": "[bold red]failed[/]", "open": "[bold yellow]open[/]"}
            clikit.console.print(
                f"{mark[r.outcome]}  {r.rule.identifier} {r.rule.version}  {r.rule.description}", highlight=False
            )
    if not result.results:
        clikit.err.print(f"no rule of {rules} applies to a {result.certificate_type} certificate at {at or 'now'}")
    for r in result.failing:
        why = r.detail or f"the rule gives {json.dumps(r.value, default=str)}"
        clikit.err.print(f"{r.outcome}: {r.rule.identifier} ({r.rule.description or 'no description'}): {why}")
    raise typer.Exit(0 if result.passed else 2)


def _json_file(path: Path) -> Any:
    try:
        return json.loads(clikit.read_file(path, 20 * 1024 * 1024))
    except json.JSONDecodeError as exc:
        clikit.fail(f"{path}, line {exc.lineno}: not JSON ({exc.msg})")
        raise
    except UnicodeDecodeError:
        clikit.fail(f"{path}: not UTF-8 text")
        raise


def _certificate(path: Path) -> tuple[Any, datetime | None, datetime | None]:
    """The DCC of a payload file (JSON, or an HC1: code whose CWT's exp and iat come with it)."""
    from accord.healthcode import codec, eu_rules

    text = clikit.read_file(path, 1024 * 1024).decode("utf-8-sig", errors="replace").strip()
    if not text.startswith(codec.EU_PREFIX):
        return _json_file(path), None, None
    try:
        claims = codec.decode(text).claims
    except codec.CodecFailure as exc:
        raise eu_rules.RuleSetError(f"{path}: not a readable HC1 code ({exc.reason.value}: {exc.detail})") from None
    hcert = claims.get(codec.CLAIM_HCERT)
    dcc = hcert.get(1) if isinstance(hcert, dict) else None
    if not isinstance(dcc, dict):
        raise eu_rules.RuleSetError(f"{path}: the HC1 code holds no DCC (claim -260, key 1)")

    def when(key: int) -> datetime | None:
        value = claims.get(key)
        return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else None

    from accord.healthcode import dcc_vectors

    return dcc_vectors.as_json(dcc), when(codec.CLAIM_EXP), when(codec.CLAIM_IAT)


status_app = typer.Typer(help="Person statuses: refresh from tracing, inspect, override.", no_args_is_help=True)
app.add_typer(status_app, name="status")


@status_app.command("refresh")
def refresh(full: Annotated[bool, typer.Option(help="re-evaluate everybody, not only who changed")] = False) -> None:
    """Re-evaluate statuses from tracing's cases and contacts and policy's risk areas (incremental)."""
    from accord.healthcode import service

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
    from accord.healthcode import service

    with _errors(), clikit.session_scope() as s:
        row = service.override(s, person, colour, reason, hours, clikit.actor_from(s, user))
        clikit.console.print(f"{person}: {colour} until {row.override_until}")
