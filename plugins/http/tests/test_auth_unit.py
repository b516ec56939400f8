"""The auth package's parts on their own: password hashing, configuration, the users
database (a real sqlite file), and the authorizer's rules over a real tracking store."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tracklet.exceptions import TrackletException
from tracklet.plugins import get_tracking_store
from tracklet_http.server.auth import ENDPOINT_RULES, Authorizer
from tracklet_http.server.auth.config import AuthConfig, database_uri, load_config, sqlalchemy_uri
from tracklet_http.server.auth.passwords import hash_password, needs_rehash, random_password, verify_password
from tracklet_http.server.auth.permissions import grantable
from tracklet_http.server.auth.service import AuthService, TTLCache, check_name, check_password
from tracklet_http.server.auth.store import AuthStore
from tracklet_http.server.settings import ServerSettings

ADMIN_PASSWORD = "admin-password-123"


def _basic(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- passwords -----------------------------------------------------------------------------------


def test_password_hash_round_trip_and_format() -> None:
    stored = hash_password("correct horse battery")
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt-hmac", str(2**15), "8", "1")
    assert salt and digest
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    # a fresh salt every time
    assert hash_password("correct horse battery") != stored


@pytest.mark.parametrize(
    "stored", ["", "scrypt$1$2", "bcrypt$x$y$z$a$b", "scrypt$x$8$1$AA==$AA==", "scrypt$2$8$1$!!$??"]
)
def test_malformed_hashes_never_verify(stored: str) -> None:
    assert not verify_password("anything", stored)


def test_random_passwords_are_long_and_distinct() -> None:
    a, b = random_password(), random_password()
    assert a != b and len(a) >= 20


@pytest.mark.parametrize(
    ("a", "b"),
    [("", "\x00" * 12), ("secret-password", "secret-password\x00"), ("x" * 12, "x" * 12 + "\x00" * 40)],
)
def test_passwords_differing_in_trailing_nuls_hash_apart(a: str, b: str) -> None:
    """Issue 12: an account whose password was twelve NULs accepted an empty password.
    Plain scrypt keys HMAC with the password, and HMAC zero-pads short keys."""
    assert not verify_password(a, hash_password(b))
    assert not verify_password(b, hash_password(a))
    assert verify_password(b, hash_password(b))


def _legacy_hash(password: str) -> str:
    """A hash as tracklet stored them before issue 12: scrypt over the password itself."""
    import base64
    import hashlib

    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**15, r=8, p=1, dklen=32, maxmem=2**28)
    return f"scrypt${2**15}$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def test_older_hashes_verify_only_passwords_they_cannot_confuse() -> None:
    assert verify_password("alice-password-1", _legacy_hash("alice-password-1"))
    assert not verify_password("alice-password-2", _legacy_hash("alice-password-1"))
    nuls = _legacy_hash("\x00" * 12)
    assert not verify_password("", nuls) and not verify_password("\x00" * 12, nuls)
    assert not verify_password("alice-password-1\x00", _legacy_hash("alice-password-1"))
    assert needs_rehash(_legacy_hash("alice-password-1"))
    assert not needs_rehash(hash_password("alice-password-1"))


# -- checks on names, passwords and permissions ---------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "cannot be empty"),
        ("a:b", "cannot contain ':'"),
        ("x" * 256, "at most 255"),
        ("a\x00", "NUL"),
        (5, "expected a string"),
        (None, "expected a string"),
    ],
)
def test_bad_user_names_are_refused_naming_the_rule(value: Any, message: str) -> None:
    with pytest.raises(TrackletException, match=message) as info:
        check_name(value, "username", username=True)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "'username'" in info.value.message


def test_experiment_ids_may_be_numbers() -> None:
    assert check_name(7, "experiment_id") == "7"


def test_short_passwords_are_refused() -> None:
    with pytest.raises(TrackletException, match="at least 12"):
        check_password("short")
    assert check_password("long-enough-pw") == "long-enough-pw"


@pytest.mark.parametrize(
    ("password", "found"),
    [
        ("\x00" * 12, "U+0000 at character 1"),
        ("tab\tpassword-12", "U+0009 at character 4"),
        ("new-password\n", "U+000A"),
        ("del-password\x7f", "U+007F"),
        ("c1-password-\x85", "U+0085"),
    ],
)
def test_new_passwords_cannot_contain_control_characters(password: str, found: str) -> None:
    with pytest.raises(TrackletException) as info:
        check_password(password, "password")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "'password'" in info.value.message and "control characters" in info.value.message
    assert found in info.value.message


def test_new_passwords_must_have_utf8_bytes_and_may_be_any_text() -> None:
    with pytest.raises(TrackletException, match="lone surrogates"):
        check_password("\ud800" + "x" * 12)
    family = "family: \U0001f468\u200d\U0001f469\u200d\U0001f467!!"  # ZWJ (format) characters are fine
    for text in ("pässwörd-lång-1", "パスワードパスワードパスワード", family):
        assert check_password(text) == text


def test_grants_must_allow_something() -> None:
    assert grantable("EDIT") == "EDIT"
    with pytest.raises(TrackletException, match="delete the grant"):
        grantable("NO_PERMISSIONS")
    with pytest.raises(TrackletException, match="READ, USE, EDIT, MANAGE"):
        grantable("OWNER")


# -- configuration -------------------------------------------------------------------------------


def test_users_database_follows_the_backend_when_it_is_sql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert database_uri("sqlite:////data/t.db", None) == "sqlite:////data/t.db"
    assert database_uri("postgresql://u@h/db", None) == "postgresql+psycopg://u@h/db"
    assert database_uri("postgresql+psycopg2://u@h/db", None) == "postgresql+psycopg2://u@h/db"
    assert database_uri("mysql://u@h/db", None) == "mysql+pymysql://u@h/db"
    assert database_uri(str(tmp_path / "mlruns"), None) == f"sqlite:///{tmp_path / 'basic_auth.db'}"
    assert database_uri("file:///x/mlruns", None) == f"sqlite:///{tmp_path / 'basic_auth.db'}"
    assert (
        database_uri("sqlite://", None) == f"sqlite:///{tmp_path / 'basic_auth.db'}"
    )  # in-memory: per process
    assert database_uri("sqlite:////data/t.db", "postgresql://u@h/auth") == "postgresql+psycopg://u@h/auth"
    assert sqlalchemy_uri("postgres://u@h/db") == "postgresql+psycopg://u@h/db"


def test_config_from_environment_with_mlflow_fallbacks(tmp_path: Path) -> None:
    env = {"MLFLOW_AUTH_ADMIN_USERNAME": "root", "MLFLOW_AUTH_ADMIN_PASSWORD": "from-mlflow-env-1"}
    config = load_config("sqlite:///t.db", None, env)
    assert (config.admin_username, config.admin_password, config.default_permission) == (
        "root",
        "from-mlflow-env-1",
        "READ",
    )
    env["TRACKLET_AUTH_ADMIN_PASSWORD"] = "from-tracklet-env"
    env["TRACKLET_AUTH_DEFAULT_PERMISSION"] = "no_permissions"
    env["TRACKLET_AUTH_CACHE_SECONDS"] = "0"
    config = load_config("sqlite:///t.db", None, env)
    assert config.admin_password == "from-tracklet-env"
    assert config.default_permission == "NO_PERMISSIONS"
    assert config.credential_ttl == 0


def test_config_reads_mlflows_config_file(tmp_path: Path) -> None:
    ini = tmp_path / "basic_auth.ini"
    ini.write_text(
        "[mlflow]\ndefault_permission = EDIT\ndatabase_uri = sqlite:///elsewhere.db\n"
        "admin_username = boss\nadmin_password = boss-password-1\n"
    )
    config = load_config("sqlite:///t.db", None, {"MLFLOW_AUTH_CONFIG_PATH": str(ini)})
    assert config.default_permission == "EDIT"
    assert config.database_uri == "sqlite:///elsewhere.db"
    assert (config.admin_username, config.admin_password) == ("boss", "boss-password-1")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRACKLET_AUTH_DEFAULT_PERMISSION": "OWNER"}, "TRACKLET_AUTH_DEFAULT_PERMISSION"),
        ({"TRACKLET_AUTH_ADMIN_PASSWORD": "password1234"}, "publicly known default"),
        ({"TRACKLET_AUTH_ADMIN_PASSWORD": "short"}, "at least 12"),
        ({"TRACKLET_AUTH_ADMIN_PASSWORD": "admin\tpassword-123"}, "control characters"),
        ({"TRACKLET_AUTH_CACHE_SECONDS": "-1"}, "TRACKLET_AUTH_CACHE_SECONDS"),
    ],
)
def test_bad_configuration_is_refused_at_start(env: dict[str, str], message: str) -> None:
    with pytest.raises(TrackletException, match=message):
        load_config("sqlite:///t.db", None, env)


# -- the users database ----------------------------------------------------------------------------


SERVERS = {
    "postgresql": os.environ.get("TRACKLET_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test"),
    "mysql": os.environ.get("TRACKLET_TEST_MYSQL_URI", "mysql://root@127.0.0.1:3306/test"),
}


@contextlib.contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    """A new database on the PostgreSQL or MariaDB/MySQL test server, dropped afterwards
    (the test is skipped when the server is down, unless TRACKLET_TEST_REQUIRE_SERVERS)."""
    base = sa.engine.make_url(sqlalchemy_uri(SERVERS[kind]))
    try:
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - not reachable here
        if os.environ.get("TRACKLET_TEST_REQUIRE_SERVERS"):
            pytest.fail(f"{kind} is not available: {exc}")
        pytest.skip(f"{kind} is not available ({type(exc).__name__}); set TRACKLET_TEST_{kind.upper()}_URI")
    name = f"tracklet_auth_{uuid.uuid4().hex[:12]}"
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
def auth_db_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'auth.db'}"
    else:
        with fresh_database(request.param) as uri:
            yield uri


def test_store_users_and_grants(auth_db_uri: str) -> None:
    store = AuthStore(auth_db_uri)
    try:
        alice = store.create_user("alice", hash_password("alice-password-1"))
        assert store.get_user("alice") == alice and not alice.is_admin
        with pytest.raises(TrackletException, match="already exists") as info:
            store.create_user("alice", "x")
        assert info.value.error_code == "RESOURCE_ALREADY_EXISTS"
        with pytest.raises(TrackletException, match="not found") as info:
            store.get_user("bob")
        assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"

        grant = store.create_grant("1", "alice", "READ")
        assert grant.to_json() == {"experiment_id": "1", "user_id": alice.id, "permission": "READ"}
        with pytest.raises(TrackletException, match="already exists"):
            store.create_grant("1", "alice", "EDIT")
        store.update_grant("1", "alice", "EDIT")
        assert store.permission_of(alice.id, "1") == "EDIT"
        store.set_grant("2", alice.id, "MANAGE")
        store.set_grant("2", alice.id, "MANAGE")  # an upsert: twice is fine
        assert [(g.experiment_id, g.permission) for g in store.grants_of(alice.id)] == [
            ("1", "EDIT"),
            ("2", "MANAGE"),
        ]
        with pytest.raises(TrackletException, match="not found"):
            store.update_grant("3", "alice", "READ")
        store.delete_grant("1", "alice")
        with pytest.raises(TrackletException, match="not found"):
            store.delete_grant("1", "alice")

        store.update_admin("alice", True)
        assert store.count_admins() == 1
        store.delete_user("alice")
        assert store.find_user("alice") is None
        # grants go with the user
        with store.engine.connect() as conn:
            assert (
                conn.execute(sa.text("SELECT COUNT(*) FROM tracklet_auth_experiment_permissions")).scalar()
                == 0
            )
    finally:
        store.close()


def _open_store(uri: str, barrier: Any, errors: Any) -> None:
    try:
        barrier.wait(30)
        AuthStore(uri).close()
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        errors.put(repr(exc))


def test_many_processes_creating_the_tables_at_once(auth_db_uri: str) -> None:
    uri = auth_db_uri
    ctx = multiprocessing.get_context("spawn")
    barrier, errors = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_open_store, args=(uri, barrier, errors)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert errors.empty()


# -- the service: bootstrap, authentication, caches ---------------------------------------------------


def _service(tmp_path: Path, **overrides: Any) -> AuthService:
    config = AuthConfig(database_uri=f"sqlite:///{tmp_path / 'auth.db'}", **overrides)
    return AuthService(config)


def test_bootstrap_generates_a_random_admin_password_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "tracklet_http.server.auth")
    service = _service(tmp_path)
    lines = [r.getMessage() for r in caplog.records if "generated password" in r.getMessage()]
    assert len(lines) == 1
    password = lines[0].split("generated password '", 1)[1].split("'", 1)[0]
    assert password != "password1234" and len(password) >= 20
    assert service.verify("admin", password).is_admin
    # a second start (another worker, a restart) creates nothing and logs nothing
    caplog.clear()
    service.store.close()
    again = _service(tmp_path)
    assert not [r for r in caplog.records if "generated password" in r.getMessage()]
    assert again.store.count_admins() == 1
    again.store.close()


def test_bootstrap_with_configured_credentials(tmp_path: Path) -> None:
    service = _service(tmp_path, admin_username="root", admin_password=ADMIN_PASSWORD)
    assert service.authenticate_header(_basic("root", ADMIN_PASSWORD)).is_admin
    assert service.store.find_user("admin") is None
    service.store.close()


def test_authentication_failures_are_401(tmp_path: Path) -> None:
    service = _service(tmp_path, admin_password=ADMIN_PASSWORD)
    for header in (
        None,
        "Bearer abc",
        "Basic !!!",
        "Basic " + "bm9jb2xvbg==",
        _basic("admin", "wrong-password"),
        _basic("nobody", ADMIN_PASSWORD),
        _basic("", "x"),
    ):
        with pytest.raises(TrackletException) as info:
            service.authenticate_header(header)
        assert info.value.error_code == "UNAUTHENTICATED"
    service.store.close()


def test_passwords_are_compared_on_the_exact_bytes_sent(tmp_path: Path) -> None:
    """The header's password bytes reach scrypt unchanged: the Latin-1 bytes of a
    non-ASCII password are not the password (they used to be decoded as Latin-1 and
    re-encoded as UTF-8, so two byte strings opened one account)."""
    import base64

    service = _service(tmp_path, admin_password=ADMIN_PASSWORD)
    try:
        service.store.create_user("jose", hash_password("pässwörd-lång-1"))
        as_utf8 = "Basic " + base64.b64encode("jose:pässwörd-lång-1".encode()).decode()
        as_latin1 = "Basic " + base64.b64encode("jose:pässwörd-lång-1".encode("latin-1")).decode()
        assert service.authenticate_header(as_utf8).username == "jose"
        with pytest.raises(TrackletException, match="Invalid username or password"):
            service.authenticate_header(as_latin1)
        bad_name = "Basic " + base64.b64encode(b"jos\xe9:p\xe4ssw\xf6rd-long-1").decode()
        with pytest.raises(TrackletException, match="UTF-8") as info:
            service.authenticate_header(bad_name)
        assert info.value.error_code == "UNAUTHENTICATED"
    finally:
        service.store.close()


def test_an_older_hash_is_replaced_after_a_successful_login(tmp_path: Path) -> None:
    service = _service(tmp_path, admin_password=ADMIN_PASSWORD)
    try:
        service.store.create_user("old", _legacy_hash("old-password-12"))
        assert service.authenticate_header(_basic("old", "old-password-12")).username == "old"
        stored = service.store.get_user("old").password_hash
        assert stored.startswith("scrypt-hmac$") and verify_password("old-password-12", stored)
        # a password changed meanwhile is never undone by the upgrade
        assert not service.store.replace_password_hash("old", _legacy_hash("x" * 12), hash_password("y" * 12))
        assert service.store.get_user("old").password_hash == stored
    finally:
        service.store.close()


def test_credential_cache_is_dropped_on_password_change(tmp_path: Path) -> None:
    service = _service(tmp_path, admin_password=ADMIN_PASSWORD)
    service.store.create_user("bob", hash_password("bob-password-1"))
    header = _basic("bob", "bob-password-1")
    assert service.authenticate_header(header).username == "bob"
    service.store.update_password("bob", hash_password("bob-password-2"))
    # cached: still accepted until this process is told
    assert service.authenticate_header(header).username == "bob"
    service.forget_user("bob")
    with pytest.raises(TrackletException, match="Invalid username or password"):
        service.authenticate_header(header)
    assert service.authenticate_header(_basic("bob", "bob-password-2")).username == "bob"
    service.store.close()


def test_ttl_cache_expires_and_is_bounded() -> None:
    cache = TTLCache(ttl=1000, max_size=3)
    for i in range(5):
        cache.put(i, str(i))
    assert [cache.get(i) for i in range(5)] == [None, None, "2", "3", "4"]
    off = TTLCache(ttl=0)
    off.put("k", "v")
    assert off.get("k") is None


# -- the authorizer over a real tracking store -----------------------------------------------------


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A sqlite tracking store, an authorizer on the same database, users alice (who
    creates experiment "a") and bob, with the default permission READ."""
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
    w.store, w.authorizer, w.uri = store, authorizer, uri
    w.experiment_id = store.create_experiment("a")
    authorizer.after("alice", "create_experiment", {"name": "a"}, w.experiment_id)
    w.run = store.create_run(w.experiment_id, "alice", 0, [], "r")
    yield w
    store.close()


