"""Registered model permissions on their own: the grants table (a real sqlite file), and
the authorizer's rules for contributed routes over a real sqlite tracking store."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tracklet.exceptions import TrackletException
from tracklet.plugins import get_tracking_store
from tracklet.routes import Route, RoutePermission
from tracklet_http.server.auth import Authorizer
from tracklet_http.server.auth.config import sqlalchemy_uri
from tracklet_http.server.auth.passwords import hash_password
from tracklet_http.server.auth.permissions import NO_PERMISSIONS
from tracklet_http.server.auth.store import AuthStore
from tracklet_http.server.settings import ServerSettings

ADMIN_PASSWORD = "admin-password-123"


def _code(fn: Any, *args: Any) -> str | None:
    try:
        fn(*args)
    except TrackletException as exc:
        return exc.error_code
    return None


# -- the grants table ------------------------------------------------------------------------------


SERVERS = {
    "postgresql": os.environ.get("TRACKLET_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test"),
    "mysql": os.environ.get("TRACKLET_TEST_MYSQL_URI", "mysql://root@127.0.0.1:3306/test"),
}


@contextlib.contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    """A new database on the PostgreSQL or MariaDB test server, dropped afterwards."""
    base = sa.engine.make_url(sqlalchemy_uri(SERVERS[kind]))
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"tracklet_authrm_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            force = " WITH (FORCE)" if kind == "postgresql" else ""
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def auth_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuthStore]:
    """The users database on sqlite, and on a fresh PostgreSQL and MariaDB database."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            uri = f"sqlite:///{tmp_path / 'auth.db'}"
        else:
            uri = stack.enter_context(fresh_database(request.param))
        store = AuthStore(uri)
        stack.callback(store.close)
        for name in ("alice", "bob"):
            store.create_user(name, hash_password(f"{name}-password-1"))
        yield store


def test_model_grants_create_get_update_delete_in_mlflows_words(auth_store: AuthStore) -> None:
    store = auth_store
    grant = store.create_model_grant("m", "bob", "READ")
    assert grant.to_json() == {"name": "m", "user_id": grant.user_id, "permission": "READ"}
    with pytest.raises(TrackletException) as taken:
        store.create_model_grant("m", "bob", "EDIT")
    assert taken.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert taken.value.message == "Registered model permission (name=m, username=bob) already exists."
    assert store.update_model_grant("m", "bob", "EDIT").permission == "EDIT"
    assert store.get_model_grant("m", "bob").permission == "EDIT"
    store.delete_model_grant("m", "bob")
    with pytest.raises(TrackletException) as missing:
        store.get_model_grant("m", "bob")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert missing.value.message == "Registered model permission with name=m and username=bob not found"
    with pytest.raises(TrackletException) as nobody:
        store.create_model_grant("m", "carol", "READ")
    assert nobody.value.message == "User with username=carol not found"
    assert _code(store.update_model_grant, "m", "bob", "READ") == "RESOURCE_DOES_NOT_EXIST"
    assert _code(store.delete_model_grant, "m", "bob") == "RESOURCE_DOES_NOT_EXIST"


def test_rename_moves_grants_and_delete_removes_them(auth_store: AuthStore) -> None:
    store = auth_store
    alice, bob = store.get_user("alice"), store.get_user("bob")
    store.set_model_grant("old", alice.id, "MANAGE")
    store.create_model_grant("old", "bob", "READ")
    store.create_model_grant("new", "bob", "MANAGE")  # a grant made ahead on the new name
    store.create_model_grant("other", "bob", "EDIT")
    store.rename_model_grants("old", "new")
    assert store.model_permission_of(alice.id, "new") == "MANAGE"
    assert store.model_permission_of(bob.id, "new") == "READ"  # the grant that came with the model
    assert store.model_permission_of(alice.id, "old") is None
    store.delete_model_grants("new")
    assert store.model_grants_of(alice.id) == []
    assert [g.name for g in store.model_grants_of(bob.id)] == ["other"]
    store.delete_user("bob")
    store.create_user("bob", hash_password("bob-password-12"))
    assert store.model_grants_of(store.get_user("bob").id) == []


# -- the authorizer over a real tracking store -----------------------------------------------------


