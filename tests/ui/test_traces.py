"""Trace pages (pages/traces.js) in Chromium against a real, seeded tracklet server: an
experiment's trace list (3.0 search), the span waterfall in start order with durations,
collapse and expand, a span's inputs/outputs/attributes, an error span, and hostile trace
inputs and tags shown as text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect


def no_xss(page: Page) -> None:
    assert page.evaluate("() => window.__xss") is None


def _span_rows(page: Page) -> Any:
    return page.locator("ul.span-tree > li.span-row")


def test_experiment_trace_list(
    page: Page, ui_server: Any, seeded: dict[str, Any], screenshot: Callable[..., Any]
) -> None:
    main = seeded["experiments"]["main"]["id"]
    page.goto(ui_server.ui(f"/experiments/{main}/traces"))
    rows = page.locator("table.traces-table tbody tr")
    expect(rows).to_have_count(len(seeded["traces"]))
    # newest first: the seed made predict-0, predict-1, predict-2 in that order
    expect(rows.locator("td:nth-child(2)")).to_have_text(["predict-2", "predict-1", "predict-0"])
    expect(rows.locator("td:nth-child(1) a")).to_have_text(list(reversed(seeded["traces"])))
    expect(rows.locator("td:nth-child(3)")).to_have_text(["OK", "OK", "OK"])
    for duration in rows.locator("td:nth-child(4)").all_inner_texts():
        assert duration.endswith(("ms", "s")), duration
    assert all(rows.locator("td:nth-child(5)").all_inner_texts())  # a timestamp in every row
    # the hostile tag value and request preview are text
    hostile = seeded["hostile"]
    expect(rows.nth(1).locator("td:nth-child(7)")).to_have_text(f"note: {hostile['img']}")
    expect(rows.nth(1).locator("td:nth-child(6)")).to_contain_text(hostile["img"].replace('"', '\\"'))
    assert page.locator("main img, main script").count() == 0
    no_xss(page)
    screenshot(page, "traces")


def test_all_traces_and_a_run_s_traces(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    page.goto(ui_server.ui("/traces"))
    expect(page.locator("table.traces-table tbody tr")).to_have_count(len(seeded["traces"]))
    page.goto(ui_server.ui(f"/traces?run={seeded['runs']['baseline']}"))
    expect(page.locator("h1")).to_contain_text(seeded["runs"]["baseline"])
    expect(page.locator("table.traces-table tbody tr")).to_have_count(len(seeded["traces"]))
    page.goto(ui_server.ui(f"/traces?run={seeded['runs']['tuned']}"))
    expect(page.get_by_text("No traces here yet.")).to_be_visible()


def test_trace_span_tree_in_start_order_with_durations(
    page: Page, ui_server: Any, seeded: dict[str, Any], screenshot: Callable[..., Any]
) -> None:
    main = seeded["experiments"]["main"]["id"]
    page.goto(ui_server.ui(f"/experiments/{main}/traces"))
    page.get_by_role("link", name=seeded["traces"][0]).click()
    expect(page.locator("h1")).to_contain_text("predict-0")
    rows = _span_rows(page)
    expect(rows.locator(".span-name")).to_have_text(["predict-0", "retrieve", "embed", "generate"])
    assert [r.get_attribute("aria-level") for r in rows.all()] == ["1", "2", "3", "2"]
    for text in rows.locator(".span-duration").all_inner_texts():
        assert text.endswith(("ms", "s")), text
    # bars: the root spans the whole width, children start later and are no wider
    boxes = [r.locator(".span-bar").bounding_box() for r in rows.all()]
    track = rows.first.locator(".span-track").bounding_box()
    assert boxes[0] is not None and track is not None
    assert abs(boxes[0]["x"] - track["x"]) < 1 and abs(boxes[0]["width"] - track["width"]) < 2
    for box in boxes[1:]:
        assert box is not None and box["width"] > 0
        assert box["x"] >= boxes[0]["x"] and box["x"] + box["width"] <= boxes[0]["x"] + boxes[0]["width"] + 1
    assert boxes[3]["x"] >= boxes[1]["x"]  # generate starts after retrieve
    expect(page.locator(".trace-summary")).to_contain_text("4 spans")
    screenshot(page, "trace")


def test_span_details_collapse_and_expand(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    page.goto(ui_server.ui(f"/traces/{seeded['traces'][0]}"))
    details = page.locator(".span-details")
    expect(details.locator(".span-title")).to_have_text("predict-0")  # the root, until one is picked
    expect(details.locator(".span-json").filter(has_text="Inputs").locator("pre")).to_contain_text(
        '"question": "What is tracklet?"'
    )
    page.get_by_role("button", name="embed", exact=True).click()
    expect(details.locator(".span-title")).to_have_text("embed")
    expect(details.locator(".span-json").filter(has_text="Inputs").locator("pre")).to_have_text(
        '{\n  "k": 0\n}'
    )
    expect(details.locator(".span-json").filter(has_text="Outputs").locator("pre")).to_contain_text(
        '"vector"'
    )
    expect(details.locator(".span-json").filter(has_text="Attributes").locator("pre")).to_contain_text(
        "EMBEDDING"
    )
    expect(_span_rows(page).filter(has_text="embed")).to_have_attribute("aria-selected", "true")

    page.get_by_role("button", name="Collapse retrieve").click()
    expect(_span_rows(page).locator(".span-name")).to_have_text(["predict-0", "retrieve", "generate"])
    page.get_by_role("button", name="Expand retrieve").click()
    expect(_span_rows(page).locator(".span-name")).to_have_text(
        ["predict-0", "retrieve", "embed", "generate"]
    )
    page.get_by_role("button", name="Collapse predict-0").click()
    expect(_span_rows(page).locator(".span-name")).to_have_text(["predict-0"])


def test_error_span_is_marked(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    page.goto(ui_server.ui(f"/traces/{seeded['traces'][2]}"))
    generate = _span_rows(page).filter(has=page.get_by_role("button", name="generate", exact=True))
    expect(generate).to_have_class("span-row span-error")
    generate.get_by_role("button", name="generate", exact=True).click()
    expect(page.locator(".span-details .span-facts")).to_contain_text("ERROR")


def test_hostile_trace_is_text(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    hostile = seeded["hostile"]
    page.goto(ui_server.ui(f"/traces/{seeded['traces'][1]}"))
    inputs = page.locator(".span-details .span-json").filter(has_text="Inputs").locator("pre")
    expect(inputs).to_contain_text(hostile["img"].replace('"', '\\"'))
    page.get_by_role("button", name="retrieve", exact=True).click()
    outputs = page.locator(".span-details .span-json").filter(has_text="Outputs").locator("pre")
    expect(outputs).to_contain_text("doc-a")
    expect(outputs).to_contain_text(hostile["img"].replace('"', '\\"'))
    assert page.locator("main img, main script").count() == 0
    no_xss(page)


def test_trace_filter(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    main = seeded["experiments"]["main"]["id"]
    page.goto(ui_server.ui(f"/experiments/{main}/traces"))
    expect(page.locator("table.traces-table tbody tr")).to_have_count(3)
    page.get_by_label("Filter traces").fill("tags.note = 'plain'")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(ui_server.ui(f"/experiments/{main}/traces?filter=tags.note+%3D+%27plain%27"))
    expect(page.locator("table.traces-table tbody tr td:nth-child(2)")).to_have_text(
        ["predict-2", "predict-0"]
    )
    page.get_by_label("Filter traces").fill("name = 'predict-1'")
    page.keyboard.press("Enter")
    expect(page.locator("table.traces-table tbody tr td:nth-child(2)")).to_have_text(["predict-1"])
    page.get_by_label("Filter traces").fill("name = 'nothing'")
    page.keyboard.press("Enter")
    expect(page.get_by_text("No traces match the filter.")).to_be_visible()


@pytest.mark.ui_allow_status(400)
def test_bad_trace_filter_shows_the_server_s_message(
    page: Page, ui_server: Any, seeded: dict[str, Any]
) -> None:
    main = seeded["experiments"]["main"]["id"]
    page.goto(ui_server.ui(f"/experiments/{main}/traces"))
    page.get_by_label("Filter traces").fill("bogus === 1")
    page.get_by_role("button", name="Search").click()
    error = page.locator(".error-box")
    expect(error).to_contain_text("Invalid filter")
    expect(error).to_contain_text("INVALID_PARAMETER_VALUE")


def test_span_tree_is_keyboard_navigable(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    page.goto(ui_server.ui(f"/traces/{seeded['traces'][0]}"))
    page.get_by_role("button", name="predict-0", exact=True).focus()
    focused = "() => document.activeElement.textContent.trim()"
    page.keyboard.press("ArrowDown")
    assert page.evaluate(focused) == "retrieve"
    page.keyboard.press("ArrowLeft")  # closes retrieve
    expect(_span_rows(page).locator(".span-name")).to_have_text(["predict-0", "retrieve", "generate"])
    page.keyboard.press("ArrowRight")  # opens it again
    page.keyboard.press("ArrowDown")
    assert page.evaluate(focused) == "embed"
    page.keyboard.press("Enter")  # shows the span
    expect(page.locator(".span-details .span-title")).to_have_text("embed")
    page.keyboard.press("ArrowLeft")  # a leaf: to its parent
    assert page.evaluate(focused) == "retrieve"
    page.keyboard.press("End")
    assert page.evaluate(focused) == "generate"


def test_trace_tags_and_metadata_fold_out_as_text(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    page.goto(ui_server.ui(f"/traces/{seeded['traces'][1]}"))
    facts = page.locator(".trace-facts")
    expect(facts.locator("table")).to_have_count(2)
    expect(facts.locator("table").first).to_be_hidden()
    facts.locator("summary").click()
    note = facts.locator("table").first.locator("tr").filter(has=page.locator("th", has_text="note"))
    expect(note.locator("td")).to_have_text(seeded["hostile"]["img"])
    expect(
        facts.locator("table").nth(1).locator("th").get_by_text("mlflow.sourceRun", exact=True)
    ).to_be_visible()
    no_xss(page)
