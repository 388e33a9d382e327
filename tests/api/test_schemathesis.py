"""Schemathesis against /openapi.json on a live server: no 500, every response conforms.

Every operation gets generated requests (valid and invalid); then the operations on one run or
event are called with real ids, so the success shapes (RunDetail, EventDetail, ...) are checked
too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from durablex.server.openapi import document

from .conftest import TOKEN, other, shop
from .live import live_server

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = f"sqlite:///{tmp_path_factory.mktemp('schemathesis')}/api.db"
    with live_server(db, shop, other, token=TOKEN) as url:
        seed(url)
        yield url


def seed(url: str) -> dict[str, str]:
    """A few runs in every state, so listings return real records to validate."""
    with httpx.Client(base_url=url, headers=AUTH, timeout=10) as http:
        order = http.post(
            "/api/v1/events", json={"name": "order.created", "data": {"prices": [1, 2]}, "id": "e1"}
        ).json()
        failed = http.post("/api/v1/runs", json={"workflow": "fails"}).json()
        echoed = http.post("/api/v1/runs", json={"workflow": "echo", "data": {"a": [1]}}).json()
        napping = http.post("/api/v1/runs", json={"workflow": "nap"}).json()
        return {
            "order": order["run_ids"][0],
            "failed": failed["run_id"],
            "echo": echoed["run_id"],
            "nap": napping["run_id"],
            "event": "e1",
        }


# Loaded from the code, not the live URL: schemathesis's lazy (fixture) loading does not work
# with pytest 9. test_the_served_document_is_this_one closes the gap.
schema = schemathesis.openapi.from_dict(document())


@pytest.fixture(scope="module")
def api_schema() -> Any:
    return schema


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_conforms(case: Any, base_url: str) -> None:
    case.call_and_validate(base_url=base_url, headers=AUTH, checks=CHECKS)


def test_operations_on_real_records_conform(api_schema: Any, base_url: str) -> None:
    ids = seed(base_url)
    calls = [
        ("/api/v1/runs/{id}", "GET", ids["order"]),
        ("/api/v1/runs/{id}", "GET", ids["failed"]),
        ("/api/v1/runs/{id}", "GET", ids["echo"]),
        ("/api/v1/events/{id}", "GET", ids["event"]),
        ("/api/v1/runs/{id}/rerun", "POST", ids["echo"]),
        ("/api/v1/runs/{id}/resume", "POST", ids["failed"]),
        ("/api/v1/runs/{id}/resume", "POST", ids["nap"]),
        ("/api/v1/runs/{id}/cancel", "POST", ids["nap"]),
        ("/api/v1/runs/{id}/cancel", "POST", ids["nap"]),
    ]
    for path, method, value in calls:
        case = api_schema[path][method].Case(path_parameters={"id": value})
        case.call_and_validate(base_url=base_url, headers=AUTH, checks=CHECKS)
    for path in ["/api/v1/runs", "/api/v1/events", "/api/v1/apps", "/healthz"]:
        api_schema[path]["GET"].Case().call_and_validate(
            base_url=base_url, headers=AUTH, checks=CHECKS
        )
    unauthorized = api_schema["/api/v1/runs"]["GET"].Case()
    response = unauthorized.call_and_validate(base_url=base_url, checks=CHECKS)
    assert response.status_code == 401


def test_every_route_is_documented(api_schema: Any) -> None:
    from durablex.server.api import routes

    documented = {
        (path, method.upper())
        for path, item in api_schema.raw_schema["paths"].items()
        for method in item
    }
    served = {
        ("/api/v1" + route.path, method)
        for route in routes()
        for method in getattr(route, "methods", set()) - {"HEAD"}
    }
    assert served <= documented
    assert ("/healthz", "GET") in documented


def test_the_served_document_is_this_one(base_url: str) -> None:
    served = httpx.get(f"{base_url}/openapi.json", headers=AUTH).json()
    assert served == document()
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) == 11
