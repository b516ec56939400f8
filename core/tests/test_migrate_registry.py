"""The registry phase of ``tracklet migrate`` (:mod:`tracklet.migrate._registry`).

Copies from a file registry and from a database real MLflow 3.17.2 wrote into tracklet's
sqlite schema: every model, version (numbers and gaps kept), field, tag and alias arrives,
``verify_registry`` finds no difference, copying again changes nothing, numbering continues
as in the source, a dry run writes nothing, a destination without ``import`` is refused, a
difference made afterwards is reported, and a copy SIGKILLed ten times and restarted ends
verified into a folder, sqlite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tracklet.entities.model_registry import ModelVersionTag, RegisteredModelTag
from tracklet.migrate._registry import copy_registry, verify_registry
from tracklet.plugins import get_registry_store
from tracklet.stores.registry import RegistryStore

_RUN = "0123456789abcdef0123456789abcdef"

MLFLOW_WRITES = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
from mlflow import MlflowClient
uri = sys.argv[1]
c = MlflowClient(tracking_uri=uri, registry_uri=uri)
exp = c.create_experiment("e")
run = c.create_run(exp).info.run_id
c.create_registered_model("alpha", tags={"team": "ml"}, description="first")
c.create_model_version("alpha", f"runs:/{run}/model", run_id=run, tags={"k": "v"}, description="d1",
                       run_link="http://run")
c.create_model_version("alpha", "s3://b/2")
c.create_model_version("alpha", "models:/alpha/1")
c.create_model_version("alpha", "s3://b/4")
c.create_model_version("alpha", "s3://b/5")
c.transition_model_version_stage("alpha", "2", "Production")
c.set_registered_model_alias("alpha", "champion", "2")
c.set_registered_model_alias("alpha", "old", "1")
c.delete_model_version("alpha", "3")
c.delete_model_version("alpha", "5")
c.create_registered_model("empty")
print(json.dumps({"run": run}))
"""


def _populate_file_registry(store: RegistryStore) -> None:
    """Models with tags, descriptions, stages, aliases, a gap and a deleted highest version."""
    store.create_registered_model("alpha", tags=[RegisteredModelTag("team", "ml")], description="first")
    store.create_model_version(
        "alpha",
        "s3://b/1",
        run_id=_RUN,
        tags=[ModelVersionTag("k", "v")],
        run_link="http://run",
        description="d1",
    )
    store.create_model_version("alpha", "s3://b/2")
    store.create_model_version("alpha", "models:/alpha/1")
    store.create_model_version("alpha", "s3://b/4")
    store.transition_model_version_stage("alpha", "2", "Staging", archive_existing_versions=False)
    store.transition_model_version_stage("alpha", "1", "Production", archive_existing_versions=False)
    store.set_registered_model_alias("alpha", "champion", "1")
    store.set_registered_model_alias("alpha", "next", "2")
    store.delete_model_version("alpha", "3")  # a gap
    store.delete_model_version("alpha", "4")  # the highest number, deleted
    store.create_registered_model("beta", description="second")
    store.create_model_version("beta", "s3://beta/1", tags=[ModelVersionTag("x", "y")])
    store.create_registered_model("empty")


def _summary(store: RegistryStore) -> dict[str, Any]:
    """What the destination must hold, read through the contract."""
    out: dict[str, Any] = {}
    for model in store.search_registered_models(order_by=["name ASC"]):
        versions = sorted(store.search_model_versions(f"name = '{model.name}'"), key=lambda v: int(v.version))
        out[model.name] = {
            "times": [model.creation_timestamp, model.last_updated_timestamp],
            "description": model.description,
            "tags": dict(model.tags),
            "aliases": {a: str(v) for a, v in model.aliases.items()},
            "last": store.get_last_version_number(model.name),
            "versions": {
                str(v.version): [
                    v.current_stage,
                    v.source,
                    v.run_id,
                    v.description,
                    dict(v.tags),
                    v.last_updated_timestamp,
                ]
                for v in versions
            },
        }
    return out


