"""The model registry's pages (pages/models.js) in Chromium against a real, seeded tracklet
server: the models list and its search, a model's versions with stages and aliases, a
version with its source run, the hostile model shown as text, and editing description,
tags and aliases (on a server of this module's own, so the seeded data stays as seeded)."""

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


def model_hash(name: str, version: str | None = None) -> str:
    path = f"/models/{urllib.parse.quote(name, safe='')}"
    return f"{path}/versions/{version}" if version else path


def test_models_list_shows_versions_aliases_and_tags(
    page: Page, ui_server: Any, seeded: dict[str, Any], screenshot: Callable[..., Any]
) -> None:
    page.goto(ui_server.ui("/models"))
    table = page.locator("table.models-table")
    row = table.locator("tbody tr").filter(has=page.get_by_role("link", name="ui-model", exact=True))
    expect(row).to_have_count(1)
    # latest version per stage: v1 in Production, v2 in Staging, v3 in None
    v1, v2, v3 = seeded["model"]["versions"]
    expect(row.locator(".version-link")).to_have_text([f"v{v1} (Production)", f"v{v2} (Staging)", f"v{v3}"])
    expect(row.locator(".chip.alias")).to_contain_text("@champion")
    expect(row.locator(".model-tags")).to_have_text("owner: ui")
    # the hostile model's name is a link whose text is the payload
    expect(table.get_by_role("link", name=seeded["model"]["hostile"], exact=True)).to_be_visible()
    no_xss(page)
    screenshot(page, "models-list")


