"""Use cases of the rumor registry. Each runs in the caller's transaction.

Claims are entered by reviewers (coordinators and admins) of the issuing jurisdiction's subtree, reviewed by
a second reviewer, then published; every step is a revision in the claim's history. The matcher finds known
claims for a message, refuses restatements of existing claims at entry (409 unless forced) and suggests
answers to the public's questions. Claims go in and out as schema.org ``ClaimReview`` JSON-LD.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accord.auth import service as auth
from accord.auth.roles import APPROVERS, Actor
from accord.db import utcnow
from accord.errors import AccordError, Conflict, Forbidden, NotFound, Problem
from accord.places import service as places
from accord.places.model import Jurisdiction, JurisdictionClosure
from accord.rumors import matcher
from accord.rumors.model import STATUSES, VERDICTS, Claim, ClaimRevision, Question

MAX_EXPLANATION_CHARS = 20_000
MAX_SOURCES = 50
MAX_BATCH = 1_000
MAX_K = 50
#: a search hit must reach this share of the best hit's score (and MIN_SEARCH_SCORE) to be listed
SEARCH_RELATIVE = 0.3
MIN_SEARCH_SCORE = 0.05
#: suggestions for a question below this score are not worth a reviewer's look
MIN_SUGGESTION_SCORE = 0.15
_LANG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}$")
_URL = re.compile(r"^https?://[^\s<>\"]+$", re.IGNORECASE)


# ------------------------------------------------------------------------------------------------ input
@dataclass
class ClaimInput:
    text: str
    verdict: str
    explanation: str
    jurisdiction: str
    language: str | None = None
    first_seen: date | None = None
    seen_where: str | None = None
    sources: list[dict[str, str]] = field(default_factory=list)


def _problems(data: ClaimInput, prefix: str = "") -> list[Problem]:
    out: list[Problem] = []
    try:
        data.text = matcher.clean_message(data.text, what="claim")
    except AccordError as exc:
        if exc.status == 413:
            raise
        out.extend(Problem(p.message, field=prefix + "text", code=p.code) for p in exc.problems)
    if data.verdict not in VERDICTS:
        out.append(Problem(f"'{data.verdict}' is not a verdict; choose one of {', '.join(VERDICTS)}", field="verdict"))
    data.explanation = (data.explanation or "").strip()
    if not data.explanation:
        out.append(Problem("say briefly why the verdict is what it is", field=prefix + "explanation", code="empty"))
    elif len(data.explanation) > MAX_EXPLANATION_CHARS:
        out.append(
            Problem(f"longer than {MAX_EXPLANATION_CHARS:,} characters", field=prefix + "explanation", code="too-long")
        )
    if data.language is not None:
        data.language = data.language.strip() or None
    if data.language is not None and not _LANG.match(data.language):
        out.append(Problem(f"'{data.language}' is not a language tag such as en or zh", field=prefix + "language"))
    if data.seen_where is not None:
        data.seen_where = data.seen_where.strip()[:500] or None
    if len(data.sources) > MAX_SOURCES:
        out.append(Problem(f"at most {MAX_SOURCES} sources", field=prefix + "sources"))
    clean: list[dict[str, str]] = []
    for i, s in enumerate(data.sources[:MAX_SOURCES]):
        title = str(s.get("title") or "").strip()[:500]
        url = str(s.get("url") or "").strip()
        if not url and not title:
            continue
        if url and not _URL.match(url):
            out.append(Problem(f"'{url[:80]}' is not an http(s) link", field=f"{prefix}sources[{i}].url"))
            continue
        clean.append({"title": title or url, "url": url})
    data.sources = clean
    return out


def _require_reviewer(session: Session, actor: Actor, jurisdiction_id: int, code: str, what: str) -> None:
    if not actor.can(APPROVERS):
        raise Forbidden(f"{actor.username} may not {what}: only coordinators and admins review rumors")
    auth.require_scope(session, actor, jurisdiction_id, code, what)


# ------------------------------------------------------------------------------------------ match index
@dataclass
class _Cached:
    fingerprint: tuple[Any, ...]
    ids: list[int]
    index: matcher.Index


_CACHE: dict[tuple[str, bool], _Cached] = {}
_LOCK = threading.Lock()


def _index(session: Session, published_only: bool) -> _Cached:
    """The matcher's index of the registry, rebuilt only when the claims changed (count, last edit, last id)."""
    where = [Claim.status == "published"] if published_only else []
    fp = tuple(
        session.execute(select(func.count(), func.max(Claim.updated_at), func.max(Claim.id)).where(*where)).one()
    )
    key = (str(session.get_bind().engine.url), published_only)
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None and cached.fingerprint == fp:
            return cached
    rows = session.execute(select(Claim.id, Claim.text).where(*where).order_by(Claim.id)).all()
    built = _Cached(fp, [r[0] for r in rows], matcher.build_index([r[1] for r in rows]))
    with _LOCK:
        _CACHE[key] = built
    return built


