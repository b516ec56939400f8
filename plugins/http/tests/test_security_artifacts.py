"""The path-traversal, local-file-inclusion and SSRF attacks reported against MLflow's
server and artifact proxy, replayed against a live ``tracklet server``.

Each test sends the CVE's request shape and checks both the answer (a JSON refusal)
and the file system: canary files planted *outside* the artifact root are neither
read, listed, overwritten, created nor deleted. The CVEs (from MLflow's advisories):

* CVE-2023-6909, CVE-2024-2928, CVE-2023-6730 — reading outside the root through the
  proxy (``..``, ``%2e%2e``, double encoding ``%252e``, a fragment);
* CVE-2023-6831, CVE-2024-1560 — deleting outside it (``\\..\\``, double decoding);
* CVE-2023-2780, CVE-2023-2356 — backslash and ``..`` forms; CVE-2024-1593 — ``;``
  path-parameter smuggling; absolute paths, drive letters, NUL bytes, Unicode dots;
* symbolic links inside the root pointing out of it;
* CVE-2023-30172, CVE-2023-1177, CVE-2023-1176, CVE-2023-6977, CVE-2024-1483 — files
  reached through ``/get-artifact``, model-version sources and run/experiment artifact
  locations (``file://``, ``..``);
* CVE-2023-6974 — SSRF through an experiment's http artifact location;
* CVE-2023-43472 (cross-origin writes), CVE-2025-14279 (DNS rebinding) on the proxy;
* CVE-2024-4263 — a user with EDIT deleting artifacts; the ``/ajax-api`` alias
  (CVE-2023-6014's lesson: every prefix is guarded).
"""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import pathlib
import socket
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tracklet.testing import raises_code
from tracklet_http.artifacts import HttpArtifactRepository
from tracklet_http.testing import (
    RawAnswer,
    ServerProcess,
    launch_tracklet_server,
    raw_request,
)

API = "/api/2.0/mlflow-artifacts/artifacts"
SECRET = b"top secret: must never leave the server"


Answer = RawAnswer