def _allowed(w: Any, user: str, endpoint: str, params: dict[str, Any]) -> bool:
    try:
        w.authorizer.authorize(user, endpoint, params, w.store)
    except TrackletException as exc:
        assert exc.error_code == "PERMISSION_DENIED"
        return False
    return True


def test_every_protocol_endpoint_has_a_rule() -> None:
    from tracklet_http.protocol import ENDPOINTS

    assert {e.name for e in ENDPOINTS} <= set(ENDPOINT_RULES)


def test_auth_tables_live_in_the_tracking_database(world: Any) -> None:
    engine = sa.create_engine(world.uri)
    names = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    assert {"tracklet_auth_users", "tracklet_auth_experiment_permissions"} <= names


def test_creator_manages_others_read(world: Any) -> None:
    exp, run_id = world.experiment_id, world.run.info.run_id
    assert _allowed(world, "alice", "delete_experiment", {"experiment_id": exp})
    assert _allowed(world, "alice", "log_batch", {"run_id": run_id})
    assert _allowed(world, "bob", "get_experiment", {"experiment_id": exp})
    assert _allowed(world, "bob", "get_experiment_by_name", {"experiment_name": "a"})
    assert _allowed(world, "bob", "get_run", {"run_id": run_id})
    assert _allowed(world, "bob", "get_metric_history_bulk_interval", {"run_ids": [run_id]})
    assert not _allowed(world, "bob", "log_batch", {"run_id": run_id})
    assert not _allowed(world, "bob", "create_run", {"experiment_id": exp})
    assert not _allowed(world, "bob", "update_experiment", {"experiment_id": exp, "new_name": "b"})
    assert not _allowed(world, "bob", "delete_run", {"run_id": run_id})
    assert _allowed(world, "bob", "create_experiment", {"name": "bobs"})
    assert _allowed(world, "admin", "delete_experiment", {"experiment_id": exp})


