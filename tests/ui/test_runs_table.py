"""The runs table (pages/runs.js) in Chromium against a real tracklet server: server-side
filter (AND, OR, parentheses; a parse error shown at its position), sorting by header,
the column chooser kept per experiment, nested runs under their parent, selection to the
compare page, several experiments, deleted runs, the keyboard, paging past 100 runs with
virtualised rows, and MLflow's printed deep link reaching the run page."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect


def no_xss(page: Page) -> None:
    assert page.evaluate("() => window.__xss") is None


def run_names(page: Page) -> list[str]:
    return page.locator("table.runs-grid tr.run-row .run-link").all_text_contents()


def search(server_url: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{server_url}/api/2.0/mlflow/runs/search",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read()).get("runs", [])  # type: ignore[no-any-return]


def open_main(page: Page, ui_server: Any, seeded: dict[str, Any], query: str = "") -> str:
    main = seeded["experiments"]["main"]["id"]
    page.goto(ui_server.ui(f"/experiments/{main}{query}"))
    expect(page.locator("tr.run-row").first).to_be_visible()
    return str(main)


def apply_filter(page: Page, text: str) -> None:
    box = page.get_by_label("Filter runs")
    box.fill(text)
    box.press("Enter")


def test_first_page_shows_the_runs_with_hostile_names_as_text(
    page: Page, ui_server: Any, seeded: dict[str, Any], screenshot: Callable[..., Any]
) -> None:
    open_main(page, ui_server, seeded)
    names = seeded["run_names"]
    expect(page.locator("tr.run-row .run-link")).to_have_count(6)  # children folded, deleted hidden
    shown = run_names(page)
    for key in ("baseline", "tuned", "parent", "long_history", "artifacts", "hostile"):
        assert names[key] in shown
    assert names["child_1"] not in shown and names["deleted"] not in shown
    expect(page.get_by_text("ui-main", exact=True).first).to_be_visible()
    expect(page.get_by_role("columnheader", name="loss")).to_be_visible()
    no_xss(page)
    screenshot(page, "runs-table")


def test_filter_speaks_the_grammar_with_or_and_parentheses(
    page: Page, ui_server: Any, seeded: dict[str, Any]
) -> None:
    open_main(page, ui_server, seeded)
    apply_filter(page, "params.lr = '0.01'")
    expect(page.locator("tr.run-row")).to_have_count(1)
    assert run_names(page) == ["baseline"]
    apply_filter(page, "params.lr = '0.05' OR (params.lr = '0.01' AND tags.team = 'vision')")
    expect(page.locator("tr.run-row")).to_have_count(2)
    assert sorted(run_names(page)) == ["baseline", "tuned"]
    # the filter is kept in the address, so the view can be shared
    assert "filter=" in urllib.parse.unquote_plus(page.url.split("#", 1)[1])
    page.reload()
    expect(page.get_by_label("Filter runs")).to_have_value(
        "params.lr = '0.05' OR (params.lr = '0.01' AND tags.team = 'vision')"
    )
    expect(page.locator("tr.run-row")).to_have_count(2)
    page.get_by_role("button", name="Clear").click()
    expect(page.locator("tr.run-row")).to_have_count(6)


@pytest.mark.ui_allow_status(400)
def test_an_invalid_filter_shows_the_message_and_marks_the_position(
    page: Page, ui_server: Any, seeded: dict[str, Any], screenshot: Callable[..., Any]
) -> None:
    open_main(page, ui_server, seeded)
    bad = "metrics.loss < 1 AND (params.lr = '0.01' OR tags.team = 3)"
    apply_filter(page, bad)
    error = page.locator("#filter-error")
    expect(error).to_be_visible()
    message = error.locator(".filter-error-message").inner_text()
    position = int(re.search(r"at position (\d+)", message).group(1))  # type: ignore[union-attr]
    assert bad[position] == "3"
    marker = error.locator(".filter-marker")
    expect(marker).to_have_attribute("data-position", str(position))
    expect(marker.locator("mark")).to_have_text("3")
    expect(page.get_by_label("Filter runs")).to_have_attribute("aria-invalid", "true")
    # the caret sits on the offending character
    assert page.evaluate("() => document.activeElement.selectionStart") == position
    screenshot(page, "runs-filter-error", dark=False)


def test_clicking_a_header_sorts_on_the_server(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    open_main(page, ui_server, seeded)
    apply_filter(page, "params.lr IN ('0.01', '0.05')")
    expect(page.locator("tr.run-row")).to_have_count(2)
    header = page.get_by_role("columnheader", name="loss")
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(page.locator("tr.run-row .run-link")).to_have_text(["baseline", "tuned"])
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(page.locator("tr.run-row .run-link")).to_have_text(["tuned", "baseline"])
    assert "order_by=metrics.loss+ASC" in page.url
    name_header = page.get_by_role("columnheader", name="Run name")
    name_header.get_by_role("button").click()
    expect(name_header).to_have_attribute("aria-sort", "ascending")
    expect(page.locator("tr.run-row .run-link")).to_have_text(["baseline", "tuned"])


def test_column_chooser_adds_a_tag_column_kept_per_experiment(
    page: Page, ui_server: Any, seeded: dict[str, Any]
) -> None:
    main = open_main(page, ui_server, seeded)
    expect(page.get_by_role("columnheader", name="team")).to_have_count(0)
    page.get_by_role("button", name=re.compile(r"^Columns")).click()
    chooser = page.get_by_role("group", name="Choose columns")
    chooser.get_by_label("Find a column").fill("team")
    chooser.get_by_role("checkbox", name="team").check()
    chooser.get_by_label("Find a column").fill("")
    chooser.get_by_role("checkbox", name="Duration").uncheck()
    chooser.get_by_role("button", name="Done").click()
    expect(page.get_by_role("columnheader", name="team")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Duration")).to_have_count(0)
    baseline = page.locator("tr.run-row").filter(has=page.get_by_role("link", name="baseline", exact=True))
    expect(baseline.locator("td.col-tag")).to_have_text("vision")
    page.reload()
    expect(page.get_by_role("columnheader", name="team")).to_be_visible()
    # another experiment keeps its own (default) columns
    second = seeded["experiments"]["second"]["id"]
    page.goto(ui_server.ui(f"/experiments/{second}"))
    expect(page.locator("tr.run-row").first).to_be_visible()
    expect(page.get_by_role("columnheader", name="team")).to_have_count(0)
    expect(page.get_by_role("columnheader", name="Duration")).to_be_visible()
    page.goto(ui_server.ui(f"/experiments/{main}"))
    page.get_by_role("button", name=re.compile(r"^Columns")).click()
    page.get_by_role("button", name="Reset to default").click()
    expect(page.get_by_role("columnheader", name="team")).to_have_count(0)


def test_nested_runs_fold_under_their_parent(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    open_main(page, ui_server, seeded)
    expander = page.get_by_role("button", name="Show 2 child runs of sweep-parent")
    expect(expander).to_have_attribute("aria-expanded", "false")
    expander.click()
    names = run_names(page)
    at = names.index("sweep-parent")
    assert sorted(names[at + 1 : at + 3]) == ["sweep-child-1", "sweep-child-2"]
    child = page.locator("tr.run-row").filter(has=page.get_by_role("link", name="sweep-child-1"))
    parent = page.locator("tr.run-row").filter(has=page.get_by_role("link", name="sweep-parent"))
    assert child.locator(".run-link").bounding_box()["x"] > parent.locator(".run-link").bounding_box()["x"]  # type: ignore[index]
    page.get_by_role("button", name="Hide 2 child runs of sweep-parent").click()
    expect(page.get_by_role("link", name="sweep-child-1")).to_have_count(0)
    # a filter matching only the children shows them on top
    apply_filter(page, "params.lr IN ('0.02', '0.03')")
    expect(page.locator("tr.run-row .run-link")).to_have_count(2)
    assert sorted(run_names(page)) == ["sweep-child-1", "sweep-child-2"]


def test_selected_runs_open_the_compare_page(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    main = open_main(page, ui_server, seeded)
    compare = page.get_by_role("button", name=re.compile(r"^Compare"))
    expect(compare).to_be_disabled()
    page.get_by_label("Select run baseline").check()
    page.get_by_label("Select run tuned").check()
    expect(compare).to_have_text("Compare 2 runs")
    compare.click()
    expect(page).to_have_url(re.compile(r"#/compare-runs\?"))
    query = urllib.parse.parse_qs(page.url.split("?", 1)[1])
    runs = seeded["runs"]
    assert sorted(json.loads(query["runs"][0])) == sorted([runs["baseline"], runs["tuned"]])
    assert json.loads(query["experiments"][0]) == [main]


def test_several_experiments_and_deleted_runs(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    main, second = seeded["experiments"]["main"]["id"], seeded["experiments"]["second"]["id"]
    page.goto(ui_server.ui(f"/runs?experiments={main},{second}"))
    expect(page.get_by_role("heading", name="Runs of 2 experiments")).to_be_visible()
    expect(page.get_by_role("link", name="second-a", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="baseline", exact=True)).to_be_visible()
    row = page.locator("tr.run-row").filter(has=page.get_by_role("link", name="second-a", exact=True))
    expect(row.locator("td.col-attr").filter(has_text="ui-second")).to_have_count(1)
    page.get_by_label("Runs to show").select_option("DELETED_ONLY")
    expect(page.locator("tr.run-row .run-link")).to_have_text(["deleted-run"])


def test_keyboard_moves_selects_and_opens(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    main = open_main(page, ui_server, seeded)
    apply_filter(page, "params.lr IN ('0.01', '0.05')")
    expect(page.locator("tr.run-row")).to_have_count(2)
    page.locator("tr.run-row").first.locator("td.col-attr").first.click()
    first, second = run_names(page)
    page.keyboard.press("ArrowDown")
    focused = page.evaluate("() => document.activeElement.dataset.runId")
    assert focused == seeded["runs"][second]
    page.keyboard.press("Space")
    expect(page.get_by_label(f"Select run {second}")).to_be_checked()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    expect(page).to_have_url(ui_server.ui(f"/experiments/{main}/runs/{seeded['runs'][first]}"))


def test_mlflow_printed_deep_link_reaches_the_run_page(
    page: Page, ui_server: Any, seeded: dict[str, Any]
) -> None:
    main, run = seeded["experiments"]["main"]["id"], seeded["runs"]["baseline"]
    page.goto(f"{ui_server.url}/#/experiments/{main}/runs/{run}")
    expect(page).to_have_url(ui_server.ui(f"/experiments/{main}/runs/{run}"))
    expect(page.get_by_text("baseline", exact=True).first).to_be_visible()
    expect(page.get_by_text("This page is not available")).to_have_count(0)


PAGED_RUNS = 250


@pytest.fixture(scope="module")
def many_runs(launch_server: Callable[..., Any]) -> tuple[Any, str]:
    """A server of this module's own with one experiment of 250 runs (3 pages of 100)."""
    import tracklet

    server = launch_server()
    client = tracklet.MlflowClient(tracking_uri=server.url)
    experiment = client.create_experiment("paged")
    for i in range(PAGED_RUNS):
        client.create_run(experiment, start_time=1_700_000_000_000 + i * 1000, run_name=f"run-{i:03d}")
    return server, experiment