def test_file_registry_to_tracklet_sqlite(tmp_path: pathlib.Path) -> None:
    src = get_registry_store(str(tmp_path / "mlruns"))
    _populate_file_registry(src)
    dst = get_registry_store(f"sqlite:///{tmp_path / 'tracklet.db'}")

    assert copy_registry(src, dst, dry_run=True, progress=False) == {
        "registered_models": 3,
        "model_versions": 3,
        "aliases": 2,
    }
    assert list(dst.search_registered_models()) == []  # a dry run writes nothing

    counts = copy_registry(src, dst, dry_run=False, progress=False)
    assert counts == {"registered_models": 3, "model_versions": 3, "aliases": 2}
    assert verify_registry(src, dst) == []
    expected = _summary(src)
    assert _summary(dst) == expected
    assert sorted(expected["alpha"]["versions"]) == ["1", "2"] and expected["alpha"]["last"] == 4
    assert dst.get_model_version_download_uri("alpha", "1") == "s3://b/1"

    assert copy_registry(src, dst, dry_run=False, progress=False) == counts  # again: nothing twice
    assert verify_registry(src, dst) == []
    assert _summary(dst) == expected

    # numbering continues as in the source: past the deleted 3 and 4
    assert str(dst.create_model_version("alpha", "s3://b/new").version) == "5"
    assert str(src.create_model_version("alpha", "s3://b/new").version) == "5"