def _duplicates(session: Session, text: str, exclude: int | None = None) -> list[tuple[Claim, float]]:
    cached = _index(session, published_only=False)
    hits = matcher.duplicates(cached.index, text)
    out = []
    for pos, score in hits:
        cid = cached.ids[pos]
        if cid != exclude:
            claim = session.get(Claim, cid)
            if claim is not None:
                out.append((claim, score))
    return out


def _refuse_duplicate(session: Session, text: str, exclude: int | None = None, field_: str = "text") -> None:
    dups = _duplicates(session, text, exclude)
    if dups:
        claim, score = dups[0]
        raise Conflict(
            f"this claim restates claim {claim.id} (similarity {score:.2f}); add it anyway with force",
            [
                Problem(
                    f"claim {claim.id} ({claim.status}, {claim.verdict}): {claim.text[:200]}",
                    field=field_,
                    code="duplicate",
                )
                for claim, score in dups
            ],
        )


# ------------------------------------------------------------------------------------------- snapshots
def _snapshot(session: Session, c: Claim) -> dict[str, Any]:
    j = session.get(Jurisdiction, c.jurisdiction_id)
    return {
        "text": c.text,
        "language": c.language,
        "first_seen": c.first_seen.isoformat() if c.first_seen else None,
        "seen_where": c.seen_where,
        "verdict": c.verdict,
        "explanation": c.explanation,
        "sources": list(c.sources),
        "jurisdiction": j.code if j else None,
        "status": c.status,
    }


def _revise(session: Session, c: Claim, actor: Actor, action: str, reason: str | None, now: datetime) -> None:
    session.add(
        ClaimRevision(
            claim_id=c.id,
            version=c.version,
            action=action,
            at=now,
            user_id=actor.user_id,
            username=actor.username,
            reason=reason,
            snapshot=_snapshot(session, c),
        )
    )
    auth.audit(session, actor.user_id, f"rumor.{action}", f"claim:{c.id}", {"version": c.version})


def claim_dict(session: Session, c: Claim, score: float | None = None) -> dict[str, Any]:
    j = session.get(Jurisdiction, c.jurisdiction_id)
    out: dict[str, Any] = {
        "id": c.id,
        "text": c.text,
        "language": c.language,
        "verdict": c.verdict,
        "explanation": c.explanation,
        "sources": list(c.sources),
        "first_seen": c.first_seen.isoformat() if c.first_seen else None,
        "seen_where": c.seen_where,
        "jurisdiction": {"code": j.code, "name": j.name, "local_name": j.local_name} if j else None,
        "status": c.status,
        "version": c.version,
        "created_at": c.created_at.isoformat(),
        "updated_at": c.updated_at.isoformat(),
        "published_at": c.published_at.isoformat() if c.published_at else None,
        "url": f"/public/rumors/{c.id}",
    }
    if score is not None:
        out["score"] = round(score, 4)
    return out


