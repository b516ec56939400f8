"""Registry imports into a real ``tracklet server`` with ``--auth``: only admins may import
(an import may overwrite any registered model); reading a model's last version number
needs READ on it."""

from __future__ import annotations

import pathlib

import pytest

from tracklet.entities.model_registry import ModelVersion, RegisteredModel, RegisteredModelTag
from tracklet.exceptions import TrackletException
from tracklet_registry.rest import RestRegistryStore

ADMIN = ("admin", "admin-password-123")
ALICE = ("alice", "alice-password-1")


def _refused(call: object) -> TrackletException:
    with pytest.raises(TrackletException) as caught:
        call()  # type: ignore[operator]
    assert caught.value.error_code == "PERMISSION_DENIED", caught.value.message
    return caught.value


def test_only_admins_import_into_the_registry(tmp_path: pathlib.Path) -> None:
    testing = pytest.importorskip("tracklet_http.testing")
    env = {
        "TRACKLET_AUTH_ADMIN_USERNAME": ADMIN[0],
        "TRACKLET_AUTH_ADMIN_PASSWORD": ADMIN[1],
        "TRACKLET_AUTH_DEFAULT_PERMISSION": "NO_PERMISSIONS",
    }
    root = tmp_path / "server"
    root.mkdir()
    auth_db = f"sqlite:///{tmp_path / 'auth.db'}"
    server = testing.launch_tracklet_server(root, None, None, "--auth", "--auth-db-uri", auth_db, env=env)
    try:
        host = server.url.split("://", 1)[1]
        admin = RestRegistryStore(f"http://{ADMIN[0]}:{ADMIN[1]}@{host}")
        admin.transport.call(
            "POST", "/api/2.0/mlflow/users/create", json={"username": ALICE[0], "password": ALICE[1]}
        )
        alice = RestRegistryStore(f"http://{ALICE[0]}:{ALICE[1]}@{host}")
        model = RegisteredModel(
            "copied", 1_600_000_000_000, 1_600_000_000_500, "d", tags=[RegisteredModelTag("k", "v")]
        )
        version = ModelVersion("copied", 2, 1_600_000_000_001, current_stage="Staging", source="s3://b/2")

        assert "only admins" in _refused(lambda: alice.import_registered_model(model, 3)).message
        admin.import_registered_model(model, 3)
        _refused(lambda: alice.import_model_version(version))
        admin.import_model_version(version)
        _refused(lambda: alice.import_registered_model_aliases("copied", {"best": 2}))
        admin.import_registered_model_aliases("copied", {"best": 2})
        _refused(lambda: alice.get_last_version_number("copied"))  # no READ on the model
        assert admin.get_last_version_number("copied") == 3

        got = admin.get_model_version("copied", "2")
        assert (got.current_stage, got.source, got.aliases) == ("Staging", "s3://b/2", ["best"])
        assert admin.get_registered_model("copied").last_updated_timestamp == 1_600_000_000_500
    finally:
        server.stop()
