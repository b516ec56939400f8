"""The installed plugin is found through its entry point and serves memory:// end to end.

Needs the distribution installed (``pip install -e ./contrib/example-plugin``): the entry
point, not an import in this file, is what makes tracklet find it.
"""

import uuid

import pytest

import tracklet
from tracklet import plugins
from tracklet.exceptions import TrackletException
from tracklet_example.artifacts import MemoryArtifactRepository
from tracklet_example.store import MemoryTrackingStore


def _uri() -> str:
    return f"memory://{uuid.uuid4().hex}"


def test_list_plugins_shows_the_example_plugin():
    (info,) = [p for p in plugins.list_plugins() if p.distribution == "tracklet-example"]
    assert info.name == "example"
    assert info.version == "0.1.0"
    assert {(s.kind, s.scheme, s.target) for s in info.schemes} == {
        ("tracking", "memory", "tracklet_example.store:MemoryTrackingStore"),
        ("artifacts", "memory", "tracklet_example.artifacts:MemoryArtifactRepository"),
    }
    assert "memory" in plugins.installed_schemes("tracking")
    assert "memory" in plugins.installed_schemes("artifacts")


def test_get_tracking_store_builds_one_store_per_uri():
    uri = _uri()
    store = plugins.get_tracking_store(uri)
    assert isinstance(store, MemoryTrackingStore)
    assert store.store_uri == uri
    assert plugins.get_tracking_store(uri) is store  # what one call logs, the next one sees
    assert plugins.get_tracking_store(_uri()) is not store


def test_experiments_get_artifact_locations_this_plugin_serves():
    uri = _uri()
    store = plugins.get_tracking_store(uri)
    experiment_id = store.create_experiment("located")
    location = store.get_experiment(experiment_id).artifact_location
    assert location == f"{uri}/{experiment_id}"
    assert isinstance(plugins.get_artifact_repository(location), MemoryArtifactRepository)


def test_repositories_on_the_same_uri_share_their_files(tmp_path):
    uri = f"{_uri()}/artifacts"
    (tmp_path / "f.txt").write_text("shared")
    plugins.get_artifact_repository(uri).log_artifact(str(tmp_path / "f.txt"), "d")
    again = plugins.get_artifact_repository(uri)
    assert [f.path for f in again.list_artifacts("d")] == ["d/f.txt"]
    assert [f.path for f in plugins.get_artifact_repository(f"{uri}/d").list_artifacts()] == ["f.txt"]


def test_client_end_to_end(tmp_path):
    client = tracklet.MlflowClient(_uri())
    experiment_id = client.create_experiment("demo")
    run = client.create_run(experiment_id, run_name="first")
    client.log_param(run.info.run_id, "lr", 0.01)
    for step, loss in enumerate([0.9, 0.5, 0.2]):
        client.log_metric(run.info.run_id, "loss", loss, step=step)
    client.log_text(run.info.run_id, "hello", "notes/hello.txt")
    client.set_terminated(run.info.run_id)

    (found,) = client.search_runs([experiment_id], "metrics.loss < 0.3 AND params.lr = '0.01'")
    assert found.info.run_id == run.info.run_id and found.info.status == "FINISHED"
    assert [m.value for m in client.get_metric_history(run.info.run_id, "loss")] == [0.9, 0.5, 0.2]
    assert [f.path for f in client.list_artifacts(run.info.run_id, "notes")] == ["notes/hello.txt"]
    local = client.download_artifacts(run.info.run_id, "notes/hello.txt", str(tmp_path))
    with open(local, encoding="utf-8") as f:
        assert f.read() == "hello"


def test_client_deletes_an_experiment_tag_through_the_store():
    client = tracklet.MlflowClient(tracking_uri=_uri())
    experiment_id = client.create_experiment("tagged", tags={"a": "1", "b": "2"})
    client.delete_experiment_tag(experiment_id, "a")
    assert client.get_experiment(experiment_id).tags == {"b": "2"}
    with pytest.raises(TrackletException) as refused:
        client.delete_experiment_tag(experiment_id, "a")
    assert refused.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert refused.value.message == f"No tag with name: a in experiment with id {experiment_id}"
