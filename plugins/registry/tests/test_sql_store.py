"""The SQL registry store on sqlite, PostgreSQL and MariaDB: behaviour the conformance
suite does not reach (rows left behind, rejected calls, SQL search against the core's
in-memory search)."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from tracklet.entities.model_registry import ModelVersionTag, RegisteredModelTag
from tracklet.exceptions import TrackletException
from tracklet.plugins import sql_engine
from tracklet.search import filter_model_versions, filter_registered_models
from tracklet_registry.sql import schema
from tracklet_registry.sql._search import DEFAULT_MODEL_VERSION_ORDER
from tracklet_registry.sql.store import SqlRegistryStore


@pytest.fixture
def store(sql_registry_uri: str) -> SqlRegistryStore:
    return SqlRegistryStore(sql_registry_uri)


def _rows(store: SqlRegistryStore) -> dict[str, int]:
    """How many rows each registry table holds."""
    with sql_engine(str(store.store_uri)).connect() as conn:
        return {
            table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in schema.metadata.sorted_tables
        }


def test_rename_moves_versions_tags_and_aliases(store: SqlRegistryStore) -> None:
    store.create_registered_model("old", tags=[RegisteredModelTag("team", "a")])
    store.create_model_version("old", "s3://b/1", tags=[ModelVersionTag("k", "v")])
    store.create_model_version("old", "s3://b/2")
    store.set_registered_model_alias("old", "champion", "2")

    renamed = store.rename_registered_model("old", "new")

    assert (
        renamed.name == "new" and renamed.tags == {"team": "a"} and renamed.aliases == {"champion": 2}
    )  # ints, as MLflow's SQL store
    assert store.get_model_version("new", "1").tags == {"k": "v"}
    assert str(store.get_model_version_by_alias("new", "champion").version) == "2"
    assert [str(v.version) for v in store.search_model_versions("name = 'new'")] == ["2", "1"]
    with pytest.raises(TrackletException, match="not found"):
        store.get_registered_model("old")
    assert str(store.create_model_version("new", "s3://b/3").version) == "3"


def test_delete_cascades_to_every_table(store: SqlRegistryStore) -> None:
    store.create_registered_model("gone", tags=[RegisteredModelTag("t", "1")])
    store.create_model_version("gone", "s3://b/1", tags=[ModelVersionTag("k", "v")])
    store.set_registered_model_alias("gone", "a", "1")
    store.delete_registered_model("gone")
    assert _rows(store)["registered_models"] == 0
    assert all(count == 0 for count in _rows(store).values())
    store.create_registered_model("gone")  # the name is free again, numbering restarts
    assert str(store.create_model_version("gone", "s3://b/x").version) == "1"


def test_deleted_version_numbers_are_not_reused_and_its_aliases_go(store: SqlRegistryStore) -> None:
    store.create_registered_model("m")
    for i in range(3):
        store.create_model_version("m", f"s3://b/{i}", tags=[ModelVersionTag("k", str(i))])
    store.set_registered_model_alias("m", "top", "3")
    store.delete_model_version("m", "3")
    assert store.get_registered_model("m").aliases == {}
    assert str(store.create_model_version("m", "s3://b/4").version) == "4"
    assert _rows(store)["model_version_tags"] == 2


def test_rejected_calls_change_nothing(store: SqlRegistryStore) -> None:
    store.create_registered_model("a")
    store.create_registered_model("b")
    store.create_model_version("a", "s3://b/1")
    before = _rows(store)
    with pytest.raises(TrackletException, match="already exists"):
        store.rename_registered_model("a", "b")
    with pytest.raises(TrackletException, match="already exists"):
        store.create_registered_model("a", tags=[RegisteredModelTag("x", "y")])
    with pytest.raises(TrackletException, match="not found"):
        store.create_model_version("missing", "s3://b/1", tags=[ModelVersionTag("k", "v")])
    with pytest.raises(TrackletException, match="not found"):
        store.set_registered_model_alias("a", "x", "7")
    with pytest.raises(TrackletException, match="not found"):
        store.set_model_version_tag("a", "2", ModelVersionTag("k", "v"))
    assert _rows(store) == before
    assert str(store.create_model_version("a", "s3://b/2").version) == "2"  # the counter did not move


def test_names_compare_exactly(store: SqlRegistryStore) -> None:
    store.create_registered_model("Model")
    store.create_registered_model("model")
    store.create_model_version("model", "s3://lower")
    assert store.get_registered_model("Model").latest_versions == []
    with pytest.raises(TrackletException, match="not found"):
        store.get_registered_model("MODEL")
    assert [m.name for m in store.search_registered_models("name LIKE 'm%'")] == ["model"]
    assert [m.name for m in store.search_registered_models("name ILIKE 'm%'")] == ["Model", "model"]


def test_latest_versions_per_stage(store: SqlRegistryStore) -> None:
    store.create_registered_model("m")
    for i in range(6):
        store.create_model_version("m", f"s3://b/{i}")
    store.transition_model_version_stage("m", "2", "Staging", False)
    store.transition_model_version_stage("m", "4", "Staging", False)
    store.transition_model_version_stage("m", "5", "production", False)
    latest = {v.current_stage: str(v.version) for v in store.get_latest_versions("m")}
    assert latest == {"None": "6", "Staging": "4", "Production": "5"}
    assert [str(v.version) for v in store.get_latest_versions("m", ["Staging"])] == ["4"]
    store.transition_model_version_stage("m", "6", "Staging", True)
    latest = {v.current_stage: str(v.version) for v in store.get_latest_versions("m")}
    assert latest == {"None": "3", "Staging": "6", "Production": "5", "Archived": "4"}
    with pytest.raises(TrackletException, match="not found"):
        store.get_latest_versions("nope")


def _populate(store: SqlRegistryStore) -> None:
    names = ["alpha", "Alpha_2", "beta", "gamma%x", "delta!"]
    for n, name in enumerate(names):
        tags = [RegisteredModelTag("owner", "ann" if n % 2 else "Bob")]
        if n == 3:
            tags.append(RegisteredModelTag("mlflow.prompt.is_prompt", "TRUE"))
        store.create_registered_model(name, tags=tags)
        for i in range(n + 2):
            version_tags = [ModelVersionTag("i", str(i))]
            if i % 2:
                version_tags.append(ModelVersionTag("odd", "yes"))
            if n == 2 and i == 1:
                version_tags.append(ModelVersionTag("mlflow.prompt.is_prompt", "true"))
            store.create_model_version(
                name, f"s3://bucket/{name}/{i}", run_id=f"run{i % 3}", tags=version_tags
            )
    store.transition_model_version_stage("beta", "2", "Production", False)


_VERSION_FILTERS = [
    None,
    "name = 'alpha'",
    "name != 'alpha'",
    "name LIKE 'a%'",
    "name ILIKE 'a%'",
    "name LIKE '%!'",
    "name LIKE 'gamma%'",
    "name IN ('beta', 'delta!')",
    "name NOT IN ('beta')",
    "version_number > 2",
    "version_number <= 2 AND name = 'beta'",
    "run_id = 'run1'",
    "run_id IN ('run0', 'run2')",
    "source_path LIKE '%/3'",
    "tags.odd = 'yes'",
    "tags.odd != 'yes'",
    "tags.i ILIKE '1%' OR name = 'delta!'",
    "(tags.odd = 'yes' OR version_number = 1) AND name != 'beta'",
]
_VERSION_ORDERS = [
    None,
    ["version_number ASC"],
    ["name DESC"],
    ["creation_timestamp DESC", "name ASC"],
    ["last_updated_timestamp ASC"],
]


def test_version_search_agrees_with_the_in_memory_search(store: SqlRegistryStore) -> None:
    _populate(store)
    every = [
        store.get_model_version(name, str(v))
        for name in ["alpha", "Alpha_2", "beta", "gamma%x", "delta!"]
        for v in range(1, 10)
        if _exists(store, name, v)
    ]
    for filter_string, order_by in itertools.product(_VERSION_FILTERS, _VERSION_ORDERS):
        expected = filter_model_versions(
            every, filter_string, order_by or DEFAULT_MODEL_VERSION_ORDER, max_results=1000
        )
        got = store.search_model_versions(filter_string, max_results=1000, order_by=order_by)
        assert [(v.name, str(v.version)) for v in got] == [(v.name, str(v.version)) for v in expected], (
            filter_string,
            order_by,
        )


def _exists(store: SqlRegistryStore, name: str, version: int) -> bool:
    try:
        store.get_model_version(name, str(version))
    except TrackletException:
        return False
    return True


def test_model_search_agrees_with_the_in_memory_search(store: SqlRegistryStore) -> None:
    _populate(store)
    every = [store.get_registered_model(n) for n in ["alpha", "Alpha_2", "beta", "gamma%x", "delta!"]]
    filters = [
        None,
        "name LIKE '%a%'",
        "name ILIKE 'ALPHA%'",
        "tags.owner = 'ann'",
        "tags.owner LIKE 'B%' OR name = 'beta'",
        "tags.missing != 'x'",
    ]
    orders = [None, ["name DESC"], ["last_updated_timestamp DESC"], ["creation_timestamp ASC"]]
    for filter_string, order_by in itertools.product(filters, orders):
        expected = filter_registered_models(every, filter_string, order_by, max_results=1000)
        got = store.search_registered_models(filter_string, max_results=1000, order_by=order_by)
        assert [m.name for m in got] == [m.name for m in expected], (filter_string, order_by)
        assert [m.latest_versions for m in got] == [m.latest_versions for m in expected]


def test_pages_cover_every_result_once(store: SqlRegistryStore) -> None:
    _populate(store)
    store.update_model_version("beta", "1", "touched: a later update time")
    cases = [
        (None, None),
        ("tags.odd = 'yes'", None),
        ("run_id IN ('run0', 'run1')", ["last_updated_timestamp ASC"]),
        ("name != 'alpha'", ["creation_timestamp DESC"]),
        (None, ["name ASC", "version_number ASC"]),
    ]
    for filter_string, order_by in cases:
        whole = [(v.name, str(v.version)) for v in store.search_model_versions(filter_string, 1000, order_by)]
        for size in (1, 2, 3, 5):
            seen, token = [], None
            while True:
                page = store.search_model_versions(filter_string, size, order_by, token)
                seen += [(v.name, str(v.version)) for v in page]
                token = page.token
                if not token:
                    break
            assert seen == whole, (filter_string, order_by, size)
        assert len(whole) == len(set(whole))


def test_aliases_and_tags_load_with_each_page(store: SqlRegistryStore) -> None:
    _populate(store)
    store.set_registered_model_alias("alpha", "prod", "1")
    store.set_registered_model_alias("alpha", "prev", "1")
    store.set_registered_model_alias("alpha", "prod", "2")  # moved
    page = store.search_model_versions("name = 'alpha'")
    assert {str(v.version): v.aliases for v in page} == {"2": ["prod"], "1": ["prev"]}
    assert {str(v.version): v.tags for v in page} == {"2": {"i": "1", "odd": "yes"}, "1": {"i": "0"}}
    model = store.search_registered_models("name = 'alpha'")[0]
    assert model.aliases == {"prev": 1, "prod": 2}


def test_tag_and_alias_deletes(store: SqlRegistryStore) -> None:
    store.create_registered_model("m", tags=[RegisteredModelTag("a", "1"), RegisteredModelTag("b", "2")])
    store.create_model_version("m", "s", tags=[ModelVersionTag("k", "v")])
    store.set_registered_model_alias("m", "x", "1")
    store.delete_registered_model_tag("m", "a")
    store.delete_registered_model_tag("m", "absent")
    store.delete_model_version_tag("m", "1", "k")
    store.delete_registered_model_alias("m", "x")
    store.set_registered_model_tag("m", RegisteredModelTag("b", "3"))
    model = store.get_registered_model("m")
    assert model.tags == {"b": "3"} and model.aliases == {}
    assert store.get_model_version("m", "1").tags == {}
    with pytest.raises(TrackletException, match="alias x not found"):
        store.get_model_version_by_alias("m", "x")
    with pytest.raises(TrackletException, match="not found"):
        store.delete_registered_model_tag("nope", "a")


def test_download_uri_and_update(store: SqlRegistryStore) -> None:
    store.create_registered_model("m")
    store.create_model_version("m", "s3://b/1", run_id="r", run_link="http://x", description="first")
    assert store.get_model_version_download_uri("m", "1") == "s3://b/1"
    updated = store.update_model_version("m", "1", "changed")
    assert updated.description == "changed" and updated.run_link == "http://x" and updated.run_id == "r"
    model = store.update_registered_model("m", "model text")
    assert model.description == "model text" and model.latest_versions[0].description == "changed"


def test_the_client_registers_a_logged_model_through_the_sql_store(sql_registry_uri: str) -> None:
    import uuid

    import tracklet

    client = tracklet.MlflowClient(tracking_uri=sql_registry_uri)
    experiment_id = client.create_experiment(f"e-{uuid.uuid4().hex}")
    run = client.create_run(experiment_id)
    logged = client.create_logged_model(experiment_id, name="clf", source_run_id=run.info.run_id)
    client.create_registered_model("from-logged")
    version = client.create_model_version(
        "from-logged", f"models:/{logged.model_id}", model_id=logged.model_id
    )
    assert (str(version.version), version.run_id, version.model_id) == ("1", run.info.run_id, logged.model_id)
    assert client.get_model_version_download_uri("from-logged", "1") == logged.artifact_location
    assert isinstance(tracklet.plugins.get_registry_store(sql_registry_uri), SqlRegistryStore)