def raw(
    server: ServerProcess,
    method: str,
    target: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One request with its target sent byte for byte (no client-side normalisation)."""
    return raw_request(server.url, method, target, body, headers)


def api(
    server: ServerProcess,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    query: dict[str, str] | None = None,
    user: tuple[str, str] | None = None,
) -> Answer:
    """A JSON call to the tracking API."""
    target = "/api/2.0/mlflow/" + path + ("?" + urllib.parse.urlencode(query) if query else "")
    headers = {"Content-Type": "application/json"}
    if user:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
    return raw(server, method, target, json.dumps(body).encode() if body is not None else None, headers)


@dataclass
class Site:
    """A server whose artifact root is ``base/artifacts``, with canaries beside it in ``base``."""

    server: ServerProcess
    base: pathlib.Path

    @property
    def root(self) -> pathlib.Path:
        return self.base / "artifacts"

    def outside(self) -> dict[str, tuple[bytes, float]]:
        """Everything outside the root: path -> (content, mtime)."""
        out = {}
        for path in sorted(self.base.rglob("*")):
            if (
                self.root in path.parents
                or path == self.root
                or path.name == "server.log"
                or "db.sqlite" in path.name
            ):
                continue
            out[str(path.relative_to(self.base))] = (
                path.read_bytes() if path.is_file() else b"<dir>",
                path.lstat().st_mtime,
            )
        return out


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("attacked")
    (base / "artifacts").mkdir()
    (base / "secret.txt").write_bytes(SECRET)
    (base / "canary_dir").mkdir()
    (base / "canary_dir" / "inside.txt").write_bytes(SECRET)
    server = launch_tracklet_server(base, f"sqlite:///{base / 'db.sqlite'}")
    yield Site(server, base)
    server.stop()


@pytest.fixture
def untouched(site: Site) -> Iterator[None]:
    """The test must leave everything outside the artifact root as it was."""
    before = site.outside()
    yield
    assert site.outside() == before, "a file outside the artifact root was created, changed or deleted"


def assert_refused(answer: Answer, statuses: tuple[int, ...] = (400,)) -> None:
    assert answer.status in statuses, (answer.status, answer.body[:300])
    assert SECRET not in answer.body
    assert answer.json["error_code"] and answer.json["message"]


# -- the proxy's own routes --------------------------------------------------------------------------------

# {name} is replaced by the canary to reach: from the root, '../{name}' is base/{name}.
ESCAPES = {
    "dot-dot": "../{name}",
    "inner-dot-dot": "x/../../{name}",
    "dot-dot-encoded-slash": "..%2f{name}",
    "encoded-dots": "%2e%2e/{name}",
    "encoded-dots-upper": "%2E%2E%2F{name}",
    "double-encoded (CVE-2023-6730, CVE-2024-1560)": "%252e%252e%252f{name}",
    "double-encoded-inner": "x/%252e%252e/%252e%252e/{name}",
    "triple-encoded": "%25252e%25252e%25252f{name}",
    "backslash (CVE-2023-2780, CVE-2023-6831)": "..\\{name}",
    "encoded-backslash": "..%5c{name}",
    "double-encoded-backslash": "x%255c..%255c..%255c{name}",
    "leading-backslash": "%5c..%5c{name}",
    "fragment (CVE-2024-2928)": "x%23/../../{name}",
    "query": "x%3f/../../{name}",
    "absolute": "/{abs}",
    "encoded-absolute": "%2f{abs_rel}",
    "double-encoded-absolute": "%252f{abs_rel}",
    "file-uri": "file:%2f%2f/{abs}",
    "drive-letter": "C:%5c{name}",
    "drive-letter-slash": "C:/{name}",
    "nul": "{name}%00.txt",
    "encoded-nul": "{name}%2500.txt",
}
OPERATIONS = ["GET", "HEAD", "PUT", "DELETE", "LIST"]


def _target(site: Site, template: str, operation: str) -> str:
    """The request target: the path in the URL, or (LIST) in the query, encoded alike."""
    name = {"GET": "secret.txt", "HEAD": "secret.txt", "PUT": "planted.txt"}.get(operation, "canary_dir")
    absolute = str(site.base / name).lstrip("/")
    path = template.format(name=name, abs=absolute, abs_rel=urllib.parse.quote(absolute, safe=""))
    return f"{API}?path={path}" if operation == "LIST" else f"{API}/{path}"


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("template", list(ESCAPES.values()), ids=list(ESCAPES))
@pytest.mark.usefixtures("untouched")
def test_escaping_paths_are_refused(site: Site, template: str, operation: str) -> None:
    target = _target(site, template, operation)
    method = "GET" if operation == "LIST" else operation
    answer = raw(site.server, method, target, b"planted by an attacker" if method == "PUT" else None)
    if method == "HEAD":
        assert answer.status == 400 and answer.body == b""
        return
    assert_refused(answer)
    assert not (site.base / "planted.txt").exists()


# Forms that are not escapes: odd but literal names, which must stay inside the root.
LITERAL = {
    "semicolon (CVE-2024-1593)": "..;/{name}",
    "dot-dot-space": "..%20/{name}",
    "fullwidth-dots": "%EF%BC%8E%EF%BC%8E/{name}",
    "one-dot-leader": "%E2%80%A5/{name}",
    "overlong-utf8-dots": "%C0%AE%C0%AE/{name}",
    "triple-dot": ".../{name}",
}


@pytest.mark.parametrize("template", list(LITERAL.values()), ids=list(LITERAL))
@pytest.mark.usefixtures("untouched")
def test_odd_names_stay_inside_the_root(site: Site, template: str) -> None:
    folder = uuid.uuid4().hex
    put = raw(site.server, "PUT", f"{API}/{folder}/" + template.format(name="planted.txt"), b"inside")
    get = raw(site.server, "GET", f"{API}/{folder}/" + template.format(name="secret.txt"))
    assert put.status in (200, 400) and get.status in (400, 404)
    assert SECRET not in get.body
    if put.status == 200:  # written, but under the root
        written = [p for p in (site.root / folder).rglob("planted.txt")]
        assert len(written) == 1 and written[0].read_bytes() == b"inside"


@pytest.fixture(scope="module")
def links(site: Site) -> str:
    """A folder in the root holding links out of it (and one link that stays inside)."""
    folder = "links"
    (site.root / folder).mkdir()
    (site.root / folder / "dir_out").symlink_to(site.base)
    (site.root / folder / "file_out").symlink_to(site.base / "secret.txt")
    (site.root / folder / "real").mkdir()
    (site.root / folder / "real" / "ok.txt").write_bytes(b"fine")
    (site.root / folder / "inside_link").symlink_to(site.root / folder / "real")
    return folder


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "file_out"),
        ("GET", "dir_out/secret.txt"),
        ("GET", "dir_out/canary_dir/inside.txt"),
        ("PUT", "dir_out/planted.txt"),
        ("PUT", "dir_out/new_folder/planted.txt"),
        ("PUT", "file_out"),
        ("DELETE", "dir_out/canary_dir"),
        ("DELETE", "dir_out/secret.txt"),
        ("DELETE", "file_out"),
        ("DELETE", "dir_out"),
        ("LIST", "dir_out"),
        ("LIST", "dir_out/canary_dir"),
    ],
)
@pytest.mark.usefixtures("untouched")
def test_symlinks_out_of_the_root_are_refused(site: Site, links: str, method: str, path: str) -> None:
    if method == "LIST":
        answer = raw(site.server, "GET", f"{API}?path={links}/{path}")
    else:
        answer = raw(site.server, method, f"{API}/{links}/{path}", b"planted" if method == "PUT" else None)
    assert_refused(answer)
    assert "resolves outside" in answer.json["message"]
    assert not (site.base / "planted.txt").exists() and not (site.base / "new_folder").exists()


def test_links_out_of_the_root_are_not_listed_and_links_inside_work(site: Site, links: str) -> None:
    listing = raw(site.server, "GET", f"{API}?path={links}").json
    assert listing == {"files": [{"path": "inside_link", "is_dir": True}, {"path": "real", "is_dir": True}]}
    answer = raw(site.server, "GET", f"{API}/{links}/inside_link/ok.txt")
    assert (answer.status, answer.body) == (200, b"fine")


@pytest.mark.usefixtures("untouched")
def test_deleting_a_link_removes_the_link_not_its_target(site: Site) -> None:
    folder = site.root / uuid.uuid4().hex
    (folder / "target").mkdir(parents=True)
    (folder / "target" / "kept.txt").write_bytes(b"kept")
    (folder / "link").symlink_to(folder / "target")
    (folder / "to_root").symlink_to(site.root)
    assert raw(site.server, "DELETE", f"{API}/{folder.name}/link").status == 200
    assert not (folder / "link").is_symlink() and (folder / "target" / "kept.txt").read_bytes() == b"kept"
    refused = raw(site.server, "DELETE", f"{API}/{folder.name}/to_root")
    assert refused.status == 400 and "artifact root itself" in refused.json["message"]
    assert (folder / "target" / "kept.txt").exists()


# -- files reached through the tracking API ------------------------------------------------------------------


def _experiment_with_location(site: Site, location: str) -> tuple[Answer, str | None]:
    """Create an experiment with ``location`` and a run in it: (create answer, run id)."""
    created = api(
        site.server,
        "POST",
        "experiments/create",
        {"name": f"attack-{uuid.uuid4().hex}", "artifact_location": location},
    )
    if created.status != 200:
        return created, None
    run = api(site.server, "POST", "runs/create", {"experiment_id": created.json["experiment_id"]})
    assert run.status == 200, run.body
    return created, run.json["run"]["info"]["run_id"]


@pytest.mark.parametrize(
    "location",
    [
        "mlflow-artifacts:/../../",
        "mlflow-artifacts:/%2e%2e/%2e%2e/",
        "mlflow-artifacts://localhost/..%2f..%2f",
        "http://localhost:1{api}/../../",
        "http://localhost:1{api}/%252e%252e/%252e%252e/",
    ],
)
@pytest.mark.usefixtures("untouched")
def test_proxied_locations_that_climb_out_are_refused(site: Site, location: str) -> None:
    """CVE-2023-2356 / CVE-2024-1483 shapes: a proxied artifact location with '..' is refused;
    one whose '..' is encoded twice names a literal folder inside the root (or is refused)."""
    created, run_id = _experiment_with_location(site, location.format(api=API))
    if run_id is None:
        assert_refused(created)
        return
    listing = api(site.server, "GET", "artifacts/list", query={"run_id": run_id, "path": ""})
    assert listing.status == 400 or (listing.status == 200 and "%25" in location), listing.body
    assert (
        SECRET not in listing.body and b"canary_dir" not in listing.body and b"secret.txt" not in listing.body
    )


@pytest.mark.parametrize("form", ["file", "path"])
@pytest.mark.usefixtures("untouched")
def test_a_local_location_outside_the_root_is_not_served(site: Site, form: str) -> None:
    """CVE-2023-1177 / CVE-2023-6977 / CVE-2024-1483: an experiment whose artifact location
    is a local folder of the client's choosing must not make the server list or read it."""
    target = site.base / "canary_dir"
    location = target.as_uri() if form == "file" else str(target)
    created, run_id = _experiment_with_location(site, location)
    if run_id is None:
        assert_refused(created)
        return
    listing = api(site.server, "GET", "artifacts/list", query={"run_id": run_id})
    assert b"inside.txt" not in listing.body and SECRET not in listing.body


@pytest.mark.usefixtures("untouched")
def test_get_artifact_and_model_version_routes_do_not_read_files(site: Site) -> None:
    """CVE-2023-30172 (/get-artifact ?path=..), CVE-2023-1177/1176 (model-version source)."""
    _, run_id = _experiment_with_location(site, "mlflow-artifacts:/safe")
    for target in (
        f"/get-artifact?path=../../secret.txt&run_id={run_id}",
        f"/get-artifact?path=..%2f..%2fsecret.txt&run_uuid={run_id}",
        f"/ajax-api/2.0/mlflow/get-artifact?path=../../secret.txt&run_id={run_id}",
        "/model-versions/get-artifact?path=secret.txt&name=m&version=1",
        "/ajax-api/2.0/mlflow/model-versions/get-artifact?path=secret.txt&name=m&version=1",
    ):
        answer = raw(site.server, "GET", target)
        assert answer.status in (400, 403, 404), (target, answer.status)
        assert SECRET not in answer.body
    for source in (
        (site.base).as_uri(),
        str(site.base),
        f"file://{site.base}/../{site.base.name}",
        f"file:///{site.base}#/../../",
    ):
        created = api(site.server, "POST", "model-versions/create", {"name": "m", "source": source})
        assert created.status != 200 and SECRET not in created.body


class _Listener(http.server.BaseHTTPRequestHandler):
    """Counts every request an SSRF would make."""

    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        _Listener.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"files": [{"path": "metadata-secret", "is_dir": false, "file_size": 1}]}')

    do_PUT = do_DELETE = do_HEAD = do_GET  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Listener)
    _Listener.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", _Listener.hits
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "location",
    [
        "http://{host}/latest/meta-data/",
        "http://{host}{api}/x",
        "https://{host}{api}/x",
        "mlflow-artifacts://{host}/x",
    ],
)
def test_artifact_locations_never_make_the_server_call_out(
    site: Site, listener: tuple[str, list[str]], location: str
) -> None:
    """CVE-2023-6974 (SSRF): listing a run's artifacts never fetches a client-chosen URL."""
    host, hits = listener
    created, run_id = _experiment_with_location(site, location.format(host=host, api=API))
    if run_id is not None:
        listing = api(site.server, "GET", "artifacts/list", query={"run_id": run_id})
        assert b"metadata-secret" not in listing.body
    assert hits == []


