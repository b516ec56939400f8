"""The compare page (pages/compare.js) in Chromium against a real, seeded tracklet server:
params side by side with differences highlighted and the only-differences toggle, latest
metrics, shared charts with every run in the legend, and parallel coordinates drawing one
line per run, coloured by a chosen metric."""

from __future__ import annotations

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
