"""The page's verifier (static/verifier.js) run by Node (WebCrypto, DecompressionStream): it gives the same
reason as the Python codec on every attack, and checks the trust list signature the same way."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from accord.healthcode import codec, trustlist
from tests.healthcode.attacks import attack_corpus
from tests.healthcode.keyring import keyring

VERIFIER = Path(codec.__file__).parent / "static" / "verifier.js"
HARNESS = """
const v = require(process.argv[1]);
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
(async () => {
  let trust;
  try { trust = await v.loadTrust(input.trust, input.pin); } catch (e) {
    console.log(JSON.stringify({ trust_error: e.message }));
    return;
  }
  const out = {};
  for (const [name, code] of Object.entries(input.codes)) {
    out[name] = (await v.verifyCode(code, trust, input.at)).reason;
  }
  console.log(JSON.stringify(out));
})();
"""

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


def run_node(payload: dict[str, object]) -> dict[str, str]:
    done = subprocess.run(
        ["node", "-e", HARNESS, str(VERIFIER)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def signed_list(revoked: bool = False) -> tuple[str, str]:
    kr = keyring()
    now = datetime.now(UTC)
    entries = [
        trustlist.Entry(kr.issuer, "AR-01", "revoked" if revoked else "active"),
        trustlist.Entry(kr.other, "AR-02"),
    ]
    doc = trustlist.sign_trust_list(entries, root_key=kr.root_key, root_cert=kr.root, version=3, issued_at=now)
    return doc, trustlist.fingerprint(kr.root)


def test_node_verifier_agrees_with_python() -> None:
    kr = keyring()
    corpus = attack_corpus(kr.issuer_key, codec.kid_of(kr.issuer))
    for revoked in (False, True):
        doc, pin = signed_list(revoked)
        trust = trustlist.load_trust_list(doc, root_fingerprint=pin).trust
        now = datetime.now(UTC)
        got = run_node({"trust": doc, "pin": pin, "codes": corpus, "at": time.time() * 1000})
        want = {name: codec.verify(code, trust, now).reason.value for name, code in corpus.items()}
        assert got == want
    assert want["valid"] == "revoked issuer" and got["tampered payload"] == "bad signature"


def test_node_refuses_a_forged_trust_list() -> None:
    doc, pin = signed_list()
    body = json.loads(json.loads(doc)["signed"])
    body["keys"][0]["status"] = "revoked"
    forged = json.dumps({**json.loads(doc), "signed": json.dumps(body, sort_keys=True, separators=(",", ":"))})
    assert "does not verify" in run_node({"trust": forged, "pin": pin, "codes": {}, "at": 0})["trust_error"]
    assert "another root" in run_node({"trust": doc, "pin": "00" * 32, "codes": {}, "at": 0})["trust_error"]
