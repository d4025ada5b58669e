"""``accord rumors``: the rumor registry from a terminal (add, match, import, export, review, publish)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from accord import clikit
from accord.errors import AccordError
from accord.rumors import service

app = typer.Typer(help="Rumor refutations: registry, matching, ClaimReview import and export.", no_args_is_help=True)

UserOpt = Annotated[str | None, typer.Option("--user", help="act as this user (role and scope apply)")]


@contextmanager
def _errors() -> Iterator[None]:
    """One sentence and the documented exit code, whether or not the root CLI wraps us."""
    try:
        yield
    except AccordError as exc:
        raise typer.Exit(clikit.handle(exc)) from None


def _source(value: str) -> dict[str, str]:
    title, sep, url = value.rpartition("|")
    return {"title": title.strip(), "url": url.strip()} if sep else {"title": value, "url": value}


@app.command()
def add(
    text: Annotated[str, typer.Argument(help="the claim as it circulates")],
    verdict: Annotated[str, typer.Option(help="false, misleading, unproven or true")],
    explanation: Annotated[str, typer.Option(help="why, in a few sentences")],
    jurisdiction: Annotated[str, typer.Option(help="code of the issuing jurisdiction")],
    source: Annotated[list[str] | None, typer.Option(help="'Title|https://...' (repeat for more)")] = None,
    language: Annotated[str | None, typer.Option(help="language tag, e.g. en or zh")] = None,
    first_seen: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    where: Annotated[str | None, typer.Option(help="where it was seen (platform, link)")] = None,
    force: Annotated[bool, typer.Option(help="add it even if it restates a known claim")] = False,
    user: UserOpt = None,
) -> None:
    """Enter a claim as a draft (refused when it restates a known claim, unless --force)."""
    seen = clikit.parse_day(first_seen) if first_seen else None
    with _errors(), clikit.session_scope() as session:
        actor = clikit.actor_from(session, user)
        data = service.ClaimInput(
            text=text,
            verdict=verdict,
            explanation=explanation,
            jurisdiction=jurisdiction,
            language=language,
            first_seen=seen,
            seen_where=where,
            sources=[_source(s) for s in source or []],
        )
        c = service.add_claim(session, actor, data, force=force)
        cid = c.id
    clikit.console.print(f"claim {cid} added as a draft", highlight=False)


def _transition(fn: Callable[..., object], claim_ids: list[int], user: str | None, done: str) -> None:
    with _errors(), clikit.session_scope() as session:
        actor = clikit.actor_from(session, user)
        for cid in claim_ids:
            fn(session, actor, cid)
    clikit.console.print(f"{done}: {', '.join(str(c) for c in claim_ids)}", highlight=False)


@app.command()
def review(claim_ids: Annotated[list[int], typer.Argument(help="claim ids")], user: UserOpt = None) -> None:
    """Mark drafts as reviewed (by another reviewer than the last editor)."""
    _transition(service.review_claim, claim_ids, user, "reviewed")


@app.command()
def publish(
    claim_ids: Annotated[list[int], typer.Argument(help="claim ids")],
    review_first: Annotated[bool, typer.Option("--review", help="review drafts first (same operator)")] = False,
    user: UserOpt = None,
) -> None:
    """Publish reviewed claims: on the public pages, in the feed and in public matching."""
    with _errors(), clikit.session_scope() as session:
        actor = clikit.actor_from(session, user)
        for cid in claim_ids:
            if review_first and service.get_claim(session, actor, cid).status == "draft":
                service.review_claim(session, actor, cid)
            service.publish_claim(session, actor, cid)
    clikit.console.print(f"published: {', '.join(str(c) for c in claim_ids)}", highlight=False)


@app.command()
def match(
    message: Annotated[str | None, typer.Argument(help="the message (or use --file)")] = None,
    file: Annotated[Path | None, typer.Option(help="one message per line; '-' reads standard input")] = None,
    k: Annotated[int, typer.Option("-k", help="how many claims per message")] = 5,
    all_claims: Annotated[bool, typer.Option("--all", help="match drafts too, not only published claims")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table")] = False,
) -> None:
    """Find the known claims nearest to a message, or to every line of a file (one batch)."""
    if (message is None) == (file is None):
        clikit.fail("give a message or --file, not both", 2)
    if file is not None:
        raw = (
            sys.stdin.buffer.read() if str(file) == "-" else clikit.read_file(file, clikit.settings().max_upload_bytes)
        )
        try:
            messages = [line for line in raw.decode("utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError:
            clikit.fail(f"{file}: not UTF-8 text")
            raise
    else:
        messages = [message or ""]
    with _errors(), clikit.session_scope() as session:
        results = service.match(session, messages, k, published_only=not all_claims)
        rows = [[(c.id, c.verdict, c.text, s) for c, s in hits] for hits in results]
    if as_json:
        for m, hits in zip(messages, rows, strict=True):
            out = [{"claim_id": i, "verdict": v, "text": t, "score": round(s, 4)} for i, v, t, s in hits]
            print(json.dumps({"message": m, "matches": out}, ensure_ascii=False))
        return
    for m, hits in zip(messages, rows, strict=True):
        table = Table("claim", "score", "verdict", "text", title=m[:80])
        for i, v, t, s in hits:
            table.add_row(str(i), f"{s:.3f}", v, t[:100])
        clikit.console.print(table)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="ClaimReview JSON-LD (an object, a list or an @graph)")],
    jurisdiction: Annotated[str | None, typer.Option(help="issuing jurisdiction (default: each author's id)")] = None,
    force: Annotated[bool, typer.Option(help="import restatements of known claims too")] = False,
    user: UserOpt = None,
) -> None:
    """Import ClaimReview JSON-LD as drafts, all or nothing; restatements of known claims are skipped."""
    data = clikit.read_file(file, clikit.settings().max_upload_bytes)
    with _errors(), clikit.session_scope() as session:
        actor = clikit.actor_from(session, user)
        result = service.import_claim_reviews(session, actor, data, jurisdiction=jurisdiction, force=force)
    clikit.console.print(
        f"{len(result.added)} claim(s) imported as drafts, {len(result.skipped)} skipped as known", highlight=False
    )
    for s in result.skipped[:10]:
        clikit.console.print(f"  - item {s['index']}: {s['existing']}", highlight=False)


@app.command()
def export(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="file to write (default: standard output)")] = None,
    base_url: Annotated[str, typer.Option(help="public address of this instance, for the claims' links")] = "",
) -> None:
    """Export published claims as schema.org ClaimReview JSON-LD."""
    with _errors(), clikit.session_scope() as session:
        reviews = service.export_claim_reviews(session, base_url.rstrip("/"))
    for r in reviews:
        r.pop("@context", None)
    text = json.dumps({"@context": "https://schema.org", "@graph": reviews}, ensure_ascii=False, indent=1)
    if out is None:
        print(text)
    else:
        out.write_text(text, encoding="utf-8")
        clikit.err.print(f"{len(reviews)} claim review(s) written to {out}", highlight=False)


@app.command()
def questions(user: UserOpt = None, status: str = "open") -> None:
    """The reviewers' queue of public questions with the matcher's suggestions."""
    with _errors(), clikit.session_scope() as session:
        actor = clikit.actor_from(session, user)
        rows, total = service.questions(session, actor, status, limit=200)
        table = Table("id", "asked", "question", "suggestions", title=f"{total} {status} question(s)")
        for q in rows:
            d = service.question_dict(session, q, with_claims=False)
            sugg = ", ".join(f"{s['claim_id']} ({s['score']:.2f})" for s in d["suggestions"]) or "–"
            table.add_row(str(q.id), d["asked_at"][:16], q.text[:80], sugg)
    clikit.console.print(table)
