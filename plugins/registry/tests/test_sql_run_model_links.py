"""A run's model links read by the SQL registry store in one query (inputs and outputs
together, each ordered by model id): sqlite, PostgreSQL and MariaDB."""

from __future__ import annotations

import uuid

import pytest

from tracklet.entities import LoggedModelInput, LoggedModelOutput
from tracklet.plugins import get_tracking_store
from tracklet_registry.sql.store import SqlRegistryStore


@pytest.fixture
def store(sql_registry_uri: str) -> SqlRegistryStore:
    return SqlRegistryStore(sql_registry_uri)


def test_inputs_and_outputs_of_each_run_in_model_id_order(store: SqlRegistryStore) -> None:
    tracking = get_tracking_store(str(store.store_uri))
    experiment_id = tracking.create_experiment(f"links-{uuid.uuid4().hex}")
    run_id = tracking.create_run(experiment_id, "u", 0, [], "r").info.run_id
    other_run = tracking.create_run(experiment_id, "u", 0, [], "o").info.run_id
    models = sorted(store.create_logged_model(experiment_id).model_id for _ in range(4))
    assert store.get_run_model_links(run_id) == ([], [])

    store.log_model_inputs(run_id, [LoggedModelInput(models[2]), LoggedModelInput(models[0])])
    store.log_outputs(run_id, [LoggedModelOutput(models[3], 7), LoggedModelOutput(models[1], 2**40)])
    store.log_model_inputs(other_run, [LoggedModelInput(models[1])])
    store.log_outputs(other_run, [LoggedModelOutput(models[0], 1)])

    assert store.get_run_model_links(run_id) == (
        [LoggedModelInput(models[0]), LoggedModelInput(models[2])],
        [LoggedModelOutput(models[1], 2**40), LoggedModelOutput(models[3], 7)],
    )
    assert store.get_run_model_links(other_run) == (
        [LoggedModelInput(models[1])],
        [LoggedModelOutput(models[0], 1)],
    )
    inputs, outputs = store.get_run_model_links(other_run)
    assert isinstance(outputs[0].step, int)
    # the read left no transaction behind: the pooled connection takes a write at once
    store.log_outputs(other_run, [LoggedModelOutput(models[2], 5)])
    assert store.get_run_model_links(other_run)[1][-1] == LoggedModelOutput(models[2], 5)


def test_a_run_with_no_links_and_an_unknown_run(store: SqlRegistryStore) -> None:
    assert store.get_run_model_links(uuid.uuid4().hex) == ([], [])
