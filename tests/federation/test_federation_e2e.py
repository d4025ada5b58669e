"""Three real instances (a world hub and two countries), each its own SQLite file and its own `accord serve`
process on a loopback port, exchanging signed packages over HTTP.

The countries' local work (reports, approvals, cutting packages) and the hub operator's commands run in this
process on the instances' database files, exactly as their CLIs would; everything between instances goes over
the network. One `accord federation push` runs as a real CLI process. A small TCP proxy in front of the hub
cuts a push mid-transfer to show that it resumes without loss or duplication.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from accord.auth import service as auth
from accord.db import transaction
from accord.errors import AccordError, Forbidden
from accord.federation import delivery, hub, keys, outbox, package, peers, transport
from accord.federation.model import InboxEntry, UploadChunk

from .helpers import KEK, WORLD, country_tree, link, new_store, report, signer

ACCORD = Path(sys.executable).parent / "accord"
PYCACHE = Path(tempfile.gettempdir()) / "accord-e2e-pycache"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CuttingProxy:
    """Forwards TCP to ``target``; while ``budget`` is set, closes both sides once that many bytes went up."""

    def __init__(self, target: int) -> None:
        self.target, self.budget, self.port = target, None, free_port()
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.cuts = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, upward: bool) -> None:
        try:
            while data := src.recv(4096):
                if upward and self.budget is not None:
                    if len(data) > self.budget:
                        dst.sendall(data[: self.budget])
                        self.budget, self.cuts = 0, self.cuts + 1
                        raise OSError("cut")
                    self.budget -= len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()


@dataclass
class Instance:
    code: str
    db: Path
    port: int
    sessions: sessionmaker[Session]
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
        env.update(
            ACCORD_DATABASE_URL=f"sqlite:///{self.db}",
            ACCORD_DATA_DIR=str(self.db.parent / f"data-{self.code}"),
            ACCORD_ENVIRONMENT="development",
            ACCORD_AUTO_PUBLISH_HOURS="0",
            PYTHONPYCACHEPREFIX=str(PYCACHE),
            COLUMNS="200",
        )
        return env

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(ACCORD), "serve", "--port", str(self.port)],
            env=self.env(),
            cwd=self.db.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )


def wait_healthy(instances: list[Instance], timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    for inst in instances:
        while True:
            assert inst.proc is not None
            if inst.proc.poll() is not None:
                raise RuntimeError(
                    f"{inst.code} exited: {inst.proc.stderr.read().decode() if inst.proc.stderr else ''}"
                )
            try:
                if httpx.get(inst.url + "/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{inst.code} did not come up")
            time.sleep(0.2)


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Instance]]:
    root = tmp_path_factory.mktemp("federation")
    hub_port = free_port()
    world = Instance("WORLD", root / "hub.db", hub_port, new_store(root / "hub.db", WORLD))
    aa = Instance("AA", root / "aa.db", free_port(), new_store(root / "aa.db", country_tree("AA")))
    # BB's own tree wrongly claims AA's province AA-01 (to show that the hub refuses it)
    bb_tree = pd.concat(
        [country_tree("BB", provinces=3, cities=3), country_tree("AA").iloc[1:2].assign(parent_code="BB")]
    )
    bb = Instance("BB", root / "bb.db", free_port(), new_store(root / "bb.db", bb_tree))
    link(world.sessions, aa.sessions, "AA", world.url)
    link(world.sessions, bb.sessions, "BB", world.url)
    with transaction(world.sessions) as s:
        peers.add_peer(s, "AA", "child", url=aa.url, vulnerability=0.1)
        peers.add_peer(s, "BB", "child", url=bb.url, vulnerability=0.2)
    instances = {"WORLD": world, "AA": aa, "BB": bb}
    for inst in instances.values():
        inst.start()
    try:
        wait_healthy(list(instances.values()))
        yield instances
    finally:
        for inst in instances.values():
            if inst.proc is not None:
                inst.proc.terminate()
                inst.proc.wait(timeout=20)
            inst.sessions.kw["bind"].dispose()


def hub_series(fed: dict[str, Instance], code: str) -> dict[str, float]:
    r = httpx.get(fed["WORLD"].url + "/api/v1/series", params={"jurisdiction": code, "indicator": "new_confirmed"})
    assert r.status_code == 200, r.text
    return {row["date"][:10]: row["value"] for row in r.json()["data"]}


def inbox(fed: dict[str, Instance]) -> list[tuple[str, str, str]]:
    with transaction(fed["WORLD"].sessions) as s:
        return [(e.sender, e.status, e.code) for e in s.scalars(select(InboxEntry).order_by(InboxEntry.id))]


def cut(inst: Instance, start: str, end: str) -> tuple[dict, bytes]:  # type: ignore[type-arg]
    with transaction(inst.sessions) as s:
        row, _ = outbox.cut_package(s, KEK, pd.Timestamp(start).date(), pd.Timestamp(end).date())
        return dict(row.manifest), row.payload


DAY1 = [
    ("AA-01-01", "2026-03-01", "new_confirmed", 5),
    ("AA-01-02", "2026-03-01", "new_confirmed", 3),
    ("AA-02-01", "2026-03-01", "new_confirmed", 7),
    ("AA-01-01", "2026-03-02", "new_confirmed", 4),
]


def test_a_federation_of_three_processes(federation: dict[str, Instance]) -> None:
    fed = federation
    aa, bb, world = fed["AA"], fed["BB"], fed["WORLD"]
    client = httpx.Client(timeout=30)

    # 1. a country's report reaches the hub (pushed by the real CLI) and appears in the global roll-up
    report(aa.sessions, DAY1)
    proc = subprocess.run(
        [str(ACCORD), "federation", "push", "--from", "2026-03-01", "--to", "2026-03-02"],
        env=aa.env(),
        cwd=aa.db.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "applied" in proc.stdout
    assert hub_series(fed, "WORLD") == {"2026-03-01": 15.0, "2026-03-02": 4.0}
    assert hub_series(fed, "AA-01")["2026-03-01"] == 8.0
    who = client.get(
        world.url + "/api/v1/export", params={"format": "who", "jurisdiction": "WORLD", "level": "country"}
    )
    assert who.status_code == 200 and "Date_reported" in who.text and ",AA," in who.text

    # 2. a correction at the country is pulled by the hub and arrives as a revision, with its reason
    report(aa.sessions, [("AA-02-01", "2026-03-01", "new_confirmed", 9)], approve=False, reason="late lab results")
    cut(aa, "2026-03-01", "2026-03-02")
    pulled = delivery.pull_member(world.sessions, client, "AA", max_skew_seconds=300)
    assert [r["status"] for r in pulled] == ["applied"] and pulled[0]["result"]["revised"] >= 1
    assert hub_series(fed, "WORLD")["2026-03-01"] == 17.0
    history = client.get(
        world.url + "/api/v1/history",
        params={"jurisdiction": "AA-02", "indicator": "new_confirmed", "date": "2026-03-01"},
    ).json()
    assert [h["value"] for h in history["data"]] == [7.0, 9.0]

    # 3. a replayed package changes nothing; a tampered one is refused and logged
    first_manifest, first_payload = _outbox(aa, 1)
    aa_signs = signer(aa.sessions, "WORLD")
    replay = transport.push(client, world.url, first_manifest, first_payload, auth=aa_signs)
    assert replay["status"] == "replay"
    report(aa.sessions, [("AA-02-02", "2026-03-03", "new_confirmed", 1)])
    next_manifest, next_payload = cut(aa, "2026-03-01", "2026-03-03")
    opened = package.open_payload(next_payload)
    forged = package.data_bytes(package.read_data(opened.data).assign(value=1000.0))
    tampered = package.pack(opened.manifest, opened.signature, forged, opened.places)
    with pytest.raises(AccordError, match="does not match the manifest"):
        transport.push(
            client, world.url, next_manifest, tampered, retrying=transport.Retrying(attempts=1), auth=aa_signs
        )
    assert inbox(fed)[-2:] == [("AA", "replay", ""), ("AA", "refused", "hash_mismatch")]
    assert hub_series(fed, "WORLD")["2026-03-01"] == 17.0

    # 4. a push cut mid-transfer resumes where it stopped: nothing lost, nothing applied twice
    rows = [
        (f"BB-{p:02d}-{c:02d}", f"2026-03-{d:02d}", ind, float((p * 7 + c * 3 + d) % 50))
        for p in (1, 2, 3)
        for c in (1, 2, 3)
        for d in range(1, 29)
        for ind in ("new_confirmed", "new_deaths", "new_tests")
    ]
    report(bb.sessions, rows)
    with transaction(bb.sessions) as s:  # this package: provinces and the total only, no AA-01
        bb_peer = peers.parent(s)
        bb_peer.config = {**(bb_peer.config or {}), "indicators": ["new_confirmed", "new_deaths", "new_tests"]}
    manifest, payload = cut(bb, "2026-03-01", "2026-03-28")
    chunk = 512
    total = len(package.chunk_hashes(payload, chunk))
    assert total >= 6, len(payload)
    proxy = CuttingProxy(world.port)
    bb_signs = signer(bb.sessions, "WORLD")
    proxy.budget = 3600  # the upload start, then about three chunks, then the line goes dead
    with pytest.raises(AccordError, match="failed after 1 attempts"):
        transport.push(
            client,
            f"http://127.0.0.1:{proxy.port}",
            manifest,
            payload,
            chunk_bytes=chunk,
            retrying=transport.Retrying(attempts=1),
            auth=bb_signs,
        )
    with transaction(world.sessions) as s:
        held = s.scalar(select(func.count()).select_from(UploadChunk).where(UploadChunk.package_id == manifest["id"]))
    assert 0 < held < total and proxy.cuts == 1
    proxy.budget = None
    resumed = transport.push(
        client, f"http://127.0.0.1:{proxy.port}", manifest, payload, chunk_bytes=chunk, auth=bb_signs
    )
    assert resumed["status"] == "applied"
    assert resumed["transfer"]["chunks"] == total - held  # only the missing chunks travelled again
    bb_total = sum(v for j, d, i, v in rows if i == "new_confirmed" and d == "2026-03-05")
    assert hub_series(fed, "BB")["2026-03-05"] == bb_total
    assert [e for e in inbox(fed) if e[0] == "BB"] == [("BB", "applied", "")]

    # 5. a country pushing another country's data is refused (BB's tree claims AA-01)
    report(bb.sessions, [("AA-01", "2026-03-01", "new_confirmed", 500)])
    with transaction(bb.sessions) as s:
        peers.parent(s).config = {"depth": 1}
    cut(bb, "2026-03-01", "2026-03-01")
    with pytest.raises(Forbidden, match="may report only within 'BB', not for 'AA-01'"):
        delivery.push_pending(bb.sessions, client, retrying=transport.Retrying(attempts=1))
    assert hub_series(fed, "AA-01")["2026-03-01"] == 8.0
    assert inbox(fed)[-1] == ("BB", "refused", "wrong_scope")

    # 6. the pool: AA needs masks, CC (a vulnerable member without its own instance) too; BB offers masks but
    #    bans their export to CC, so the offer goes to AA although CC would come first
    cc_key = keys.generate()
    with transaction(world.sessions) as s:
        peers.add_peer(s, "CC", "child", public_key=keys.public_text(cc_key), name="Country CC", vulnerability=0.9)
        auth.add_user(s, "hub-admin", "admin", None)
        token = auth.issue_token(s, "hub-admin")
    delivery.send_signed(
        aa.sessions,
        client,
        KEK,
        "/pool/posts",
        {"kind": "need", "resource": "masks", "quantity": 100, "day": "2026-04-09"},
    )
    cc_need = hub.seal({"kind": "need", "resource": "masks", "quantity": 100, "day": "2026-04-09"}, "CC", cc_key)
    assert client.post(world.url + "/api/v1/federation/pool/posts", json=cc_need).status_code == 201
    assert client.post(world.url + "/api/v1/federation/pool/posts", json=cc_need).json()["id"] == 2  # replay: same post
    delivery.send_signed(
        bb.sessions,
        client,
        KEK,
        "/pool/posts",
        {"kind": "offer", "resource": "masks", "quantity": 120, "day": "2026-04-01"},
    )
    delivery.send_signed(bb.sessions, client, KEK, "/pool/export-rules", {"resource": "masks", "destination": "CC"})
    forged_need = {**cc_need, "member": "AA"}
    assert client.post(world.url + "/api/v1/federation/pool/posts", json=forged_need).status_code == 403
    run = client.post(
        world.url + "/api/v1/federation/pool/runs",
        json={"start": "2026-04-01", "days": 10},
        headers={"authorization": f"Bearer {token}"},
    )
    assert run.status_code == 200, run.text
    shipments = client.get(world.url + "/api/v1/federation/pool/shipments").json()["data"]
    assert [(s["origin"], s["destination"], s["quantity"]) for s in shipments] == [("BB", "AA", 100.0)], run.text
    sid = shipments[0]["id"]
    assert (
        delivery.send_signed(aa.sessions, client, KEK, "/pool/answers", {"shipment_id": sid, "accept": True})["status"]
        == "proposed"
    )
    assert (
        delivery.send_signed(bb.sessions, client, KEK, "/pool/answers", {"shipment_id": sid, "accept": True})["status"]
        == "accepted"
    )

    # 7. a shared document registered at a country is found at the hub; the members page shows who is silent
    with transaction(aa.sessions) as s:
        hub.register_document(
            s,
            {
                "kind": "genome",
                "title": "SARS-CoV-2 isolate AA/2026",
                "language": "en",
                "licence": "CC-BY-4.0",
                "accession": "MN908947.3",
            },
            "AA",
        )
    with transaction(aa.sessions) as s:
        docs = hub.local_documents(s)
    delivery.send_signed(aa.sessions, client, KEK, "/documents", {"documents": docs})
    found = client.get(world.url + "/api/v1/federation/documents", params={"q": "MN908947"}).json()["data"]
    assert [(d["origin"], d["received_from"]) for d in found] == [("AA", "AA")]
    states = {m["member"]: m["state"] for m in client.get(world.url + "/public/federation.json").json()["data"]}
    assert states == {"AA": "current", "BB": "current", "CC": "silent"}
    page = client.get(world.url + "/public/federation")
    assert page.status_code == 200 and 'data-member="CC"' in page.text and "MN908947.3" in page.text
    client.close()


def _outbox(inst: Instance, sequence: int) -> tuple[dict, bytes]:  # type: ignore[type-arg]
    with transaction(inst.sessions) as s:
        rows = outbox.outbox(s, "WORLD")
        pid = next(r["id"] for r in rows if r["sequence"] == sequence)
        return next(r["manifest"] for r in rows if r["id"] == pid), outbox.outbox_payload(s, pid)
