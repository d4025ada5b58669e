"""Standalone planning instances: read a JSON file or a folder of CSV files into an ``AllocationProblem`` with
``Options``, and write a solved plan back as CSV and JSON (pure: files in, files out; no database).

The format is documented in docs/resources-optimiser.md ("Planning instance format"). Every mistake is reported
as one sentence naming the file, the line (CSV rows, JSON syntax errors) and the field (a JSON path such as
``demand[3].quantity`` or a CSV column), and all mistakes found are collected before refusing.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from accord.errors import AccordError, Problem
from accord.resources.optimiser import AllocationProblem, Options, Pairing, Plan, Routes

#: most problems listed in one refusal
MAX_PROBLEMS = 50
OPTION_KEYS = {
    "equity",
    "solver",
    "duals",
    "time_limit_seconds",
    "max_shortfall_share",
    "threads",
    "shortfall_penalty",
    "pairing_discount",
    "symmetric_routes",
}


@dataclass(frozen=True)
class Instance:
    """A parsed instance: the problem, how to solve it, and the calendar day 0 stands for (if given)."""

    problem: AllocationProblem
    options: Options
    start_date: date | None = None


class _Collector:
    """Problems found so far; ``raise_if_any`` refuses with all of them."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, message: str, field: str | None = None, line: int | None = None, file: str | None = None) -> None:
        self.problems.append(Problem(message, file=file or self.file, line=line, field=field))

    def raise_if_any(self) -> None:
        if self.problems:
            raise AccordError(
                "The planning instance is invalid", self.problems[:MAX_PROBLEMS], total=len(self.problems)
            )


# ------------------------------------------------------------------------------------------ reading
def load_instance(path: Path) -> Instance:
    """Read ``path``: a ``.json`` file, or a folder holding the CSV files of the format."""
    if path.is_dir():
        return _from_records(_csv_folder(path), str(path))
    if not path.exists():
        raise AccordError("The planning instance is invalid", [Problem("no such file or folder", file=str(path))])
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise AccordError(
            "The planning instance is invalid", [Problem("the file is not UTF-8 text", file=str(path))]
        ) from None
    except json.JSONDecodeError as exc:
        raise AccordError(
            "The planning instance is invalid",
            [Problem(f"not valid JSON ({exc.msg}, column {exc.colno})", file=str(path), line=exc.lineno)],
        ) from None
    if not isinstance(doc, dict):
        raise AccordError("The planning instance is invalid", [Problem("the top level must be an object", str(path))])
    return _from_records({k: (v, None) for k, v in doc.items()}, str(path))


#: CSV files of a folder instance and the key each fills
CSV_FILES = {
    "resources.csv": "resources",
    "nodes.csv": "nodes",
    "stock.csv": "stock",
    "supply.csv": "supply",
    "demand.csv": "demand",
    "routes.csv": "routes",
    "pairing.csv": "pairing",
}


