"""Ids have one spelling. With ``--auth``, grants are looked up by the id a request names,
and a store that keys experiments by integer read "01" as experiment 1: a READ user got the
server's default permission on "01" (MANAGE here) and deleted experiment 1. The server now
refuses every other spelling of a numeric experiment id (``"01"``, ``" 1"``, ``"+1"``,
``"0_1"``, Arabic-Indic or full-width digits) with 400 INVALID_PARAMETER_VALUE naming the
field and the canonical id, before authorization, on every endpoint that names one; JSON
integers from older clients are still read as the id they spell."""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from tracklet_http.protocol import API_PREFIX  # noqa: E402
from tracklet_http.testing import (  # noqa: E402
    RawAnswer,
    ServerProcess,
    launch_tracklet_server,
    raw_request,
)

ADMIN = ("admin", "admin-password-123")
ALICE = ("alice", "alice-password-1")
BOB = ("bob", "bob-password-12")
#: The server's default permission is MANAGE: only explicit grants hold anyone back.
ENV = {
    "TRACKLET_AUTH_ADMIN_USERNAME": ADMIN[0],
    "TRACKLET_AUTH_ADMIN_PASSWORD": ADMIN[1],
    "TRACKLET_AUTH_DEFAULT_PERMISSION": "MANAGE",
}
#: Other spellings of experiment 1 (Python's int() reads each as 1).
SPELLINGS = ["01", "001", " 1", "1 ", "+1", "0_1", "1\n", "\u0661", "\uff11"]


def _call(
    server: ServerProcess, user: tuple[str, str], method: str, path: str, fields: dict[str, Any]
) -> RawAnswer:
    auth = {"Authorization": "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()}
    target = path if path.startswith("/") else f"{API_PREFIX}/{path}"
    if method == "GET":
        return raw_request(
            server.url, "GET", f"{target}?{urllib.parse.urlencode(fields, doseq=True)}", None, auth
        )
    body = json.dumps(fields).encode()
    return raw_request(server.url, method, target, body, {**auth, "Content-Type": "application/json"})


def _ok(answer: RawAnswer) -> Any:
    assert answer.status == 200, (answer.status, answer.body)
    return answer.json


def _refused(answer: RawAnswer, where: object) -> str:
    assert answer.status == 400, (where, answer.status, answer.body)
    assert answer.json["error_code"] == "INVALID_PARAMETER_VALUE", where
    return str(answer.json["message"])


@pytest.fixture(scope="module", params=["sqlite", "file"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A ``--auth`` server (default MANAGE) where alice made experiment 1 and granted bob
    READ there."""
    root = tmp_path_factory.mktemp("ids")
    backend = f"sqlite:///{root / 'tracklet.db'}" if request.param == "sqlite" else str(root / "mlruns")
    started = launch_tracklet_server(
        root, backend, None, "--auth", "--auth-db-uri", f"sqlite:///{root / 'auth.db'}", env=ENV
    )
    try:
        for user in (ALICE, BOB):
            _ok(_call(started, ADMIN, "POST", "users/create", {"username": user[0], "password": user[1]}))
        experiment = _ok(_call(started, ALICE, "POST", "experiments/create", {"name": "alices"}))
        assert experiment["experiment_id"] == "1"
        grant = {"experiment_id": "1", "username": "bob", "permission": "READ"}
        _ok(_call(started, ALICE, "POST", "experiments/permissions/create", grant))
        yield started
    finally:
        started.stop()


def _experiment_one(server: ServerProcess) -> dict[str, Any]:
    return dict(_ok(_call(server, ADMIN, "GET", "experiments/get", {"experiment_id": "1"}))["experiment"])


def _calls_naming(experiment_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("POST", "experiments/delete", {"experiment_id": experiment_id}),
        ("POST", "experiments/update", {"experiment_id": experiment_id, "new_name": "bobs now"}),
        (
            "POST",
            "experiments/set-experiment-tag",
            {"experiment_id": experiment_id, "key": "k", "value": "v"},
        ),
        ("POST", "runs/create", {"experiment_id": experiment_id}),
        ("GET", "experiments/get", {"experiment_id": experiment_id}),
        ("POST", "runs/search", {"experiment_ids": ["0", experiment_id]}),
    ]


def test_read_user_cannot_reach_experiment_one_under_another_spelling(server: ServerProcess) -> None:
    before = _experiment_one(server)
    for spelling in SPELLINGS:
        for method, path, fields in _calls_naming(spelling):
            # before: 200 for "01" (bob deleted, renamed, tagged experiment 1), 404 for others
            message = _refused(_call(server, BOB, method, path, fields), (spelling, path))
            assert "experiment_id" in message and "'1'" in message, message
    after = _experiment_one(server)
    assert after == before and after["lifecycle_stage"] == "active" and after["name"] == "alices"


def test_the_canonical_id_is_judged_by_its_grant(server: ServerProcess) -> None:
    assert _call(server, BOB, "POST", "experiments/delete", {"experiment_id": "1"}).status == 403
    # older clients send the id as a JSON integer: the same experiment, the same grant
    assert _call(server, BOB, "POST", "experiments/delete", {"experiment_id": 1}).status == 403
    assert (
        _ok(_call(server, BOB, "GET", "experiments/get", {"experiment_id": "1"}))["experiment"]["name"]
        == "alices"
    )
    assert _experiment_one(server)["lifecycle_stage"] == "active"
    # alice, who holds MANAGE, still can
    _ok(_call(server, ALICE, "POST", "experiments/delete", {"experiment_id": 1}))
    assert _experiment_one(server)["lifecycle_stage"] == "deleted"
    _ok(_call(server, ALICE, "POST", "experiments/restore", {"experiment_id": "1"}))


def test_run_ids_are_matched_whole(server: ServerProcess) -> None:
    run_id = _ok(_call(server, ALICE, "POST", "runs/create", {"experiment_id": "1"}))["run"]["info"]["run_id"]
    for spelling in (run_id + "\n", " " + run_id, run_id + " ", "\u0661" + run_id[1:]):
        for method, path, fields in (
            ("POST", "runs/delete", {"run_id": spelling}),
            ("GET", "runs/get", {"run_id": spelling}),
            ("GET", "metrics/get-history-bulk-interval", {"run_ids": [spelling], "metric_key": "m"}),
        ):
            assert "run_id" in _refused(_call(server, BOB, method, path, fields), (spelling, path))
    run = _ok(_call(server, ADMIN, "GET", "runs/get", {"run_id": run_id}))["run"]
    assert run["info"]["lifecycle_stage"] == "active"
