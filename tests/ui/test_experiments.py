"""The experiments list (pages/experiments.js) in Chromium against a real tracklet server:
the seeded list and its name search, the hostile name shown as text, deleted experiments
behind "Show deleted", and create, rename, delete and restore (on a server of this module's
own, so the seeded data stays as seeded), each checked through the REST API."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect


def no_xss(page: Page) -> None:
    assert page.evaluate("() => window.__xss") is None


def experiment_by_name(server_url: str, name: str) -> dict[str, Any]:
    query = urllib.parse.urlencode({"experiment_name": name})
    with urllib.request.urlopen(
        f"{server_url}/api/2.0/mlflow/experiments/get-by-name?{query}", timeout=30
    ) as r:
        return json.loads(r.read())["experiment"]  # type: ignore[no-any-return]


def rows(page: Page) -> Any:
    return page.locator("table.experiments-table tbody tr")


def test_list_shows_the_experiments_and_opens_their_runs(
    page: Page, ui_server: Any, seeded: dict[str, Any], screenshot: Callable[..., Any]
) -> None:
    page.goto(ui_server.ui("/experiments"))
    table = page.locator("table.experiments-table")
    for name in ("ui-main", "ui-second", seeded["experiments"]["hostile"]["name"]):
        expect(table.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(table.get_by_role("link", name="ui-deleted", exact=True)).to_have_count(0)
    no_xss(page)
    screenshot(page, "experiments")
    table.get_by_role("link", name="ui-main", exact=True).click()
    main = seeded["experiments"]["main"]["id"]
    expect(page).to_have_url(ui_server.ui(f"/experiments/{main}"))
    expect(page.get_by_role("heading", name="ui-main", exact=True)).to_be_visible()


def test_root_and_plain_ui_address_show_the_experiments(page: Page, ui_server: Any) -> None:
    page.goto(f"{ui_server.url}/")
    expect(page.get_by_role("heading", name="Experiments")).to_be_visible()
    assert urllib.parse.urlsplit(page.url).path == "/ui/"


def test_search_narrows_by_name_on_the_server(page: Page, ui_server: Any) -> None:
    page.goto(ui_server.ui("/experiments"))
    expect(rows(page).filter(has_text="ui-main")).to_have_count(1)
    page.get_by_label("Search experiments by name").fill("SECOND")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("ui-second")
    page.get_by_label("Search experiments by name").fill("no experiment is called this")
    expect(page.get_by_text("No experiment name contains")).to_be_visible()


def test_show_deleted_lists_deleted_experiments_with_a_badge(page: Page, ui_server: Any) -> None:
    page.goto(ui_server.ui("/experiments"))
    expect(rows(page).filter(has_text="ui-main")).to_have_count(1)
    page.get_by_label("Show deleted").check()
    deleted = rows(page).filter(has_text="ui-deleted")
    expect(deleted).to_have_count(1)
    expect(deleted.locator(".badge")).to_have_text("deleted")
    expect(deleted.get_by_role("button", name="Restore ui-deleted")).to_be_visible()


@pytest.fixture(scope="module")
def own_server(launch_server: Callable[..., Any]) -> Any:
    """A server of this module's own: these tests change experiments."""
    return launch_server()


def test_create_rename_delete_and_restore(new_page: Callable[..., Page], own_server: Any) -> None:
    page = new_page(base_url=own_server.url)
    page.goto(own_server.ui("/experiments"))
    expect(rows(page).filter(has_text="Default")).to_have_count(1)

    page.get_by_role("button", name="New experiment").click()
    dialog = page.get_by_role("dialog", name="New experiment")
    dialog.get_by_label("Name").fill("made <b>in</b> the browser")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_hidden()
    created = experiment_by_name(own_server.url, "made <b>in</b> the browser")
    expect(page.get_by_role("link", name="made <b>in</b> the browser", exact=True)).to_be_visible()

    page.get_by_role("button", name="Rename made <b>in</b> the browser").click()
    dialog = page.get_by_role("dialog", name="Rename experiment")
    expect(dialog.get_by_label("New name")).to_have_value("made <b>in</b> the browser")
    dialog.get_by_label("New name").fill("renamed in the browser")
    dialog.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("link", name="renamed in the browser", exact=True)).to_be_visible()
    assert (
        experiment_by_name(own_server.url, "renamed in the browser")["experiment_id"]
        == created["experiment_id"]
    )

    page.get_by_role("button", name="Delete renamed in the browser").click()
    dialog = page.get_by_role("dialog", name="Delete experiment")
    expect(dialog).to_contain_text("renamed in the browser")
    dialog.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("link", name="renamed in the browser", exact=True)).to_have_count(0)
    assert experiment_by_name(own_server.url, "renamed in the browser")["lifecycle_stage"] == "deleted"

    page.get_by_label("Show deleted").check()
    page.get_by_role("button", name="Restore renamed in the browser").click()
    expect(page.get_by_role("button", name="Delete renamed in the browser")).to_be_visible()
    assert experiment_by_name(own_server.url, "renamed in the browser")["lifecycle_stage"] == "active"


@pytest.mark.ui_allow_status(400)
def test_a_name_taken_shows_the_servers_error_in_the_dialog(
    new_page: Callable[..., Page], own_server: Any
) -> None:
    page = new_page(base_url=own_server.url)
    page.goto(own_server.ui("/experiments"))
    page.get_by_role("button", name="New experiment").click()
    dialog = page.get_by_role("dialog", name="New experiment")
    dialog.get_by_label("Name").fill("Default")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.get_by_role("alert")).to_contain_text("RESOURCE_ALREADY_EXISTS")
    expect(dialog.get_by_role("alert")).to_contain_text("Default")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()


def test_selected_experiments_open_one_runs_table(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    main, second = seeded["experiments"]["main"]["id"], seeded["experiments"]["second"]["id"]
    page.goto(ui_server.ui("/experiments"))
    page.get_by_label("Select experiment ui-main", exact=True).check()
    page.get_by_label("Select experiment ui-second", exact=True).check()
    page.get_by_role("link", name="Runs of 2 selected experiments").click()
    # the hash's query, as the page reads it (URLSearchParams: "2%2C1" and "2,1" alike)
    query = urllib.parse.parse_qs(page.url.split("#", 1)[1].partition("?")[2])
    assert sorted(query["experiments"][0].split(",")) == sorted([main, second])
    expect(page.get_by_role("heading", name="Runs of 2 experiments")).to_be_visible()
    expect(page.get_by_role("link", name="second-a", exact=True)).to_be_visible()
