"""The offline verifier page in a real headless Chromium: the in-page verifier (WebCrypto) gives the same
reason as the Python codec on every attack, and it keeps working offline from its cached trust list."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

import accord.app
from accord.auth.roles import SYSTEM
from accord.db import make_engine, session_factory, transaction
from accord.healthcode import codec, pages, service, trustlist
from accord.healthcode.model import SigningKey
from accord.settings import Settings
from tests.browser import ARTIFACTS, CHROMIUM, MARKS, serving
from tests.healthcode.attacks import attack_corpus
from tests.healthcode.webstore import build

pytestmark = MARKS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    path = tmp_path_factory.mktemp("hc-browser")
    build(path)
    app = accord.app.create_app(Settings(data_dir=path))
    pages.install(app)
    with serving(app) as base_url:
        yield base_url, path


def issuer(path: Path, jurisdiction: str) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    engine = make_engine(f"sqlite:///{path / 'accord.db'}")
    with transaction(session_factory(engine)) as s:
        row = s.scalars(
            select(SigningKey).where(SigningKey.jurisdiction == jurisdiction, SigningKey.status == "active")
        ).one()
        key, kid = service._unseal(row), bytes.fromhex(row.kid)
    engine.dispose()
    return key, kid


def test_page_matches_python_and_works_offline(server: tuple[str, Path]) -> None:
    from playwright.sync_api import sync_playwright

    base, path = server
    key, kid = issuer(path, "AR-01")
    corpus = attack_corpus(key, kid)
    engine = make_engine(f"sqlite:///{path / 'accord.db'}")
    with transaction(session_factory(engine)) as s:
        trust = trustlist.load_trust_list(service.current_trust_list(s).document).trust
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(viewport={"width": 390, "height": 800})
        page = context.new_page()
        page.goto(f"{base}/public/healthcode/verify")
        page.wait_for_selector("#trust-status[data-version='1']", timeout=15000)
        for name, code in corpus.items():
            expected = codec.verify(code, trust, datetime.now(UTC))
            page.fill("#code", code)
            page.click("#check")
            page.wait_for_function(
                "(r) => document.querySelector('#verdict').dataset.reason !== undefined "
                "&& document.querySelector('#code').value === r",
                arg=code,
            )
            got = page.locator("#verdict").get_attribute("data-reason")
            assert got == expected.reason.value, (name, got, expected.sentence())
            page.evaluate("document.querySelector('#verdict').removeAttribute('data-reason')")
        assert corpus and codec.verify(corpus["valid"], trust, datetime.now(UTC)).valid

        # a compromised key revoked through a new trust list: the page picks it up when online
        with transaction(session_factory(engine)) as s:
            service.revoke(s, kid.hex(), "test: key leaked", SYSTEM)
            service.publish_trust_list(s, SYSTEM)
        engine.dispose()
        page.reload()
        page.wait_for_selector("#trust-status[data-version='2']", timeout=15000)
        page.fill("#code", corpus["valid"])
        page.click("#check")
        page.wait_for_selector("#verdict[data-reason='revoked issuer']", timeout=5000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "healthcode-verifier-phone.png"), full_page=True)

        # offline: the service worker serves the page, the trust list comes from localStorage
        assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        context.set_offline(True)
        page.reload()
        page.wait_for_selector("#trust-status[data-source='cached']", timeout=15000)
        page.fill("#code", corpus["tampered payload"])
        page.click("#check")
        page.wait_for_selector("#verdict[data-reason='bad signature']", timeout=5000)
        context.close()
        browser.close()
