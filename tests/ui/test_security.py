"""The UI refuses what CVE-2024-27132/27133 did to MLflow's: attacker-controlled strings
(run names, tags, params, experiment and model names, artifact names and contents, trace
inputs) are shown as text on every page, never run. Each seeded payload sets
``window.__xss`` and calls ``alert`` if it ever runs: the flag must stay unset, and the
``page`` fixture fails the test on any dialog or console error.

Also over HTTP: the security headers of the UI's answers, paths that try to leave the
assets folder, ``--auth`` (assets and API need credentials, the UI works with them) and the
host check."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from _pages import View, hostile_views, open_view
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

from tracklet_http.testing import raw_request

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; frame-src 'self' blob: data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)
ADMIN = ("ui-admin", "ui-admin-password-1")
ADMIN_ENV = {"TRACKLET_AUTH_ADMIN_USERNAME": ADMIN[0], "TRACKLET_AUTH_ADMIN_PASSWORD": ADMIN[1]}

# What an injected payload would leave in the DOM: any element carrying an event-handler
# attribute (Preact attaches handlers with addEventListener, never as attributes), a
# javascript: URL, a script that is not one of the UI's own modules, a frame that may run
# with the UI's origin.
INERT_CHECK = """() => {
  const found = [];
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      if (/^on/i.test(attr.name)) found.push(`${el.tagName} ${attr.name}`);
      if (/^\\s*javascript:/i.test(attr.value) && /^(href|src|action|formaction|xlink:href)$/i.test(attr.name))
        found.push(`${el.tagName} ${attr.name}=${attr.value}`);
    }
  }
  for (const s of document.querySelectorAll("script")) {
    if (!s.src || new URL(s.src).origin !== location.origin || !new URL(s.src).pathname.includes("/ui/"))
      found.push(`script ${s.src || s.textContent.slice(0, 80)}`);
  }
  for (const f of document.querySelectorAll("iframe")) {
    const sandbox = f.getAttribute("sandbox");
    if (sandbox === null || /allow-same-origin/.test(sandbox)) found.push(`iframe sandbox=${sandbox}`);
  }
  return { found, xss: window.__xss === undefined ? null : String(window.__xss) };
}"""


def assert_inert(page: Page) -> None:
    # let a pending onerror (the broken image it would load) or timer fire before looking
    page.evaluate("() => new Promise(r => setTimeout(r, 100))")
    result = page.evaluate(INERT_CHECK)
    assert result["xss"] is None, "an injected payload ran"
    assert result["found"] == [], result["found"]


def _ids(views: list[View]) -> list[str]:
    return [v.name for v in views]


# The views are fixed by _seed.py; built from a stand-in so that pytest can name the tests.
_NAMES = [
    "experiments",
    "runs-table",
    "run",
    "artifact-name-and-content",
    "compare",
    "metric",
    "models",
    "model",
    "model-version",
    "trace",
    "traces",
]


@pytest.mark.parametrize("name", _NAMES)
def test_hostile_strings_are_shown_as_text(
    page: Page, ui_server: Any, seeded: dict[str, Any], name: str, screenshot: Callable[..., Any]
) -> None:
    view = {v.name: v for v in hostile_views(seeded)}[name]
    open_view(page, ui_server.url, view)
    assert_inert(page)
    screenshot(page, f"security-{name}", dark=False)


def test_the_view_list_matches_the_tests(seeded: dict[str, Any]) -> None:
    assert _ids(hostile_views(seeded)) == _NAMES


def test_run_description_markdown_link_is_not_javascript(
    page: Page, ui_server: Any, seeded: dict[str, Any]
) -> None:
    main = seeded["experiments"]["main"]["id"]
    page.goto(ui_server.ui(f"/experiments/{main}/runs/{seeded['runs']['hostile']}"))
    page.get_by_text("<script>window.__xss=1", exact=False).first.wait_for(state="attached")
    for link in page.get_by_role("link").all():
        href = (link.get_attribute("href") or "").strip().lower()
        assert not href.startswith("javascript:"), href
    assert_inert(page)


def test_html_artifact_is_previewed_in_a_sandbox_without_the_ui_origin(
    page: Page, ui_server: Any, seeded: dict[str, Any], screenshot: Callable[..., Any]
) -> None:
    main = seeded["experiments"]["main"]["id"]
    run = seeded["runs"]["artifacts"]
    page.goto(ui_server.ui(f"/experiments/{main}/runs/{run}/artifacts/{seeded['artifacts']['html']}"))
    frame = page.locator("iframe").first
    frame.wait_for(state="attached")
    sandbox = frame.get_attribute("sandbox")
    assert sandbox is not None and "allow-same-origin" not in sandbox, sandbox
    # the artifact's own markup is shown, its script reached neither the UI nor the top page
    page.frame_locator("iframe").first.locator("#hello").wait_for(state="attached")
    assert_inert(page)
    screenshot(page, "security-html-artifact", dark=False)


# --- HTTP ---------------------------------------------------------------------------------


def test_ui_answers_carry_the_security_headers(ui_server: Any) -> None:
    for path in ("/ui/", "/ui/app.js", "/ui/style.css", "/ui/index.html"):
        answer = raw_request(ui_server.url, "GET", path)
        assert answer.status == 200, (path, answer.status)
        headers = answer.headers
        assert headers.get("content-security-policy") == CSP, path
        assert headers.get("x-content-type-options") == "nosniff", path
        assert headers.get("referrer-policy") == "no-referrer", path
        assert headers.get("x-frame-options") == "SAMEORIGIN", path
    script = raw_request(ui_server.url, "GET", "/ui/app.js").headers["content-type"]
    assert script.startswith("text/javascript"), script


@pytest.mark.parametrize(
    "target",
    [
        "/ui/../../../../etc/passwd",
        "/ui/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/ui/..%2f..%2f..%2fetc%2fpasswd",
        "/ui/pages/../../../../../etc/passwd",
        "/ui//etc/passwd",
    ],
)
def test_asset_paths_cannot_leave_the_assets_folder(ui_server: Any, target: str) -> None:
    answer = raw_request(ui_server.url, "GET", target)
    assert b"root:" not in answer.body
    assert answer.status in (400, 404), (target, answer.status)


def test_root_redirects_to_the_ui_keeping_relative_location(ui_server: Any) -> None:
    answer = raw_request(ui_server.url, "GET", "/")
    assert answer.status == 302
    assert answer.headers["location"] == "ui/"


def test_host_check_refuses_the_ui_to_a_foreign_host(ui_server: Any) -> None:
    for path in ("/", "/ui/", "/ui/app.js", "/ajax-api/2.0/mlflow/experiments/search?max_results=1"):
        refused = raw_request(ui_server.url, "GET", path, headers={"Host": "evil.example"})
        assert refused.status == 403, (path, refused.status)
        assert b"<script" not in refused.body


# --- --auth -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def auth_server(launch_server: Callable[..., Any]) -> Any:
    server = launch_server("--auth", env=ADMIN_ENV)
    basic = {"Authorization": "Basic " + base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()}
    body = b'{"name": "behind-auth"}'
    created = raw_request(
        server.url,
        "POST",
        "/api/2.0/mlflow/experiments/create",
        body,
        {**basic, "Content-Type": "application/json"},
    )
    assert created.status == 200, created.body
    return server


AUTH_PATHS = [
    "/",
    "/ui/",
    "/ui/app.js",
    "/ui/style.css",
    "/ajax-api/2.0/mlflow/experiments/search?max_results=5",
]


@pytest.mark.parametrize("path", AUTH_PATHS)
def test_auth_asks_for_credentials_on_assets_and_api(auth_server: Any, path: str) -> None:
    anonymous = raw_request(auth_server.url, "GET", path)
    assert anonymous.status == 401, (path, anonymous.status)
    assert anonymous.headers.get("www-authenticate", "").lower().startswith("basic"), anonymous.headers
    wrong = "Basic " + base64.b64encode(f"{ADMIN[0]}:not-the-password".encode()).decode()
    assert raw_request(auth_server.url, "GET", path, headers={"Authorization": wrong}).status == 401
    right = "Basic " + base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
    assert raw_request(auth_server.url, "GET", path, headers={"Authorization": right}).status in (200, 302)


def test_ui_works_behind_auth_with_credentials(
    new_page: Callable[..., Page], auth_server: Any, screenshot: Callable[..., Any]
) -> None:
    page = new_page(base_url=auth_server.url, http_credentials={"username": ADMIN[0], "password": ADMIN[1]})
    page.goto(f"{auth_server.url}/#/experiments")
    assert page.url.startswith(f"{auth_server.url}/ui/")
    page.get_by_text("behind-auth").first.wait_for()
    assert_inert(page)


@pytest.mark.ui_allow_status(401)
def test_ui_without_credentials_gets_nothing(new_page: Callable[..., Page], auth_server: Any) -> None:
    page = new_page(base_url=auth_server.url)
    # headless Chromium cannot prompt: the 401 ends the navigation
    with pytest.raises(PlaywrightError, match="ERR_INVALID_AUTH_CREDENTIALS"):
        page.goto(f"{auth_server.url}/ui/")