class Access:
    """What the server hands the authorizer for a contributed route: the stores."""

    def __init__(self, tracking_store: Any) -> None:
        self.tracking_store = tracking_store
        self.registry_store = None
        self.params: dict[str, Any] = {}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A sqlite tracking store, an authorizer on the same database, users alice (who
    created registered model "am" and experiment "a", with a run) and bob; default READ."""
    monkeypatch.setenv("TRACKLET_AUTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.delenv("TRACKLET_AUTH_DEFAULT_PERMISSION", raising=False)
    uri = f"sqlite:///{tmp_path / 'tracking.db'}"
    store = get_tracking_store(uri, str(tmp_path / "artifacts"))
    authorizer = Authorizer(ServerSettings(backend_store_uri=uri))
    for name in ("alice", "bob"):
        authorizer.service.store.create_user(name, hash_password(f"{name}-password-1"))

    class World:
        pass

    w = World()
    w.store, w.authorizer, w.access = store, authorizer, Access(store)
    authorizer.after_route(
        "alice", "create_registered_model", {"name": "am"}, {"registered_model": {"name": "am"}}, w.access
    )
    w.experiment_id = store.create_experiment("a")
    authorizer.after("alice", "create_experiment", {"name": "a"}, w.experiment_id)
    w.run = store.create_run(w.experiment_id, "alice", 0, [], "r")
    yield w
    store.close()


def _allowed(
    w: Any,
    user: str,
    level: str,
    params: dict[str, Any],
    resource: str = "registered_model",
    key: str = "name",
) -> bool:
    code = _code(w.authorizer.authorize_route, user, RoutePermission(resource, key, level), params, w.access)
    assert code in (None, "PERMISSION_DENIED"), code
    return code is None


GRANTS = [None, "READ", "USE", "EDIT", "MANAGE"]
#: level -> grants (None: no grant, default READ) that allow it
EXPECTED = {
    "READ": {None, "READ", "USE", "EDIT", "MANAGE"},
    "USE": {"USE", "EDIT", "MANAGE"},
    "EDIT": {"EDIT", "MANAGE"},
    "MANAGE": {"MANAGE"},
}


@pytest.mark.parametrize("grant", GRANTS)
@pytest.mark.parametrize("level", list(EXPECTED))
def test_each_level_needs_its_grant_on_the_model(world: Any, level: str, grant: str | None) -> None:
    if grant is not None:
        world.authorizer.service.store.create_model_grant("am", "bob", grant)
    assert _allowed(world, "bob", level, {"name": "am"}) is (grant in EXPECTED[level])
    assert _allowed(world, "alice", level, {"name": "am"})  # the creator holds MANAGE
    assert _allowed(world, "admin", level, {"name": "am"})


def test_create_and_open_routes_need_only_a_signed_in_user(world: Any) -> None:
    assert _allowed(world, "bob", "CREATE", {"name": "new"})
    world.authorizer.authorize_route("bob", None, {}, world.access)
    with pytest.raises(TrackletException) as stranger:
        world.authorizer.authorize_route("mallory", None, {}, world.access)
    assert stranger.value.error_code == "UNAUTHENTICATED"


def test_missing_name_is_left_to_the_handler(world: Any) -> None:
    assert _allowed(world, "bob", "MANAGE", {})
    assert _allowed(world, "bob", "MANAGE", {"name": ""})


def test_default_permission_no_permissions_hides_models_without_grants(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKLET_AUTH_DEFAULT_PERMISSION", "NO_PERMISSIONS")
    monkeypatch.setenv("TRACKLET_AUTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
    uri = f"sqlite:///{tmp_path / 'tracking.db'}"
    store = get_tracking_store(uri, str(tmp_path / "artifacts"))
    authorizer = Authorizer(ServerSettings(backend_store_uri=uri))
    authorizer.service.store.create_user("bob", hash_password("bob-password-12"))
    try:
        access = Access(store)
        with pytest.raises(TrackletException) as refused:
            authorizer.authorize_route(
                "bob", RoutePermission("registered_model", "name", "READ"), {"name": "m"}, access
            )
        assert refused.value.error_code == "PERMISSION_DENIED"
        assert "READ permission on registered model 'm'" in refused.value.message
        assert authorizer.visible_model_names("bob") == set()
        authorizer.after_route(
            "bob", "create_registered_model", {"name": "m"}, {"registered_model": {"name": "m"}}, access
        )
        authorizer.authorize_route(
            "bob", RoutePermission("registered_model", "name", "MANAGE"), {"name": "m"}, access
        )
        assert authorizer.visible_model_names("bob") == {"m"}
        assert authorizer.visible_model_names("admin") is None
    finally:
        store.close()


def test_rename_carries_permissions_and_delete_removes_them(world: Any) -> None:
    world.authorizer.service.store.create_model_grant("am", "bob", "EDIT")
    world.authorizer.after_route(
        "alice", "rename_registered_model", {"name": "am", "new_name": "bm"}, {}, world.access
    )
    assert _allowed(world, "bob", "EDIT", {"name": "bm"})
    assert _allowed(world, "alice", "MANAGE", {"name": "bm"})
    assert not _allowed(world, "alice", "MANAGE", {"name": "am"})  # back to the default there
    world.authorizer.after_route("alice", "delete_registered_model", {"name": "bm"}, {}, world.access)
    assert not _allowed(world, "alice", "MANAGE", {"name": "bm"})
    assert not _allowed(world, "bob", "EDIT", {"name": "bm"})


def test_experiment_run_and_logged_model_resources(world: Any) -> None:
    run_id = world.run.info.run_id
    assert _allowed(world, "alice", "EDIT", {"run_id": run_id}, "run", "run_id")
    assert not _allowed(world, "bob", "EDIT", {"run_id": run_id}, "run", "run_id")
    assert _allowed(world, "bob", "READ", {"run_id": run_id}, "run", "run_id")
    assert _allowed(
        world, "bob", "READ", {"experiment_id": world.experiment_id}, "experiment", "experiment_id"
    )
    assert not _allowed(
        world, "bob", "EDIT", {"experiment_id": world.experiment_id}, "experiment", "experiment_id"
    )
    ids = {"experiment_ids": [world.experiment_id, "0"]}
    assert _allowed(world, "bob", "READ", ids, "experiment", "experiment_ids")
    assert not _allowed(world, "bob", "EDIT", ids, "experiment", "experiment_ids")
    # a run that does not exist: let through to the 404 only where the default allows the call
    assert _allowed(world, "bob", "READ", {"run_id": "0" * 32}, "run", "run_id")
    assert not _allowed(world, "bob", "EDIT", {"run_id": "0" * 32}, "run", "run_id")
    # no store here keeps logged models: an id is treated like one that does not exist
    assert _allowed(world, "bob", "READ", {"model_id": "m-123"}, "logged_model", "model_id")
    assert not _allowed(world, "bob", "MANAGE", {"model_id": "m-123"}, "logged_model", "model_id")


def test_creating_a_version_needs_read_on_its_source(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    service = world.authorizer.service
    service.store.create_model_grant("am", "bob", "EDIT")
    run_id = world.run.info.run_id
    version = {"name": "am", "source": "s3://bucket/model"}
    assert _allowed(world, "bob", "EDIT", version)
    assert _allowed(world, "bob", "EDIT", {**version, "run_id": run_id})  # READ by default
    assert not _allowed(world, "bob", "EDIT", {**version, "run_id": "0" * 32})  # no such run: 403, not 404
    assert not _allowed(world, "bob", "EDIT", {**version, "model_id": "m-0"})
    assert _allowed(world, "bob", "EDIT", {**version, "source": "models:/other/1"})
    # with NO_PERMISSIONS as the default, the source's own grant decides
    monkeypatch.setattr(service, "default", NO_PERMISSIONS)
    service.model_grants_changed()
    assert not _allowed(world, "bob", "EDIT", {**version, "run_id": run_id})
    assert not _allowed(world, "bob", "EDIT", {**version, "source": "models:/other/1"})
    service.store.create_model_grant("other", "bob", "READ")
    service.model_grants_changed()
    assert _allowed(world, "bob", "EDIT", {**version, "source": "models:/other@champion"})
    service.store.create_grant(world.experiment_id, "bob", "READ")
    service.grants_changed()
    assert _allowed(world, "bob", "EDIT", {**version, "run_id": run_id})


# -- search results ------------------------------------------------------------------------------


def _paging_route(names: list[str], calls: list[dict[str, Any]]) -> Route:
    """search_registered_models over ``names`` with offset page tokens (as a store pages)."""

    def handler(request: Any) -> dict[str, Any]:
        calls.append(dict(request.params))
        start = int(request.params.get("page_token") or 0)
        size = int(request.params.get("max_results") or 100)
        page = names[start : start + size]
        answer: dict[str, Any] = {"registered_models": [{"name": n} for n in page]}
        if start + size < len(names):
            answer["next_page_token"] = str(start + size)
        return answer

    return Route("search_registered_models", "GET", "/api/2.0/mlflow/registered-models/search", handler)


def test_search_registered_models_answers_readable_models_and_fills_the_page(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = world.authorizer.service
    monkeypatch.setattr(service, "default", NO_PERMISSIONS)
    names = [f"m{i:02d}" for i in range(30)]
    for name in names[::3]:  # bob may read every third model
        service.store.create_model_grant(name, "bob", "READ")
    service.model_grants_changed()
    calls: list[dict[str, Any]] = []
    route = _paging_route(names, calls)
    params = {"max_results": 4}
    first = route.handler(_Req(params))
    answer = world.authorizer.after_route("bob", route, params, first, _Req(params))
    assert [m["name"] for m in answer["registered_models"]] == ["m00", "m03", "m06", "m09"]
    seen = [m["name"] for m in answer["registered_models"]]
    token = answer.get("next_page_token")
    while token:
        page_params = {"max_results": 4, "page_token": token}
        page = world.authorizer.after_route(
            "bob", route, page_params, route.handler(_Req(page_params)), _Req(page_params)
        )
        seen += [m["name"] for m in page["registered_models"]]
        token = page.get("next_page_token")
    assert seen == names[::3]
    # an admin's answer is the handler's own
    assert world.authorizer.after_route("admin", route, params, first, _Req(params)) is first


def test_search_model_versions_drops_versions_of_unreadable_models(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(world.authorizer.service, "default", NO_PERMISSIONS)
    result = {
        "model_versions": [{"name": "am", "version": "1"}, {"name": "zz", "version": "1"}],
        "next_page_token": "x",
    }
    for route in (
        "search_model_versions",
        Route("x", "GET", "/ajax-api/2.0/mlflow/model-versions/search", lambda r: {}),
    ):
        answer = world.authorizer.after_route("alice", route, {}, result, world.access)
        assert answer == {"model_versions": [{"name": "am", "version": "1"}], "next_page_token": "x"}
        assert world.authorizer.after_route("bob", route, {}, result, world.access)["model_versions"] == []


class _Req:
    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.tracking_store = None
        self.registry_store = None


def test_a_repeated_id_field_is_checked_id_by_id(world: Any) -> None:
    """A route whose protected parameter is a list (a repeated field) gets every id checked:
    a list once slipped through the run, model and logged-model checks unread."""
    alice_run = world.run.info.run_id
    own = world.store.create_experiment("b")
    world.authorizer.after("bob", "create_experiment", {"name": "b"}, own)
    bob_run = world.store.create_run(own, "bob", 0, [], "mine").info.run_id

    assert _allowed(world, "bob", "EDIT", {"run_id": [bob_run]}, "run", "run_id")
    assert not _allowed(world, "bob", "EDIT", {"run_id": [alice_run]}, "run", "run_id")
    assert not _allowed(world, "bob", "EDIT", {"run_id": [bob_run, alice_run]}, "run", "run_id")
    assert _allowed(world, "alice", "EDIT", {"run_id": (alice_run,)}, "run", "run_id")
    assert not _allowed(world, "bob", "EDIT", {"name": ["am"]}, "registered_model", "name")
    assert not _allowed(world, "bob", "MANAGE", {"model_id": ["m-1", "m-2"]}, "logged_model", "model_id")
    assert _allowed(world, "bob", "READ", {"run_id": []}, "run", "run_id")  # names nothing


def test_a_value_the_check_cannot_read_is_refused(world: Any) -> None:
    run_id = world.run.info.run_id
    for value in ({"id": run_id}, [[run_id]], [run_id, None]):
        code = _code(
            world.authorizer.authorize_route,
            "bob",
            RoutePermission("run", "run_id", "READ"),
            {"run_id": value},
            world.access,
        )
        assert code == "PERMISSION_DENIED", value
    too_many = {"experiment_ids": ["0"] * 1001}
    assert not _allowed(world, "bob", "READ", too_many, "experiment", "experiment_ids")
    assert _allowed(world, "admin", "READ", too_many, "experiment", "experiment_ids")