def test_mlflow_database_to_tracklet_sqlite(tmp_path: pathlib.Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_TRACKING_URI", "_REGISTRY_URI"))}
    done = subprocess.run(
        [sys.executable, "-c", MLFLOW_WRITES, uri],
        env=env,
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    run = json.loads(done.stdout.strip().splitlines()[-1])["run"]
    src = get_registry_store(uri)
    dst = get_registry_store(f"sqlite:///{tmp_path / 'tracklet.db'}")

    counts = copy_registry(src, dst, dry_run=False, progress=False)
    assert counts == {"registered_models": 2, "model_versions": 3, "aliases": 2}
    assert verify_registry(src, dst) == []
    summary = _summary(dst)
    assert summary == _summary(src)
    alpha = summary["alpha"]
    assert sorted(alpha["versions"]) == ["1", "2", "4"] and alpha["last"] == 5
    assert alpha["aliases"] == {"champion": "2", "old": "1"} and alpha["tags"] == {"team": "ml"}
    assert alpha["versions"]["1"][:4] == ["None", f"runs:/{run}/model", run, "d1"]
    assert alpha["versions"]["2"][0] == "Production"
    one = dst.get_model_version("alpha", "1")
    assert one.run_link == "http://run" and dict(one.tags) == {"k": "v"}
    assert str(dst.create_model_version("alpha", "s3://b/6").version) == "6"


def test_verify_reports_differences(tmp_path: pathlib.Path) -> None:
    src = get_registry_store(str(tmp_path / "mlruns"))
    _populate_file_registry(src)
    dst = get_registry_store(f"sqlite:///{tmp_path / 'tracklet.db'}")
    copy_registry(src, dst, dry_run=False, progress=False)
    dst.set_model_version_tag("alpha", "1", ModelVersionTag("k", "changed"))
    dst.delete_registered_model_alias("alpha", "next")
    dst.create_registered_model("stranger")
    found = verify_registry(src, dst)
    assert "registered model 'stranger': in the destination only" in found
    assert any(line.startswith("version 1 of 'alpha': tags") for line in found)
    assert any(line.startswith("registered model 'alpha': aliases") for line in found)
    assert len(found) == 3, found


class _NoImport:
    """A destination without capability ``import`` (only what the check reads)."""

    capabilities: frozenset[str] = frozenset()
    store_uri = "memory:"


def test_a_destination_without_import_is_refused(tmp_path: pathlib.Path) -> None:
    from tracklet.exceptions import TrackletException

    src = get_registry_store(str(tmp_path / "mlruns"))
    _populate_file_registry(src)
    with pytest.raises(TrackletException) as caught:
        copy_registry(src, _NoImport(), dry_run=False, progress=False)  # type: ignore[arg-type]
    assert caught.value.error_code == "NOT_IMPLEMENTED"
    assert "capability 'import'" in caught.value.message
    assert copy_registry(src, _NoImport(), dry_run=True, progress=False)["registered_models"] == 3  # type: ignore[arg-type]


def test_file_registry_into_a_tracklet_server(tmp_path: pathlib.Path) -> None:
    """A server destination imports through tracklet server's own registry routes."""
    testing = pytest.importorskip("tracklet_http.testing")
    src = get_registry_store(str(tmp_path / "mlruns"))
    _populate_file_registry(src)
    (tmp_path / "server").mkdir()
    server = testing.launch_tracklet_server(tmp_path / "server")
    try:
        dst = get_registry_store(server.url)
        assert "import" in dst.capabilities
        counts = copy_registry(src, dst, dry_run=False, progress=False)
        assert counts == {"registered_models": 3, "model_versions": 3, "aliases": 2}
        assert verify_registry(src, dst) == []
        assert copy_registry(src, dst, dry_run=False, progress=False) == counts
        assert verify_registry(src, dst) == []
        assert dst.get_last_version_number("alpha") == 4
        assert str(dst.create_model_version("alpha", "s3://b/new").version) == "5"
    finally:
        server.stop()


COPY = r"""
import sys
from tracklet.migrate._registry import copy_registry
from tracklet.plugins import get_registry_store


class Lines:  # a progress bar printing a line per model copied: the test kills by them
    def update(self, n):
        print("model", flush=True)


src, dst = get_registry_store(sys.argv[1]), get_registry_store(sys.argv[2])
print("copying", flush=True)
copy_registry(src, dst, dry_run=False, progress=Lines())
print("done", flush=True)
"""


def _populate_many(store: RegistryStore, models: int) -> None:
    """``models`` models of 6 versions each (the 3rd and the 6th deleted), tags and aliases."""
    for i in range(models):
        name = f"m{i:03d}"
        store.create_registered_model(name, tags=[RegisteredModelTag("i", str(i))], description=f"model {i}")
        for v in range(6):
            store.create_model_version(name, f"s3://b/{name}/{v}", tags=[ModelVersionTag("v", str(v))])
        store.transition_model_version_stage(name, "2", "Production", archive_existing_versions=False)
        store.set_registered_model_alias(name, "best", "2")
        store.delete_model_version(name, "3")
        store.delete_model_version(name, "6")


#: The database servers of the tests (README, "Test it"); a test needing one skips when it is
#: down, and fails instead when TRACKLET_TEST_REQUIRE_SERVERS is set.
_SERVERS = {
    "postgresql": os.environ.get("TRACKLET_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test"),
    "mysql": os.environ.get("TRACKLET_TEST_MYSQL_URI", "mysql://root@127.0.0.1:3306/test"),
}


@pytest.fixture
def fresh_database() -> Iterator[Callable[[str], str]]:
    """``make(kind)``: the URI of a new, empty database on the ``kind`` server, dropped at the end."""
    import uuid

    import sqlalchemy as sa

    drivers = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}
    made: list[tuple[sa.Engine, str, str]] = []

    def make(kind: str) -> str:
        url = sa.engine.make_url(_SERVERS[kind])
        admin = sa.create_engine(url.set(drivername=drivers[kind]), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any failure to connect: the server is not here
            reason = f"{kind} is not available at {_SERVERS[kind]} ({type(exc).__name__})"
            if os.environ.get("TRACKLET_TEST_REQUIRE_SERVERS"):
                pytest.fail(f"{reason}, and TRACKLET_TEST_REQUIRE_SERVERS is set")
            pytest.skip(reason)
        name = f"tracklet_migrate_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        made.append((admin, kind, name))
        return url.set(database=name).render_as_string(hide_password=False)

    yield make
    for admin, kind, name in made:
        with admin.connect() as conn:
            conn.exec_driver_sql(
                f"DROP DATABASE IF EXISTS {name}{' WITH (FORCE)' if kind == 'postgresql' else ''}"
            )
        admin.dispose()


@pytest.mark.parametrize("destination", ["folder", "sqlite", "postgresql", "mysql"])
def test_a_copy_killed_ten_times_ends_verified(
    destination: str, tmp_path: pathlib.Path, fresh_database: Callable[[str], str]
) -> None:
    """SIGKILL the registry copy at 10 random moments, each followed by a restart: the last,
    unkilled copy ends with ``verify_registry`` clean and numbering as in the source.

    A kill moment is a random point of the copy's own progress (``models`` lines, one per
    model copied, then a random part of the time this copy has taken per model so far), not
    of the clock: on a loaded machine one copy's duration does not foretell the next one's
    (from 1.3 to 4.9 s for the same sqlite copy with two CPU hogs on two cores), so a moment
    drawn from another copy's duration often came after the copy had ended."""
    import random
    import signal
    import time

    models = 60
    src_uri = str(tmp_path / "mlruns")
    _populate_many(get_registry_store(src_uri), models)

    def destination_uri(name: str) -> str:
        if destination == "folder":
            return str(tmp_path / name)
        if destination == "sqlite":
            return f"sqlite:///{tmp_path / name}.db"
        return fresh_database(destination)

    dst_uri = destination_uri("dst")
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_TRACKING_URI", "_REGISTRY_URI"))}

    def start(dst: str = dst_uri) -> subprocess.Popen[str]:
        """The copy in a child, returned once it has opened both stores and begun."""
        proc = subprocess.Popen(
            [sys.executable, "-c", COPY, src_uri, dst],
            env=env,
            cwd=str(tmp_path),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "copying"
        return proc

    # one unkilled copy into a scratch destination: its pace per model places a kill that
    # falls inside the first model
    scratch = start(destination_uri("scratch"))
    began = time.monotonic()
    out = scratch.communicate(timeout=600)[0].split()
    assert scratch.returncode == 0 and out == ["model"] * models + ["done"]
    pace = (time.monotonic() - began) / models
    seed = random.randrange(2**32)
    print(f"kill seed {seed}, {pace * 1000:.0f} ms per model")
    chooser = random.Random(seed)
    interrupted = 0
    for attempt in range(10):
        proc = start()
        assert proc.stdout is not None
        began = time.monotonic()
        moment = chooser.uniform(0, models)  # in models copied
        copied = int(moment)
        for n in range(copied):
            line = proc.stdout.readline().strip()
            assert line == "model", f"seed {seed}: copy {attempt} stopped after {n} models ({proc.wait()})"
        if copied:
            pace = (time.monotonic() - began) / copied
        time.sleep((moment - copied) * pace)
        proc.send_signal(signal.SIGKILL)
        rest = proc.communicate(timeout=600)[0].split()
        if "done" in rest:  # the copy had ended before its kill came
            assert proc.returncode in (0, -signal.SIGKILL), f"seed {seed}: copy {attempt}"
        else:
            assert proc.returncode == -signal.SIGKILL, f"seed {seed}: copy {attempt} failed"
            interrupted += 1
    print(f"{interrupted} of 10 kills came before their copy ended")
    final = start()
    final.communicate(timeout=600)
    assert final.returncode == 0
    src, dst = get_registry_store(src_uri), get_registry_store(dst_uri)
    assert verify_registry(src, dst) == [], f"seed {seed}"
    assert interrupted >= 8, f"seed {seed}: only {interrupted} of 10 kills came before their copy ended"
    last = f"m{models - 1:03d}"
    assert dst.get_last_version_number(last) == 6
    assert str(dst.create_model_version(last, "s3://b/new").version) == "7"