def test_models_search_filters_by_name(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    page.goto(ui_server.ui("/models"))
    expect(page.locator("table.models-table tbody tr")).to_have_count(2)
    page.get_by_label("Search models by name").fill("UI-MOD")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(ui_server.ui("/models?q=UI-MOD"))
    expect(page.locator("table.models-table tbody tr")).to_have_count(1)
    expect(page.locator("table.models-table tbody tr a").first).to_have_text("ui-model")
    page.get_by_label("Search models by name").fill("no such model")
    page.keyboard.press("Enter")
    expect(page.get_by_text("No registered models match")).to_be_visible()


def test_model_page_lists_versions_with_stage_alias_and_run(
    page: Page, ui_server: Any, seeded: dict[str, Any], screenshot: Callable[..., Any]
) -> None:
    page.goto(ui_server.ui("/models"))
    page.get_by_role("link", name="ui-model", exact=True).click()
    expect(page.locator("h1")).to_have_text("ui-model")
    expect(page.locator(".description-text")).to_have_text("The model of the UI tests")
    rows = page.locator("table.versions-table tbody tr")
    v1, v2, v3 = seeded["model"]["versions"]
    expect(rows).to_have_count(3)
    expect(rows.locator("td:nth-child(1)")).to_have_text([f"Version {v3}", f"Version {v2}", f"Version {v1}"])
    expect(rows.locator("td:nth-child(2)")).to_have_text(["None", "Staging", "Production"])
    expect(rows.nth(2).locator("td:nth-child(3)")).to_have_text("@champion")
    baseline = seeded["runs"]["baseline"]
    run_link = rows.nth(0).locator("td:nth-child(4) a")
    expect(run_link).to_have_text(baseline)
    assert run_link.get_attribute("href") == f"#/runs/{baseline}"
    expect(rows.locator("td:nth-child(5)")).to_have_text(["READY"] * 3)
    expect(page.locator(".alias-editor .chip.alias")).to_contain_text(f"@champion → v{v1}")
    screenshot(page, "model")


def test_version_page_shows_source_run_metrics_tags_and_alias(
    page: Page, ui_server: Any, seeded: dict[str, Any], screenshot: Callable[..., Any]
) -> None:
    v1 = seeded["model"]["versions"][0]
    page.goto(ui_server.ui(model_hash("ui-model")))
    page.get_by_role("link", name=f"Version {v1}", exact=True).click()
    expect(page).to_have_url(ui_server.ui(model_hash("ui-model", v1)))
    facts = page.locator(".model-version-page > table.kv-table")
    expect(facts.locator("tr").filter(has_text="Stage")).to_contain_text("Production")
    expect(facts.locator("tr").filter(has_text="Status")).to_contain_text("READY")
    baseline = seeded["runs"]["baseline"]
    expect(facts.locator("tr").filter(has_text="Source run").locator("a")).to_have_text(baseline)
    expect(page.locator(".description-text")).to_have_text("version 1")
    expect(page.locator(".tag-editor tbody th")).to_have_text(["validated"])
    expect(page.locator(".tag-editor tbody td").first).to_have_text("true")
    expect(page.locator(".alias-editor .chip.alias")).to_contain_text("@champion")
    summary = page.locator(".run-summary")
    expect(summary.get_by_role("link", name="baseline")).to_be_visible()
    expect(summary.locator("th").first).to_be_visible()
    assert set(summary.locator("th").all_inner_texts()) == {"loss", "accuracy"}
    screenshot(page, "model-version")


def test_hostile_model_is_text(page: Page, ui_server: Any, seeded: dict[str, Any]) -> None:
    name = seeded["model"]["hostile"]
    hostile = seeded["hostile"]
    page.goto(ui_server.ui(model_hash(name)))
    expect(page.locator("h1")).to_have_text(name)
    expect(page.locator(".description-text")).to_have_text(f"{hostile['script']} {hostile['img']}")
    expect(page.locator(".tag-editor td").first).to_have_text(hostile["img"])
    page.get_by_role("link", name="Version 1", exact=True).click()
    expect(page.locator(".description-text")).to_have_text(hostile["img"])
    assert page.locator("main img, main script, main svg").count() == 0
    no_xss(page)


@pytest.mark.ui_allow_status(404)
def test_missing_model_says_so(page: Page, ui_server: Any) -> None:
    page.goto(ui_server.ui(model_hash("no-such-model")))
    expect(page.locator(".error-box")).to_contain_text("no-such-model")
    expect(page.locator(".error-box")).to_contain_text("RESOURCE_DOES_NOT_EXIST")


# --- editing, on a server of this module's own ---------------------------------------------


LOGGED_MLMODEL = b"artifact_path: model\nflavors:\n  python_function:\n    loader_module: predict\n"


def _call(url: str, method: str = "GET", body: Any = None, data: bytes | None = None) -> Any:
    if body is not None:
        data = json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        text = answer.read()
    return json.loads(text) if text else {}


@pytest.fixture(scope="module")
def registry_server(launch_server: Callable[..., Any]) -> Any:
    """A server with one model ``editable`` of two versions."""
    server = launch_server()
    api = f"{server.url}/api/2.0/mlflow"
    _call(f"{api}/registered-models/create", "POST", {"name": "editable", "description": "before"})
    for _ in range(2):
        _call(f"{api}/model-versions/create", "POST", {"name": "editable", "source": "s3://bucket/model"})
    # an MLflow 3 logged model with files, registered as model "logged" version 1
    experiment = _call(f"{api}/experiments/create", "POST", {"name": "models"})["experiment_id"]
    model_id = _call(f"{api}/logged-models", "POST", {"experiment_id": experiment, "name": "lm"})["model"][
        "info"
    ]["model_id"]
    files = f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{experiment}/models/{model_id}/artifacts"
    _call(f"{files}/MLmodel", "PUT", data=LOGGED_MLMODEL)
    _call(f"{files}/code/predict.py", "PUT", data=b"def predict(x):\n    return x\n")
    _call(f"{api}/registered-models/create", "POST", {"name": "logged"})
    _call(
        f"{api}/model-versions/create",
        "POST",
        {"name": "logged", "source": f"models:/{model_id}", "model_id": model_id},
    )
    return server


def _model(server: Any) -> dict[str, Any]:
    answer = _call(f"{server.url}/api/2.0/mlflow/registered-models/get?name=editable")
    return answer["registered_model"]  # type: ignore[no-any-return]


def test_edit_description_tags_and_aliases(new_page: Callable[..., Page], registry_server: Any) -> None:
    page = new_page(base_url=registry_server.url)
    page.goto(registry_server.ui(model_hash("editable")))
    expect(page.locator(".description-text")).to_have_text("before")

    page.get_by_role("button", name="Edit description").click()
    page.get_by_label("Description", exact=True).fill("after <b>edit</b>")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".description-text")).to_have_text("after <b>edit</b>")
    assert _model(registry_server)["description"] == "after <b>edit</b>"

    page.get_by_label("Tag key").fill("team")
    page.get_by_label("Value").fill("vision")
    page.get_by_role("button", name="Add tag").click()
    expect(page.locator(".tag-editor tbody tr")).to_have_count(1)
    assert _model(registry_server)["tags"] == [{"key": "team", "value": "vision"}]
    page.get_by_role("button", name="Delete tag team").click()
    expect(page.locator(".tag-editor").get_by_text("No tags.")).to_be_visible()
    assert "tags" not in _model(registry_server) or _model(registry_server)["tags"] == []

    page.get_by_label("Alias", exact=True).fill("prod")
    page.get_by_label("Version", exact=True).fill("2")
    page.get_by_role("button", name="Set alias").click()
    expect(page.locator(".alias-editor .chip.alias")).to_contain_text("@prod → v2")
    expect(page.locator("table.versions-table tbody tr").first.locator("td:nth-child(3)")).to_have_text(
        "@prod"
    )
    assert _model(registry_server)["aliases"] == [{"alias": "prod", "version": "2"}]
    page.get_by_role("button", name="Remove alias prod").click()
    expect(page.locator(".alias-editor").get_by_text("No aliases.")).to_be_visible()
    assert not _model(registry_server).get("aliases")


@pytest.mark.ui_allow_status(400, 404)
def test_alias_to_a_missing_version_shows_the_error(
    new_page: Callable[..., Page], registry_server: Any
) -> None:
    page = new_page(base_url=registry_server.url)
    page.goto(registry_server.ui(model_hash("editable")))
    page.get_by_label("Alias", exact=True).fill("ghost")
    page.get_by_label("Version", exact=True).fill("99")
    page.get_by_role("button", name="Set alias").click()
    expect(page.locator(".alias-editor .error-box")).to_be_visible()
    assert not _model(registry_server).get("aliases")