def test_grants_widen_and_cache_is_dropped_on_change(world: Any) -> None:
    exp, run_id = world.experiment_id, world.run.info.run_id
    assert not _allowed(world, "bob", "log_metric", {"run_id": run_id})
    grant = world.authorizer.service.store.create_grant(exp, "bob", "EDIT")
    world.authorizer.service.grants_changed(grant.user_id)
    assert _allowed(world, "bob", "log_metric", {"run_id": run_id})
    assert _allowed(world, "bob", "create_run", {"experiment_id": exp})
    assert not _allowed(world, "bob", "delete_run", {"run_id": run_id})  # MANAGE


def test_missing_runs_reveal_nothing(world: Any) -> None:
    # default READ: reading a missing run is let through (the server answers 404) ...
    assert _allowed(world, "bob", "get_run", {"run_id": "0" * 32})
    # ... writing to one is refused like writing to any run bob cannot edit
    assert not _allowed(world, "bob", "log_batch", {"run_id": "0" * 32})


def test_unknown_endpoints_are_for_admins_only(world: Any) -> None:
    assert not _allowed(world, "alice", "some_future_endpoint", {})
    assert _allowed(world, "admin", "some_future_endpoint", {})


def test_visible_experiments_with_default_no_permissions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKLET_AUTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("TRACKLET_AUTH_DEFAULT_PERMISSION", "NO_PERMISSIONS")
    uri = f"sqlite:///{tmp_path / 'tracking.db'}"
    store = get_tracking_store(uri, str(tmp_path / "artifacts"))
    try:
        authorizer = Authorizer(ServerSettings(backend_store_uri=uri))
        authorizer.service.store.create_user("carol", hash_password("carol-password-1"))
        mine = store.create_experiment("mine")
        authorizer.after("carol", "create_experiment", {}, mine)
        store.create_experiment("theirs")
        assert authorizer.visible_experiment_ids("carol") == {mine}
        assert authorizer.visible_experiment_ids("admin") is None
        assert not _allowed_in(authorizer, store, "carol", "get_experiment", {"experiment_id": "0"})
        assert not _allowed_in(authorizer, store, "carol", "get_run", {"run_id": "0" * 32})
    finally:
        store.close()


