"""Who may move stock, close needs and offers, and read the early warning's provisional census (both databases).

A movement books into two accounts and both must be in the actor's subtree: stock leaves a subtree through an
approved allocation plan, never by a direct transfer into another jurisdiction's ledger. Closing a need or an
offer is a coordinator's (or admin's) decision in the jurisdiction's subtree."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from accord.auth import service as auth
from accord.auth.roles import SYSTEM, Actor
from accord.db import transaction
from accord.errors import Forbidden
from accord.resources import early_warning, movements, needs_offers
from accord.resources.model import Entry, Need, Offer

DAY = date(2026, 3, 1)
USERS = {
    "north": ("coordinator", "AR-01"),
    "chief": ("coordinator", "AR"),
    "clerk": ("reporter", "AR-01-01"),
    "analyst": ("analyst", "AR"),
    "tracer": ("tracer", "AR-01"),
    "dpo": ("dpo", "AR"),
}


@pytest.fixture
def actors(small_tree: sessionmaker[Session]) -> dict[str, Actor]:
    with transaction(small_tree) as s:
        for name, (role, scope) in USERS.items():
            auth.add_user(s, name, role, scope)
    with transaction(small_tree) as s:
        return {name: auth.actor_for(s, name) for name in USERS}


def move(s: Session, actor: Actor, movement: str, source: str, target: str, qty: float = 10) -> None:
    movements.post_movement(
        s,
        actor,
        movement,
        resource="n95",
        quantity=qty,
        unit=None,
        source=movements.parse_side(source),
        target=movements.parse_side(target),
        day=DAY,
    )


def entries(sessions: sessionmaker[Session]) -> int:
    with transaction(sessions) as s:
        return int(s.scalar(select(func.count()).select_from(Entry)) or 0)


def test_stock_is_never_pushed_into_another_jurisdictions_ledger(
    small_tree: sessionmaker[Session], actors: dict[str, Actor]
) -> None:
    with transaction(small_tree) as s:
        move(s, SYSTEM, "receipt", "supply:AR-01", "stock:AR-01", 100)
    before = entries(small_tree)
    refused = [
        ("transfer", "stock:AR-01", "stock:AR-02", "transfer stock to 'AR-02'"),
        ("transfer", "stock:AR-01", "stockpile:AR-02-01", "transfer stock to 'AR-02-01'"),
        ("receipt", "supply:AR-02", "stock:AR-01", "'AR-02'"),  # another place's source account
        ("consume", "stock:AR-01", "consumed:AR-02", "'AR-02'"),
    ]
    for movement, source, target, named in refused:
        with pytest.raises(Forbidden, match=named), transaction(small_tree) as s:
            move(s, actors["north"], movement, source, target)
    assert entries(small_tree) == before  # nothing booked, on either side
    with transaction(small_tree) as s:  # within the subtree it is the coordinator's own business
        move(s, actors["north"], "transfer", "stock:AR-01", "stock:AR-01-01")
        move(s, actors["north"], "transfer", "stock:AR-01-01", "stockpile:AR-01")
        move(s, actors["chief"], "transfer", "stock:AR-01", "stock:AR-02")  # the level above both may
    assert entries(small_tree) == before + 6


def test_only_coordinators_and_admins_of_the_place_close_needs_and_offers(
    small_tree: sessionmaker[Session], actors: dict[str, Actor]
) -> None:
    with transaction(small_tree) as s:
        move(s, SYSTEM, "receipt", "supply:AR-01-01", "stock:AR-01-01", 100)
        need = needs_offers.post_need(s, SYSTEM, "AR-01-01", "n95", 50, justification="ward", today=DAY).id
        offer = needs_offers.post_offer(s, SYSTEM, "AR-01-01", "n95", 20, from_date=DAY, today=DAY).id
    for who in ("clerk", "analyst", "tracer", "dpo"):  # each has AR-01-01 in scope, none may decide
        for close in (needs_offers.close_need, needs_offers.close_offer):
            item = need if close is needs_offers.close_need else offer
            with pytest.raises(Forbidden, match=f"role {USERS[who][0]}"), transaction(small_tree) as s:
                close(s, actors[who], item)
    with transaction(small_tree) as s:
        assert s.get(Need, need).closed_at is None and s.get(Offer, offer).closed_at is None
    with transaction(small_tree) as s:
        needs_offers.close_need(s, actors["north"], need)
        needs_offers.close_offer(s, actors["chief"], offer)
    with transaction(small_tree) as s:
        assert s.get(Need, need).closed_at is not None and s.get(Offer, offer).closed_at is not None


def test_the_early_warning_uses_provisional_figures_only_within_scope(
    small_tree: sessionmaker[Session], actors: dict[str, Actor]
) -> None:
    with transaction(small_tree) as s:
        south = auth.add_user(s, "south", "analyst", "AR-02")
    with transaction(small_tree) as s:
        stranger = auth.actor_for(s, south.username)
        assert early_warning.warning_view(s, actors["north"], "AR-01-01") == "all"
        assert early_warning.warning_view(s, actors["analyst"], "AR-01") == "all"
        assert early_warning.warning_view(s, stranger, "AR-01") == "public"
        assert early_warning.warning_view(s, actors["north"], "AR") == "public"  # the whole country is not theirs
