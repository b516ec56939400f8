"""The run page (pages/run.js) in Chromium against a real, seeded tracklet server: the
header, params, latest metrics with sparklines, datasets, the description and tags edited
through MLflow's REST API (and read back from it), system tags read-only, the metrics and
artifacts tabs, MLflow's printed deep link."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from playwright.sync_api import Page, expect


def run_hash(seeded: dict[str, Any], name: str, tail: str = "") -> str:
    main = seeded["experiments"]["main"]["id"]
    return f"/experiments/{main}/runs/{seeded['runs'][name]}{tail}"


def run_tags(server: Any, run_id: str) -> dict[str, str]:
    with urllib.request.urlopen(f"{server.url}/api/2.0/mlflow/runs/get?run_id={run_id}") as answer:
        run = json.load(answer)["run"]
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


def test_the_header_params_metrics_and_datasets_show(
    page: Page, ui_server: Any, seeded: dict[str, Any], screenshot: Any
) -> None:
    page.goto(ui_server.ui(run_hash(seeded, "baseline")))
    expect(page.locator("h1.run-name")).to_have_text("baseline")
    facts = page.locator(".run-facts")
    expect(facts).to_contain_text(seeded["runs"]["baseline"])
    expect(facts).to_contain_text("FINISHED")
    expect(facts).to_contain_text("active")
    for key, value in seeded["params"]["baseline"].items():
        row = page.locator("#params-title + table tr", has_text=key)
        expect(row).to_contain_text(value)
    metrics = page.locator(".metrics-table")
    for key in seeded["metrics"]["training"]:
        expect(metrics.get_by_role("link", name=key, exact=True)).to_be_visible()
    expect(metrics.locator("svg.sparkline").first).to_be_visible()  # drawn from metric-series
    datasets = page.locator(".datasets-table")
    for name in seeded["datasets"]:
        expect(datasets).to_contain_text(name)
    expect(datasets).to_contain_text("training")
    expect(page.get_by_role("link", name="ui-main")).to_be_visible()  # the breadcrumb names the experiment
    screenshot(page, "run")


def test_a_nested_run_links_its_parent(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    page.goto(ui_server.ui(run_hash(seeded, "child_1")))
    page.locator(".parent-link").click()
    expect(page.locator("h1.run-name")).to_have_text("sweep-parent")


def test_the_description_is_edited_into_the_note_tag(
    page: Page, ui_server: Any, seeded: dict[str, Any]
) -> None:
    run_id = seeded["runs"]["tuned"]
    page.goto(ui_server.ui(run_hash(seeded, "tuned")))
    page.get_by_role("button", name="Edit description").click()
    page.get_by_role("textbox", name="Description").fill("Tuned learning rate.\nSecond line.")
    page.get_by_role("button", name="Save description").click()
    expect(page.locator(".description-text")).to_have_text("Tuned learning rate.\nSecond line.")
    assert run_tags(ui_server, run_id)["mlflow.note.content"] == "Tuned learning rate.\nSecond line."
    page.reload()
    expect(page.locator(".description-text")).to_contain_text("Tuned learning rate.")


def test_tags_are_added_edited_and_deleted(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    run_id = seeded["runs"]["child_2"]
    page.goto(ui_server.ui(run_hash(seeded, "child_2")))
    page.get_by_label("Key").fill("reviewer")
    page.get_by_label("Value").fill("vision")
    page.get_by_role("button", name="Add tag").click()
    row = page.locator("tr[data-tag=reviewer]")
    expect(row).to_contain_text("vision")
    assert run_tags(ui_server, run_id)["reviewer"] == "vision"

    row.get_by_role("button", name="Edit tag reviewer").click()
    page.get_by_label("New value of tag reviewer").fill("speech")
    row.get_by_role("button", name="Save").click()
    expect(row).to_contain_text("speech")
    assert run_tags(ui_server, run_id)["reviewer"] == "speech"

    page.get_by_role("button", name="Delete tag reviewer").click()
    expect(page.locator("tr[data-tag=reviewer]")).to_have_count(0)
    assert "reviewer" not in run_tags(ui_server, run_id)


def test_system_tags_are_read_only(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    page.goto(ui_server.ui(run_hash(seeded, "child_1")))
    system = page.locator("tr.system-tag[data-tag='mlflow.parentRunId']")
    expect(system).to_contain_text(seeded["runs"]["parent"])
    expect(system.get_by_role("button")).to_have_count(0)


def test_the_metrics_tab_charts_every_metric(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    page.goto(ui_server.ui(run_hash(seeded, "baseline")))
    page.get_by_role("tab", name="Metrics").click()
    for key in seeded["metrics"]["training"]:
        panel = page.get_by_role("region", name=f"Chart of {key}")
        expect(panel.locator("canvas")).to_have_count(1)
    page.get_by_role("checkbox", name="loss").uncheck()
    expect(page.get_by_role("region", name="Chart of loss")).to_have_count(0)
    assert page.url.endswith("/metrics")  # the URL follows the tab


def test_the_artifacts_tab_and_its_deep_link(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    path = seeded["artifacts"]["text"]
    page.goto(ui_server.ui(run_hash(seeded, "artifacts", f"/artifacts/{path}")))
    expect(page.get_by_role("tab", name="Artifacts")).to_have_attribute("aria-selected", "true")
    expect(page.locator(".tab-panel")).to_contain_text(path.split("/")[-1])


def test_mlflows_printed_link_opens_the_run(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    main = seeded["experiments"]["main"]["id"]
    page.goto(f"{ui_server.url}/#/experiments/{main}/runs/{seeded['runs']['tuned']}")
    expect(page.locator("h1.run-name")).to_have_text("tuned")


def test_a_hostile_run_shows_as_text(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    page.goto(ui_server.ui(run_hash(seeded, "hostile")))
    expect(page.locator("h1.run-name")).to_have_text(seeded["run_names"]["hostile"])
    expect(page.locator("tr[data-tag=xss]")).to_contain_text("<img src=x onerror=")
    expect(page.locator(".description-text")).to_contain_text("<script>")
    assert page.evaluate("() => window.__xss === undefined")
    expect(page.locator(".run-page img")).to_have_count(0)


def test_the_breadcrumbs_keep_their_spaces(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    page.goto(ui_server.ui(run_hash(seeded, "baseline")))
    crumbs = page.get_by_role("navigation", name="Breadcrumbs")
    expect(crumbs).to_have_text("Experiments › ui-main › baseline")


def test_the_user_is_the_mlflow_user_tag(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    # the seed's client leaves user_id "unknown" and sets mlflow.user, as MLflow's clients do
    with urllib.request.urlopen(
        f"{ui_server.url}/api/2.0/mlflow/runs/get?run_id={seeded['runs']['baseline']}"
    ) as answer:
        info = json.load(answer)["run"]["info"]
    assert info.get("user_id", "") != "ui-tester"
    page.goto(ui_server.ui(run_hash(seeded, "baseline")))
    user = page.locator(".run-facts div", has=page.locator("dt", has_text="User")).locator("dd")
    expect(user).to_have_text("ui-tester")


def test_the_traces_link_opens_the_run_s_traces(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    main = seeded["experiments"]["main"]["id"]
    run_id = seeded["runs"]["baseline"]
    page.goto(ui_server.ui(run_hash(seeded, "baseline")))
    link = page.get_by_role("link", name="Traces of this run")
    expect(link).to_have_attribute("href", f"#/experiments/{main}/traces?run={run_id}")
    link.click()
    page.wait_for_url(f"**/#/experiments/{main}/traces?run={run_id}")
    expect(page.locator("h1")).to_contain_text(run_id)  # the traces page filters by the run
    expect(page.locator("table.traces-table tbody tr")).to_have_count(len(seeded["traces"]))