def test_version_page_edits_its_tags(new_page: Callable[..., Page], registry_server: Any) -> None:
    page = new_page(base_url=registry_server.url)
    page.goto(registry_server.ui(model_hash("editable", "1")))
    expect(page.locator(".model-version-page h1")).to_contain_text("version 1")
    page.get_by_label("Tag key").fill("checked")
    page.get_by_label("Value").fill("yes")
    page.get_by_role("button", name="Add tag").click()
    expect(page.locator(".tag-editor tbody th")).to_have_text(["checked"])
    version = _call(f"{registry_server.url}/api/2.0/mlflow/model-versions/get?name=editable&version=1")
    assert version["model_version"]["tags"] == [{"key": "checked", "value": "yes"}]


def test_version_of_a_logged_model_browses_its_files(
    new_page: Callable[..., Page], registry_server: Any
) -> None:
    page = new_page(base_url=registry_server.url)
    page.goto(registry_server.ui(model_hash("logged", "1")))
    files = page.locator(".model-files")
    expect(files.locator("button.artifact-item")).to_have_count(2)  # code/ and MLmodel
    files.locator("button.artifact-item").filter(has_text="MLmodel").click()
    expect(files.locator("pre.artifact-yaml")).to_have_text(LOGGED_MLMODEL.decode())
    files.locator("button.artifact-item").filter(has_text="code").click()
    files.locator("button.artifact-item").filter(has_text="predict.py").click()
    expect(files.locator("pre.artifact-text")).to_have_text("def predict(x):\n    return x\n")
    answer = page.request.get(files.locator("a.artifact-download").evaluate("a => a.href"))
    assert answer.status == 200 and answer.text() == "def predict(x):\n    return x\n"


def test_version_from_a_run_opens_the_run_s_folder(
    page: Page, ui_server: Any, seeded: dict[str, Any]
) -> None:
    """ui-model's versions come from runs:/<baseline>/model: the files section is the run's
    artifact browser (the baseline run logged no files, so it says so)."""
    page.goto(ui_server.ui(model_hash("ui-model", seeded["model"]["versions"][0])))
    expect(page.locator(".model-files")).to_contain_text("This run has no artifacts.")


def test_version_moves_to_another_stage(new_page: Callable[..., Page], registry_server: Any) -> None:
    page = new_page(base_url=registry_server.url)
    page.goto(registry_server.ui(model_hash("editable", "2")))
    facts = page.locator(".model-version-page > table.kv-table")
    expect(facts.locator("tr").filter(has_text="Stage")).to_contain_text("None")
    move = page.get_by_role("button", name="Move to stage")
    expect(move).to_be_disabled()
    page.get_by_label("Stage", exact=True).select_option("Staging")
    move.click()
    expect(facts.locator("tr").filter(has_text="Stage")).to_contain_text("Staging")
    version = _call(f"{registry_server.url}/api/2.0/mlflow/model-versions/get?name=editable&version=2")
    assert version["model_version"]["current_stage"] == "Staging"
    expect(page.get_by_label("Stage", exact=True)).to_have_value("Staging")


def test_breadcrumbs_keep_their_spaces(new_page: Callable[..., Page], registry_server: Any) -> None:
    page = new_page(base_url=registry_server.url)
    page.goto(registry_server.ui(model_hash("editable")))
    expect(page.get_by_role("navigation", name="Breadcrumbs")).to_have_text("Models › editable")
    page.goto(registry_server.ui(model_hash("editable", "1")))
    expect(page.get_by_role("navigation", name="Breadcrumbs")).to_have_text("Models › editable › Version 1")


@pytest.mark.ui_allow_status(404)
def test_api_patch_and_del_send_json_and_raise_api_errors(
    new_page: Callable[..., Page], registry_server: Any
) -> None:
    page = new_page(base_url=registry_server.url)
    page.goto(registry_server.ui(model_hash("logged")))
    expect(page.locator("h1")).to_have_text("logged")
    answer = page.evaluate(
        """async () => {
          const { api } = await import('./api.js');
          const patched = await api.patch('ajax-api/2.0/mlflow/registered-models/update',
            { name: 'logged', description: 'patched by api.patch' });
          let failure = null;
          try {
            await api.del('ajax-api/2.0/mlflow/registered-models/delete-tag', { name: 'no-such-model', key: 'k' });
          } catch (error) {
            failure = { name: error.name, status: error.status, code: error.code, message: error.message };
          }
          return { patched, failure };
        }"""
    )
    assert answer["patched"]["registered_model"]["description"] == "patched by api.patch"
    model = _call(f"{registry_server.url}/api/2.0/mlflow/registered-models/get?name=logged")
    assert model["registered_model"]["description"] == "patched by api.patch"
    failure = answer["failure"]
    assert failure["name"] == "ApiError" and failure["status"] == 404, failure
    assert failure["code"] == "RESOURCE_DOES_NOT_EXIST" and "no-such-model" in failure["message"], failure
