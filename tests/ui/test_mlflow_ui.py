"""``tracklet server --mlflow-ui``: MLflow's own web UI (the bundle of the installed ``mlflow``
package) in the browser, on tracklet's seeded data. Each test opens one of its views and
finds the experiment, run, param, metric and artifact names where a person looks for them.

MLflow's UI is not ours: its own console noise (React warnings, a ResizeObserver notice) is
not a failure here. What is: an answer >= 400 from tracklet to a request the UI makes —
that is a route or a field the UI needs and tracklet lacks — except the ones MLflow's own
server gives too (measured against ``mlflow server`` 3.17.2 on the same seed: ``users/current``
answers 404 without auth; ``/x`` is the ``<img src=x>`` of a seeded description, rendered by
MLflow's markdown with its ``onerror`` stripped)."""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mlflow") is None, reason="MLflow's UI comes from the mlflow package"
)

# What MLflow's own server answers with an error on the same pages (see the docstring).
MLFLOW_ALSO_FAILS = [re.compile(r"/ajax-api/2\.0/mlflow/users/current$"), re.compile(r"^/x$")]
API_PATH = re.compile(r"^/(ajax-api|api|graphql|get-artifact|model-versions|static-files)")
TIMEOUT_MS = 60_000  # MLflow's bundle is large and the machine shared: a hang guard, not a bar


@dataclass
class Reference:
    url: str
    seeded: dict[str, Any]


@pytest.fixture(scope="module")
def mlflow_ui_server(launch_server: Callable[..., Any]) -> Any:
    """``tracklet server --mlflow-ui``, seeded. To check these tests against MLflow itself,
    point ``TRACKLET_TEST_MLFLOW_UI_REFERENCE`` at ``<url>,<seed.json>``: an ``mlflow server``
    seeded with ``python tests/ui/_seed.py <url> > seed.json``."""
    reference = os.environ.get("TRACKLET_TEST_MLFLOW_UI_REFERENCE")
    if reference:
        url, seed_file = reference.split(",", 1)
        return Reference(url.rstrip("/"), json.loads(pathlib.Path(seed_file).read_text()))
    return launch_server("--mlflow-ui", seed=True)


class Watch:
    def __init__(self, page: Page, origin: str) -> None:
        self.failed: list[str] = []
        self.dialogs: list[str] = []
        self.origin = origin
        page.on("response", self._response)
        page.on("dialog", self._dialog)

    def _response(self, response: Any) -> None:
        if response.status < 400 or not response.url.startswith(self.origin):
            return
        path = response.url[len(self.origin) :].split("?")[0]
        if any(p.search(path) for p in MLFLOW_ALSO_FAILS) or not API_PATH.search(path):
            return
        try:
            body = response.text()[:300]
        except Exception:  # noqa: BLE001 - the body may be gone; the status is what counts
            body = ""
        self.failed.append(f"{response.status} {response.request.method} {path}: {body}")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def mlflow_page(browser: Browser, mlflow_ui_server: Any) -> Iterator[tuple[Page, Watch]]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, color_scheme="light")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watch = Watch(page, mlflow_ui_server.url)
    yield page, watch
    context.close()
    assert watch.dialogs == [], watch.dialogs
    assert watch.failed == [], "MLflow's UI got error answers from tracklet:\n" + "\n".join(watch.failed)


def _see(page: Page, *texts: str) -> None:
    for text in texts:
        page.get_by_text(text, exact=False).first.wait_for(state="visible")


def _inert(page: Page) -> None:
    assert page.evaluate("() => window.__xss === undefined"), "a seeded payload ran in MLflow's UI"


def test_root_serves_mlflows_index_and_bundle(mlflow_ui_server: Any) -> None:
    from tracklet_http.testing import raw_request

    index = raw_request(mlflow_ui_server.url, "GET", "/")
    assert index.status == 200
    assert b"static-files/" in index.body
    script = re.search(rb'src="(/?static-files/[^"]+\.js)"', index.body)
    assert script, index.body[:500]
    path = script.group(1).decode()
    assert (
        raw_request(mlflow_ui_server.url, "GET", path if path.startswith("/") else "/" + path).status == 200
    )
    if not isinstance(mlflow_ui_server, Reference):  # our UI stays where it was
        assert raw_request(mlflow_ui_server.url, "GET", "/ui/").status == 200


def test_experiments_list(mlflow_page: tuple[Page, Watch], mlflow_ui_server: Any, screenshot: Any) -> None:
    page, _ = mlflow_page
    page.goto(f"{mlflow_ui_server.url}/#/experiments")
    _see(page, "ui-main", "ui-second", mlflow_ui_server.seeded["experiments"]["hostile"]["name"])
    _inert(page)
    screenshot(page, "mlflow-ui-experiments", dark=False)


def test_runs_table(mlflow_page: tuple[Page, Watch], mlflow_ui_server: Any, screenshot: Any) -> None:
    page, _ = mlflow_page
    seeded = mlflow_ui_server.seeded
    main = seeded["experiments"]["main"]["id"]
    page.goto(f"{mlflow_ui_server.url}/#/experiments/{main}/runs?workflowType=machine_learning")
    _see(page, "baseline", "tuned", "sweep-parent", "long-history", "train-set")
    _inert(page)
    screenshot(page, "mlflow-ui-runs", dark=False)


