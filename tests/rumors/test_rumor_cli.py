"""``accord rumors`` as an operator runs it (Typer's runner on a fresh data directory): add, duplicate refusal,
publish, match, export and import, with the documented exit codes and no tracebacks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from tests.conftest import SMALL_TREE
from typer.testing import CliRunner

from accord.places import service as places
from accord.rumors import cli
from accord.settings import get_settings


@pytest.fixture
def root(tmp_path: Path) -> Iterator[typer.Typer]:
    mp = pytest.MonkeyPatch()
    mp.setenv("ACCORD_DATA_DIR", str(tmp_path))
    mp.delenv("ACCORD_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    from accord import clikit

    with clikit.session_scope() as s:
        places.import_places(s, SMALL_TREE)
    app = typer.Typer()
    app.add_typer(cli.app, name="rumors")
    yield app
    mp.undo()
    get_settings.cache_clear()


def test_add_publish_match_export_import(root: typer.Typer, tmp_path: Path) -> None:
    run = CliRunner().invoke
    add = [
        "rumors", "add", "Drinking hot water kills the coronavirus", "--verdict", "false",
        "--explanation", "It does not.", "--jurisdiction", "AR-01", "--source", "Q&A|https://health.example/qa",
    ]  # fmt: skip
    r = run(root, add)
    assert r.exit_code == 0 and "claim 1 added" in r.output, r.output
    r = run(root, [*add[:2], "drinking HOT water kills the corona virus", *add[3:]])
    assert r.exit_code == 5 and "restates claim 1" in r.output and "Traceback" not in r.output
    r = run(root, [*add[:2], "5G networks spread COVID-19", *add[3:]])
    assert r.exit_code == 0
    r = run(root, ["rumors", "publish", "1", "2", "--review"])
    assert r.exit_code == 0 and "published: 1, 2" in r.output
    r = run(root, ["rumors", "match", "covid spread by 5G", "--json"])
    assert json.loads(r.output.splitlines()[0])["matches"][0]["claim_id"] == 2
    msgs = tmp_path / "msgs.txt"
    msgs.write_text("hot water kills virus\n\n5G 传播 COVID\n", encoding="utf-8")
    r = run(root, ["rumors", "match", "--file", str(msgs), "--json", "-k", "1"])
    lines = [json.loads(x) for x in r.output.splitlines()]
    assert [x["matches"][0]["claim_id"] for x in lines] == [1, 2]
    assert run(root, ["rumors", "match", ""]).exit_code == 1
    assert run(root, ["rumors", "publish", "99"]).exit_code == 3
    out = tmp_path / "reviews.jsonld"
    r = run(root, ["rumors", "export", "--out", str(out)])
    assert r.exit_code == 0 and len(json.loads(out.read_text())["@graph"]) == 2
    r = run(root, ["rumors", "import", str(out), "--jurisdiction", "AR-01"])
    assert r.exit_code == 0 and "0 claim(s) imported" in r.output and "2 skipped" in r.output
    bad = tmp_path / "bad.jsonld"
    bad.write_bytes(b"\x00\x01\x02")
    assert run(root, ["rumors", "import", str(bad)]).exit_code == 1
    assert run(root, ["rumors", "questions"]).exit_code == 0