def test_scrolling_loads_pages_past_100_and_renders_only_rows_in_view(
    new_page: Callable[..., Page], many_runs: tuple[Any, str]
) -> None:
    server, experiment = many_runs
    page = new_page(base_url=server.url)
    page.goto(server.ui(f"/experiments/{experiment}"))
    expect(page.locator(".runs-count")).to_have_text("100 runs loaded, more below")
    assert run_names(page)[0] == f"run-{PAGED_RUNS - 1:03d}"  # newest first
    in_dom = page.locator("tr.run-row").count()
    assert 10 < in_dom < 100, in_dom
    scroller = page.locator(".runs-scroller")
    for loaded in ("200 runs loaded, more below", f"{PAGED_RUNS} runs"):
        scroller.evaluate("el => { el.scrollTop = el.scrollHeight; }")
        expect(page.locator(".runs-count")).to_have_text(loaded)
    scroller.evaluate("el => { el.scrollTop = el.scrollHeight; }")
    expect(page.get_by_role("link", name="run-000", exact=True)).to_be_visible()
    assert page.locator("tr.run-row").count() < 100
    # the keyboard walks past what is rendered: End, then Home, each row brought into view
    page.get_by_role("link", name="run-000", exact=True).focus()
    page.keyboard.press("Home")
    expect(page.get_by_role("link", name=f"run-{PAGED_RUNS - 1:03d}", exact=True)).to_be_visible()
    assert page.evaluate("() => document.activeElement.getAttribute('data-index')") == "0"


