"""Logged models in the SQL registry store (beside the tracking tables of the same
database): sqlite, PostgreSQL and MariaDB."""

from __future__ import annotations

import uuid

import pytest

from tracklet.entities import LoggedModelOutput, LoggedModelParameter, LoggedModelStatus, LoggedModelTag
from tracklet.exceptions import TrackletException
from tracklet.plugins import get_tracking_store
from tracklet_registry.sql.store import SqlRegistryStore


@pytest.fixture
def store(sql_registry_uri: str) -> SqlRegistryStore:
    return SqlRegistryStore(sql_registry_uri)


@pytest.fixture
def experiment_id(store: SqlRegistryStore) -> str:
    tracking = get_tracking_store(str(store.store_uri))
    return tracking.create_experiment(f"exp-{uuid.uuid4().hex}")


def test_create_get_finalize_and_tags(store: SqlRegistryStore, experiment_id: str) -> None:
    tracking = get_tracking_store(str(store.store_uri))
    location = tracking.get_experiment(experiment_id).artifact_location
    run = tracking.create_run(experiment_id, "u", 0, [], "r")
    model = store.create_logged_model(
        experiment_id,
        name="clf",
        source_run_id=run.info.run_id,
        tags=[LoggedModelTag("a", "1")],
        params=[LoggedModelParameter("alpha", "0.5")],
        model_type="sklearn",
    )
    assert model.model_id.startswith("m-") and model.status == LoggedModelStatus.PENDING
    assert model.artifact_location == f"{location}/models/{model.model_id}/artifacts"
    got = store.get_logged_model(model.model_id)
    assert (got.name, got.tags, got.params, got.model_type, got.source_run_id) == (
        "clf",
        {"a": "1"},
        {"alpha": "0.5"},
        "sklearn",
        run.info.run_id,
    )
    assert (
        store.finalize_logged_model(model.model_id, LoggedModelStatus.READY).status == LoggedModelStatus.READY
    )
    store.set_logged_model_tags(model.model_id, [LoggedModelTag("a", "2"), LoggedModelTag("b", "3")])
    store.log_logged_model_params(model.model_id, [LoggedModelParameter("beta", "1")])
    store.delete_logged_model_tag(model.model_id, "b")
    with pytest.raises(TrackletException, match="No tag with key 'b'"):
        store.delete_logged_model_tag(model.model_id, "b")
    got = store.get_logged_model(model.model_id)
    assert got.tags == {"a": "2"} and got.params == {"alpha": "0.5", "beta": "1"}
    store.log_outputs(run.info.run_id, [LoggedModelOutput(model.model_id, 3)])
    store.log_outputs(run.info.run_id, [LoggedModelOutput(model.model_id, 3)])  # once only
    store.delete_logged_model(model.model_id)
    with pytest.raises(TrackletException, match="not found") as info:
        store.get_logged_model(model.model_id)
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert store.get_logged_model(model.model_id, allow_deleted=True).name == "clf"


def test_refusals(store: SqlRegistryStore, experiment_id: str) -> None:
    with pytest.raises(TrackletException) as info:
        store.create_logged_model("987654")
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    tracking = get_tracking_store(str(store.store_uri))
    tracking.delete_experiment(experiment_id)
    with pytest.raises(TrackletException, match="non-active experiment"):
        store.create_logged_model(experiment_id)
    with pytest.raises(TrackletException, match="not found"):
        store.set_logged_model_tags("m-missing", [LoggedModelTag("a", "1")])


def test_search_filters_orders_and_pages(store: SqlRegistryStore, experiment_id: str) -> None:
    made = [
        store.create_logged_model(
            experiment_id, name=f"model-{i}", tags=[LoggedModelTag("parity", str(i % 2))]
        )
        for i in range(7)
    ]
    store.finalize_logged_model(made[0].model_id, LoggedModelStatus.READY)
    store.delete_logged_model(made[6].model_id)
    found = store.search_logged_models([experiment_id], filter_string="tags.parity = '0'")
    assert sorted(m.name for m in found) == ["model-0", "model-2", "model-4"]
    ready = store.search_logged_models([experiment_id], filter_string="status = 'READY'")
    assert [m.name for m in ready] == ["model-0"]
    by_name = store.search_logged_models(
        [experiment_id], order_by=[{"field_name": "name", "ascending": False}]
    )
    assert [m.name for m in by_name] == [f"model-{i}" for i in range(5, -1, -1)]
    seen, token = [], None
    while True:
        page = store.search_logged_models([experiment_id], max_results=4, page_token=token)
        seen += [m.model_id for m in page]
        token = page.token
        if not token:
            break
    assert sorted(seen) == sorted(m.model_id for m in made[:6])
