"""The harness itself: the seeded server holds what the page tests look for, and a watched
page really fails a test on a console error, an uncaught error, an error answer or a dialog."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from playwright.sync_api import Page


def _get(url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read())


def test_seeded_server_holds_the_runs(ui_server: Any, seeded: dict[str, Any]) -> None:
    main = seeded["experiments"]["main"]["id"]
    body = _get(f"{ui_server.url}/api/2.0/mlflow/runs/search", {"experiment_ids": [main], "max_results": 100})
    names = {r["info"]["run_name"] for r in body["runs"]}
    assert {"baseline", "tuned", "sweep-parent", "long-history", seeded["hostile"]["img"]} <= names
    history = _get(
        f"{ui_server.url}/api/2.0/mlflow/metrics/get-history?run_id={seeded['runs']['long_history']}"
        "&metric_key=series&max_results=100000"
    )
    assert len(history["metrics"]) == seeded["history_points"]


def _no_favicon(page: Page) -> None:
    # These pages are not the UI: they declare no icon, so Chromium would ask for /favicon.ico.
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))


def test_page_collects_console_errors_page_errors_and_dialogs(page: Page, page_problems: Any) -> None:
    _no_favicon(page)
    page.goto("/health")
    page.evaluate("() => console.error('boom')")
    page.evaluate("() => alert('hi')")
    page.evaluate("() => setTimeout(() => { throw new Error('uncaught') }, 0)")
    page.wait_for_function("() => true")
    page.evaluate("() => new Promise(r => setTimeout(r, 50))")
    found = "\n".join(page_problems.problems)
    assert "console error: boom" in found
    assert "dialog (alert): 'hi'" in found
    assert "page error: " in found and "uncaught" in found
    page_problems.problems.clear()  # provoked on purpose: the test must not fail at teardown


def test_page_collects_error_answers(page: Page, page_problems: Any) -> None:
    _no_favicon(page)
    page.goto("/api/2.0/mlflow/experiments/get?experiment_id=424242")
    assert any("HTTP 404" in p for p in page_problems.problems), page_problems.problems
    page_problems.problems.clear()