# -- request origin, host and permissions --------------------------------------------------------------------


@pytest.mark.usefixtures("untouched")
def test_cross_origin_writes_are_refused(site: Site) -> None:
    """CVE-2023-43472: a web page on another origin may not upload or delete artifacts."""
    rel = f"{uuid.uuid4().hex}/f.txt"
    evil = {"Origin": "http://evil.example"}
    assert raw(site.server, "PUT", f"{API}/{rel}", b"x", evil).status == 403
    assert not (site.root / rel).exists()
    assert raw(site.server, "PUT", f"{API}/{rel}", b"x").status == 200
    assert raw(site.server, "DELETE", f"{API}/{rel}", None, evil).status == 403
    assert (site.root / rel).exists()


def test_dns_rebinding_is_refused(site: Site) -> None:
    """CVE-2025-14279: a request whose Host is some other name is refused."""
    answer = raw(site.server, "GET", f"{API}?path=", None, {"Host": "attacker.example"})
    assert answer.status == 403


ADMIN = ("admin", "admin-password-123")
EDITOR = ("editor", "editor-password-1")


@pytest.fixture(scope="module")
def auth_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("auth-attacked")
    env = {"TRACKLET_AUTH_ADMIN_USERNAME": ADMIN[0], "TRACKLET_AUTH_ADMIN_PASSWORD": ADMIN[1]}
    server = launch_tracklet_server(base, f"sqlite:///{base / 'db.sqlite'}", None, "--auth", env=env)
    yield server
    server.stop()


