"""Standalone planning instances: JSON and CSV folders in, plan files out, bad input named precisely."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from accord.errors import AccordError
from accord.resources.plan_cli import plan_from_instance_command, run_instance
from accord.resources.problem_files import load_instance

EXAMPLE = {
    "days": 5,
    "start_date": "2020-02-10",
    "resources": [
        {"id": "ventilator", "reusable": True, "use_days": 1},
        {"id": "n95", "reusable": False, "holding_cost": 0},
    ],
    "nodes": [
        {"id": "central", "stock": {"ventilator": 40, "n95": 1000}},
        {"id": "wuhan", "priority": 3, "stock": {"ventilator": 5}},
        {"id": "xiaogan", "priority": 2},
        {"id": "hunan"},
    ],
    "supply": [{"node": "central", "resource": "n95", "day": "2020-02-12", "quantity": 500}],
    "demand": [{"node": "wuhan", "resource": "ventilator", "day": d, "quantity": 30} for d in range(5)]
    + [{"node": "xiaogan", "resource": "ventilator", "day": d, "quantity": 10} for d in range(5)]
    + [{"node": "wuhan", "resource": "n95", "day": d, "quantity": 300} for d in range(5)],
    "routes": [
        {"origin": "central", "destination": "wuhan", "lead_days": 1, "unit_cost": 1},
        {"origin": "central", "destination": "xiaogan", "lead_days": 2, "unit_cost": 1},
        {"origin": "hunan", "destination": "wuhan", "lead_days": 1, "unit_cost": 0.5, "banned": ["n95"]},
    ],
    "pairing": [{"supporter": "hunan", "supported": "wuhan", "exclusive": True}],
    "options": {"equity": "total"},
}


def write(tmp_path: Path, doc: object, name: str = "instance.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc, indent=2))
    return path


def test_json_instance_round_trip(tmp_path: Path) -> None:
    inst = load_instance(write(tmp_path, EXAMPLE))
    p = inst.problem
    assert p.nodes == ("central", "wuhan", "xiaogan", "hunan")
    assert p.initial_stock[0].tolist() == [40, 1000] and p.initial_stock[1, 0] == 5
    assert p.supply[0, 1, 2] == 500  # the date 2020-02-12 is day 2
    assert p.routes.allowed is not None and p.routes.allowed[2].tolist() == [True, False]
    plan, paths = run_instance(tmp_path / "instance.json", tmp_path / "out")
    assert plan.status == "optimal"
    shortfall = pd.read_csv(paths["shortfall"])
    assert {"node", "resource", "day", "date", "demand", "served", "shortfall"} <= set(shortfall.columns)
    # wuhan needs 30 ventilators a day and has 5: day 0 cannot be helped (lead 1); afterwards central covers it
    wuhan = shortfall[(shortfall.node == "wuhan") & (shortfall.resource == "ventilator")].set_index("day")
    assert wuhan.loc[0, "shortfall"] == 25 and wuhan.loc[1:, "shortfall"].sum() == 0
    ships = pd.read_csv(paths["shipments"])
    assert {"depart_date", "arrive_date"} <= set(ships.columns)
    summary = json.loads(paths["summary"].read_text())
    assert summary["total_shortfall"] == plan.total_shortfall and summary["solver"] == "ortools-min-cost-flow"


def test_csv_folder_instance_gives_the_same_plan(tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    resources = [{"id": "ventilator", "reusable": "true", "use_days": 1}, {"id": "n95", "holding_cost": 0}]
    pd.DataFrame(resources).to_csv(folder / "resources.csv", index=False)
    pd.DataFrame({"id": ["central", "wuhan", "xiaogan", "hunan"], "priority": [1, 3, 2, 1]}).to_csv(
        folder / "nodes.csv", index=False
    )
    stock = [("central", "ventilator", 40), ("central", "n95", 1000), ("wuhan", "ventilator", 5)]
    pd.DataFrame(stock, columns=["node", "resource", "quantity"]).to_csv(folder / "stock.csv", index=False)
    pd.DataFrame(EXAMPLE["supply"]).to_csv(folder / "supply.csv", index=False)
    pd.DataFrame(EXAMPLE["demand"]).to_csv(folder / "demand.csv", index=False)
    routes = pd.DataFrame(EXAMPLE["routes"]).assign(banned=["", "", "n95"])
    routes.to_csv(folder / "routes.csv", index=False)
    pd.DataFrame(EXAMPLE["pairing"]).to_csv(folder / "pairing.csv", index=False)
    (folder / "options.json").write_text(json.dumps({"days": 5, "start_date": "2020-02-10", "equity": "total"}))
    from_csv, _ = run_instance(folder, tmp_path / "a")
    from_json, _ = run_instance(write(tmp_path, EXAMPLE), tmp_path / "b")
    assert from_csv.objective == pytest.approx(from_json.objective)
    assert from_csv.shortfall.tolist() == from_json.shortfall.tolist()


def refusal(path: Path) -> str:
    with pytest.raises(AccordError) as caught:
        load_instance(path)
    return str(caught.value)


def test_bad_json_is_refused_with_path_and_field(tmp_path: Path) -> None:
    bad = json.loads(json.dumps(EXAMPLE))
    bad["demand"][3]["quantity"] = -4
    bad["supply"][0]["resource"] = "oxygen"
    message = refusal(write(tmp_path, bad))
    assert "field 'supply[0].resource': unknown resource 'oxygen'" in message
    assert "(and 1 more problem)" in message
    with pytest.raises(AccordError) as caught:
        load_instance(write(tmp_path, bad))
    assert any("demand[3].quantity" in p.sentence() and "'-4'" in p.sentence() for p in caught.value.problems)
    syntax = tmp_path / "broken.json"
    syntax.write_text('{\n  "days": 3,\n  "nodes": [\n}')
    assert f"{syntax}, line 4: not valid JSON" in refusal(syntax)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d.update(days=0), "field 'days'"),
        (lambda d: d["options"].update(equity="fairest"), "field 'options.equity'"),
        (lambda d: d["routes"][1].update(lead_days=1.5), "field 'routes[1].lead_days'"),
        (lambda d: d["routes"][0].update(destination="mars"), "field 'routes[0].destination': unknown node 'mars'"),
        (lambda d: d["demand"][0].update(day=9), "field 'demand[0].day'"),
        (lambda d: d["nodes"].append({"id": "wuhan"}), "node 'wuhan' is listed twice"),
        (lambda d: d["nodes"][1]["stock"].update(ventilator="many"), "field 'nodes[1].stock.ventilator'"),
        (lambda d: d.update(colour="red"), "unknown key 'colour'"),
    ],
)
def test_each_mistake_is_named(tmp_path: Path, edit: object, expected: str) -> None:
    doc = json.loads(json.dumps(EXAMPLE))
    edit(doc)  # type: ignore[operator]
    assert expected in refusal(write(tmp_path, doc))


def test_bad_csv_names_file_line_and_column(tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "resources.csv").write_text("id,reusable\nbeds,true\n")
    (folder / "nodes.csv").write_text("id\na\nb\n")
    (folder / "demand.csv").write_text("node,resource,day,quantity\na,beds,0,3\nb,beds,1,lots\n")
    (folder / "options.json").write_text('{"days": 2}')
    message = refusal(folder)
    assert f"{folder / 'demand.csv'}, line 3, field 'quantity': 'lots' is not a non-negative number" in message


def test_cli_command_writes_the_plan_and_refuses_bad_input(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(plan_from_instance_command)
    runner = CliRunner()
    path = write(tmp_path, EXAMPLE)
    done = runner.invoke(app, ["--instance", str(path), "--out", str(tmp_path / "plan"), "--equity", "minmax"])
    assert done.exit_code == 0, done.output
    assert "minmax" in done.output and (tmp_path / "plan" / "shortfall_by_node.csv").exists()
    bad = json.loads(json.dumps(EXAMPLE))
    bad["routes"][0]["unit_cost"] = "cheap"
    failed = runner.invoke(app, ["--instance", str(write(tmp_path, bad, "bad.json"))])
    assert failed.exit_code != 0
    assert not (tmp_path / "bad-plan").exists()  # nothing written for a refused instance
