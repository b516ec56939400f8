"""The artifact proxy of ``tracklet server`` over real HTTP: MLflow's answer shapes,
download headers, ranges, atomic uploads, a destination that is not a local folder
(another server's proxy), and the OpenAPI description of the routes."""

from __future__ import annotations

import json
import os
import pathlib
import re
import socket
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tracklet.testing import ArtifactRepositorySuite
from tracklet_http.artifacts import API_PATH, HttpArtifactRepository
from tracklet_http.testing import (
    RawAnswer,
    ServerProcess,
    launch_tracklet_server,
    raw_request,
)

STAGING_PREFIX = ".artifact.uploading."


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


@dataclass
class Proxy:
    server: ServerProcess
    root: pathlib.Path  # the destination folder

    def put(self, rel: str, content: bytes, prefix: str = API_PATH) -> Answer:
        return raw(self.server, "PUT", f"{prefix}/{urllib.parse.quote(rel)}", content)

    def get(self, rel: str, headers: dict[str, str] | None = None, method: str = "GET") -> Answer:
        return raw(self.server, method, f"{API_PATH}/{urllib.parse.quote(rel)}", headers=headers)

    def list(self, path: str | None = None, prefix: str = API_PATH) -> Answer:
        query = "" if path is None else "?" + urllib.parse.urlencode({"path": path})
        return raw(self.server, "GET", prefix + query)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    root = tmp_path_factory.mktemp("proxy-server")
    server = launch_tracklet_server(root, f"sqlite:///{root / 'db.sqlite'}")
    yield Proxy(server, root / "artifacts")
    server.stop()


@pytest.fixture
def folder() -> str:
    """A fresh folder name under the proxy root for one test."""
    return uuid.uuid4().hex


# -- listing ------------------------------------------------------------------------------------------


def test_listing_has_mlflows_shape(proxy: Proxy, folder: str) -> None:
    assert proxy.put(f"{folder}/a/b/x.txt", b"12345").status == 200
    assert proxy.put(f"{folder}/a/empty.bin", b"").status == 200
    answer = proxy.list(f"{folder}/a")
    assert answer.status == 200 and answer.headers["content-type"] == "application/json"
    assert answer.json == {
        "files": [
            {"path": "b", "is_dir": True},  # bare names; folders have no size
            {"path": "empty.bin", "is_dir": False, "file_size": 0},
        ]
    }
    assert proxy.list(f"{folder}/a/b").json == {"files": [{"path": "x.txt", "is_dir": False, "file_size": 5}]}
    assert proxy.list(f"{folder}/a/b/x.txt").json == {}  # a file lists as nothing
    assert proxy.list(f"{folder}/missing").json == {}
    assert (
        proxy.list(f"{folder}/a/", prefix="/ajax-api/2.0/mlflow-artifacts/artifacts").json
        == proxy.list(f"{folder}/a").json
    )
    assert {"path": folder, "is_dir": True} in proxy.list().json["files"]
    assert proxy.list("").json == proxy.list().json


# -- downloads ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("notes.txt", "text/plain"),
        ("MLmodel", "text/plain"),
        ("conf.yaml", "text/plain"),
        ("page.html", "text/plain"),  # never rendered as a page on the server's origin
        ("image.svg", "text/plain"),
        ("page.xhtml", "text/plain"),
        ("picture.png", "image/png"),
        ("model.pkl", "application/octet-stream"),
    ],
)
def test_downloads_are_attachments_of_a_safe_type(
    proxy: Proxy, folder: str, name: str, content_type: str
) -> None:
    content = b"<html><script>alert(1)</script></html>"
    assert proxy.put(f"{folder}/{name}", content).status == 200
    answer = proxy.get(f"{folder}/{name}")
    assert answer.status == 200 and answer.body == content
    assert answer.headers["content-type"].split(";")[0] == content_type
    quoted = name if re.fullmatch(r"[\w.\-]+", name) else f'"{name}"'
    assert answer.headers["content-disposition"] == f"attachment; filename={quoted}"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["content-length"] == str(len(content))


def test_a_non_ascii_name_is_announced_both_ways(proxy: Proxy, folder: str) -> None:
    assert proxy.put(f"{folder}/données été.csv", b"a,b").status == 200
    answer = proxy.get(f"{folder}/données été.csv")
    assert answer.body == b"a,b"
    assert answer.headers["content-disposition"] == (
        "attachment; filename=\"donnees ete.csv\"; filename*=UTF-8''donn%C3%A9es%20%C3%A9t%C3%A9.csv"
    )


