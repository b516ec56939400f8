"""Accessibility basics on every page of the UI, in light and dark: every control has a name
a screen reader can read, every action is reachable with the keyboard and shows where the
focus is, the dark theme really changes the colours. Each page is also saved as a
screenshot (light and dark) on the way: tests/ui/screenshots/<page>.png, <page>-dark.png.

Plus the links the real MLflow client prints (``http://host:port/#/experiments/<id>/runs/<id>``)
opening the right page through the ``/`` -> ``ui/`` redirect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _pages import open_view, views
from playwright.sync_api import Page

# Controls without a name a screen reader can announce, links without a target, and
# clickable things that are neither buttons nor links.
UNNAMED = """() => {
  const problems = [];
  const nameOf = (el) => {
    const labelled = el.getAttribute("aria-labelledby");
    if (labelled) return labelled.split(/\\s+/).map(id => document.getElementById(id)?.textContent || "").join(" ").trim();
    return (el.getAttribute("aria-label") || "").trim() || (el.getAttribute("title") || "").trim();
  };
  const describe = (el) => `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${el.className}`.slice(0, 80);
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden") continue;
    const labelled = (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`)) || el.closest("label");
    if (!labelled && !nameOf(el) && !(el.getAttribute("placeholder") && el.type === "search")) problems.push(`unlabelled ${describe(el)}`);
  }
  for (const el of document.querySelectorAll("button, [role=button]")) {
    if (!el.textContent.trim() && !nameOf(el)) problems.push(`nameless button ${describe(el)}`);
    if (el.getAttribute("role") === "button" && el.tagName !== "BUTTON" && el.tabIndex < 0) problems.push(`unfocusable ${describe(el)}`);
  }
  for (const el of document.querySelectorAll("a")) {
    if (!el.hasAttribute("href")) problems.push(`link without href ${describe(el)}: ${el.textContent.slice(0, 40)}`);
    else if (!el.textContent.trim() && !nameOf(el) && !el.querySelector("img[alt]")) problems.push(`nameless link ${describe(el)}`);
  }
  for (const el of document.querySelectorAll("img")) {
    if (!el.hasAttribute("alt")) problems.push(`img without alt ${el.src.slice(0, 60)}`);
  }
  return problems;
}"""

BACKGROUND = "() => getComputedStyle(document.body).backgroundColor"

VIEW_NAMES = [
    "experiments",
    "runs-table",
    "runs-several",
    "run",
    "run-metrics",
    "run-artifacts",
    "run-artifact-image",
    "run-artifact-table",
    "compare",
    "metric",
    "metric-long",
    "models",
    "model",
    "model-version",
    "traces",
    "trace",
]


def test_view_names_match_the_pages(seeded: dict[str, Any]) -> None:
    assert [v.name for v in views(seeded)] == VIEW_NAMES


@pytest.mark.parametrize("name", VIEW_NAMES)
def test_page_is_labelled_themed_and_saved(
    page: Page, ui_server: Any, seeded: dict[str, Any], screenshot: Callable[..., Any], name: str
) -> None:
    view = {v.name: v for v in views(seeded)}[name]
    open_view(page, ui_server.url, view)
    assert page.evaluate(UNNAMED) == []
    assert page.locator("h1, h2").count() > 0, "a page has a heading to navigate by"
    light = page.evaluate(BACKGROUND)
    screenshot(page, name)  # also switches to dark and back
    page.emulate_media(color_scheme="dark")
    page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'")
    assert page.evaluate(BACKGROUND) != light
    assert page.evaluate(UNNAMED) == []


def _focused(page: Page) -> dict[str, Any]:
    return page.evaluate(
        """() => {
          const el = document.activeElement;
          const style = getComputedStyle(el);
          return {tag: el.tagName, text: el.textContent.trim().slice(0, 60), href: el.getAttribute("href"),
                  outline: style.outlineStyle !== "none" && style.outlineWidth !== "0px",
                  ring: style.boxShadow !== "none"};
        }"""
    )


def test_keyboard_reaches_an_experiment_and_opens_it(
    page: Page, ui_server: Any, seeded: dict[str, Any]
) -> None:
    page.goto(ui_server.ui("/experiments"))
    page.get_by_text("ui-main").first.wait_for()
    seen = []
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = _focused(page)
        seen.append(focused["text"])
        assert focused["outline"] or focused["ring"], f"no visible focus on {focused}"
        if focused["text"] == "ui-main":
            break
    else:
        pytest.fail(f"Tab never reached the experiment ui-main; focus went through {seen}")
    page.keyboard.press("Enter")
    main = seeded["experiments"]["main"]["id"]
    page.wait_for_function(f"() => location.hash.startsWith('#/experiments/{main}')")
    page.get_by_text("baseline").first.wait_for()


def test_keyboard_opens_a_run_from_the_runs_table(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    """The table is one tab stop (a grid): Tab into it, arrows to the run, Enter opens it."""
    main = seeded["experiments"]["main"]["id"]
    page.goto(ui_server.ui(f"/experiments/{main}"))
    page.get_by_text("tuned").first.wait_for()
    in_table = "() => !!document.activeElement.closest('tbody')"
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate(in_table):
            break
    else:
        pytest.fail("Tab never reached the runs table")
    row_text = "() => (document.activeElement.closest('tr') || document.activeElement).textContent"
    for _ in range(30):
        if "tuned" in page.evaluate(row_text):
            break
        page.keyboard.press("ArrowDown")
    else:
        pytest.fail("ArrowDown never reached the run 'tuned'")
    focused = _focused(page)
    assert focused["outline"] or focused["ring"], f"no visible focus on {focused}"
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => location.hash.includes('{seeded['runs']['tuned']}')")
    page.get_by_text("0.05").first.wait_for()


def test_theme_toggle_is_a_labelled_button(page: Page, ui_server: Any) -> None:
    page.goto(ui_server.ui("/experiments"))
    toggle = page.get_by_role("button", name="Theme", exact=False)
    toggle.wait_for()
    before = page.evaluate("() => document.documentElement.dataset.theme")
    toggle.focus()
    page.keyboard.press("Enter")  # system -> light
    assert page.evaluate("() => document.activeElement.classList.contains('theme-toggle')"), (
        "the toggle keeps the focus after it is pressed"
    )
    page.keyboard.press("Enter")  # light -> dark
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark" != before


def test_mlflow_printed_run_link_opens_the_run(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    main = seeded["experiments"]["main"]["id"]
    run = seeded["runs"]["baseline"]
    page.goto(f"{ui_server.url}/#/experiments/{main}/runs/{run}")
    page.wait_for_function("() => location.pathname.endsWith('/ui/')")
    assert page.evaluate("() => location.hash") == f"#/experiments/{main}/runs/{run}"
    page.get_by_text("baseline").first.wait_for()
    page.get_by_text("adam").first.wait_for()


def test_mlflow_printed_experiment_link_opens_its_runs(
    page: Page, ui_server: Any, seeded: dict[str, Any]
) -> None:
    main = seeded["experiments"]["main"]["id"]
    page.goto(f"{ui_server.url}/#/experiments/{main}")
    page.get_by_text("sweep-parent").first.wait_for()
    assert page.url.startswith(f"{ui_server.url}/ui/")