# ------------------------------------------------------------------------------------------- registry
def add_claim(
    session: Session,
    actor: Actor,
    data: ClaimInput,
    *,
    force: bool = False,
    action: str = "created",
    now: datetime | None = None,
) -> Claim:
    """Enter a claim as a draft. A restatement of a known claim is refused (409) unless ``force``."""
    now = now or utcnow()
    problems = _problems(data)
    if problems:
        raise AccordError("the claim was not added", problems)
    j = places.get(session, data.jurisdiction)
    _require_reviewer(session, actor, j.id, j.code, "enter rumor refutations")
    if not force:
        _refuse_duplicate(session, data.text)
    c = Claim(
        text=data.text,
        language=data.language,
        first_seen=data.first_seen,
        seen_where=data.seen_where,
        verdict=data.verdict,
        explanation=data.explanation,
        sources=data.sources,
        jurisdiction_id=j.id,
        status="draft",
        version=1,
        created_by=actor.user_id,
        updated_by=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(c)
    session.flush()
    _revise(session, c, actor, action, None, now)
    return c


EDITABLE = ("text", "verdict", "explanation", "language", "first_seen", "seen_where", "sources", "jurisdiction")


def edit_claim(
    session: Session,
    actor: Actor,
    claim_id: int,
    changes: dict[str, Any],
    *,
    reason: str | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> Claim:
    """Change a claim. A draft or reviewed claim goes back to draft; a published one stays published, and the
    correction needs a reason. Every edit is a revision."""
    now = now or utcnow()
    c = _get(session, claim_id)
    old_j = session.get(Jurisdiction, c.jurisdiction_id)
    assert old_j is not None
    _require_reviewer(session, actor, old_j.id, old_j.code, "edit this claim")
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise AccordError("the claim was not changed", [Problem("cannot be changed", field=f) for f in sorted(unknown)])
    data = ClaimInput(
        text=changes.get("text", c.text),
        verdict=changes.get("verdict", c.verdict),
        explanation=changes.get("explanation", c.explanation),
        jurisdiction=changes.get("jurisdiction", old_j.code),
        language=changes.get("language", c.language),
        first_seen=changes.get("first_seen", c.first_seen),
        seen_where=changes.get("seen_where", c.seen_where),
        sources=changes.get("sources", c.sources),
    )
    problems = _problems(data)
    if c.status == "published" and not (reason and reason.strip()):
        problems.append(Problem("a correction of a published claim needs a reason", field="reason", code="empty"))
    if problems:
        raise AccordError("the claim was not changed", problems)
    j = places.get(session, data.jurisdiction)
    if j.id != old_j.id:
        _require_reviewer(session, actor, j.id, j.code, "move this claim")
    if data.text != c.text and not force:
        _refuse_duplicate(session, data.text, exclude=c.id)
    before = _snapshot(session, c)
    c.text, c.verdict, c.explanation, c.language = data.text, data.verdict, data.explanation, data.language
    c.first_seen, c.seen_where, c.sources, c.jurisdiction_id = data.first_seen, data.seen_where, data.sources, j.id
    if _snapshot(session, c) == before:
        return c  # nothing changed: no revision
    if c.status == "reviewed":
        c.status, c.reviewed_by = "draft", None
    c.version += 1
    c.updated_at, c.updated_by = now, actor.user_id
    _revise(session, c, actor, "edited", reason, now)
    return c


def review_claim(session: Session, actor: Actor, claim_id: int, *, now: datetime | None = None) -> Claim:
    """draft -> reviewed, by a reviewer other than the last editor (the terminal operator may do both)."""
    now = now or utcnow()
    c = _get(session, claim_id)
    j = session.get(Jurisdiction, c.jurisdiction_id)
    assert j is not None
    _require_reviewer(session, actor, j.id, j.code, "review this claim")
    if c.status != "draft":
        raise Conflict(f"claim {c.id} is {c.status}, not a draft")
    if actor.user_id is not None and actor.user_id == c.updated_by:
        raise Forbidden(f"{actor.username} edited claim {c.id} last: another reviewer must review it")
    c.status, c.reviewed_by, c.updated_at = "reviewed", actor.user_id, now
    _revise(session, c, actor, "reviewed", None, now)
    return c


def publish_claim(session: Session, actor: Actor, claim_id: int, *, now: datetime | None = None) -> Claim:
    """reviewed -> published: on the public pages, in the feed and in the matcher's public index."""
    now = now or utcnow()
    c = _get(session, claim_id)
    j = session.get(Jurisdiction, c.jurisdiction_id)
    assert j is not None
    _require_reviewer(session, actor, j.id, j.code, "publish this claim")
    if c.status == "published":
        raise Conflict(f"claim {c.id} is already published")
    if c.status != "reviewed":
        raise Conflict(f"claim {c.id} is a draft: it must be reviewed before it is published")
    c.status, c.published_at, c.updated_at = "published", now, now
    _revise(session, c, actor, "published", None, now)
    return c


def _get(session: Session, claim_id: int) -> Claim:
    c = session.get(Claim, claim_id)
    if c is None:
        raise NotFound(f"no claim {claim_id}")
    return c


def get_claim(session: Session, actor: Actor, claim_id: int) -> Claim:
    """A published claim for anyone; an unpublished one only for reviewers of its jurisdiction (else 404)."""
    c = session.get(Claim, claim_id)
    if c is None or (c.status != "published" and not _may_see(session, actor, c)):
        raise NotFound(f"no published claim {claim_id}")
    return c


def _may_see(session: Session, actor: Actor, c: Claim) -> bool:
    if not actor.can(APPROVERS):
        return False
    return actor.unrestricted or (
        actor.scope_id is not None and places.is_within(session, actor.scope_id, c.jurisdiction_id)
    )


def history(session: Session, actor: Actor, claim_id: int) -> list[dict[str, Any]]:
    c = get_claim(session, actor, claim_id)
    reviewer = _may_see(session, actor, c)
    revs = session.scalars(select(ClaimRevision).where(ClaimRevision.claim_id == c.id).order_by(ClaimRevision.id))
    return [
        {
            "version": r.version,
            "action": r.action,
            "at": r.at.isoformat(),
            "reason": r.reason,
            **({"user": r.username} if reviewer else {}),
            "snapshot": r.snapshot,
        }
        for r in revs
    ]


def list_claims(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    verdict: str | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[tuple[Claim, float | None]], int]:
    """Published claims (anyone) or, for reviewers, any status within their scope; ``q`` ranks by the matcher."""
    if status not in (None, *STATUSES):
        raise AccordError("unknown status", [Problem(f"choose one of {', '.join(STATUSES)}", field="status")], 400)
    if verdict not in (None, *VERDICTS):
        raise AccordError("unknown verdict", [Problem(f"choose one of {', '.join(VERDICTS)}", field="verdict")], 400)
    status = status or "published"
    if status != "published" and not actor.can(APPROVERS):
        raise Forbidden("only reviewers see unpublished claims")
    stmt = select(Claim).where(Claim.status == status)
    if verdict:
        stmt = stmt.where(Claim.verdict == verdict)
    if status != "published" and not actor.unrestricted:
        stmt = stmt.join(JurisdictionClosure, JurisdictionClosure.descendant_id == Claim.jurisdiction_id).where(
            JurisdictionClosure.ancestor_id == actor.scope_id
        )
    if q is not None and q.strip():
        text = matcher.clean_message(q, what="q")
        cached = _index(session, published_only=status == "published")
        hits = matcher.match(cached.index, text, k=max(limit + offset, 200))
        best = hits[0][1] if hits else 0.0
        scores = {cached.ids[p]: s for p, s in hits if s >= max(MIN_SEARCH_SCORE, SEARCH_RELATIVE * best)}
        claims = {c.id: c for c in session.scalars(stmt.where(Claim.id.in_(list(scores))))}
        ranked = [(claims[i], s) for i, s in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])) if i in claims]
        return [(c, s) for c, s in ranked[offset : offset + limit]], len(ranked)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Claim.published_at.desc(), Claim.updated_at.desc(), Claim.id.desc()).limit(limit).offset(offset)
    )
    return [(c, None) for c in rows], total


