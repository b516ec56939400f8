"""Static files a plugin contributes (``tracklet.routes.Assets``) served by a real
``tracklet server`` app in uvicorn (:class:`ThreadServer`), and what ``GET /`` answers.

A throwaway plugin registered in this process contributes the assets; plugins installed
in the environment that contribute assets of their own (tracklet-ui) are set aside for
each test, so ``/`` is decided by the test's plugin alone.
"""

from __future__ import annotations

import base64
import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tracklet import plugins
from tracklet.exceptions import TrackletException
from tracklet.plugins import hookimpl
from tracklet.routes import Assets, Route, RouteRequest
from tracklet_http.server.app import create_app
from tracklet_http.server.assets import CONTENT_SECURITY_POLICY, NO_UI_MESSAGE
from tracklet_http.server.cli import server as server_command
from tracklet_http.server.settings import ServerSettings
from tracklet_http.testing import ThreadServer, raw_request

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
FILES: dict[str, tuple[bytes, str]] = {
    "index.html": (b"<!doctype html><title>pages</title>", "text/html; charset=utf-8"),
    "app.js": (b"export const x = 1;\n", "text/javascript; charset=utf-8"),
    "lib.mjs": (b"export default 2;\n", "text/javascript; charset=utf-8"),
    "style.css": (b"body { color: red }\n", "text/css; charset=utf-8"),
    "logo.svg": (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
    "img.png": (PNG, "image/png"),
    "data.json": (b'{"a": 1}', "application/json"),
    "font.woff2": (b"wOF2fake", "font/woff2"),
    "sub/index.html": (b"<p>sub index</p>", "text/html; charset=utf-8"),
    "sub/deep name.js": (b"// spaced\n", "text/javascript; charset=utf-8"),
}
SECRET = b"outside the assets folder"


class PagePlugin:
    def __init__(self, *items: object) -> None:
        self.items = list(items)

    @hookimpl
    def tracklet_server_routes(self) -> list[object]:
        return self.items


@pytest.fixture(autouse=True)
def only_test_assets() -> Iterator[None]:
    """Installed plugins contributing assets are unregistered for the test, then restored."""
    pm = plugins.get_plugin_manager()
    removed: list[tuple[str, object]] = []
    for impl in pm.hook.tracklet_server_routes.get_hookimpls():
        contributed = impl.function() or []
        if any(isinstance(item, Assets) for item in contributed):
            name = pm.get_name(impl.plugin)
            removed.append((name, impl.plugin))
            pm.unregister(impl.plugin)
    yield
    for name, plugin in removed:
        pm.register(plugin, name=name)


@pytest.fixture
def registered() -> Iterator[Any]:
    added: list[object] = []

    def add(*items: object) -> None:
        plugin = PagePlugin(*items)
        plugins.register(plugin, name=f"test-pages-{len(added)}")
        added.append(plugin)

    yield add
    for plugin in reversed(added):
        plugins.unregister(plugin)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "static"
    for name, (content, _) in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    (root / ".secret").write_bytes(SECRET)
    (tmp_path / "outside.txt").write_bytes(SECRET)
    (root / "escape.txt").symlink_to(tmp_path / "outside.txt")
    (root / "escape-dir").symlink_to(tmp_path)
    (root / "alias.js").symlink_to(root / "app.js")
    return root


def _settings(tmp_path: Path, **extra: Any) -> ServerSettings:
    return ServerSettings(
        backend_store_uri=f"sqlite:///{tmp_path / 'pages.db'}",
        artifacts_destination=str(tmp_path / "artifacts"),
        **extra,
    )


@pytest.fixture
def pages(tmp_path: Path, folder: Path, registered: Any) -> Iterator[ThreadServer]:
    registered(Assets("test-pages", "/pages", str(folder), root=True))
    with ThreadServer(create_app(_settings(tmp_path))) as server:
        yield server


def _get(server: ThreadServer, target: str, method: str = "GET", **headers: str) -> Any:
    return raw_request(server.url, method, target, headers=headers)


def _assert_page_headers(headers: dict[str, str]) -> None:
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in headers["content-security-policy"]  # no inline scripts
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "SAMEORIGIN"


@pytest.mark.parametrize("name", sorted(FILES))
def test_each_file_is_served_with_its_type_and_the_page_headers(pages: ThreadServer, name: str) -> None:
    content, content_type = FILES[name]
    answer = _get(pages, "/pages/" + urllib.parse.quote(name))
    assert answer.status == 200, answer.body
    assert answer.body == content
    assert answer.headers["content-type"] == content_type
    assert answer.headers["cache-control"] == "no-cache"
    assert answer.headers["etag"].startswith('"')
    assert "content-disposition" not in answer.headers  # shown, not downloaded
    _assert_page_headers(answer.headers)


def test_head_answers_the_headers_without_the_body(pages: ThreadServer) -> None:
    answer = _get(pages, "/pages/app.js", "HEAD")
    assert answer.status == 200 and answer.body == b""
    assert answer.headers["content-length"] == str(len(FILES["app.js"][0]))
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"


def test_etag_revalidation_answers_304_until_the_file_changes(pages: ThreadServer, folder: Path) -> None:
    first = _get(pages, "/pages/style.css")
    etag = first.headers["etag"]
    again = _get(pages, "/pages/style.css", **{"If-None-Match": etag})
    assert again.status == 304 and again.body == b""
    assert again.headers["etag"] == etag
    _assert_page_headers(again.headers)
    assert _get(pages, "/pages/style.css", **{"If-None-Match": f'"other", W/{etag}'}).status == 304
    (folder / "style.css").write_bytes(b"body { color: blue; margin: 0 }\n")
    changed = _get(pages, "/pages/style.css", **{"If-None-Match": etag})
    assert changed.status == 200 and changed.body == b"body { color: blue; margin: 0 }\n"
    assert changed.headers["etag"] != etag


def test_the_prefix_redirects_to_its_index_relatively(pages: ThreadServer) -> None:
    answer = _get(pages, "/pages")
    assert answer.status == 302
    assert answer.headers["location"] == "pages/"  # relative: works behind a path prefix
    index = _get(pages, "/pages/")
    assert index.status == 200 and index.body == FILES["index.html"][0]
    sub = _get(pages, "/pages/sub/")
    assert sub.status == 200 and sub.body == FILES["sub/index.html"][0]


def test_root_redirects_to_the_root_assets_relatively(pages: ThreadServer) -> None:
    answer = _get(pages, "/", Accept="text/html")
    assert answer.status == 302
    assert answer.headers["location"] == "pages/"
    _assert_page_headers(answer.headers)
    # what a browser does with it: relative to the page, fragment kept (RFC 9110 §10.2.2)
    assert urllib.parse.urljoin("http://host:5000/", "pages/") == "http://host:5000/pages/"
    assert urllib.parse.urljoin("http://host/tracking/", "pages/") == "http://host/tracking/pages/"


@pytest.mark.parametrize(
    "target",
    [
        "/pages/../outside.txt",
        "/pages/%2e%2e/outside.txt",
        "/pages/%2E%2E%2Foutside.txt",
        "/pages/sub/../../outside.txt",
        "/pages/sub/%2e%2e/%2e%2e/outside.txt",
        "/pages/..%5coutside.txt",
        "/pages/escape.txt",
        "/pages/escape-dir/outside.txt",
        "/pages/.secret",
        "/pages/%2esecret",
        "/pages/sub//index.html",
        "/pages/./app.js",
        "/pages/app.js%00.png",
        "/pages/sub",
        "/pages/missing.js",
        "/pages/" + "a/" * 50 + "x.js",
    ],
)
def test_nothing_outside_the_folder_or_hidden_is_served(pages: ThreadServer, target: str) -> None:
    answer = _get(pages, target)
    assert answer.status == 404, (target, answer.status, answer.body)
    assert SECRET not in answer.body
    assert answer.headers["content-type"] == "application/json"
    _assert_page_headers(answer.headers)


def test_a_symlink_inside_the_folder_is_served(pages: ThreadServer) -> None:
    answer = _get(pages, "/pages/alias.js")
    assert answer.status == 200 and answer.body == FILES["app.js"][0]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_only_get_and_head(pages: ThreadServer, method: str) -> None:
    answer = raw_request(
        pages.url, method, "/pages/app.js", body=b"{}", headers={"Content-Type": "application/json"}
    )
    assert answer.status == 405
    assert FILES["app.js"][0] not in answer.body


def test_host_checks_apply_to_assets(pages: ThreadServer) -> None:
    answer = _get(pages, "/pages/app.js", Host="attacker.example")
    assert answer.status == 403
    assert FILES["app.js"][0] not in answer.body


# -- GET / without a UI ------------------------------------------------------------------------


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[ThreadServer]:
    with ThreadServer(create_app(_settings(tmp_path))) as server:
        yield server


def test_without_a_ui_root_says_how_to_install_one(bare: ThreadServer) -> None:
    browser_accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    for accept in (browser_accept, "*/*", ""):
        answer = _get(bare, "/", **({"Accept": accept} if accept else {}))
        assert answer.status == 404
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        text = answer.body.decode()
        assert NO_UI_MESSAGE in text
        assert "pip install tracklet-ui" in text and "pip install ./plugins/ui" in text
        assert '<a href="openapi.json">' in text
        assert "<script" not in text
        _assert_page_headers(answer.headers)
    assert _get(bare, "/", "HEAD").status == 404


@pytest.mark.parametrize("accept", ["application/json", "application/json, text/html;q=0.5"])
def test_without_a_ui_root_answers_json_to_who_prefers_it(bare: ThreadServer, accept: str) -> None:
    answer = _get(bare, "/", Accept=accept)
    assert answer.status == 404
    assert answer.headers["content-type"] == "application/json"
    import json

    body = json.loads(answer.body)
    assert body["error_code"] == "ENDPOINT_NOT_FOUND"
    assert "pip install tracklet-ui" in body["message"] and "/openapi.json" in body["message"]


def test_assets_without_root_leave_the_no_ui_page(tmp_path: Path, folder: Path, registered: Any) -> None:
    registered(Assets("side-pages", "/side", str(folder)))
    with ThreadServer(create_app(_settings(tmp_path))) as server:
        assert _get(server, "/side/app.js").status == 200
        answer = _get(server, "/")
        assert answer.status == 404 and NO_UI_MESSAGE.encode() in answer.body


# -- with --auth -------------------------------------------------------------------------------

ADMIN = ("admin", "admin-password-123")


def test_with_auth_assets_and_root_need_a_user(
    tmp_path: Path, folder: Path, registered: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKLET_AUTH_ADMIN_USERNAME", ADMIN[0])
    monkeypatch.setenv("TRACKLET_AUTH_ADMIN_PASSWORD", ADMIN[1])
    registered(Assets("test-pages", "/pages", str(folder), root=True))
    settings = _settings(tmp_path, auth=True, auth_db_uri=f"sqlite:///{tmp_path / 'auth.db'}")
    credentials = "Basic " + base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
    wrong = "Basic " + base64.b64encode(b"admin:wrong-password-1").decode()
    with ThreadServer(create_app(settings)) as server:
        for target in ("/pages/app.js", "/pages/", "/pages", "/"):
            refused = _get(server, target)
            assert refused.status == 401, target
            assert refused.headers["www-authenticate"].startswith("Basic ")  # the browser prompts
            assert FILES["app.js"][0] not in refused.body
            _assert_page_headers(refused.headers)
            assert _get(server, target, Authorization=wrong).status == 401
        allowed = _get(server, "/pages/app.js", Authorization=credentials)
        assert allowed.status == 200 and allowed.body == FILES["app.js"][0]
        assert _get(server, "/", Authorization=credentials).status == 302


# -- start-up refusals -------------------------------------------------------------------------


def _answer(request: RouteRequest) -> dict[str, Any]:
    return {}


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (
            [Assets("first-pages", "/shared", "/tmp"), Assets("second-pages", "/shared/inner", "/tmp")],
            "overlapping asset prefixes",
        ),
        (
            [
                Assets("first-pages", "/one", "/tmp", root=True),
                Assets("second-pages", "/two", "/tmp", root=True),
            ],
            "root=True",
        ),
        ([Assets("first-pages", "/api", "/tmp")], "would shadow the REST API"),
        ([Assets("first-pages", "/ajax-api/2.0/mlflow/ui", "/tmp")], "would shadow MLflow's UI alias"),
        ([Assets("first-pages", "/health", "/tmp")], "would shadow"),
        ([Assets("first-pages", "/get-artifact", "/tmp")], "would shadow"),
        (
            [Assets("first-pages", "/widgets", "/tmp"), Route("w", "GET", "/widgets/list", _answer)],
            "would shadow the route 'w'",
        ),
        ([Assets("first-pages", "/gone", "/no/such/folder/anywhere")], "does not exist"),
    ],
)
def test_conflicting_assets_stop_the_server_naming_both(
    tmp_path: Path, registered: Any, items: list[object], expected: str
) -> None:
    for item in items:
        registered(item)
    with pytest.raises(TrackletException, match=expected) as caught:
        create_app(_settings(tmp_path))
    named = [item.name for item in items if isinstance(item, Assets)]
    assert named and all(f"{name!r}" in caught.value.message for name in named[:2])
    result = CliRunner().invoke(
        server_command,
        ["--backend-store-uri", f"sqlite:///{tmp_path / 'cli.db'}", "--port", "1"],
        catch_exceptions=False,
    )
    assert result.exit_code != 0
    assert expected in result.output


def test_mlflow_ui_static_files_are_reserved_for_it(tmp_path: Path, registered: Any, folder: Path) -> None:
    registered(Assets("static-thief", "/static-files", str(folder)))
    create_app(_settings(tmp_path))  # fine without --mlflow-ui
    bundle = os.path.join(str(folder))
    with pytest.raises(TrackletException, match="would shadow MLflow's UI"):
        create_app(_settings(tmp_path), mlflow_ui=bundle)
