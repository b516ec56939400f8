"""Metric charts (charts.js, pages/metric.js) in Chromium against a real, seeded tracklet
server, and the metric-series endpoint behind them on the seeded 100,000-point history:
canvas and legend, zoom by a mouse drag (re-fetched at full resolution) and double-click
reset, log scale, the x-axis choice, smoothing."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect


def series(server: Any, **params: Any) -> dict[str, Any]:
    query = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{server.url}/api/2.0/tracklet/ui/metric-series?{query}") as answer:
        return json.load(answer)  # type: ignore[no-any-return]


def metric_hash(seeded: dict[str, Any], key: str, *names: str) -> str:
    runs = urllib.parse.quote(json.dumps([seeded["runs"][n] for n in names]))
    experiments = urllib.parse.quote(json.dumps([seeded["experiments"]["main"]["id"]]))
    return f"/metric/{urllib.parse.quote(key)}?runs={runs}&experiments={experiments}"


def x_range(page: Page) -> tuple[float, float]:
    chart = page.locator(".metric-chart")
    return float(chart.get_attribute("data-x-min") or "nan"), float(
        chart.get_attribute("data-x-max") or "nan"
    )


def test_the_long_history_is_downsampled_with_its_extremes(ui_server: Any, seeded: dict[str, Any]) -> None:
    run_id = seeded["runs"]["long_history"]
    (one,) = series(ui_server, run_id=run_id, metric_key="series", max_points=1000)["series"]
    assert one["total_points"] == seeded["history_points"] and one["sampled"] is True
    points = one["points"]
    assert len(points) <= 1000
    values = [p[2] for p in points]
    peak = seeded["history_peak"]
    assert max(values) == peak["value"] and [peak["step"], peak["value"]] in [[p[0], p[2]] for p in points]
    assert min(values) == -1.0 or abs(min(values) + 1.0) < 1e-6  # sin's lows are kept
    assert points[0][0] == 0 and points[-1][0] == seeded["history_points"] - 1


def test_a_window_of_the_long_history_comes_back_whole(ui_server: Any, seeded: dict[str, Any]) -> None:
    run_id = seeded["runs"]["long_history"]
    (one,) = series(ui_server, run_id=run_id, metric_key="series", min_x=77_700, max_x=77_800)["series"]
    assert one["total_points"] == 101 and one["sampled"] is False
    assert [p[0] for p in one["points"]] == list(range(77_700, 77_801))


def test_the_metric_page_draws_the_long_history(
    page: Page, ui_server: Any, seeded: dict[str, Any], screenshot: Any
) -> None:
    page.goto(ui_server.ui(metric_hash(seeded, "series", "long_history")))
    chart = page.locator(".metric-chart")
    expect(chart.locator("canvas")).to_have_count(1)
    expect(chart.locator(".u-legend")).to_contain_text("long-history")
    expect(page.locator(".chart-note")).to_contain_text(
        "of 100,000 points drawn (downsampled, extremes kept)"
    )
    screenshot(page, "metric-chart")


def test_a_mouse_drag_zooms_and_a_double_click_resets(
    page: Page, ui_server: Any, seeded: dict[str, Any]
) -> None:
    page.goto(ui_server.ui(metric_hash(seeded, "series", "long_history")))
    expect(page.locator(".chart-note")).to_contain_text("100,000 points")
    # The page fetches the series and the run's name at once; when the name comes second,
    # the chart is drawn again with it in the legend. Drag on that chart, not the first one
    # (whose plot area is gone by then).
    expect(page.locator(".metric-chart .u-legend")).to_contain_text("long-history")
    full = x_range(page)
    assert full[1] - full[0] >= seeded["history_points"] - 1
    plot_area = page.locator(".metric-chart .u-over")
    expect(plot_area).to_be_visible()
    over = plot_area.bounding_box()
    assert over is not None
    y = over["y"] + over["height"] / 2
    page.mouse.move(over["x"] + over["width"] * 0.40, y)
    page.mouse.down()
    page.mouse.move(over["x"] + over["width"] * 0.41, y, steps=5)
    page.mouse.up()
    expect(page.locator(".chart-note")).to_contain_text("zoomed")
    page.wait_for_function(
        "w => { const d = document.querySelector('.metric-chart').dataset; return d.xMax - d.xMin < w; }",
        arg=(full[1] - full[0]) * 0.05,
    )
    zoomed = x_range(page)
    assert full[0] < zoomed[0] < zoomed[1] < full[1]
    assert zoomed[1] - zoomed[0] < (full[1] - full[0]) * 0.05
    # the window (some 1,000 steps) came back at full resolution: every point in it is drawn
    expect(page.locator(".chart-note")).not_to_contain_text("100,000")
    expect(page.locator(".chart-note")).not_to_contain_text("downsampled")
    page.locator(".metric-chart .u-over").dblclick()
    expect(page.locator(".chart-note")).not_to_contain_text("zoomed")
    chart = page.locator(".metric-chart")
    expect(chart).to_have_attribute("data-x-min", "0")
    expect(chart).to_have_attribute("data-x-max", str(seeded["history_points"] - 1))


def test_log_scale_and_the_x_axis_are_chosen(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    page.goto(ui_server.ui(metric_hash(seeded, "loss", "baseline", "tuned")))
    chart = page.locator(".metric-chart")
    expect(chart.locator(".u-legend")).to_contain_text("baseline")
    expect(chart.locator(".u-legend")).to_contain_text("tuned")
    page.get_by_role("checkbox", name="Log scale").check()
    expect(chart).to_have_attribute("data-log", "true")
    expect(chart.locator("canvas")).to_have_count(1)
    page.get_by_role("checkbox", name="Log scale").uncheck()
    expect(chart).to_have_attribute("data-log", "false")
    page.wait_for_function("() => Number(document.querySelector('.metric-chart').dataset.xMax) < 1e6")
    step_range = x_range(page)
    page.get_by_label("X axis").select_option("time")
    expect(chart).to_have_attribute("data-x-axis", "time")
    # seconds since the epoch, not steps (the chart is redrawn after the render)
    page.wait_for_function("() => Number(document.querySelector('.metric-chart').dataset.xMin) > 1e9")
    assert step_range[1] < 1e9
    page.get_by_label("X axis").select_option("relative")
    expect(chart).to_have_attribute("data-x-axis", "relative")
    page.wait_for_function("() => Number(document.querySelector('.metric-chart').dataset.xMax) < 1e6")


def test_smoothing_redraws(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    page.goto(ui_server.ui(metric_hash(seeded, "loss", "baseline")))
    expect(page.locator(".metric-chart canvas")).to_have_count(1)
    page.get_by_label("Smoothing").fill("0.9")
    expect(page.locator(".chart-controls output")).to_have_text("0.90")
    expect(page.locator(".metric-chart canvas")).to_have_count(1)


def test_a_link_without_runs_says_what_to_add(page: Page, ui_server: Any) -> None:
    page.goto(ui_server.ui("/metric/loss"))
    expect(page.get_by_role("alert")).to_contain_text("names no runs")


# --- --auth: metric-series is authorized per run ------------------------------------------

ADMIN = ("charts-admin", "charts-admin-password-1")
READER = ("charts-reader", "charts-reader-password-1")


def call(server: Any, method: str, path: str, who: tuple[str, str], body: Any = None) -> tuple[int, Any]:
    token = base64.b64encode(f"{who[0]}:{who[1]}".encode()).decode()
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.url + path, data=data, method=method)
    request.add_header("Authorization", f"Basic {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


def test_metric_series_needs_read_on_the_runs_experiment(launch_server: Callable[..., Any]) -> None:
    server = launch_server(
        "--auth",
        env={
            "TRACKLET_AUTH_ADMIN_USERNAME": ADMIN[0],
            "TRACKLET_AUTH_ADMIN_PASSWORD": ADMIN[1],
            "TRACKLET_AUTH_DEFAULT_PERMISSION": "NO_PERMISSIONS",
        },
    )
    api = "/api/2.0/mlflow"
    _, made = call(server, "POST", f"{api}/experiments/create", ADMIN, {"name": "private"})
    experiment_id = made["experiment_id"]
    _, created = call(server, "POST", f"{api}/runs/create", ADMIN, {"experiment_id": experiment_id})
    run_id = created["run"]["info"]["run_id"]
    metric = {"run_id": run_id, "key": "loss", "value": 1.5, "timestamp": 1, "step": 0}
    assert call(server, "POST", f"{api}/runs/log-metric", ADMIN, metric)[0] == 200
    assert (
        call(server, "POST", f"{api}/users/create", ADMIN, {"username": READER[0], "password": READER[1]})[0]
        == 200
    )
    # the reader has no grant on the experiment: the server's default, NO_PERMISSIONS, holds

    path = f"/api/2.0/tracklet/ui/metric-series?run_id={run_id}&metric_key=loss"
    status, answer = call(server, "GET", path, READER)
    assert status == 403 and answer["error_code"] == "PERMISSION_DENIED", answer
    status, answer = call(server, "GET", path, ADMIN)
    assert status == 200 and answer["series"][0]["points"] == [[0, 1, 1.5]]

    # a run the reader may read, named next to the private one, opens nothing more
    _, made = call(server, "POST", f"{api}/experiments/create", ADMIN, {"name": "shared"})
    grant = {"experiment_id": made["experiment_id"], "username": READER[0], "permission": "READ"}
    assert call(server, "POST", f"{api}/experiments/permissions/create", ADMIN, grant)[0] == 200
    _, created = call(server, "POST", f"{api}/runs/create", ADMIN, {"experiment_id": made["experiment_id"]})
    shared = created["run"]["info"]["run_id"]
    status, answer = call(server, "GET", path.replace("run_id=", f"run_id={shared}&run_id="), READER)
    assert status == 403 or [s["run_id"] for s in answer["series"]] == [shared], answer
    status, answer = call(
        server,
        "GET",
        path.replace("run_id=", f"run_id={run_id}&run_id=").replace(f"={run_id}&metric", f"={shared}&metric"),
        READER,
    )
    assert status == 403 or [s["run_id"] for s in answer["series"]] == [shared], answer


def test_the_metric_page_breadcrumbs_name_the_experiment(
    page: Page, ui_server: Any, seeded: dict[str, Any]
) -> None:
    page.goto(ui_server.ui(metric_hash(seeded, "loss", "baseline", "tuned")))
    expect(page.get_by_role("navigation", name="Breadcrumbs")).to_have_text("Experiments › ui-main › loss")


CANVAS_COLOURS = """([r, g, b]) => {
  const canvas = document.querySelector('.metric-chart canvas');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let bright = 0, grid = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] < 200) continue;
    if (data[i] > 200 && data[i + 1] > 200 && data[i + 2] > 200) bright++;
    if (Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) < 12) grid++;
  }
  return { bright, grid };
}"""


def test_dark_charts_draw_grid_and_ticks_in_a_muted_colour(
    page: Page, ui_server: Any, seeded: dict[str, Any]
) -> None:
    page.add_init_script("localStorage.setItem('tracklet-ui.theme', 'dark')")
    page.goto(ui_server.ui(metric_hash(seeded, "loss", "baseline")))
    chart = page.locator(".metric-chart")
    expect(chart.locator("canvas")).to_have_count(1)
    expected = page.evaluate(
        "() => getComputedStyle(document.documentElement).getPropertyValue('--chart-grid').trim()"
    )
    assert expected, "style.css defines --chart-grid for the dark theme"
    expect(chart).to_have_attribute("data-grid-color", expected)
    rgb = [int(expected[i : i + 2], 16) for i in (1, 3, 5)]
    assert max(rgb) < 80  # muted on the dark page
    page.wait_for_function("() => document.querySelector('.metric-chart canvas').width > 0")
    colours = page.evaluate(CANVAS_COLOURS, rgb)
    assert colours["bright"] == 0, colours  # nothing near white on the canvas
    assert colours["grid"] > 200, colours  # the grid is drawn, in that colour