def test_edit_permission_does_not_delete_artifacts(auth_site: ServerProcess) -> None:
    """CVE-2024-4263: deleting artifacts needs MANAGE, not EDIT; every prefix is guarded."""
    assert (
        api(
            auth_site, "POST", "users/create", {"username": EDITOR[0], "password": EDITOR[1]}, user=ADMIN
        ).status
        == 200
    )
    exp = api(auth_site, "POST", "experiments/create", {"name": "guarded"}, user=ADMIN).json["experiment_id"]
    grant = {"experiment_id": exp, "username": EDITOR[0], "permission": "EDIT"}
    assert api(auth_site, "POST", "experiments/permissions/create", grant, user=ADMIN).status == 200
    as_editor = {"Authorization": "Basic " + base64.b64encode(":".join(EDITOR).encode()).decode()}
    as_admin = {"Authorization": "Basic " + base64.b64encode(":".join(ADMIN).encode()).decode()}
    for prefix in (API, "/ajax-api/2.0/mlflow-artifacts/artifacts"):
        target = f"{prefix}/{exp}/run/artifacts/model.pkl"
        assert raw(auth_site, "PUT", target, b"weights", as_editor).status == 200
        assert raw(auth_site, "GET", target, None, as_editor).body == b"weights"
        refused = raw(auth_site, "DELETE", target, None, as_editor)
        assert refused.status == 403 and refused.json["error_code"] == "PERMISSION_DENIED"
        assert raw(auth_site, "GET", target, None, as_editor).body == b"weights"
        anonymous = raw(auth_site, "GET", target)
        assert anonymous.status == 401 and anonymous.headers["www-authenticate"].startswith("Basic")
        assert raw(auth_site, "DELETE", target, None, as_admin).status == 200