def _csv_folder(folder: Path) -> dict[str, tuple[Any, str | None]]:
    """Each key -> (list of row dicts with a ``_line`` entry, file name); options.json holds the rest."""
    out: dict[str, tuple[Any, str | None]] = {}
    for name, key in CSV_FILES.items():
        f = folder / name
        if not f.exists():
            continue
        with f.open(newline="", encoding="utf-8-sig") as handle:
            rows = []
            for i, row in enumerate(csv.DictReader(handle), start=2):
                rows.append({**{k.strip(): v for k, v in row.items() if k is not None}, "_line": i})
        out[key] = (rows, str(f))
    opt = folder / "options.json"
    if opt.exists():
        try:
            doc = json.loads(opt.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise AccordError(
                "The planning instance is invalid",
                [Problem(f"not valid JSON ({exc.msg}, column {exc.colno})", file=str(opt), line=exc.lineno)],
            ) from None
        if not isinstance(doc, dict):
            raise AccordError("The planning instance is invalid", [Problem("must be a JSON object", str(opt))])
        for k, v in doc.items():
            out.setdefault(k, (v, str(opt)))
    return out


def _where(rows_file: str | None, default: str, key: str, i: int, row: dict[str, Any], col: str) -> dict[str, Any]:
    """Location of a value: a CSV row (file, line, column) or a JSON path."""
    if "_line" in row:
        return {"file": rows_file or default, "line": row["_line"], "field": col}
    return {"file": rows_file or default, "line": None, "field": f"{key}[{i}].{col}"}


def _number(raw: Any, *, integer: bool = False, allow_inf: bool = False) -> float | None:
    """A finite (or +inf where allowed) non-negative number, or None when it is not one."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str):
        text = raw.strip()
        if allow_inf and text.lower() in ("", "inf", "infinity", "unlimited"):
            return math.inf
        try:
            value = float(text)
        except ValueError:
            return None
    elif isinstance(raw, int | float):
        value = float(raw)
    elif raw is None and allow_inf:
        return math.inf
    else:
        return None
    if math.isnan(value) or value < 0 or (math.isinf(value) and not allow_inf):
        return None
    if integer and not float(value).is_integer():
        return None
    return value


def _bool(raw: Any) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "yes", "1", "false", "no", "0", ""):
        return raw.strip().lower() in ("true", "yes", "1")
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    return None


def _list(records: dict[str, tuple[Any, str | None]], key: str, file: str, problems: _Collector) -> list[Any]:
    value, _ = records.get(key, ([], None))
    if not isinstance(value, list):
        problems.add(f"'{key}' must be a list of objects", field=key)
        return []
    return value


def _from_records(records: dict[str, tuple[Any, str | None]], file: str) -> Instance:
    problems = _Collector(file)
    unknown = sorted(set(records) - {"days", "start_date", "options", *CSV_FILES.values()} - OPTION_KEYS)
    for key in unknown:
        problems.add(f"unknown key '{key}'", field=key)
    days, start = _horizon(records, file, problems)
    options = _options(records, file, problems)
    problems.raise_if_any()
    res = _resources(records, file, problems)
    nodes, priority = _nodes(records, file, problems)
    problems.raise_if_any()
    node_ix = {n: i for i, n in enumerate(nodes)}
    res_ix = {r: i for i, r in enumerate(res["id"])}
    stock = np.zeros((len(nodes), len(res["id"])))
    _cells(records, "stock", file, problems, node_ix, res_ix, None, start, stock)
    supply = np.zeros((len(nodes), len(res["id"]), days))
    demand = np.zeros_like(supply)
    _cells(records, "supply", file, problems, node_ix, res_ix, days, start, supply)
    _cells(records, "demand", file, problems, node_ix, res_ix, days, start, demand)
    routes = _routes(records, file, problems, node_ix, res_ix, bool(options.pop("symmetric_routes", False)))
    pairing = _pairing(records, file, problems, node_ix)
    problems.raise_if_any()
    penalty = float(options.pop("shortfall_penalty", 1000.0))
    discount = float(options.pop("pairing_discount", 0.5))
    problem = AllocationProblem(
        nodes=tuple(nodes),
        resources=tuple(res["id"]),
        reusable=np.asarray(res["reusable"], bool),
        use_days=np.asarray(res["use_days"], np.int64),
        days=days,
        initial_stock=stock,
        supply=supply,
        demand=demand,
        routes=routes,
        priority=np.asarray(priority, float),
        pairing=pairing,
        holding_cost=np.asarray(res["holding_cost"], float),
        shortfall_penalty=penalty,
        pairing_discount=discount,
    )
    return Instance(problem, Options(**options), start)


def _horizon(records: dict[str, tuple[Any, str | None]], file: str, problems: _Collector) -> tuple[int, date | None]:
    raw_days, _ = records.get("days", (None, None))
    days = _number(raw_days, integer=True)
    if days is None or days < 1:
        problems.add("'days' (the horizon) must be a whole number of at least 1", field="days")
        days = 1
    start = None
    raw_start, _ = records.get("start_date", (None, None))
    if raw_start is not None:
        try:
            start = date.fromisoformat(str(raw_start))
        except ValueError:
            problems.add(f"'{raw_start}' is not an ISO date (YYYY-MM-DD)", field="start_date")
    return int(days), start


def _options(records: dict[str, tuple[Any, str | None]], file: str, problems: _Collector) -> dict[str, Any]:
    """Options may sit under "options" or (CSV folders) at the top of options.json."""
    nested, _ = records.get("options", ({}, None))
    if not isinstance(nested, dict):
        problems.add("'options' must be an object", field="options")
        nested = {}
    merged = {**{k: v for k, (v, _) in records.items() if k in OPTION_KEYS}, **nested}
    out: dict[str, Any] = {}
    for key, value in merged.items():
        name = f"options.{key}"
        if key not in OPTION_KEYS:
            problems.add(f"unknown option '{key}' (known: {', '.join(sorted(OPTION_KEYS))})", field=name)
        elif key == "equity" and value not in ("total", "minmax", "participation"):
            problems.add(f"'{value}' is not an equity option (total, minmax or participation)", field=name)
        elif key == "solver" and value not in ("auto", "network", "lp"):
            problems.add(f"'{value}' is not a solver (auto, network or lp)", field=name)
        elif key in ("duals", "symmetric_routes") and not isinstance(value, bool):
            problems.add("must be true or false", field=name)
        elif key == "max_shortfall_share" and value is not None and (_number(value) is None or float(value) > 1):
            problems.add("must be a share between 0 and 1, or null", field=name)
        elif key in ("time_limit_seconds", "shortfall_penalty") and not (_number(value) or 0) > 0:
            problems.add("must be a positive number", field=name)
        elif key == "pairing_discount" and (_number(value) is None or float(value) > 1):
            problems.add("must be a multiplier between 0 and 1", field=name)
        elif key == "threads" and not (_number(value, integer=True) or 0) >= 1:
            problems.add("must be a whole number of at least 1", field=name)
        else:
            out[key] = (
                float(value) if key in ("time_limit_seconds", "max_shortfall_share") and value is not None else value
            )
    return out


def _resources(records: dict[str, tuple[Any, str | None]], file: str, problems: _Collector) -> dict[str, list[Any]]:
    rows = _list(records, "resources", file, problems)
    f = records.get("resources", (None, None))[1]
    out: dict[str, list[Any]] = {"id": [], "reusable": [], "use_days": [], "holding_cost": []}
    if not rows:
        problems.add("at least one resource is needed", field="resources")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            problems.add("each resource must be an object", field=f"resources[{i}]")
            continue
        rid = str(row.get("id") or row.get("resource") or "").strip()
        if not rid:
            problems.add("a resource needs an id", **_where(f, file, "resources", i, row, "id"))
            continue
        if rid in out["id"]:
            problems.add(f"resource '{rid}' is listed twice", **_where(f, file, "resources", i, row, "id"))
            continue
        reusable = _bool(row.get("reusable", False))
        if reusable is None:
            problems.add("must be true or false", **_where(f, file, "resources", i, row, "reusable"))
        use = _number(row.get("use_days") if row.get("use_days") not in (None, "") else 1, integer=True)
        if use is None or use < 1:
            problems.add("must be a whole number of days >= 1", **_where(f, file, "resources", i, row, "use_days"))
        hold = _number(row.get("holding_cost") if row.get("holding_cost") not in (None, "") else 0.01)
        if hold is None:
            problems.add("must be a number >= 0", **_where(f, file, "resources", i, row, "holding_cost"))
        out["id"].append(rid)
        out["reusable"].append(bool(reusable))
        out["use_days"].append(int(use or 1))
        out["holding_cost"].append(float(hold or 0.0))
    return out


def _nodes(
    records: dict[str, tuple[Any, str | None]], file: str, problems: _Collector
) -> tuple[list[str], list[float]]:
    rows = _list(records, "nodes", file, problems)
    f = records.get("nodes", (None, None))[1]
    ids: list[str] = []
    prio: list[float] = []
    seen: set[str] = set()
    if not rows:
        problems.add("at least one node is needed", field="nodes")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            problems.add("each node must be an object", field=f"nodes[{i}]")
            continue
        nid = str(row.get("id") or row.get("node") or "").strip()
        if not nid:
            problems.add("a node needs an id", **_where(f, file, "nodes", i, row, "id"))
            continue
        if nid in seen:
            problems.add(f"node '{nid}' is listed twice", **_where(f, file, "nodes", i, row, "id"))
            continue
        seen.add(nid)
        p = _number(row.get("priority") if row.get("priority") not in (None, "") else 1.0)
        if p is None:
            problems.add("must be a number >= 0", **_where(f, file, "nodes", i, row, "priority"))
        ids.append(nid)
        prio.append(float(p if p is not None else 1.0))
        stock = row.get("stock")
        if isinstance(stock, dict):  # JSON shorthand: {"stock": {"ventilator": 20}}
            extra, _ = records.setdefault("stock", ([], None))
            if isinstance(extra, list):
                extra.extend(
                    {"node": nid, "resource": k, "quantity": v, "_path": f"nodes[{i}].stock.{k}"}
                    for k, v in stock.items()
                )
        elif stock is not None and not isinstance(row.get("_line"), int):
            problems.add("must be an object of resource -> quantity", **_where(f, file, "nodes", i, row, "stock"))
    return ids, prio


def _day(raw: Any, start: date | None, days: int) -> int | None:
    """A day number 0..days-1, or an ISO date counted from start_date."""
    n = _number(raw, integer=True)
    if n is None and start is not None and isinstance(raw, str):
        try:
            n = float((date.fromisoformat(raw.strip()) - start).days)
        except ValueError:
            return None
    if n is None or not 0 <= n < days:
        return None
    return int(n)


def _cells(
    records: dict[str, tuple[Any, str | None]],
    key: str,
    file: str,
    problems: _Collector,
    node_ix: dict[str, int],
    res_ix: dict[str, int],
    days: int | None,
    start: date | None,
    into: np.ndarray,
) -> None:
    """Add quantity rows (node, resource[, day], quantity) into ``into`` (repeated rows add up)."""
    rows = _list(records, key, file, problems)
    f = records.get(key, (None, None))[1]
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            problems.add("each entry must be an object", field=f"{key}[{i}]")
            continue

        def at(col: str, row: dict[str, Any] = row, i: int = i) -> dict[str, Any]:
            if "_path" in row:
                return {"file": file, "line": None, "field": row["_path"]}
            return _where(f, file, key, i, row, col)

        node, res = str(row.get("node", "")).strip(), str(row.get("resource", "")).strip()
        ok = True
        if node not in node_ix:
            problems.add(f"unknown node '{node}'", **at("node"))
            ok = False
        if res not in res_ix:
            problems.add(f"unknown resource '{res}'", **at("resource"))
            ok = False
        qty = _number(row.get("quantity"))
        if qty is None:
            problems.add(f"'{row.get('quantity')}' is not a non-negative number", **at("quantity"))
            ok = False
        day = 0
        if days is not None:
            d = _day(row.get("day"), start, days)
            if d is None:
                problems.add(f"'{row.get('day')}' is not a day of the horizon (0..{days - 1} or a date)", **at("day"))
                ok = False
            else:
                day = d
        if not ok:
            continue
        if days is None:
            into[node_ix[node], res_ix[res]] += qty
        else:
            into[node_ix[node], res_ix[res], day] += qty


def _routes(
    records: dict[str, tuple[Any, str | None]],
    file: str,
    problems: _Collector,
    node_ix: dict[str, int],
    res_ix: dict[str, int],
    symmetric: bool,
) -> Routes:
    rows = _list(records, "routes", file, problems)
    f = records.get("routes", (None, None))[1]
    cols: dict[str, list[Any]] = {k: [] for k in ("o", "d", "lead", "cost", "cap", "shared", "allowed")}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            problems.add("each route must be an object", field=f"routes[{i}]")
            continue

        def at(col: str, row: dict[str, Any] = row, i: int = i) -> dict[str, Any]:
            return _where(f, file, "routes", i, row, col)

        o, d = str(row.get("origin", "")).strip(), str(row.get("destination", "")).strip()
        bad = not _route_ends(o, d, node_ix, problems, at)
        lead, cost, cap, shared = _route_numbers(row, problems, at)
        allowed = _allow_mask(row, res_ix, problems, at)
        if bad or lead is None or cost is None or cap is None or shared is None or allowed is None:
            continue
        pairs = [(o, d), (d, o)] if symmetric else [(o, d)]
        for a, b in pairs:
            cols["o"].append(node_ix[a])
            cols["d"].append(node_ix[b])
            cols["lead"].append(int(lead))
            cols["cost"].append(cost)
            cols["cap"].append(cap)
            cols["shared"].append(shared)
            cols["allowed"].append(allowed)
    n_res = len(res_ix)
    return Routes(
        origin=np.asarray(cols["o"], np.int64),
        destination=np.asarray(cols["d"], np.int64),
        lead_days=np.asarray(cols["lead"], np.int64),
        unit_cost=np.asarray(cols["cost"], float),
        capacity=np.repeat(np.asarray(cols["cap"], float)[:, None], n_res, axis=1),
        allowed=np.asarray(cols["allowed"], bool).reshape(-1, n_res),
        shared_capacity=np.asarray(cols["shared"], float) if any(np.isfinite(cols["shared"])) else None,
    )


def _route_ends(o: str, d: str, node_ix: dict[str, int], problems: _Collector, at: Any) -> bool:
    """Both ends are known nodes, and different ones (each mistake added to ``problems``)."""
    ok = True
    for col, name in (("origin", o), ("destination", d)):
        if name not in node_ix:
            problems.add(f"unknown node '{name}'", **at(col))
            ok = False
    if ok and o == d:
        problems.add("a route must join two different nodes", **at("destination"))
        ok = False
    return ok


def _route_numbers(
    row: dict[str, Any], problems: _Collector, at: Any
) -> tuple[float | None, float | None, float | None, float | None]:
    """Lead days, unit cost, capacity and shared capacity of a route row (None, and a problem, where wrong)."""
    lead = _number(row.get("lead_days", 0), integer=True)
    if lead is None:
        problems.add(f"'{row.get('lead_days')}' is not a whole number of days >= 0", **at("lead_days"))
    cost = _number(row.get("unit_cost", 0) if row.get("unit_cost") not in ("", None) else 0)
    if cost is None:
        problems.add(f"'{row.get('unit_cost')}' is not a number >= 0", **at("unit_cost"))
    cap = _number(row.get("capacity"), allow_inf=True)
    if cap is None:
        problems.add(f"'{row.get('capacity')}' is not a number >= 0 (or empty for unlimited)", **at("capacity"))
    shared = _number(row.get("shared_capacity"), allow_inf=True)
    if shared is None:
        problems.add(f"'{row.get('shared_capacity')}' is not a number >= 0", **at("shared_capacity"))
    return lead, cost, cap, shared


def _allow_mask(row: dict[str, Any], res_ix: dict[str, int], problems: _Collector, at: Any) -> list[bool] | None:
    """``resources`` (only these may travel) and ``banned`` (these may not): lists, or ';'-separated in CSV."""
    mask = [True] * len(res_ix)
    for col, keep in (("resources", True), ("banned", False)):
        raw = row.get(col)
        if raw in (None, ""):
            continue
        names = [x.strip() for x in raw.split(";")] if isinstance(raw, str) else raw
        if not isinstance(names, list):
            problems.add("must be a list of resource ids", **at(col))
            return None
        unknown = [n for n in names if n not in res_ix]
        if unknown:
            problems.add(f"unknown resource '{unknown[0]}'", **at(col))
            return None
        chosen = {res_ix[n] for n in names}
        mask = [m and ((i in chosen) == keep) for i, m in enumerate(mask)]
    return mask


def _pairing(
    records: dict[str, tuple[Any, str | None]], file: str, problems: _Collector, node_ix: dict[str, int]
) -> Pairing | None:
    rows = _list(records, "pairing", file, problems)
    f = records.get("pairing", (None, None))[1]
    sup, sud, exc = [], [], []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            problems.add("each pair must be an object", field=f"pairing[{i}]")
            continue
        a, b = str(row.get("supporter", "")).strip(), str(row.get("supported", "")).strip()
        flag = _bool(row.get("exclusive", False))
        ok = True
        for col, name in (("supporter", a), ("supported", b)):
            if name not in node_ix:
                problems.add(f"unknown node '{name}'", **_where(f, file, "pairing", i, row, col))
                ok = False
        if flag is None:
            problems.add("must be true or false", **_where(f, file, "pairing", i, row, "exclusive"))
            ok = False
        if ok:
            sup.append(node_ix[a])
            sud.append(node_ix[b])
            exc.append(bool(flag))
    if not sup:
        return None
    return Pairing(np.asarray(sup, np.int64), np.asarray(sud, np.int64), np.asarray(exc, bool))


# ------------------------------------------------------------------------------------------ writing
def _day_column(frame: pd.DataFrame, start: date | None, *cols: str) -> pd.DataFrame:
    if start is None:
        return frame
    for col in cols:
        frame[col.replace("day", "date")] = [(start + timedelta(days=int(d))).isoformat() for d in frame[col]]
    return frame


def write_plan(plan: Plan, out: Path, start: date | None = None) -> dict[str, Path]:
    """Write shipments.csv, shortfall.csv (node x resource x day), shortfall_by_node.csv, duals.csv (if solved
    with duals) and summary.json into folder ``out``; returns the paths by name."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "shipments": out / "shipments.csv",
        "shortfall": out / "shortfall.csv",
        "shortfall_by_node": out / "shortfall_by_node.csv",
        "summary": out / "summary.json",
    }
    _day_column(plan.shipments.copy(), start, "depart_day", "arrive_day").to_csv(paths["shipments"], index=False)
    _day_column(plan.shortfall_frame(), start, "day").to_csv(paths["shortfall"], index=False)
    plan.shortfall_by_node().to_csv(paths["shortfall_by_node"], index=False)
    if plan.duals is not None:
        p = plan.problem
        n, r, t = np.nonzero(np.abs(plan.duals) > 1e-9)
        duals = pd.DataFrame(
            {
                "node": np.asarray(p.nodes, dtype=object)[n],
                "resource": np.asarray(p.resources, dtype=object)[r],
                "day": t,
                "value_of_one_more_unit": plan.duals[n, r, t],
            }
        )
        paths["duals"] = out / "duals.csv"
        _day_column(duals, start, "day").to_csv(paths["duals"], index=False)
    paths["summary"].write_text(json.dumps(plan_summary(plan), indent=2) + "\n", encoding="utf-8")
    return paths


def plan_summary(plan: Plan) -> dict[str, Any]:
    """The headline figures of a plan as plain JSON values."""
    p = plan.problem
    return {
        "status": plan.status,
        "solver": plan.solver,
        "equity": plan.equity,
        "objective": plan.objective,
        "total_demand": float(p.demand.sum()),
        "total_shortfall": plan.total_shortfall,
        "shortfall_by_resource": dict(zip(p.resources, plan.shortfall.sum(axis=(0, 2)).tolist(), strict=True)),
        "worst_unmet_share_by_resource": dict(zip(p.resources, plan.unmet_share().max(axis=0).tolist(), strict=True)),
        "shipments": len(plan.shipments),
        "units_shipped": float(plan.shipments["quantity"].sum()),
        "build_seconds": plan.build_seconds,
        "solve_seconds": plan.solve_seconds,
        "model_size": plan.model_size,
        "warnings": list(plan.warnings),
    }
