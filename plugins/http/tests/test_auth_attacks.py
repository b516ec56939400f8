"""Issue 12's attacks on ``tracklet server --auth``, replayed against a live server (a
subprocess on sqlite, real HTTP): password guessing (rate limit, 429 with Retry-After),
unauthenticated bodies (refused from the headers, never read), passwords of NULs, and
users and admins enumerated through the permissions API. The overwrite of artifacts by
an EDIT user is in test_security_artifacts.py; the event-loop stall in test_auth_loop.py."""

from __future__ import annotations

import base64
import http.client
import json
import socket
from collections.abc import Callable
from typing import Any

import pytest

from tracklet_http.testing import ServerProcess, raw_request

ADMIN = ("admin", "admin-password-123")
ALICE = ("alice", "alice-password-1")
BOB = ("bob", "bob-password-12")
ADMIN_ENV = {"TRACKLET_AUTH_ADMIN_USERNAME": ADMIN[0], "TRACKLET_AUTH_ADMIN_PASSWORD": ADMIN[1]}
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


def _auth(user: tuple[str, str] | tuple[str, bytes]) -> dict[str, str]:
    secret = user[1] if isinstance(user[1], bytes) else user[1].encode()
    return {"Authorization": "Basic " + base64.b64encode(user[0].encode() + b":" + secret).decode()}


def api(server: ServerProcess, method: str, path: str, user: Any = None, body: Any = None) -> Any:
    """One request (``path`` under /api/2.0/mlflow unless it starts with /)."""
    target = path if path.startswith("/") else "/api/2.0/mlflow/" + path
    data = None if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **(_auth(user) if user else {})}
    return raw_request(server.url, method, target, data, headers)


@pytest.fixture
def server(start_tracklet_server: Callable[..., ServerProcess]) -> ServerProcess:
    """``--auth`` on sqlite with users alice and bob; at most 3 failed logins per user and
    address, 8 per address."""
    env = {**ADMIN_ENV, "TRACKLET_AUTH_MAX_FAILURES": "3", "TRACKLET_AUTH_MAX_ADDRESS_FAILURES": "8"}
    started = start_tracklet_server(None, None, "--auth", env=env)
    for user in (ALICE, BOB):
        answer = api(started, "POST", "users/create", ADMIN, {"username": user[0], "password": user[1]})
        assert answer.status == 200, answer.body
    return started


# -- password guessing ---------------------------------------------------------------------------------

