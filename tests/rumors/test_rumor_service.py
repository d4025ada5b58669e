"""The registry's use cases on SQLite and PostgreSQL: entry with duplicate detection, edits with history, the
review workflow and who may do what, matching, questions, and ClaimReview JSON-LD export and import."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from tests.conftest import SMALL_TREE

from accord import migrate
from accord.auth import service as auth
from accord.auth.roles import PUBLIC, SYSTEM, Actor
from accord.db import make_engine, session_factory, transaction
from accord.errors import AccordError, Conflict, Forbidden, NotFound
from accord.rumors import service
from accord.rumors.model import Claim, ClaimRevision, Question


def claim(text: str = "Drinking hot water kills the coronavirus", **kw: object) -> service.ClaimInput:
    values: dict[str, object] = {
        "text": text,
        "verdict": "false",
        "explanation": "Hot water does not reach the virus in the body; it only soothes the throat.",
        "jurisdiction": "AR-01",
        "language": "en",
        "sources": [{"title": "Health commission Q&A", "url": "https://health.example/qa"}],
        **kw,
    }
    return service.ClaimInput(**values)  # type: ignore[arg-type]


def _users(small_tree: sessionmaker[Session]) -> tuple[sessionmaker[Session], dict[str, Actor]]:
    with transaction(small_tree) as s:
        places_users = {
            "coord": ("coordinator", "AR-01"),
            "coord2": ("coordinator", "AR"),
            "south": ("coordinator", "AR-02"),
        }
        for name, (role, scope) in places_users.items():
            auth.add_user(s, name, role, scope)
        auth.add_user(s, "reporter", "reporter", "AR-01-01")
    with transaction(small_tree) as s:
        actors = {n: auth.actor_for(s, n) for n in ("coord", "coord2", "south", "reporter")}
    return small_tree, actors


@pytest.fixture
def store(small_tree: sessionmaker[Session]) -> tuple[sessionmaker[Session], dict[str, Actor]]:
    """On SQLite and PostgreSQL."""
    return _users(small_tree)


@pytest.fixture
def lite(sqlite_engine: Engine) -> tuple[sessionmaker[Session], dict[str, Actor]]:
    """On SQLite only (the rules above the storage)."""
    from accord.places import service as places

    sessions = session_factory(sqlite_engine)
    with transaction(sessions) as s:
        places.import_places(s, SMALL_TREE)
    return _users(sessions)


def test_workflow_history_and_publication(store: tuple[sessionmaker[Session], dict[str, Actor]]) -> None:
    sessions, a = store
    with transaction(sessions) as s:
        cid = service.add_claim(s, a["coord"], claim(first_seen=date(2020, 1, 28), seen_where="chat groups")).id
    with transaction(sessions) as s:
        with pytest.raises(NotFound):
            service.get_claim(s, PUBLIC, cid)  # drafts are not public
        with pytest.raises(Forbidden, match="another reviewer"):
            service.review_claim(s, a["coord"], cid)  # four eyes
    with transaction(sessions) as s:
        service.review_claim(s, a["coord2"], cid)
        # an edit voids the review
        service.edit_claim(s, a["coord"], cid, {"explanation": "It does not kill the virus. Wash hands instead."})
        assert s.get(Claim, cid).status == "draft"  # type: ignore[union-attr]
    with transaction(sessions) as s, pytest.raises(Conflict, match="must be reviewed"):
        service.publish_claim(s, a["coord2"], cid)
    with transaction(sessions) as s:
        service.review_claim(s, a["coord2"], cid)
        service.publish_claim(s, a["coord"], cid)
    with transaction(sessions) as s:
        c = service.get_claim(s, PUBLIC, cid)
        assert c.status == "published" and c.published_at is not None
        with pytest.raises(AccordError, match="needs a reason"):
            service.edit_claim(s, a["coord"], cid, {"verdict": "misleading"})
    with transaction(sessions) as s:
        service.edit_claim(s, a["coord"], cid, {"verdict": "misleading"}, reason="new evidence from the lab")
    with transaction(sessions) as s:
        hist = service.history(s, PUBLIC, cid)
        assert [h["action"] for h in hist] == ["created", "reviewed", "edited", "reviewed", "published", "edited"]
        assert hist[-1]["reason"] == "new evidence from the lab" and hist[-1]["snapshot"]["verdict"] == "misleading"
        assert hist[0]["snapshot"]["seen_where"] == "chat groups" and "user" not in hist[0]
        assert service.get_claim(s, PUBLIC, cid).status == "published"
        assert s.scalar(select(ClaimRevision.version).order_by(ClaimRevision.id.desc())) == 3


def test_who_may_enter_and_review(lite: tuple[sessionmaker[Session], dict[str, Actor]]) -> None:
    sessions, a = lite
    with transaction(sessions) as s:
        with pytest.raises(Forbidden, match="only coordinators and admins"):
            service.add_claim(s, a["reporter"], claim())
        with pytest.raises(Forbidden, match="outside their jurisdiction"):
            service.add_claim(s, a["south"], claim())
        with pytest.raises(Forbidden):
            service.add_claim(s, PUBLIC, claim())
    with transaction(sessions) as s:
        cid = service.add_claim(s, a["coord"], claim()).id
    with transaction(sessions) as s:
        with pytest.raises(Forbidden):
            service.review_claim(s, a["south"], cid)
        with pytest.raises(NotFound):
            service.get_claim(s, a["south"], cid)  # a draft outside one's scope does not exist for them
        assert service.get_claim(s, a["coord2"], cid).id == cid
        rows, total = service.list_claims(s, a["south"], status="draft")
        assert total == 0
        rows, total = service.list_claims(s, a["coord2"], status="draft")
        assert [c.id for c, _ in rows] == [cid]


def test_bad_input_is_refused_with_every_problem(lite: tuple[sessionmaker[Session], dict[str, Actor]]) -> None:
    sessions, a = lite
    with transaction(sessions) as s:
        with pytest.raises(AccordError) as exc:
            service.add_claim(
                s,
                a["coord"],
                claim(
                    text="   ",
                    verdict="fake",
                    explanation="",
                    language="not a tag!",
                    sources=[{"title": "x", "url": "javascript:alert(1)"}],
                ),
            )
        fields = {p.field for p in exc.value.problems}
        assert {"text", "verdict", "explanation", "language", "sources[0].url"} <= fields
        with pytest.raises(AccordError) as exc:
            service.add_claim(s, a["coord"], claim(text="y" * 6000))
        assert exc.value.status == 413
        with pytest.raises(NotFound):
            service.add_claim(s, a["coord"], claim(jurisdiction="NOPE"))


def test_duplicates_are_refused_at_entry_unless_forced(store: tuple[sessionmaker[Session], dict[str, Actor]]) -> None:
    sessions, a = store
    with transaction(sessions) as s:
        first = service.add_claim(s, a["coord"], claim()).id
        service.add_claim(s, a["coord"], claim("喝热水可以杀死新冠病毒", language="zh"))
    with transaction(sessions) as s:
        with pytest.raises(Conflict) as exc:
            service.add_claim(s, a["coord2"], claim("drinking HOT water kills the corona virus!", jurisdiction="AR"))
        assert exc.value.status == 409 and f"claim {first}" in str(exc.value)
        assert exc.value.problems[0].code == "duplicate"
    with transaction(sessions) as s:
        forced = service.add_claim(s, a["coord2"], claim("drinking HOT water kills the corona virus!"), force=True)
        # editing another claim into a restatement is refused too
        other = service.add_claim(s, a["coord"], claim("Garlic prevents the infection")).id
        with pytest.raises(Conflict):
            service.edit_claim(s, a["coord"], other, {"text": "hot water kills the coronavirus when drinking"})
        assert forced.id != first


def test_match_and_questions(store: tuple[sessionmaker[Session], dict[str, Actor]]) -> None:
    sessions, a = store
    with transaction(sessions) as s:
        ids = [
            service.add_claim(s, a["coord"], claim(t)).id
            for t in (
                "Drinking hot water kills the coronavirus",
                "5G networks spread COVID-19",
                "吃大蒜可以预防新冠病毒感染",
            )
        ]
        for cid in ids[:2]:
            service.review_claim(s, SYSTEM, cid)
            service.publish_claim(s, SYSTEM, cid)
    with transaction(sessions) as s:
        res = service.match(s, ["covid is spread by 5G", "多吃大蒜能预防新冠"], k=3)
        assert res[0][0][0].id == ids[1]
        assert all(c.id != ids[2] for c, _ in res[1])  # drafts are not public
        res = service.match(s, ["多吃大蒜能预防新冠"], k=3, published_only=False)
        assert res[0][0][0].id == ids[2]
        with pytest.raises(AccordError) as exc:
            service.match(s, ["fine", "", "\x00\x01binary"])
        assert [p.field for p in exc.value.problems] == ["messages[1]", "messages[2]"]
        q = service.ask(s, "Is it true that hot water kills the virus?", "en")
        assert q.suggestions[0]["claim_id"] == ids[0]
    with transaction(sessions) as s:
        with pytest.raises(Forbidden):
            service.questions(s, PUBLIC)
        with pytest.raises(Forbidden, match="national level"):  # a province's coordinator: not their queue
            service.questions(s, a["coord"])
        rows, total = service.questions(s, a["coord2"])
        assert total == 1 and service.question_dict(s, rows[0])["suggestions"][0]["verdict"] == "false"
        with pytest.raises(Forbidden, match="national level"):
            service.handle_question(s, a["coord"], rows[0].id, claim_id=ids[0])
        service.handle_question(s, a["coord2"], rows[0].id, claim_id=ids[0])
    with transaction(sessions) as s:
        assert s.scalars(select(Question)).one().status == "answered"
        assert service.questions(s, a["coord2"])[1] == 0


def test_search_ranks_published_claims(lite: tuple[sessionmaker[Session], dict[str, Actor]]) -> None:
    sessions, a = lite
    with transaction(sessions) as s:
        for t in (
            "Drinking hot water kills the coronavirus",
            "Eating garlic prevents infection",
            "5G spreads COVID-19",
        ):
            c = service.add_claim(s, a["coord"], claim(t, verdict="false" if "5G" not in t else "misleading"))
            service.review_claim(s, SYSTEM, c.id)
            service.publish_claim(s, SYSTEM, c.id)
    with transaction(sessions) as s:
        rows, total = service.list_claims(s, PUBLIC, q="garlic")
        assert total >= 1 and rows[0][0].text.startswith("Eating garlic") and rows[0][1] is not None
        rows, total = service.list_claims(s, PUBLIC, verdict="misleading")
        assert total == 1 and rows[0][0].text.startswith("5G")
        rows, total = service.list_claims(s, PUBLIC)
        assert total == 3


def test_claimreview_round_trip(store: tuple[sessionmaker[Session], dict[str, Actor]], tmp_path) -> None:  # type: ignore[no-untyped-def]
    sessions, a = store
    with transaction(sessions) as s:
        for text, verdict in (("5G networks spread COVID-19", "false"), ("戴多层口罩防护效果更好", "misleading")):
            c = service.add_claim(
                s,
                a["coord"],
                claim(text, verdict=verdict, first_seen=date(2020, 3, 1), seen_where="https://social.example/p/1"),
            )
            service.review_claim(s, SYSTEM, c.id)
            service.publish_claim(s, SYSTEM, c.id)
    with transaction(sessions) as s:
        exported = service.export_claim_reviews(s, "https://accord.example")
    assert exported[0]["@type"] == "ClaimReview" and exported[0]["reviewRating"]["alternateName"] == "False"
    assert exported[1]["itemReviewed"]["firstAppearance"]["url"] == "https://social.example/p/1"
    data = json.dumps({"@context": "https://schema.org", "@graph": exported})
    # importing our own export again: all known, nothing added
    with transaction(sessions) as s:
        again = service.import_claim_reviews(s, a["coord"], data)
        assert again.added == [] and len(again.skipped) == 2
    # into a fresh store: the same claims, as drafts
    eng = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    migrate.upgrade(eng)
    fresh = session_factory(eng)
    from accord.places import service as places

    with transaction(fresh) as s:
        places.import_places(s, SMALL_TREE)
    with transaction(fresh) as s:
        result = service.import_claim_reviews(s, SYSTEM, data)  # jurisdiction from each author's identifier
        assert len(result.added) == 2
    with transaction(fresh) as s:
        rows = list(s.scalars(select(Claim).order_by(Claim.id)))
        assert [(r.text, r.verdict, r.status, r.first_seen, r.language) for r in rows] == [
            ("5G networks spread COVID-19", "false", "draft", date(2020, 3, 1), "en"),
            ("戴多层口罩防护效果更好", "misleading", "draft", date(2020, 3, 1), "en"),
        ]
        assert rows[0].sources[0]["url"] == "https://health.example/qa"
        assert rows[0].seen_where == "https://social.example/p/1"
    eng.dispose()


def test_claimreview_import_maps_foreign_ratings_and_refuses_bad_files(
    lite: tuple[sessionmaker[Session], dict[str, Actor]],
) -> None:
    sessions, a = lite
    foreign = [
        {
            "@context": "https://schema.org",
            "@type": "ClaimReview",
            "url": "https://factcheck.example/garlic",
            "claimReviewed": "Garlic water cures COVID-19 overnight",
            "reviewRating": {"@type": "Rating", "alternateName": "Pants on Fire"},
            "description": "No study shows garlic cures COVID-19.",
        },
        {
            "@type": "ClaimReview",
            "claimReviewed": "Masks reduce transmission",
            "reviewRating": {"@type": "Rating", "ratingValue": 5, "worstRating": 1, "bestRating": 5},
            "reviewBody": "Many studies show they do.",
        },
        {
            "@type": "ClaimReview",
            "claimReviewed": "Vitamin D prevents all infections",
            "reviewRating": {"alternateName": "Partly false"},
            "reviewBody": "It helps deficient people only.",
        },
    ]
    with transaction(sessions) as s:
        result = service.import_claim_reviews(s, a["coord"], json.dumps(foreign), jurisdiction="AR-01")
    with transaction(sessions) as s:
        got = {c.text: c for c in s.scalars(select(Claim).where(Claim.id.in_(result.added)))}
        assert got["Garlic water cures COVID-19 overnight"].verdict == "false"
        assert got["Garlic water cures COVID-19 overnight"].sources[0]["url"] == "https://factcheck.example/garlic"
        assert got["Masks reduce transmission"].verdict == "true"
        assert got["Vitamin D prevents all infections"].verdict == "misleading"
    with transaction(sessions) as s:
        with pytest.raises(AccordError, match="not JSON-LD"):
            service.import_claim_reviews(s, a["coord"], b"\xff\x00 not json", jurisdiction="AR-01")
        with pytest.raises(AccordError) as exc:
            service.import_claim_reviews(
                s,
                a["coord"],
                json.dumps([{"@type": "Article"}, {"@type": "ClaimReview", "claimReviewed": ""}]),
                jurisdiction="AR-01",
            )
        assert exc.value.problems[0].field == "[0]" and any(p.field == "[1].text" for p in exc.value.problems)
    with transaction(sessions) as s:  # all or nothing
        assert s.scalars(select(Claim)).all().__len__() == 3


def test_the_migration_creates_and_drops_the_tables(engine: Engine) -> None:
    from sqlalchemy import inspect

    names = set(inspect(engine).get_table_names())
    assert {"rumor_claim", "rumor_claim_revision", "rumor_question"} <= names
    migrate.upgrade(engine, "head")  # idempotent
    from alembic import command

    cfg = migrate.alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert not {"rumor_claim", "rumor_question"} & set(inspect(engine).get_table_names())
    migrate.upgrade(engine)
    assert "rumor_claim" in set(inspect(engine).get_table_names())