# --------------------------------------------------------------------------------------------- matching
def clean_messages(messages: list[str]) -> list[str]:
    if not messages:
        raise AccordError("nothing to match", [Problem("give at least one message", field="messages", code="empty")])
    if len(messages) > MAX_BATCH:
        raise AccordError(
            "too many messages",
            [Problem(f"{len(messages):,} messages is over the limit of {MAX_BATCH:,} a request", field="messages")],
            status=413,
            kind="too-large",
        )
    out: list[str] = []
    problems: list[Problem] = []
    for i, m in enumerate(messages):
        try:
            out.append(matcher.clean_message(m))
        except AccordError as exc:
            if exc.status == 413:
                raise AccordError(f"message {i + 1} is too long", exc.problems, 413, "too-large") from None
            problems.extend(Problem(p.message, field=f"messages[{i}]", code=p.code) for p in exc.problems)
    if problems:
        raise AccordError("some messages cannot be matched", problems[:20], total=len(problems))
    return out


def match(
    session: Session, messages: list[str], k: int = 5, *, published_only: bool = True
) -> list[list[tuple[Claim, float]]]:
    """The nearest known claims of every message (one batch), best first."""
    texts = clean_messages(messages)
    k = max(1, min(k, MAX_K))
    cached = _index(session, published_only)
    results = matcher.match_batch(cached.index, texts, k)
    ids = {cached.ids[p] for r in results for p, _ in r}
    claims = {c.id: c for c in session.scalars(select(Claim).where(Claim.id.in_(list(ids))))} if ids else {}
    return [[(claims[cached.ids[p]], s) for p, s in r if cached.ids[p] in claims] for r in results]