GUESSED = [
    ("POST", "experiments/search", {}),
    ("GET", "users/current", None),
    ("GET", ARTIFACTS + "?path=", None),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), GUESSED, ids=["tracking-api", "auth-api", "artifact-proxy"]
)
def test_password_guessing_is_answered_429_without_checking(
    server: ServerProcess, method: str, path: str, body: Any
) -> None:
    assert api(server, method, path, ALICE, body).status == 200  # alice's credential, now cached
    for i in range(3):
        answer = api(server, method, path, ("alice", f"guess-number-{i}"), body)
        assert answer.status == 401 and answer.json["error_code"] == "UNAUTHENTICATED"
    refused = api(server, method, path, ("alice", "guess-number-4"), body)
    assert refused.status == 429, refused.body
    assert refused.json["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert "Try again in" in refused.json["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 300
    # what was checked before is still answered from the cache; other users log in
    assert api(server, method, path, ALICE, body).status == 200
    assert api(server, method, path, BOB, body).status == 200


def test_one_address_guessing_many_users_is_held_back(server: ServerProcess) -> None:
    for i in range(8):
        assert api(server, "GET", "users/current", (f"user{i}", "some-long-guess")).status == 401
    refused = api(server, "GET", "users/current", ("someone-else", "some-long-guess"))
    assert refused.status == 429 and "from your address" in refused.json["message"]
    assert int(refused.headers["retry-after"]) >= 1


# -- bodies before authentication ------------------------------------------------------------------------


def _headers_only(
    server: ServerProcess, method: str, target: str, length: int
) -> tuple[http.client.HTTPResponse, bytes]:
    """Send a request's headers announcing ``length`` body bytes and then only one byte;
    the answer, and what the connection gives after it (b"" when the server closed it)."""
    host, port = server.url.split("://", 1)[1].split(":")
    sock = socket.create_connection((host, int(port)), timeout=20)
    head = (
        f"{method} {target} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n{{"
    )
    sock.sendall(head.encode())
    try:
        response = http.client.HTTPResponse(sock)
        response.begin()  # a timeout here: the server waited for the body
        response.read()
        after = sock.recv(1)
    finally:
        sock.close()
    return response, after


@pytest.mark.parametrize(
    ("method", "target", "length"),
    [
        ("POST", "/api/2.0/mlflow/experiments/search", 32 * 1024 * 1024),
        ("PUT", ARTIFACTS + "/0/run/artifacts/big.bin", 32 * 1024 * 1024),
        ("POST", "/api/2.0/mlflow/users/create", 60_000),  # the auth API reads at most 64 KiB
    ],
    ids=["tracking-api", "artifact-proxy", "auth-api"],
)
def test_unauthenticated_bodies_are_refused_from_the_headers(
    server: ServerProcess, method: str, target: str, length: int
) -> None:
    response, after = _headers_only(server, method, target, length)
    assert response.status == 401
    assert response.getheader("www-authenticate") == 'Basic realm="tracklet"'
    assert (response.getheader("connection") or "").lower() == "close"
    assert after == b""  # and the server hung up instead of reading the rest


# -- passwords ---------------------------------------------------------------------------------------


def test_a_password_of_nuls_is_refused_and_opens_nothing(server: ServerProcess) -> None:
    """Issue 12: twelve NULs passed the length rule, and the account then took an empty
    password (scrypt's HMAC zero-pads the password)."""
    answer = api(server, "POST", "users/create", ADMIN, {"username": "nul", "password": "\x00" * 12})
    assert answer.status == 400 and answer.json["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "'password'" in answer.json["message"] and "control characters" in answer.json["message"]
    change = {"username": "alice", "password": "\x00" * 12, "current_password": ALICE[1]}
    assert api(server, "PATCH", "users/update-password", ALICE, change).status == 400
    for password in (b"", b"\x00" * 12, ALICE[1].encode() + b"\x00"):
        assert api(server, "GET", "users/current", ("alice", password)).status == 401
    assert api(server, "GET", "users/current", ALICE).status == 200


# -- enumerating users -----------------------------------------------------------------------------------


def test_signed_in_users_cannot_enumerate_users_or_admins(server: ServerProcess) -> None:
    """Anyone may create an experiment and so hold MANAGE on one; that must not let them
    ask who exists or who is an admin (MLflow answers users/permissions/get to admins and
    the user themselves only)."""
    assert api(server, "GET", "users/list", ALICE).status == 403
    assert api(server, "GET", "/ajax-api/2.0/mlflow/users/list", ALICE).status == 403
    assert api(server, "GET", "users/get?username=admin", ALICE).status == 403
    assert api(server, "GET", "users/get?username=alice", ALICE).status == 200
    exp = api(server, "POST", "experiments/create", ALICE, {"name": "alices"}).json["experiment_id"]
    v3 = f"/api/3.0/mlflow/users/permissions/get?resource_type=experiment&resource_id={exp}&username="
    for name in ("admin", "bob", "nobody"):
        answer = api(server, "GET", v3 + name, ALICE)
        assert answer.status == 403 and answer.json["error_code"] == "PERMISSION_DENIED", (name, answer.body)
    assert api(server, "GET", v3 + "alice", ALICE).json == {"allowed": True, "permission": "MANAGE"}
    assert api(server, "GET", v3 + "bob", ADMIN).json == {"allowed": False, "permission": "READ"}
    # a grant that is missing reads the same whether the user exists or not
    v2 = f"experiments/permissions/get?experiment_id={exp}&username="
    answers = {name: api(server, "GET", v2 + name, ALICE) for name in ("admin", "bob", "nobody")}
    assert {a.status for a in answers.values()} == {404}
    assert {a.json["message"].replace(name, "<name>") for name, a in answers.items()} == {
        f"No permission of user '<name>' on experiment {exp}."
    }