def _basic(user: tuple[str, str]) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(":".join(user).encode()).decode()}


def _experiment_with(auth_site: ServerProcess, grants: dict[tuple[str, str], str]) -> str:
    """A new experiment (the admin's) on which each user holds the given permission."""
    created = api(auth_site, "POST", "experiments/create", {"name": uuid.uuid4().hex}, user=ADMIN)
    exp = created.json["experiment_id"]
    for user, permission in grants.items():
        account = {"username": user[0], "password": user[1]}
        made = api(auth_site, "POST", "users/create", account, user=ADMIN)
        assert made.status in (200, 400), made.body  # 400: made by an earlier test
        grant = {"experiment_id": exp, "username": user[0], "permission": permission}
        assert api(auth_site, "POST", "experiments/permissions/create", grant, user=ADMIN).status == 200
    return str(exp)


def test_edit_permission_does_not_overwrite_artifacts(auth_site: ServerProcess) -> None:
    """Issue 12: an EDIT user blanked an existing artifact with an empty PUT, while deleting
    it needs MANAGE. Creating a file needs EDIT; replacing one needs MANAGE."""
    writer, manager = ("writer", "writer-password-1"), ("manager", "manager-password-1")
    exp = _experiment_with(auth_site, {writer: "EDIT", manager: "MANAGE"})
    for prefix in (API, "/ajax-api/2.0/mlflow-artifacts/artifacts"):
        target = f"{prefix}/{exp}/run/artifacts/model-{uuid.uuid4().hex[:8]}.pkl"
        assert raw(auth_site, "PUT", target, b"weights", _basic(writer)).status == 200
        for body in (b"", b"tampered"):
            refused = raw(auth_site, "PUT", target, body, _basic(writer))
            assert refused.status == 403 and refused.json["error_code"] == "PERMISSION_DENIED"
            assert "MANAGE" in refused.json["message"]
            assert raw(auth_site, "GET", target, None, _basic(writer)).body == b"weights"
        assert raw(auth_site, "PUT", target, b"v2", _basic(manager)).status == 200
        assert raw(auth_site, "PUT", target, b"v3", _basic(ADMIN)).status == 200
        assert raw(auth_site, "GET", target, None, _basic(writer)).body == b"v3"
        # a new name is still the writer's to create
        assert raw(auth_site, "PUT", target + ".new", b"fresh", _basic(writer)).status == 200