# -------------------------------------------------------------------------------------------- questions
def ask(session: Session, text: str, language: str | None = None, *, now: datetime | None = None) -> Question:
    """A public "is this true?" question: stored with the matcher's suggestions for the reviewers' queue."""
    text = matcher.clean_message(text, what="question")
    if language is not None and not _LANG.match(language.strip()):
        language = None
    hits = match(session, [text], k=5)[0]
    q = Question(
        text=text,
        language=language,
        asked_at=now or utcnow(),
        suggestions=[{"claim_id": c.id, "score": round(s, 4)} for c, s in hits if s >= MIN_SUGGESTION_SCORE],
        status="open",
    )
    session.add(q)
    session.flush()
    return q


def question_dict(session: Session, q: Question, *, with_claims: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": q.id,
        "text": q.text,
        "language": q.language,
        "asked_at": q.asked_at.isoformat(),
        "status": q.status,
        "claim_id": q.claim_id,
        "suggestions": [],
    }
    for s in q.suggestions:
        c = session.get(Claim, int(s["claim_id"]))
        if c is None:
            continue
        item: dict[str, Any] = {"claim_id": c.id, "score": s["score"]}
        if with_claims:
            item |= {"text": c.text, "verdict": c.verdict, "status": c.status, "url": f"/public/rumors/{c.id}"}
        out["suggestions"].append(item)
    return out


def questions(
    session: Session, actor: Actor, status: str = "open", limit: int = 50, offset: int = 0
) -> tuple[list[Question], int]:
    # questions carry no place: they are put to the instance as a whole, so its national reviewers answer them
    auth.require_national(session, actor, APPROVERS, "see the questions queue (reviewers: coordinators, admins)")
    stmt = select(Question).where(Question.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Question.asked_at, Question.id).limit(limit).offset(offset))
    return list(rows), total


