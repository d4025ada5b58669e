"""Schemathesis over the whole OpenAPI document: every operation, anonymous and as an admin, with valid and
invalid inputs, on a SQLite store holding a small demo country (its tree, reports, measures, cases, stocks and
health codes). No response may be a server error (status >= 500, or an exception out of the app), and every
response must conform to the document: a documented status code, and a body matching the declared schema.

Bounded and deterministic: schemathesis' coverage phase and a few random examples per operation and caller,
derandomised, without shrinking (about a minute and a half on two cores).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Unsatisfiable
from rich.console import Console
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.hypothesis.builder import HypothesisTestConfig, HypothesisTestMode, create_test
from schemathesis.generation.overrides import Override
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from accord.app import create_app
from accord.demo.service import run_demo
from accord.settings import Settings

#: random examples per operation, pass and caller (beside the coverage phase's deterministic ones)
EXAMPLES = 2
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)

# the document is the same whatever the store: load it once, at collection, from an app without a database
SCHEMA = schemathesis.openapi.from_dict(create_app(Settings(database_url="sqlite://")).openapi())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@dataclass
class Demo:
    app: FastAPI
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    settings = Settings(data_dir=tmp_path_factory.mktemp("schemathesis"), max_upload_bytes=1_000_000)
    report = run_demo(seed=3, days=14, communities=40, settings=settings, console=Console(file=io.StringIO()), now=NOW)
    return Demo(create_app(settings), report.tokens)


#: real values for parameters of these names (a community that reports, its province, an indicator; ids of the
#: first row of each table), so that a second pass reaches past "not found" into the services
KNOWN = {"jurisdiction": "AR-01-01-001", "code": "AR-01", "root": "AR-01", "indicator": "new_confirmed"}


def server_errors(operation: APIOperation, app: FastAPI, headers: dict[str, str]) -> list[str]:
    """Run the bounded examples of ``operation``; what went wrong, one line each (empty when nothing did).

    Two passes: schemathesis' coverage phase (boundary values and type mutations of every parameter and body
    field) with random valid and invalid examples, then random examples with the known codes filled in."""
    found: list[str] = []
    check = _examples(operation, lambda case: _check(case, app, headers, found), Override(), coverage=True)
    known = _known_values(operation)
    passes = [check]
    if known.query or known.path_parameters:
        passes.append(_examples(operation, lambda case: _check(case, app, headers, found), known, coverage=False))
    for run in passes:
        with contextlib.suppress(Unsatisfiable):  # nothing to make invalid: the other examples covered it
            run()
    return found


def _known_values(operation: APIOperation) -> Override:
    raw = SCHEMA.raw_schema["paths"][operation.path][operation.method.lower()]
    known = {
        (p["in"], p["name"]): "1" if p["name"].endswith("_id") else KNOWN[p["name"]]
        for p in raw.get("parameters", [])
        if p["name"] in KNOWN or (p["in"] == "path" and p["name"].endswith("_id"))
    }
    return Override(
        query={name: value for (where, name), value in known.items() if where == "query"},
        path_parameters={name: value for (where, name), value in known.items() if where == "path"},
    )


def _examples(
    operation: APIOperation, check: Callable[[Any], None], override: Override, *, coverage: bool
) -> Callable[[], None]:
    modes = [HypothesisTestMode.COVERAGE, HypothesisTestMode.FUZZING] if coverage else [HypothesisTestMode.FUZZING]
    bounded = settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    config = HypothesisTestConfig(project=SCHEMA.config, modes=modes, settings=bounded, override=override)
    run: Callable[[], None] = create_test(operation=operation, test_func=check, config=config)
    return run


def _check(case: Any, app: FastAPI, headers: dict[str, str], found: list[str]) -> None:
    try:
        response = case.call(app=app, headers=headers)
    except Exception as exc:  # an exception out of the app is a server error too
        found.append(f"{type(exc).__name__}: {exc} <- {case.as_curl_command()}")
        return
    if response.status_code >= 500:
        found.append(f"{response.status_code} {response.text[:300]} <- {case.as_curl_command()}")
        return
    try:
        case.validate_response(response, checks=[status_code_conformance, response_schema_conformance])
    except FailureGroup as exc:
        found.append(f"nonconforming {response.status_code}: {str(exc)[:500]} <- {case.as_curl_command()}")


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
@pytest.mark.parametrize("caller", ["anonymous", "admin"])
def test_no_server_errors_and_conforming_responses(demo: Demo, operation: APIOperation, caller: str) -> None:
    headers = {"Authorization": f"Bearer {demo.tokens['admin']}"} if caller == "admin" else {}
    found = server_errors(operation, demo.app, headers)
    assert not found, f"{operation.label} as {caller}:\n" + "\n".join(found)