def test_ranges_and_head(proxy: Proxy, folder: str) -> None:
    content = bytes(range(256)) * 10
    proxy.put(f"{folder}/blob.bin", content)
    part = proxy.get(f"{folder}/blob.bin", {"Range": "bytes=10-19"})
    assert (part.status, part.body) == (206, content[10:20])
    assert part.headers["content-range"] == f"bytes 10-19/{len(content)}"
    tail = proxy.get(f"{folder}/blob.bin", {"Range": "bytes=-5"})
    assert (tail.status, tail.body) == (206, content[-5:])
    rest = proxy.get(f"{folder}/blob.bin", {"Range": "bytes=2550-"})
    assert (rest.status, rest.body) == (206, content[2550:])
    beyond = proxy.get(f"{folder}/blob.bin", {"Range": "bytes=99999-"})
    assert beyond.status == 416 and beyond.headers["content-range"] == f"bytes */{len(content)}"
    unknown = proxy.get(f"{folder}/blob.bin", {"Range": "lines=1-2"})
    assert (unknown.status, unknown.body) == (200, content)
    head = proxy.get(f"{folder}/blob.bin", method="HEAD")
    assert (head.status, head.body, head.headers["content-length"]) == (200, b"", str(len(content)))


def test_missing_files_and_folders(proxy: Proxy, folder: str) -> None:
    proxy.put(f"{folder}/d/f.txt", b"x")
    missing = proxy.get(f"{folder}/d/nothing.txt")
    assert missing.status == 404 and missing.json["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    for directory in (f"{folder}/d", f"{folder}/d/"):
        answer = proxy.get(directory)
        assert answer.status == 400 and answer.json["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "directory" in answer.json["message"]


# -- uploads ------------------------------------------------------------------------------------------


def test_upload_replaces_and_the_ajax_alias_works(proxy: Proxy, folder: str) -> None:
    assert proxy.put(f"{folder}/f.txt", b"first").status == 200
    answer = proxy.put(f"{folder}/f.txt", b"second", prefix="/ajax-api/2.0/mlflow-artifacts/artifacts")
    assert (answer.status, answer.json) == (200, {})
    assert (proxy.root / folder / "f.txt").read_bytes() == b"second"


def test_uploads_that_cannot_land_are_refused_and_change_nothing(proxy: Proxy, folder: str) -> None:
    proxy.put(f"{folder}/file.txt", b"x")
    proxy.put(f"{folder}/dir/inner.txt", b"y")
    before = sorted(p.relative_to(proxy.root) for p in (proxy.root / folder).rglob("*"))
    for target in (
        f"{API_PATH}/",
        f"{API_PATH}/{folder}/dir/",
        f"{API_PATH}/{folder}/dir",
        f"{API_PATH}/{folder}/file.txt/under",
        f"{API_PATH}/{folder}/{'n' * 300}",
    ):
        answer = raw(proxy.server, "PUT", target, b"data")
        assert answer.status == 400, (target, answer)
        assert answer.json["error_code"] == "INVALID_PARAMETER_VALUE" and answer.json["message"]
    assert sorted(p.relative_to(proxy.root) for p in (proxy.root / folder).rglob("*")) == before


def test_a_reserved_staging_name_is_refused(proxy: Proxy, folder: str) -> None:
    answer = proxy.put(f"{folder}/{STAGING_PREFIX}abc", b"x")
    assert answer.status == 400 and STAGING_PREFIX in answer.json["message"]
    assert proxy.get(f"{folder}/{STAGING_PREFIX}abc").status == 400


def _partial_upload(server: ServerProcess, target: str, declared: int, sent: bytes) -> None:
    """Start a PUT of ``declared`` bytes, send only ``sent``, and hang up."""
    host, port = server.url.split("://", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        head = f"PUT {target} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {declared}\r\n\r\n"
        sock.sendall(head.encode() + sent)


def _wait_until(condition: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"still not true after {timeout}s: {what}")
        time.sleep(0.05)


def test_an_aborted_upload_leaves_nothing_behind(proxy: Proxy, folder: str) -> None:
    proxy.put(f"{folder}/kept.bin", b"old content")
    _partial_upload(proxy.server, f"{API_PATH}/{folder}/new.bin", 50_000_000, b"x" * 3_000_000)
    _partial_upload(proxy.server, f"{API_PATH}/{folder}/kept.bin", 50_000_000, b"y" * 3_000_000)
    directory = proxy.root / folder
    _wait_until(
        lambda: not [p for p in os.listdir(directory) if p.startswith(STAGING_PREFIX)],
        "the staging files of the aborted uploads are removed",
    )
    assert sorted(os.listdir(directory)) == ["kept.bin"]
    assert proxy.get(f"{folder}/kept.bin").body == b"old content"
    assert proxy.get(f"{folder}/new.bin").status == 404


def test_files_being_uploaded_are_never_listed(proxy: Proxy, folder: str) -> None:
    proxy.put(f"{folder}/done.txt", b"1")
    (proxy.root / folder / f"{STAGING_PREFIX}0123").write_bytes(b"half")
    assert proxy.list(folder).json == {"files": [{"path": "done.txt", "is_dir": False, "file_size": 1}]}


# -- deletes ------------------------------------------------------------------------------------------


def test_delete_shapes(proxy: Proxy, folder: str) -> None:
    proxy.put(f"{folder}/t/a.txt", b"a")
    proxy.put(f"{folder}/t/b/c.txt", b"c")
    proxy.put(f"{folder}/keep.txt", b"k")
    assert raw(proxy.server, "DELETE", f"{API_PATH}/{folder}/t/a.txt").json == {}
    assert raw(proxy.server, "DELETE", f"{API_PATH}/{folder}/t/").status == 200
    assert raw(proxy.server, "DELETE", f"{API_PATH}/{folder}/nothing").status == 200
    assert os.listdir(proxy.root / folder) == ["keep.txt"]
    for root in (f"{API_PATH}/", f"{API_PATH}/.", f"{API_PATH}//"):
        answer = raw(proxy.server, "DELETE", root)
        assert answer.status == 400 and "root" in answer.json["message"]
    assert (proxy.root / folder / "keep.txt").exists()


# -- what MLflow clients probe ------------------------------------------------------------------------


@pytest.mark.parametrize("step", ["create", "complete", "abort"])
def test_multipart_upload_is_declined_as_mlflow_does(proxy: Proxy, step: str) -> None:
    answer = raw(
        proxy.server,
        "POST",
        f"/api/2.0/mlflow-artifacts/mpu/{step}/1/x.bin",
        b"{}",
        {"Content-Type": "application/json"},
    )
    assert answer.status == 501
    assert answer.json == {
        "error_code": "NOT_IMPLEMENTED",
        "message": "Multipart upload is not supported for the current artifact repository",
    }


def test_presigned_download_is_not_served(proxy: Proxy) -> None:
    """MLflow's client falls back to a plain GET on 404 (or 501)."""
    answer = raw(proxy.server, "GET", "/api/2.0/mlflow-artifacts/presigned/1/x.bin")
    assert answer.status == 404 and answer.json["error_code"] == "ENDPOINT_NOT_FOUND"


def test_openapi_describes_what_is_served(proxy: Proxy) -> None:
    paths = json.loads(raw(proxy.server, "GET", "/openapi.json").body)["paths"]
    item = paths[API_PATH + "/{artifact_path}"]
    assert {"get", "put", "delete"} <= set(item)
    assert "get" in paths[API_PATH]
    assert {p["name"] for p in paths[API_PATH]["get"]["parameters"]} == {"path"}
    # the multipart routes only ever decline; they are not part of the documented API
    assert not [p for p in paths if "/mpu/" in p or "/presigned/" in p]


def test_wrong_methods_list_every_allowed_one(proxy: Proxy) -> None:
    answer = raw(proxy.server, "POST", f"{API_PATH}/x/y.txt", b"{}", {"Content-Type": "application/json"})
    assert answer.status == 405
    assert set(answer.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "PUT", "DELETE"}


def test_control_characters_are_refused_not_lost(proxy: Proxy) -> None:
    for target in (f"{API_PATH}/a%0Ab.txt", f"{API_PATH}/a%00b.txt", f"{API_PATH}?path=a%0Ab"):
        for method in ("GET", "PUT", "DELETE"):
            if "?" in target and method != "GET":
                continue
            answer = raw(proxy.server, method, target, b"x" if method == "PUT" else None)
            assert answer.status == 400 and "control characters" in answer.json["message"], (method, target)


# -- a destination that is not a local folder ---------------------------------------------------------------


@pytest.fixture(scope="module")
def chained(proxy: Proxy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A second server whose destination is a folder of the first server's proxy: every
    file passes through the repository path (temporary files), not the local fast path."""
    root = tmp_path_factory.mktemp("chained-server")
    destination = f"{proxy.server.url}{API_PATH}/chained-destination"
    server = launch_tracklet_server(root, f"sqlite:///{root / 'db.sqlite'}", destination)
    yield server
    server.stop()


class TestThroughARepositoryDestination(ArtifactRepositorySuite):
    @pytest.fixture
    def repo(self, chained: ServerProcess) -> HttpArtifactRepository:
        return HttpArtifactRepository(f"{chained.url}{API_PATH}/{uuid.uuid4().hex}")


def test_a_repository_destination_stores_in_the_destination(chained: ServerProcess, proxy: Proxy) -> None:
    rel = f"{uuid.uuid4().hex}/page.html"
    assert raw(chained, "PUT", f"{API_PATH}/{rel}", b"<b>x</b>").status == 200
    assert (proxy.root / "chained-destination" / rel).read_bytes() == b"<b>x</b>"
    answer = raw(chained, "GET", f"{API_PATH}/{rel}")
    assert (answer.status, answer.body) == (200, b"<b>x</b>")
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.headers["content-disposition"] == "attachment; filename=page.html"
    assert raw(chained, "GET", f"{API_PATH}/{rel}x").status == 404
    assert raw(chained, "GET", f"{API_PATH}/{rel.split('/')[0]}").status == 400


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_special_file_in_the_root_is_refused_without_hanging(proxy: Proxy, folder: str) -> None:
    (proxy.root / folder).mkdir(parents=True)
    os.mkfifo(proxy.root / folder / "pipe")
    answer = proxy.get(f"{folder}/pipe")
    assert answer.status == 400 and "not a regular file" in answer.json["message"]