def handle_question(
    session: Session, actor: Actor, question_id: int, *, claim_id: int | None, now: datetime | None = None
) -> Question:
    """Answer a question with a claim (``claim_id``) or dismiss it (``None``)."""
    auth.require_national(session, actor, APPROVERS, "handle questions (reviewers: coordinators, admins)")
    q = session.get(Question, question_id)
    if q is None:
        raise NotFound(f"no question {question_id}")
    if claim_id is not None:
        _get(session, claim_id)
    q.status = "answered" if claim_id is not None else "dismissed"
    q.claim_id, q.handled_by, q.handled_at = claim_id, actor.user_id, now or utcnow()
    auth.audit(session, actor.user_id, f"rumor.question.{q.status}", f"question:{q.id}", {"claim": claim_id})
    return q


# ------------------------------------------------------------------------------------ ClaimReview JSON-LD
RATING = {"false": 1, "misleading": 2, "unproven": 3, "true": 5}
RATING_NAME = {"false": "False", "misleading": "Misleading", "unproven": "Unproven", "true": "True"}


def claim_review(session: Session, c: Claim, base_url: str = "") -> dict[str, Any]:
    """A claim as schema.org ClaimReview (the form fact-checkers exchange)."""
    j = session.get(Jurisdiction, c.jurisdiction_id)
    item: dict[str, Any] = {"@type": "Claim"}
    if c.first_seen:
        item["datePublished"] = c.first_seen.isoformat()
    if c.seen_where:
        key = "url" if _URL.match(c.seen_where) else "name"
        item["firstAppearance"] = {"@type": "CreativeWork", key: c.seen_where}
    out: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "identifier": f"accord-rumor-{c.id}",
        "url": f"{base_url}/public/rumors/{c.id}",
        "claimReviewed": c.text,
        "reviewRating": {
            "@type": "Rating",
            "ratingValue": RATING[c.verdict],
            "worstRating": 1,
            "bestRating": 5,
            "alternateName": RATING_NAME[c.verdict],
        },
        "reviewBody": c.explanation,
        "itemReviewed": item,
        "author": {"@type": "GovernmentOrganization", "name": j.name if j else "", "identifier": j.code if j else ""},
        "citation": [{"@type": "CreativeWork", "name": s["title"], "url": s["url"]} for s in c.sources],
        "dateModified": c.updated_at.isoformat(),
    }
    if c.published_at:
        out["datePublished"] = c.published_at.date().isoformat()
    if c.language:
        out["inLanguage"] = c.language
    return out


def export_claim_reviews(session: Session, base_url: str = "", status: str = "published") -> list[dict[str, Any]]:
    rows = session.scalars(select(Claim).where(Claim.status == status).order_by(Claim.id))
    return [claim_review(session, c, base_url) for c in rows]


_VERDICT_WORDS = (
    ("misleading", ("mislead", "partly", "partially", "half", "mixture", "mixed", "missing context", "误导", "部分")),
    ("false", ("false", "fake", "not true", "untrue", "incorrect", "wrong", "hoax", "pants", "谣言", "错误", "不实")),
    ("unproven", ("unproven", "unverified", "no evidence", "unsupported", "unsubstantiated", "未经证实", "无证据")),
    ("true", ("true", "correct", "accurate", "属实", "真实", "正确")),
)


def verdict_of(rating: Any) -> str | None:
    """Our verdict for a ClaimReview's reviewRating: its name first, else its value on its scale."""
    if not isinstance(rating, dict):
        return None
    name = str(rating.get("alternateName") or rating.get("name") or "").casefold()
    if name:
        for verdict, words in _VERDICT_WORDS:
            if any(w in name for w in words):
                return verdict
    try:
        value = float(rating["ratingValue"])
        worst = float(rating.get("worstRating", 1))
        best = float(rating.get("bestRating", 5))
        share = (value - worst) / (best - worst)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    return "false" if share <= 0.25 else "misleading" if share <= 0.5 else "unproven" if share < 0.75 else "true"


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _reviews_in(doc: Any) -> list[Any]:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict) and isinstance(doc.get("@graph"), list):
        return list(doc["@graph"])
    return [doc]


@dataclass
class ImportResult:
    added: list[int] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "skipped": self.skipped,
            "n_added": len(self.added),
            "n_skipped": len(self.skipped),
        }