def _allowed_in(authorizer: Authorizer, store: Any, user: str, endpoint: str, params: dict[str, Any]) -> bool:
    try:
        authorizer.authorize(user, endpoint, params, store)
    except TrackletException:
        return False
    return True


def test_artifact_paths(world: Any) -> None:
    exp = world.experiment_id
    path = f"{exp}/{world.run.info.run_id}/artifacts/model.pkl"
    az = world.authorizer
    az.authorize_artifact("bob", path, write=False)
    az.authorize_artifact("bob", "", write=False)  # listing the root: the default permission
    with pytest.raises(TrackletException, match="writing artifacts needs EDIT"):
        az.authorize_artifact("bob", path, write=True)
    az.authorize_artifact("alice", path, write=True)
    az.authorize_artifact("alice", path, write=True, delete=True)
    with pytest.raises(TrackletException, match="'..'"):
        az.authorize_artifact("bob", f"{exp}/../0/x", write=False)
    # a leading slash or dot segments do not change which experiment is named
    with pytest.raises(TrackletException, match=f"experiment {exp}"):
        az.authorize_artifact("bob", f"/./{exp}/x", write=True)


def test_authorizer_answers_from_many_threads(world: Any) -> None:
    run_id = world.run.info.run_id
    results: list[bool] = []

    def work() -> None:
        for _ in range(20):
            results.append(_allowed(world, "alice", "log_batch", {"run_id": run_id}))
            results.append(not _allowed(world, "bob", "log_batch", {"run_id": run_id}))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 320 and all(results)
