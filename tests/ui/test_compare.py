"""The compare page (pages/compare.js) in Chromium against a real, seeded tracklet server:
params side by side with differences highlighted and the only-differences toggle, latest
metrics, shared charts with every run in the legend, and parallel coordinates drawing one
line per run, coloured by a chosen metric."""

from __future__ import annotations

import itertools
import json
import urllib.parse
from typing import Any

from playwright.sync_api import Page, expect

NAMES = ("baseline", "tuned", "child_1")


def compare_hash(seeded: dict[str, Any], names: tuple[str, ...] = NAMES, mlflow_format: bool = True) -> str:
    ids = [seeded["runs"][n] for n in names]
    runs = urllib.parse.quote(json.dumps(ids)) if mlflow_format else ",".join(ids)
    experiments = urllib.parse.quote(json.dumps([seeded["experiments"]["main"]["id"]]))
    return f"/compare-runs?runs={runs}&experiments={experiments}"


def test_params_differences_are_highlighted(
    page: Page, ui_server: Any, seeded: dict[str, Any], screenshot: Any
) -> None:
    page.goto(ui_server.ui(compare_hash(seeded)))
    params = page.locator("section[aria-labelledby=params-title]")
    for name in ("baseline", "tuned", "sweep-child-1"):
        expect(params.locator("thead")).to_contain_text(name)
    lr = params.locator("tr[data-key=lr]")
    expect(lr).to_have_attribute("data-diff", "true")
    expect(lr).to_have_class("diff")
    expect(lr).to_contain_text("0.01")
    expect(lr).to_contain_text("0.05")
    same = params.locator("tr[data-key=optimizer]")
    expect(same).to_have_attribute("data-diff", "false")
    assert "rgba(0, 0, 0, 0)" not in lr.locator("td").first.evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    screenshot(page, "compare")

    page.get_by_role("checkbox", name="Only differences").check()
    expect(params.locator("tr[data-key=optimizer]")).to_have_count(0)
    expect(params.locator("tr[data-key=lr]")).to_have_count(1)


def test_latest_metrics_are_side_by_side(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    page.goto(ui_server.ui(compare_hash(seeded)))
    metrics = page.locator("section[aria-labelledby=metrics-title]")
    for key in seeded["metrics"]["training"]:
        row = metrics.locator(f"tr[data-key={key}]")
        expect(row.locator("td")).to_have_count(len(NAMES))
        expect(row).to_have_attribute("data-diff", "true")


def test_parallel_coordinates_draw_one_line_per_run(
    page: Page, ui_server: Any, seeded: dict[str, Any]
) -> None:
    page.goto(ui_server.ui(compare_hash(seeded)))
    svg = page.locator("svg.parallel-coordinates")
    lines = svg.locator("path.pc-line")
    expect(lines).to_have_count(len(NAMES))
    assert sorted(lines.evaluate_all("ps => ps.map(p => p.dataset.runId)")) == sorted(
        seeded["runs"][n] for n in NAMES
    )
    for d in lines.evaluate_all("ps => ps.map(p => p.getAttribute('d'))"):
        assert d.count("L") >= 1  # crosses at least two axes
    expect(svg.locator(".pc-axis-label")).to_contain_text(["lr", "accuracy", "loss"])
    # coloured by accuracy (the first metric): the lines differ in colour, as the values do
    colours = lines.evaluate_all("ps => ps.map(p => p.getAttribute('stroke'))")
    assert len(set(colours)) == len(NAMES) and all(c.startswith("hsl(") for c in colours)
    page.get_by_label("Colour lines by").select_option("")
    expect(lines.first).not_to_have_attribute("stroke", colours[0])
    page.get_by_role("checkbox", name="metric loss").uncheck()
    expect(svg.locator(".pc-axis")).to_have_count(2)


def test_shared_charts_show_every_run(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    page.goto(ui_server.ui(compare_hash(seeded, mlflow_format=False)))  # runs=a,b,c works too
    panel = page.get_by_role("region", name="Chart of loss")
    expect(panel.locator("canvas")).to_have_count(1)
    for name in ("baseline", "tuned", "sweep-child-1"):
        expect(panel.locator(".u-legend")).to_contain_text(name)


def test_a_hostile_run_name_and_param_show_as_text(
    page: Page, ui_server: Any, seeded: dict[str, Any]
) -> None:
    page.goto(ui_server.ui(compare_hash(seeded, ("baseline", "hostile"))))
    expect(page.locator("section[aria-labelledby=params-title] thead")).to_contain_text(
        seeded["run_names"]["hostile"]
    )
    expect(page.locator("tr[data-key=payload]")).to_contain_text("<script>")
    assert page.evaluate("() => window.__xss === undefined")
    expect(page.locator(".compare-page img")).to_have_count(0)


def test_the_breadcrumbs_name_the_experiment_with_spaces(
    page: Page, ui_server: Any, seeded: dict[str, Any]
) -> None:
    page.goto(ui_server.ui(compare_hash(seeded)))
    crumbs = page.get_by_role("navigation", name="Breadcrumbs")
    expect(crumbs).to_have_text(f"Experiments › ui-main › Compare {len(NAMES)} runs")
    crumbs.get_by_role("link", name="ui-main").click()
    expect(page.locator("tr.run-row").first).to_be_visible()


def test_parallel_coordinates_labels_stay_off_the_axes(
    page: Page, ui_server: Any, seeded: dict[str, Any]
) -> None:
    page.goto(ui_server.ui(compare_hash(seeded)))
    page.get_by_role("checkbox", name="param batch_size").check()
    page.get_by_role("checkbox", name="param optimizer").check()
    svg = page.locator("svg.parallel-coordinates")
    expect(svg.locator(".pc-axis-label title", has_text="optimizer")).to_have_count(1)
    layout = svg.evaluate(
        """svg => {
          const box = (e) => { const b = e.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; };
          const lines = [...svg.querySelectorAll('.pc-axis line')].map((l) => [
            Number(l.getAttribute('x1')), Number(l.getAttribute('y1')), Number(l.getAttribute('y2'))]);
          const texts = [...svg.querySelectorAll('.pc-axis text')].map((t) => ({
            cls: t.getAttribute('class'), box: box(t), title: t.querySelector('title')?.textContent }));
          return { lines, texts, width: svg.viewBox.baseVal.width };
        }"""
    )
    top = min(y1 for _, y1, _ in layout["lines"])
    bottom = max(y2 for _, _, y2 in layout["lines"])
    texts = layout["texts"]
    assert len(texts) == 3 * len(layout["lines"]) >= 15  # a name and two values per axis
    for text in texts:
        x0, y0, x1, y1 = text["box"]
        # above or below the band the axis and run lines are drawn in, inside the picture
        assert y1 <= top or y0 >= bottom, text
        assert 0 <= x0 and x1 <= layout["width"], text
        assert text["title"], text  # the whole text on hover, whatever is cut
    labels = [t["box"] for t in texts if t["cls"] == "pc-axis-label"]
    for a, b in itertools.pairwise(labels):
        assert a[2] <= b[0], (a, b)  # names do not run into each other
    names = svg.locator(".pc-axis-label title").all_text_contents()
    assert {"lr", "batch_size", "optimizer", "accuracy", "loss"} <= set(names)
