"""The endpoints added for MLflow's REST suite under ``tracklet server --auth``: each
checks the caller's permission on what it touches, like the endpoints beside it
(``experiments/delete-experiment-tag`` EDIT, ``experiments/search-datasets`` and
``metrics/get-history-bulk`` READ, ``/get-artifact`` READ on the run's experiment)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tracklet_http.testing import ServerProcess

pytestmark = pytest.mark.slow

ADMIN = ("admin", "admin-password-123")
ALICE = ("alice", "alice-password-1")
BOB = ("bob", "bob-password-12")


def _call(
    server: ServerProcess, method: str, target: str, user: tuple[str, str], body: Any = None, **query: Any
) -> Any:
    token = base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
    return requests.request(
        method,
        server.url + target,
        json=body,
        params=query or None,
        headers={"Authorization": f"Basic {token}"},
        timeout=60,
    )


@pytest.fixture
def server(start_tracklet_server: Callable[..., ServerProcess]) -> ServerProcess:
    """--auth, nobody may read what they did not create; users alice and bob."""
    env = {
        "TRACKLET_AUTH_ADMIN_USERNAME": ADMIN[0],
        "TRACKLET_AUTH_ADMIN_PASSWORD": ADMIN[1],
        "TRACKLET_AUTH_DEFAULT_PERMISSION": "NO_PERMISSIONS",
    }
    srv = start_tracklet_server(None, None, "--auth", env=env)
    for user in (ALICE, BOB):
        body = {"username": user[0], "password": user[1]}
        assert _call(srv, "POST", "/api/2.0/mlflow/users/create", ADMIN, body).status_code == 200
    return srv


def test_new_endpoints_need_permission_on_what_they_touch(server: ServerProcess) -> None:
    api = "/api/2.0/mlflow"
    experiment_id = _call(server, "POST", api + "/experiments/create", ALICE, {"name": "alice's"}).json()[
        "experiment_id"
    ]
    run_id = _call(server, "POST", api + "/runs/create", ALICE, {"experiment_id": experiment_id}).json()[
        "run"
    ]["info"]["run_id"]
    tag = {"experiment_id": experiment_id, "key": "k", "value": "v"}
    assert _call(server, "POST", api + "/experiments/set-experiment-tag", ALICE, tag).status_code == 200
    calls = [
        (
            "POST",
            api + "/experiments/delete-experiment-tag",
            {"experiment_id": experiment_id, "key": "k"},
            {},
        ),
        ("POST", "/ajax-api/2.0/mlflow/experiments/search-datasets", {"experiment_ids": [experiment_id]}, {}),
        (
            "GET",
            "/ajax-api/2.0/mlflow/metrics/get-history-bulk",
            None,
            {"run_id": [run_id], "metric_key": "m"},
        ),
        ("GET", "/get-artifact", None, {"run_id": run_id, "path": "a.txt"}),
    ]
    for method, path, body, query in calls:
        refused = _call(server, method, path, BOB, body, **query)
        assert (refused.status_code, refused.json()["error_code"]) == (403, "PERMISSION_DENIED"), path
    for method, path, body, query in calls[:3]:
        assert _call(server, method, path, ALICE, body, **query).status_code == 200, path
