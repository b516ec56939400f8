"""The browser test harness: Debian's Chromium driven by Playwright (PyPI's ``playwright``,
never a browser it downloads) against a real ``tracklet server`` on a free loopback port.

Fixtures (session scoped unless noted; under pytest-xdist every worker gets its own server,
browser and folders — no fixed ports, no shared files but the screenshots folder):

* ``chromium_path``: ``/usr/bin/chromium`` (or ``$TRACKLET_TEST_CHROMIUM``). When missing,
  installed with ``apt-get install -y --no-install-recommends chromium`` when we are root;
  otherwise the test fails with the command to run.
* ``browser``: Chromium launched headless by Playwright.
* ``ui_server``: a ``tracklet server`` over a fresh sqlite database and artifact folder, seeded
  by ``_seed.py``; ``.url`` (``http://127.0.0.1:<port>``), ``.tracking_uri``, ``.seeded``,
  ``.ui(hash)`` (the URL of a UI page: ``ui_server.ui("/experiments/1")``).
* ``seeded``: the dict ``_seed.seed`` returned: ids and names of what is there.
* ``launch_server``: starts more servers for a test module (``--auth``, ``--mlflow-ui``...):
  ``launch_server("--auth", env={...}, seed=True)``; all stopped at the end of the session.
* ``page`` (function scoped): a Playwright page in a fresh browser context (light colour
  scheme, 1280x800). Console errors and warnings, uncaught page errors, failed requests and
  HTTP answers >= 400 are collected, and the test fails at teardown if any occurred; any
  ``alert``/``confirm``/``prompt`` dialog fails it too. A test expecting an error answer says
  so with ``@pytest.mark.ui_allow_status(404)`` (401 also allows the
  ``ERR_INVALID_AUTH_CREDENTIALS`` failure headless Chromium reports for it); an expected console message with
  ``@pytest.mark.ui_allow_console("regex")``.
* ``new_page`` (function scoped): ``new_page(**context_options)`` makes more such pages (for
  ``http_credentials``, another ``base_url``...), watched the same way.
* ``page_problems`` (function scoped): the watch of the test's pages; ``.problems`` lists what
  was collected so far (a test may assert on it, or clear what it provoked on purpose).
* ``screenshot``: ``screenshot(page, "runs-table")`` saves ``tests/ui/screenshots/runs-table.png``
  and, in the dark colour scheme, ``runs-table-dark.png`` (the folder is git-ignored).

Chromium's "Blocked script execution in 'about:srcdoc' ... sandboxed" console error is not a
problem: it is the sandbox of an HTML artifact's preview doing its job.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

_FOLDER = pathlib.Path(__file__).parent
if str(_FOLDER) not in sys.path:
    sys.path.insert(0, str(_FOLDER))

pytest.importorskip(
    "playwright", reason="the browser tests need Playwright: pip install -r requirements-dev.txt"
)

from playwright.sync_api import (  # noqa: E402
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    sync_playwright,  # noqa: E402
)
from playwright.sync_api import Error as PlaywrightError  # noqa: E402

from tracklet_http.testing import ServerProcess, launch_tracklet_server  # noqa: E402

SCREENSHOTS = _FOLDER / "screenshots"
CHROMIUM = "/usr/bin/chromium"
APT_COMMAND = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
# The sandbox of an HTML artifact preview refusing the artifact's scripts: expected.
ALWAYS_ALLOWED_CONSOLE = [re.compile(r"^Blocked script execution in 'about:srcdoc'")]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "ui_allow_status(*codes): HTTP answers with these statuses do not fail a UI test"
    )
    config.addinivalue_line(
        "markers",
        "ui_allow_console(*patterns): console messages matching these regexes do not fail a UI test",
    )


# --- the browser -----------------------------------------------------------------------


def _install_chromium() -> None:
    """apt-get install Chromium, once even when several xdist workers ask at the same time."""
    with open(os.path.join(tempfile.gettempdir(), "tracklet-chromium-install.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(CHROMIUM):
            return
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        done = subprocess.run(APT_COMMAND, env=env, capture_output=True, text=True)
        if done.returncode != 0:  # a stale package list: update, then try once more
            subprocess.run(["apt-get", "update"], env=env, capture_output=True)
            done = subprocess.run(APT_COMMAND, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(f"`{' '.join(APT_COMMAND)}` failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium, installed through apt when missing and we may."""
    wanted = os.environ.get("TRACKLET_TEST_CHROMIUM")
    if wanted:
        if not os.access(wanted, os.X_OK):
            pytest.fail(f"TRACKLET_TEST_CHROMIUM={wanted} is not an executable file")
        return wanted
    if not os.path.exists(CHROMIUM):
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.fail(
                f"The browser tests need Debian's Chromium at {CHROMIUM}. Install it: "
                f"sudo {' '.join(APT_COMMAND)} (or point TRACKLET_TEST_CHROMIUM at a Chromium binary)"
            )
        _install_chromium()
    return CHROMIUM


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright, chromium_path: str) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=chromium_path, headless=True)
    yield browser
    browser.close()


# --- the servers -----------------------------------------------------------------------


@dataclass
class UiServer:
    """A running ``tracklet server`` for the browser tests."""

    process: ServerProcess
    root: pathlib.Path
    seeded: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def tracking_uri(self) -> str:
        return self.process.url

    def ui(self, hash_path: str = "/") -> str:
        """The URL of the UI page at ``#<hash_path>``."""
        return f"{self.url}/ui/#{hash_path if hash_path.startswith('/') else '/' + hash_path}"

    def output(self) -> str:
        return self.process.output()


