"""What a new process's first connection costs: no probe whose answer tracklet never uses.

SQLAlchemy's psycopg dialects look the ``hstore`` type up when they first connect (a
savepoint, a ``pg_type`` query and a release: three round trips in every new process);
no tracklet table has an hstore column. A PostgreSQL process does not import ``sqlite3``
for the engine module.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from tracklet_sql import _engine


def test_a_postgresql_engine_does_not_look_up_hstore_on_first_connect(postgres_uri: str) -> None:
    engine = _engine.make_engine(postgres_uri)
    fetched: list[str] = []
    fetch = engine.dialect._type_info_fetch  # type: ignore[attr-defined]

    def counting_fetch(connection: Any, name: str) -> Any:
        fetched.append(name)
        return fetch(connection, name)

    engine.dialect._type_info_fetch = counting_fetch  # type: ignore[attr-defined]
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()
    assert fetched == []


def test_the_engine_module_does_not_import_sqlite3() -> None:
    code = "import sys, tracklet_sql._engine; print('sqlite3' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "False"


def test_a_postgresql_process_that_writes_and_searches_does_not_import_sqlite3(postgres_uri: str) -> None:
    """The whole PostgreSQL path (open, create, log_batch, search) leaves sqlite3 unloaded:
    importing it costs a process ~7.6M instructions it would never use."""
    code = f"""
import sys, tracklet
from tracklet.entities import Metric, Param
client = tracklet.MlflowClient({postgres_uri!r})
experiment_id = client.create_experiment("no-sqlite3-" + str(id(client)))
run_id = client.create_run(experiment_id).info.run_id
client.log_batch(run_id, metrics=[Metric(f"m{{k}}", 0.5, 1, 0) for k in range(40)], params=[Param("p", "a")])
found = client.search_runs([experiment_id], "metrics.m1 > 0.1 and params.p = 'a'")
assert [r.info.run_id for r in found] == [run_id], found
print('sqlite3' in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "False", done.stderr