def test_selected_runs_are_deleted_and_restored(
    new_page: Callable[..., Page], many_runs: tuple[Any, str]
) -> None:
    import tracklet

    server, _ = many_runs
    client = tracklet.MlflowClient(tracking_uri=server.url)
    experiment = client.create_experiment("lifecycle")
    ids = {
        name: client.create_run(experiment, run_name=name).info.run_id
        for name in ("keep", "drop-1", "drop-2")
    }
    page = new_page(base_url=server.url)
    page.goto(server.ui(f"/experiments/{experiment}"))
    expect(page.locator("tr.run-row")).to_have_count(3)
    page.get_by_label("Select run drop-1").check()
    page.get_by_label("Select run drop-2").check()
    page.get_by_role("button", name="Delete", exact=True).click()
    dialog = page.get_by_role("dialog", name="Delete runs")
    expect(dialog).to_contain_text("drop-1")
    dialog.get_by_role("button", name="Delete", exact=True).click()
    expect(page.locator("tr.run-row .run-link")).to_have_text(["keep"])
    assert client.get_run(ids["drop-1"]).info.lifecycle_stage == "deleted"
    page.get_by_label("Runs to show").select_option("DELETED_ONLY")
    expect(page.locator("tr.run-row")).to_have_count(2)
    page.get_by_label("Select all loaded runs").check()
    page.get_by_role("button", name="Restore", exact=True).click()
    page.get_by_role("dialog", name="Restore runs").get_by_role("button", name="Restore", exact=True).click()
    expect(page.locator("tr.run-row")).to_have_count(0)
    assert client.get_run(ids["drop-2"]).info.lifecycle_stage == "active"