def test_an_edit_upload_racing_another_never_replaces_it(auth_site: ServerProcess) -> None:
    """The writer's upload starts while the name is free; the admin's lands first. Whether
    the server notices before or after the writer's body arrives, the admin's file stays."""
    writer = ("racer", "racer-password-12")
    exp = _experiment_with(auth_site, {writer: "EDIT"})
    target = f"{API}/{exp}/run/artifacts/raced.bin"
    host, port = auth_site.url.split("://", 1)[1].split(":")
    assert raw(auth_site, "GET", f"{API}?path={exp}", None, _basic(writer)).status == 200  # credential cached
    sock = socket.create_connection((host, int(port)), timeout=30)
    try:
        head = f"PUT {target} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: 10\r\n"
        auth = "".join(f"{k}: {v}\r\n" for k, v in _basic(writer).items())
        sock.sendall((head + auth + "\r\n").encode() + b"first")
        assert raw(auth_site, "PUT", target, b"the admin's", _basic(ADMIN)).status == 200
        try:
            sock.sendall(b"-half")
        except OSError:
            pass  # refused before the body: the server closed the connection
        response = http.client.HTTPResponse(sock)
        response.begin()
        answer = json.loads(response.read())
    finally:
        sock.close()
    assert response.status == 403 and answer["error_code"] == "PERMISSION_DENIED", answer
    assert raw(auth_site, "GET", target, None, _basic(ADMIN)).body == b"the admin's"
    listing = raw(auth_site, "GET", f"{API}?path={exp}/run/artifacts", None, _basic(ADMIN)).json
    assert [f["path"] for f in listing["files"]] == ["raced.bin"]


# -- the client facing a hostile or broken server ---------------------------------------------------------


class _Hostile(http.server.BaseHTTPRequestHandler):
    """A server that lists names climbing out of the download folder, and cuts a
    download short."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if "?" in self.path:  # a listing
            body = json.dumps(
                {"files": [{"path": "../../escaped.txt", "is_dir": False, "file_size": 3}]}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        self.wfile.write(b"partial")
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_client_refuses_listed_names_that_climb_out(hostile: str, tmp_path: pathlib.Path) -> None:
    repo = HttpArtifactRepository(f"{hostile}{API}/run")
    with raises_code("INVALID_PARAMETER_VALUE"):
        repo.list_artifacts("a")
    with raises_code("INVALID_PARAMETER_VALUE"):
        repo.download_artifacts("", str(tmp_path / "dl"))
    assert not list(tmp_path.rglob("escaped.txt"))


def test_a_download_cut_short_leaves_no_file(hostile: str, tmp_path: pathlib.Path) -> None:
    repo = HttpArtifactRepository(f"{hostile}{API}/run")
    target = tmp_path / "f.bin"
    with raises_code("TEMPORARILY_UNAVAILABLE"):
        repo._download_file("f.bin", str(target))
    assert not target.exists()