def test_run_page_params_metrics_datasets(
    mlflow_page: tuple[Page, Watch], mlflow_ui_server: Any, screenshot: Any
) -> None:
    page, _ = mlflow_page
    seeded = mlflow_ui_server.seeded
    main = seeded["experiments"]["main"]["id"]
    page.goto(f"{mlflow_ui_server.url}/#/experiments/{main}/runs/{seeded['runs']['baseline']}")
    _see(page, "baseline", "lr", "0.01", "optimizer", "adam", "loss", "accuracy", "ui-tester")
    # the first of the run's two datasets is named, the other counted (+1)
    page.get_by_text(re.compile(r"(train|eval)-set \((a1b2c3d4|e5f6a7b8)\)")).first.wait_for(state="visible")
    _inert(page)
    screenshot(page, "mlflow-ui-run", dark=False)


def test_hostile_run_page(mlflow_page: tuple[Page, Watch], mlflow_ui_server: Any) -> None:
    page, _ = mlflow_page
    seeded = mlflow_ui_server.seeded
    main = seeded["experiments"]["main"]["id"]
    page.goto(f"{mlflow_ui_server.url}/#/experiments/{main}/runs/{seeded['runs']['hostile']}")
    _see(page, "payload", "<script>window.__xss=1")
    _inert(page)


def test_metric_charts(mlflow_page: tuple[Page, Watch], mlflow_ui_server: Any, screenshot: Any) -> None:
    page, _ = mlflow_page
    seeded = mlflow_ui_server.seeded
    main = seeded["experiments"]["main"]["id"]
    page.goto(f"{mlflow_ui_server.url}/#/experiments/{main}/runs/{seeded['runs']['baseline']}/model-metrics")
    _see(page, "baseline (loss)", "baseline (accuracy)")
    plots = page.locator(".js-plotly-plot")
    plots.nth(1).wait_for(state="visible")
    # the loss curve is drawn from the run's 50-step history, not a single point
    page.locator(".js-plotly-plot .scatterlayer path.js-line").first.wait_for(state="attached")
    _inert(page)
    screenshot(page, "mlflow-ui-metric-charts", dark=False)


def test_long_history_chart(mlflow_page: tuple[Page, Watch], mlflow_ui_server: Any) -> None:
    page, _ = mlflow_page
    seeded = mlflow_ui_server.seeded
    main = seeded["experiments"]["main"]["id"]
    page.goto(
        f"{mlflow_ui_server.url}/#/experiments/{main}/runs/{seeded['runs']['long_history']}/model-metrics"
    )
    _see(page, "long-history (series)")
    page.locator(".js-plotly-plot .scatterlayer path.js-line").first.wait_for(state="attached")


def test_artifact_view(mlflow_page: tuple[Page, Watch], mlflow_ui_server: Any, screenshot: Any) -> None:
    page, _ = mlflow_page
    seeded = mlflow_ui_server.seeded
    main = seeded["experiments"]["main"]["id"]
    run = seeded["runs"]["artifacts"]
    page.goto(f"{mlflow_ui_server.url}/#/experiments/{main}/runs/{run}/artifacts/notes/readme.txt")
    _see(page, "config", "images", "report.html", "readme.txt", "hello from the UI tests")
    # the hostile file name is listed as text; its content opens as text too
    _see(page, seeded["artifacts"]["hostile"])
    page.get_by_text(seeded["artifacts"]["hostile"]).first.click()
    _see(page, "<script>window.__xss=1")
    _inert(page)
    screenshot(page, "mlflow-ui-artifacts", dark=False)


def test_artifact_json_and_image(mlflow_page: tuple[Page, Watch], mlflow_ui_server: Any) -> None:
    page, _ = mlflow_page
    seeded = mlflow_ui_server.seeded
    main = seeded["experiments"]["main"]["id"]
    run = seeded["runs"]["artifacts"]
    base = f"{mlflow_ui_server.url}/#/experiments/{main}/runs/{run}/artifacts"
    page.goto(f"{base}/{quote(seeded['artifacts']['json'])}")
    _see(page, "params.json", "nested")
    page.goto("about:blank")  # MLflow's artifact view keeps its first file across a hash change
    page.goto(f"{base}/{quote(seeded['artifacts']['png'])}")
    # MLflow fetches the file through get-artifact and shows it from a blob: URL
    image = page.locator("img[src^='blob:']").locator("visible=true").first
    image.wait_for(state="visible")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert page.evaluate("(img) => [img.naturalWidth, img.naturalHeight]", image.element_handle()) == [64, 48]


def test_models_page(mlflow_page: tuple[Page, Watch], mlflow_ui_server: Any, screenshot: Any) -> None:
    page, _ = mlflow_page
    seeded = mlflow_ui_server.seeded
    page.goto(f"{mlflow_ui_server.url}/#/models")
    _see(page, "ui-model", seeded["model"]["hostile"])
    page.goto(f"{mlflow_ui_server.url}/#/models/ui-model")
    _see(page, "Version 1", "champion")
    _inert(page)
