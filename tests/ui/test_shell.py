"""The UI's shell (app.js) in Chromium: the theme toggle, the top bar, an unknown address,
and a page module that cannot be loaded."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect


def theme(page: Page) -> str:
    return page.evaluate("() => document.documentElement.dataset.theme")  # type: ignore[no-any-return]


def test_theme_cycles_system_light_dark_and_is_kept(page: Page, ui_server: Any) -> None:
    page.goto(ui_server.ui("/experiments"))
    toggle = page.get_by_role("button", name="Theme: system. Switch to light")
    expect(toggle).to_be_visible()
    assert theme(page) == "light"  # the context's colour scheme is light
    page.emulate_media(color_scheme="dark")
    page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'")  # follows the system
    toggle.click()
    page.get_by_role("button", name="Theme: light. Switch to dark").click()
    expect(page.get_by_role("button", name="Theme: dark. Switch to system")).to_be_visible()
    page.emulate_media(color_scheme="light")
    page.reload()
    expect(page.get_by_role("button", name="Theme: dark. Switch to system")).to_be_visible()
    assert theme(page) == "dark"
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(20, 23, 28)"


def test_top_bar_links_and_the_current_page(page: Page, ui_server: Any) -> None:
    page.goto(ui_server.ui("/experiments"))
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Experiments")).to_have_attribute("aria-current", "page")
    # tracklet-registry is installed: the registry answers, so its link shows
    nav.get_by_role("link", name="Models").click()
    expect(page).to_have_url(ui_server.ui("/models"))
    expect(nav.get_by_role("link", name="Models")).to_have_attribute("aria-current", "page")
    expect(nav.get_by_role("link", name="Traces")).to_be_visible()


def test_an_unknown_address_says_so(page: Page, ui_server: Any) -> None:
    page.goto(ui_server.ui("/no/such/page"))
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    page.get_by_role("link", name="Go to the experiments").click()
    expect(page.get_by_role("heading", name="Experiments")).to_be_visible()


@pytest.mark.ui_allow_status(500)
def test_a_page_module_that_fails_to_load_shows_not_available(page: Page, ui_server: Any) -> None:
    def broken(route: Route) -> None:
        route.fulfill(status=500, body="boom")

    page.route("**/ui/pages/compare.js", broken)
    page.goto(ui_server.ui('/compare-runs?runs=["a"]'))
    expect(page.get_by_role("alert")).to_contain_text("This page is not available")
    expect(page.get_by_role("alert")).to_contain_text("compare")
    # the rest of the UI still works
    page.get_by_role("link", name="Experiments").click()
    expect(page.get_by_role("heading", name="Experiments")).to_be_visible()


ROUTES = [
    ("#/", "experiments", {}),
    ("#/experiments", "experiments", {}),
    ("#/experiments/7", "runs", {"experimentId": "7"}),
    ("#/experiments/7/runs", "runs", {"experimentId": "7"}),
    ("#/runs?experiments=1,2", "runs", {}),
    ("#/experiments/7/runs/abc", "run", {"experimentId": "7", "runId": "abc"}),
    ("#/runs/abc", "run", {"runId": "abc"}),
    (
        "#/experiments/7/runs/abc/model-metrics",
        "run",
        {"experimentId": "7", "runId": "abc", "tab": "model-metrics"},
    ),
    (
        "#/experiments/7/runs/abc/artifacts/data/a%20b/c.csv",
        "run",
        {"experimentId": "7", "runId": "abc", "tab": "artifacts", "artifactPath": "data/a b/c.csv"},
    ),
    (
        "#/experiments/7/runs/abc/artifactPath/model/MLmodel",
        "run",
        {"experimentId": "7", "runId": "abc", "tab": "artifacts", "artifactPath": "model/MLmodel"},
    ),
    ('#/compare-runs?runs=["a","b"]&experiments=["1"]', "compare", {}),
    ("#/metric/loss%2Ftrain?runs=[%22a%22]", "metric", {"metricKey": "loss/train"}),
    ("#/models", "models", {}),
    ("#/models/my%20model", "models", {"name": "my model"}),
    ("#/models/m/versions/3", "models", {"name": "m", "version": "3"}),
    ("#/experiments/7/traces", "traces", {"experimentId": "7"}),
    ("#/traces/tr-1", "traces", {"traceId": "tr-1"}),
    ("#/nothing/here", None, {}),
]


def test_route_table_maps_mlflow_addresses_to_pages(page: Page, ui_server: Any) -> None:
    page.goto(ui_server.ui("/experiments"))
    expect(page.get_by_role("heading", name="Experiments")).to_be_visible()
    resolved = page.evaluate(
        """async (hashes) => {
            const { resolve } = await import("./app.js");
            return hashes.map((h) => { const r = resolve(h); return [r.module, r.params, r.query.toString()]; });
        }""",
        [hash_ for hash_, _, _ in ROUTES],
    )
    for (hash_, module, params), (got_module, got_params, _) in zip(ROUTES, resolved, strict=True):
        assert (got_module, got_params) == (module, params), hash_
    # the page gets MLflow's JSON lists in the query as they were written
    assert urllib.parse.parse_qs(resolved[10][2]) == {"runs": ['["a","b"]'], "experiments": ['["1"]']}


def test_two_quick_presses_of_the_theme_toggle_reach_dark(page: Page, ui_server: Any) -> None:
    page.goto(ui_server.ui("/experiments"))
    toggle = page.get_by_role("button", name="Theme: system. Switch to light")
    expect(toggle).to_be_visible()
    # two clicks in one task: no render between them, so a handler reading its render's
    # state would set "light" twice
    toggle.evaluate("button => { button.click(); button.click(); }")
    expect(page.get_by_role("button", name="Theme: dark. Switch to system")).to_be_visible()
    assert theme(page) == "dark"
    toggle = page.get_by_role("button", name="Theme: dark. Switch to system")
    toggle.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Theme: light. Switch to dark")).to_be_visible()