def parse_claim_reviews(data: bytes | str, default_jurisdiction: str | None) -> list[ClaimInput]:
    """ClaimReview JSON-LD (one object, a list, or an ``@graph``) as claim inputs; every problem at once."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AccordError("the file is not JSON-LD", [Problem(f"not valid JSON: {exc}", code="invalid-json")]) from None
    items = _reviews_in(doc)
    out: list[ClaimInput] = []
    problems: list[Problem] = []
    for i, r in enumerate(items):
        where = f"[{i}]"
        if not isinstance(r, dict) or str(r.get("@type", "")).casefold() != "claimreview":
            problems.append(Problem("is not a ClaimReview", field=where))
            continue
        verdict = verdict_of(_first(r.get("reviewRating")))
        if verdict is None:
            problems.append(Problem("reviewRating names no verdict we know", field=where + ".reviewRating"))
            verdict = "unproven"
        item = _first(r.get("itemReviewed")) or {}
        item = item if isinstance(item, dict) else {}
        appearance = _first(item.get("firstAppearance") or item.get("appearance")) or {}
        seen_where = (appearance.get("url") or appearance.get("name")) if isinstance(appearance, dict) else None
        first_seen: date | None = None
        raw_date = item.get("datePublished")
        if raw_date:
            try:
                first_seen = date.fromisoformat(str(raw_date)[:10])
            except ValueError:
                problems.append(Problem(f"'{raw_date}' is not a date", field=where + ".itemReviewed.datePublished"))
        sources: list[dict[str, str]] = []
        for cit in r.get("citation") or []:
            if isinstance(cit, dict):
                sources.append(
                    {"title": str(cit.get("name") or cit.get("headline") or ""), "url": str(cit.get("url") or "")}
                )
            elif isinstance(cit, str):
                sources.append({"title": cit, "url": cit if _URL.match(cit) else ""})
        url = r.get("url")
        if isinstance(url, str) and _URL.match(url) and not any(s["url"] == url for s in sources):
            sources.append({"title": str(r.get("name") or r.get("headline") or "fact check"), "url": url})
        author = _first(r.get("author")) or {}
        code = author.get("identifier") if isinstance(author, dict) else None
        explanation = (
            r.get("reviewBody")
            or r.get("description")
            or (_first(r.get("reviewRating")) or {}).get("ratingExplanation")
        )
        data_in = ClaimInput(
            text=str(r.get("claimReviewed") or ""),
            verdict=verdict,
            explanation=str(explanation or (f"See {url}" if isinstance(url, str) and url else "")),
            jurisdiction=default_jurisdiction or str(code or ""),
            language=str(r["inLanguage"]) if isinstance(r.get("inLanguage"), str) else None,
            first_seen=first_seen,
            seen_where=str(seen_where) if seen_where else None,
            sources=sources,
        )
        try:
            problems.extend(
                Problem(p.message, field=f"{where}.{p.field}" if p.field else where, code=p.code)
                for p in _problems(data_in)
            )
        except AccordError as exc:  # a claim over the length limit
            problems.extend(Problem(p.message, field=f"{where}.claimReviewed", code=p.code) for p in exc.problems)
        if not data_in.jurisdiction:
            problems.append(Problem("no issuing jurisdiction: give one for the import", field=where + ".author"))
        out.append(data_in)
    if problems:
        raise AccordError("nothing was imported", problems[:50], total=len(problems))
    return out


def import_claim_reviews(
    session: Session,
    actor: Actor,
    data: bytes | str,
    *,
    jurisdiction: str | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> ImportResult:
    """Import ClaimReview JSON-LD as drafts, all or nothing; restatements of known claims are skipped."""
    inputs = parse_claim_reviews(data, jurisdiction)
    result = ImportResult()
    for i, data_in in enumerate(inputs):
        try:
            c = add_claim(session, actor, data_in, force=force, action="imported", now=now)
        except Conflict as exc:
            result.skipped.append({"index": i, "reason": exc.title, "existing": exc.problems[0].message})
            continue
        result.added.append(c.id)
    return result