def test_a_grid_wider_than_the_window_scrolls_sideways_header_and_rows_together(
    page: Page, ui_server: Any, seeded: dict[str, Any]
) -> None:
    page.set_viewport_size({"width": 720, "height": 700})
    open_main(page, ui_server, seeded)
    before = page.evaluate(
        """() => {
          const s = document.querySelector('.runs-scroller');
          const box = s.getBoundingClientRect();
          return { right: box.right, bottom: box.bottom, inner: innerWidth, innerHeight,
                   page: document.documentElement.scrollWidth,
                   scroll: s.scrollWidth, client: s.clientWidth };
        }"""
    )
    assert before["scroll"] > before["client"], before  # the grid is wider than its box...
    assert before["right"] <= before["inner"], before  # ...which stays inside the window
    assert before["page"] <= before["inner"], before  # (the page itself does not overflow)
    assert before["bottom"] <= before["innerHeight"], before  # its scrollbar is in the window
    after = page.evaluate(
        """() => {
          const s = document.querySelector('.runs-scroller');
          s.scrollLeft = s.scrollWidth;
          const head = [...document.querySelectorAll('.runs-grid thead th')].pop().getBoundingClientRect();
          const cell = [...document.querySelector('.runs-grid tr.run-row').cells].pop().getBoundingClientRect();
          return { scrolled: s.scrollLeft, box: s.getBoundingClientRect().right,
                   headLeft: head.left, headRight: head.right, cellLeft: cell.left };
        }"""
    )
    assert after["scrolled"] > 0, after
    assert after["headRight"] <= after["box"] + 1, after  # the last column is reachable
    assert abs(after["headLeft"] - after["cellLeft"]) < 1, after  # header and rows move together


def test_the_breadcrumbs_lead_back_to_the_experiments(
    page: Page, ui_server: Any, seeded: dict[str, Any]
) -> None:
    open_main(page, ui_server, seeded)
    crumbs = page.get_by_role("navigation", name="Breadcrumbs")
    expect(crumbs).to_have_text("Experiments › ui-main")
    crumbs.get_by_role("link", name="Experiments").click()
    expect(page.get_by_role("link", name="ui-second")).to_be_visible()