def seed_server(url: str) -> dict[str, Any]:
    """Log ``_seed.py``'s data into the server at ``url`` (in a subprocess: the client's
    process-wide state stays out of the test process); return what it made."""
    done = subprocess.run(
        [sys.executable, str(_FOLDER / "_seed.py"), url],
        capture_output=True,
        text=True,
        timeout=600,
        env={k: v for k, v in os.environ.items() if not k.startswith(("TRACKLET_", "MLFLOW_"))},
    )
    if done.returncode != 0:
        raise RuntimeError(f"seeding {url} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def launch_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., UiServer]]:
    """``launch_server(*server_options, env=None, seed=False)`` -> a started :class:`UiServer`
    over its own sqlite database and artifact folder; stopped at the end of the session."""
    started: list[UiServer] = []

    def launch(*extra: str, env: dict[str, str] | None = None, seed: bool = False) -> UiServer:
        root = tmp_path_factory.mktemp("ui-server")
        server = UiServer(launch_tracklet_server(root, None, None, *extra, env=env), root)
        started.append(server)
        if seed:
            server.seeded = seed_server(server.url)
        return server

    yield launch
    for server in started:
        server.process.stop()


@pytest.fixture(scope="session")
def ui_server(launch_server: Callable[..., UiServer]) -> UiServer:
    """The seeded ``tracklet server`` every UI test looks at."""
    return launch_server(seed=True)


@pytest.fixture(scope="session")
def seeded(ui_server: UiServer) -> dict[str, Any]:
    return ui_server.seeded


# --- pages that fail on console errors ---------------------------------------------------


class PageWatch:
    """Collects what makes a UI test fail: console errors and warnings, page errors, failed
    requests, error answers and dialogs."""

    def __init__(self, allowed_status: set[int], allowed_console: list[re.Pattern[str]]) -> None:
        self.problems: list[str] = []
        self.allowed_status = allowed_status
        self.allowed_console = ALWAYS_ALLOWED_CONSOLE + allowed_console

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.problems.append(f"page error: {err}"))
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)
        page.on("dialog", self._dialog)

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type not in ("error", "warning"):
            return
        text = msg.text
        if any(p.search(text) for p in self.allowed_console):
            return
        status = re.search(r"responded with a status of (\d{3})", text)
        if status and int(status.group(1)) in self.allowed_status:
            return
        self.problems.append(f"console {msg.type}: {text} ({msg.location.get('url', '')})")

    def _request_failed(self, request: Any) -> None:
        failure = request.failure or ""
        if "ERR_ABORTED" in failure:  # a navigation or download that replaced the request
            return
        if "ERR_INVALID_AUTH_CREDENTIALS" in failure and 401 in self.allowed_status:
            return  # how headless Chromium reports a 401 it has no credentials for
        self.problems.append(f"request failed: {request.method} {request.url}: {failure}")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.status not in self.allowed_status:
            self.problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def _dialog(self, dialog: Any) -> None:
        self.problems.append(f"dialog ({dialog.type}): {dialog.message!r}")
        with contextlib.suppress(PlaywrightError):
            dialog.dismiss()


def _marker_args(request: pytest.FixtureRequest, name: str) -> list[Any]:
    return [arg for marker in request.node.iter_markers(name) for arg in marker.args]


@pytest.fixture
def page_problems(request: pytest.FixtureRequest) -> PageWatch:
    allowed_status = {int(code) for code in _marker_args(request, "ui_allow_status")}
    allowed_console = [re.compile(p) for p in _marker_args(request, "ui_allow_console")]
    return PageWatch(allowed_status, allowed_console)


@pytest.fixture
def new_page(
    browser: Browser, ui_server: UiServer, page_problems: PageWatch
) -> Iterator[Callable[..., Page]]:
    """``new_page(**context_options)``: a watched page in a fresh context (defaults: the seeded
    server as ``base_url``, light colour scheme, 1280x800)."""
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> Page:
        settings = {
            "base_url": ui_server.url,
            "color_scheme": "light",
            "viewport": {"width": 1280, "height": 800},
            **options,
        }
        context = browser.new_context(**settings)
        contexts.append(context)
        page = context.new_page()
        page_problems.attach(page)
        return page

    yield make
    for context in contexts:
        with contextlib.suppress(PlaywrightError):
            context.close()
    if page_problems.problems:
        pytest.fail("the browser reported problems:\n  " + "\n  ".join(page_problems.problems))


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    return new_page()


# --- screenshots -----------------------------------------------------------------------


def _next_frame(page: Page) -> None:
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


@pytest.fixture(scope="session")
def screenshot() -> Callable[..., list[pathlib.Path]]:
    """``screenshot(page, name, dark=True, full_page=False)``: saves ``<name>.png`` and, in the
    dark colour scheme, ``<name>-dark.png`` under tests/ui/screenshots/; returns the paths."""
    SCREENSHOTS.mkdir(exist_ok=True)

    def shoot(page: Page, name: str, dark: bool = True, full_page: bool = False) -> list[pathlib.Path]:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")
        paths = [SCREENSHOTS / f"{safe}.png"]
        _next_frame(page)
        page.screenshot(path=str(paths[0]), full_page=full_page)
        if dark:
            paths.append(SCREENSHOTS / f"{safe}-dark.png")
            page.emulate_media(color_scheme="dark")
            try:
                _next_frame(page)
                page.screenshot(path=str(paths[1]), full_page=full_page)
            finally:
                page.emulate_media(color_scheme="light")
        return paths

    return shoot
