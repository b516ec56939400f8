"""The artifact browser (pages/artifacts.js) in Chromium against a real, seeded tracklet
server: the lazy tree and its keyboard, a preview of every kind (text, JSON, YAML, CSV,
``log_table``, PNG/SVG images, sandboxed HTML, large text truncated), downloads, and the
hostile artifact name and content shown as text.

The browser is mounted on its own (the component H4's run page embeds) so that these tests
depend on nothing but pages/artifacts.js; ``test_run_page_deep_link_opens_the_artifact``
goes through the run page's artifact route as a user's link does.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

MOUNT = """async ([runId, initialPath]) => {
  const { html, render } = await import('./html.js');
  const { ArtifactBrowser } = await import('./pages/artifacts.js');
  document.querySelector('main').style.display = 'none';  // the not-found page under it
  const host = document.createElement('div');
  host.className = 'main';
  host.id = 'artifact-host';
  document.body.append(host);
  render(html`<${ArtifactBrowser} runId=${runId} initialPath=${initialPath} />`, host);
}"""


def mount(page: Page, server: Any, run_id: str, initial_path: str | None = None) -> None:
    """Open the UI, then render the artifact browser of ``run_id`` into a container of its own."""
    page.goto(server.ui("/no-such-page"))
    expect(page.get_by_text("Page not found")).to_be_visible()  # a page that loads nothing more
    page.evaluate(MOUNT, [run_id, initial_path])
    expect(page.locator("#artifact-host .artifact-tree [role=treeitem]").first).to_be_visible()


def tree_item(page: Page, name: str) -> Any:
    return page.locator("#artifact-host button.artifact-item").filter(has_text=name).first


def open_file(page: Page, *names: str) -> Any:
    """Click through folders to a file; return the preview body."""
    for name in names:
        tree_item(page, name).click()
    body = page.locator("#artifact-host .artifact-preview-body")
    expect(page.locator("#artifact-host .artifact-name")).to_have_text("/".join(names))
    return body


def no_xss(page: Page) -> None:
    assert page.evaluate("() => window.__xss") is None


@pytest.fixture
def browse(page: Page, ui_server: Any, seeded: dict[str, Any]) -> Callable[..., Page]:
    def go(initial_path: str | None = None) -> Page:
        mount(page, ui_server, seeded["runs"]["artifacts"], initial_path)
        return page

    return go


def test_tree_lists_the_root_lazily_with_sizes(browse: Callable[..., Page], seeded: dict[str, Any]) -> None:
    page = browse()
    items = page.locator("#artifact-host .artifact-tree > ul > [role=treeitem] > button .artifact-label")
    labels = items.all_inner_texts()
    # folders first, then files, each sorted
    assert labels == [
        "config",
        "data",
        "eval",
        "images",
        "notes",
        seeded["artifacts"]["hostile"],
        "report.html",
    ]
    assert tree_item(page, "report.html").locator(".artifact-item-size").inner_text().endswith("B")
    # a folder's listing is asked for only when it is opened
    assert page.locator("#artifact-host").get_by_text("readme.txt").count() == 0
    tree_item(page, "notes").click()
    expect(tree_item(page, "readme.txt")).to_be_visible()
    expect(page.locator("[role=treeitem][aria-expanded=true]")).to_have_count(1)
    tree_item(page, "notes").click()
    expect(page.locator("#artifact-host").get_by_text("readme.txt")).to_have_count(0)


def test_tree_is_keyboard_navigable(browse: Callable[..., Page]) -> None:
    page = browse()
    tree_item(page, "config").focus()
    page.keyboard.press("ArrowRight")  # opens the folder
    expect(tree_item(page, "params.json")).to_be_visible()
    page.keyboard.press("ArrowDown")
    assert page.evaluate("() => document.activeElement.dataset.path") == "config/params.json"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")  # a file: previewed
    expect(page.locator("#artifact-host .artifact-name")).to_have_text("config/params.yaml")
    page.keyboard.press("ArrowLeft")  # from a file: to its folder
    assert page.evaluate("() => document.activeElement.dataset.path") == "config"
    page.keyboard.press("ArrowLeft")  # closes it
    expect(tree_item(page, "params.json")).to_have_count(0)


def test_nested_folders_open_down_to_a_file(browse: Callable[..., Page]) -> None:
    page = browse()
    body = open_file(page, "data", "level1", "level2", "deep.txt")
    expect(body.locator("pre")).to_have_text("deep inside\n")


def test_initial_path_opens_its_folders_and_selects_the_file(browse: Callable[..., Page]) -> None:
    page = browse("data/level1/level2/deep.txt")
    expect(page.locator("#artifact-host .artifact-name")).to_have_text("data/level1/level2/deep.txt")
    expect(page.locator("#artifact-host .artifact-preview-body pre")).to_have_text("deep inside\n")
    expect(page.locator("[role=treeitem][aria-selected=true]")).to_have_count(1)


def test_text_preview(browse: Callable[..., Page], screenshot: Callable[..., Any]) -> None:
    page = browse()
    body = open_file(page, "notes", "readme.txt")
    expect(body.locator("pre")).to_have_text("hello from the UI tests\nsecond line\n")
    expect(body.get_by_text("truncated")).to_have_count(0)
    screenshot(page, "artifacts-text")


def test_json_preview_is_a_collapsible_tree(
    browse: Callable[..., Page], screenshot: Callable[..., Any]
) -> None:
    page = browse()
    body = open_file(page, "config", "params.json")
    view = body.locator(".json-view")
    expect(view.locator(".json-key").filter(has_text="alpha")).to_be_visible()
    expect(view.locator(".json-number").first).to_have_text("1")
    nested = view.locator(".json-key").get_by_text("nested", exact=True).locator("xpath=ancestor::details[1]")
    expect(nested).to_have_attribute("open", "")
    expect(nested.locator(".json-number").get_by_text("3", exact=True)).to_be_visible()
    nested.locator("summary").first.click()  # collapse
    expect(nested).not_to_have_attribute("open", "")
    expect(nested.locator(".json-children").first).to_be_hidden()
    screenshot(page, "artifacts-json", dark=False)


def test_yaml_preview(browse: Callable[..., Page]) -> None:
    page = browse()
    body = open_file(page, "config", "params.yaml")
    expect(body.locator("pre.artifact-yaml")).to_have_text("alpha: 1\nnested:\n  beta: [1, 2, 3]\n")


def _table(body: Any) -> list[list[str]]:
    rows = body.locator("table.artifact-table tr")
    return [row.locator("th, td").all_inner_texts() for row in rows.all()]


def test_csv_preview_is_a_table(browse: Callable[..., Page], screenshot: Callable[..., Any]) -> None:
    page = browse()
    body = open_file(page, "data", "metrics.csv")
    expect(body.locator("table.artifact-table")).to_be_visible()
    assert _table(body) == [
        ["epoch", "loss", "accuracy"],
        ["1", "0.9", "0.40"],
        ["2", "0.5", "0.71"],
        ["3", "0.3", "0.88"],
    ]
    screenshot(page, "artifacts-csv", dark=False)


def test_log_table_preview_is_a_table(browse: Callable[..., Page]) -> None:
    page = browse()
    body = open_file(page, "eval", "table.json")
    expect(body.locator("table.artifact-table")).to_be_visible()
    assert _table(body) == [["question", "answer"], ["2+2?", "4"], ["capital of France?", "Paris"]]


def test_png_preview_decodes(browse: Callable[..., Page], screenshot: Callable[..., Any]) -> None:
    page = browse()
    body = open_file(page, "images", "image.png")
    img = body.locator("img.artifact-image")
    expect(img).to_be_visible()
    page.wait_for_function("() => document.querySelector('#artifact-host img.artifact-image').complete")
    size = img.evaluate("el => [el.naturalWidth, el.naturalHeight, el.src.slice(0, 5)]")
    assert size == [64, 48, "blob:"]
    screenshot(page, "artifacts-image")


def test_html_preview_is_sandboxed(browse: Callable[..., Page], screenshot: Callable[..., Any]) -> None:
    page = browse()
    body = open_file(page, "report.html")
    frame = body.locator("iframe.artifact-html")
    expect(frame).to_be_visible()
    sandbox = frame.get_attribute("sandbox")
    assert sandbox is not None and "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox
    assert frame.get_attribute("src") is None  # the document comes from srcdoc, not the server
    # the document is shown (its heading renders) but its script never ran
    expect(page.frame_locator("#artifact-host iframe.artifact-html").locator("#hello")).to_have_text("Report")
    no_xss(page)
    screenshot(page, "artifacts-html", dark=False)


def test_hostile_name_and_content_are_text(browse: Callable[..., Page], seeded: dict[str, Any]) -> None:
    page = browse()
    hostile = seeded["hostile"]
    name = seeded["artifacts"]["hostile"]
    expect(tree_item(page, name).locator(".artifact-label")).to_have_text(name)
    body = open_file(page, name)
    expect(body.locator("pre")).to_have_text(f"{hostile['script']}\n{hostile['img']}\n")
    expect(page.locator("#artifact-host .artifact-name")).to_have_text(name)
    # the payloads made no elements: the only <img> of the browser would be an image preview
    assert page.locator("#artifact-host img, #artifact-host script, #artifact-host svg").count() == 0
    no_xss(page)


def test_download_link_downloads_the_file(browse: Callable[..., Page], seeded: dict[str, Any]) -> None:
    page = browse()
    open_file(page, "data", "metrics.csv")
    link = page.locator("#artifact-host a.artifact-download")
    assert link.get_attribute("download") == "metrics.csv"
    href = link.evaluate("a => a.href")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(href).query)
    assert query == {"run_id": [seeded["runs"]["artifacts"]], "path": ["data/metrics.csv"]}
    answer = page.request.get(href)
    assert answer.status == 200
    assert answer.headers["content-disposition"].startswith("attachment")
    assert answer.text() == "epoch,loss,accuracy\n1,0.9,0.40\n2,0.5,0.71\n3,0.3,0.88\n"


def test_download_of_the_hostile_name(browse: Callable[..., Page], seeded: dict[str, Any]) -> None:
    page = browse()
    name = seeded["artifacts"]["hostile"]
    open_file(page, name)
    answer = page.request.get(page.locator("#artifact-host a.artifact-download").evaluate("a => a.href"))
    assert answer.status == 200
    assert answer.text() == f"{seeded['hostile']['script']}\n{seeded['hostile']['img']}\n"


# --- files the seeded server does not hold: a server of this module's own ------------------


def _call(
    url: str,
    method: str = "GET",
    body: Any = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    if body is not None:
        data = json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        text = answer.read()
    return json.loads(text) if text else {}


BIG = 1024 * 1024 + 4096
HUGE_IMAGE = 20 * 1024 * 1024 + 1  # past the browser's automatic image preview
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="30" height="20"><rect width="30" height="20" fill="red"/></svg>'


def _run_with_files(server: Any, files: dict[str, bytes], headers: dict[str, str] | None = None) -> str:
    """A new run on ``server`` holding ``files``; returns its id."""
    api = f"{server.url}/api/2.0/mlflow"
    experiment = _call(f"{api}/experiments/create", "POST", {"name": "files"}, headers=headers)[
        "experiment_id"
    ]
    run = _call(f"{api}/runs/create", "POST", {"experiment_id": experiment}, headers=headers)
    run_id: str = run["run"]["info"]["run_id"]
    root = f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{experiment}/{run_id}/artifacts"
    for path, content in files.items():
        _call(f"{root}/{path}", "PUT", data=content, headers=headers)
    return run_id


@pytest.fixture(scope="module")
def files_server(launch_server: Callable[..., Any]) -> tuple[Any, str]:
    """A server with one run holding a text file larger than the preview's 1 MB, an SVG,
    files of unknown types and an image past the automatic preview; returns (server, run id)."""
    server = launch_server()
    files = {
        "big.log": b"0123456789abcdef" * (BIG // 16),
        "drawing.svg": SVG,
        "weights.bin": bytes(range(256)),
        "notes.unknownext": b"plain words in an unknown type\n",
        "huge.png": b"\x89PNG\r\n\x1a\n" + bytes(HUGE_IMAGE),
    }
    return server, _run_with_files(server, files)


def test_large_text_is_truncated_at_one_megabyte(page: Page, files_server: tuple[Any, str]) -> None:
    server, run_id = files_server
    mount(page, server, run_id)
    body = open_file(page, "big.log")
    expect(body.get_by_role("note")).to_contain_text("truncated")
    shown = body.locator("pre").evaluate("el => el.textContent.length")
    assert shown == 1024 * 1024


def test_svg_is_an_image_never_inline(page: Page, files_server: tuple[Any, str]) -> None:
    server, run_id = files_server
    mount(page, server, run_id)
    body = open_file(page, "drawing.svg")
    img = body.locator("img.artifact-image")
    expect(img).to_be_visible()
    page.wait_for_function("() => document.querySelector('#artifact-host img.artifact-image').complete")
    assert img.evaluate("el => [el.naturalWidth, el.naturalHeight]") == [30, 20]
    assert page.locator("#artifact-host svg").count() == 0


def test_unknown_file_offers_a_download(page: Page, files_server: tuple[Any, str]) -> None:
    server, run_id = files_server
    mount(page, server, run_id)
    body = open_file(page, "weights.bin")
    expect(body).to_contain_text("No preview for this file type")
    answer = page.request.get(page.locator("#artifact-host a.artifact-download").evaluate("a => a.href"))
    assert answer.status == 200 and answer.body() == bytes(range(256))


def test_unknown_type_shown_as_text_on_request(page: Page, files_server: tuple[Any, str]) -> None:
    server, run_id = files_server
    mount(page, server, run_id)
    body = open_file(page, "notes.unknownext")
    expect(body.locator("pre")).to_have_count(0)
    body.get_by_role("button", name="Show notes.unknownext as text").click()
    expect(body.locator("pre.artifact-text")).to_have_text("plain words in an unknown type\n")


def test_huge_image_is_fetched_only_when_asked(page: Page, files_server: tuple[Any, str]) -> None:
    server, run_id = files_server
    mount(page, server, run_id)
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url) if "huge.png" in request.url else None)
    body = open_file(page, "huge.png")
    expect(body).to_contain_text("This image is 20 MB")
    expect(body.locator("img")).to_have_count(0)
    assert fetched == []
    body.get_by_role("button", name="Show it anyway").click()
    expect(body.locator("img.artifact-image")).to_have_count(1)
    assert len(fetched) == 1


def test_run_page_deep_link_opens_the_artifact(
    page: Page, ui_server: Any, seeded: dict[str, Any], screenshot: Callable[..., Any]
) -> None:
    """MLflow's link to a run's artifact (and the run page's artifacts tab) shows the preview."""
    main = seeded["experiments"]["main"]["id"]
    run_id = seeded["runs"]["artifacts"]
    page.goto(ui_server.ui(f"/experiments/{main}/runs/{run_id}/artifacts/data/metrics.csv"))
    expect(page.locator(".artifact-name")).to_have_text("data/metrics.csv")
    expect(page.locator("table.artifact-table td").first).to_have_text("1")
    expect(page.locator(".artifact-tree [aria-expanded=true] .artifact-label").first).to_have_text("data")
    screenshot(page, "run-artifacts")


ADMIN = ("h5-admin", "h5-admin-password-1")


def test_previews_and_downloads_work_behind_auth(
    launch_server: Callable[..., Any], new_page: Callable[..., Page]
) -> None:
    """With --auth the browser's credentials go with every fetch the previews make."""
    server = launch_server(
        "--auth", env={"TRACKLET_AUTH_ADMIN_USERNAME": ADMIN[0], "TRACKLET_AUTH_ADMIN_PASSWORD": ADMIN[1]}
    )
    basic = {"Authorization": "Basic " + base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()}
    run_id = _run_with_files(server, {"notes.txt": b"behind auth\n", "drawing.svg": SVG}, headers=basic)
    page = new_page(base_url=server.url, http_credentials={"username": ADMIN[0], "password": ADMIN[1]})
    mount(page, server, run_id)
    expect(open_file(page, "notes.txt").locator("pre")).to_have_text("behind auth\n")
    body = open_file(page, "drawing.svg")
    page.wait_for_function("() => document.querySelector('#artifact-host img.artifact-image')?.complete")
    assert body.locator("img").evaluate("el => el.naturalWidth") == 30
    answer = page.request.get(page.locator("#artifact-host a.artifact-download").evaluate("a => a.href"))
    assert answer.status == 200 and answer.body() == SVG
