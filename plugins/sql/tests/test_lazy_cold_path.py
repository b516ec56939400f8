"""A new process that opens a store (sqlite, PostgreSQL) and searches its runs imports only
what that needs: not Alembic (the database is at head), not another dialect of SQLAlchemy,
not the trace search compiler, not the in-memory, registry or trace search grammars, not
the server's route declarations. Each of those was a few ms of every new process's first
call."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

#: Modules a plain client's open + run search + experiment search must not import, with
#: the other dialects of each database.
_NOT_NEEDED = (
    "alembic",
    "sqlalchemy.dialects.mysql",
    "tracklet_sql._search_traces",
    "tracklet.search._memory",
    "tracklet.search._registry",
    "tracklet.search._traces",
    "tracklet.routes",
)

_FILL = """
import sys
import tracklet
from tracklet.entities import Metric, Param
client = tracklet.MlflowClient(sys.argv[1])
experiment_id = client.create_experiment("cold")
for i in range(3):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_batch(run_id, metrics=[Metric("m1", i, 0, 0)], params=[Param("p1", "a")])
print(experiment_id)
"""

_PROBE = """
import json, sys
import tracklet
client = tracklet.MlflowClient(sys.argv[1])
found = client.search_runs([sys.argv[2]], "metrics.m1 > 0 and params.p1 = 'a'", order_by=["metrics.m1 DESC"])
experiments = client.search_experiments()
loaded = sorted(m for m in json.loads(sys.argv[3]) if m in sys.modules)
# what was left out still loads on first use
traces = client.search_traces(locations=[sys.argv[2]])
print(json.dumps({
    "runs": [run.data.metrics["m1"] for run in found],
    "experiments": len(experiments),
    "loaded": loaded,
    "traces": len(traces),
    "trace_search_loaded": "tracklet_sql._search_traces" in sys.modules,
}))
"""


def _python(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.strip().splitlines()[-1]


def _check_cold_search(uri: str, other_dialect: str) -> None:
    experiment_id = _python(_FILL, uri)
    not_needed = [*_NOT_NEEDED, other_dialect]
    probe = json.loads(_python(_PROBE, uri, experiment_id, json.dumps(not_needed)))
    assert probe["runs"] == [2.0, 1.0]
    assert probe["experiments"] == 2  # Default and "cold"
    assert probe["loaded"] == []
    assert probe["traces"] == 0 and probe["trace_search_loaded"]


def test_a_sqlite_run_search_in_a_new_process_imports_only_what_it_needs(tmp_path: Path) -> None:
    _check_cold_search(f"sqlite:///{tmp_path / 'cold.db'}", "sqlalchemy.dialects.postgresql")


def test_a_postgresql_run_search_in_a_new_process_imports_only_what_it_needs(
    new_server_database: Callable[[str], AbstractContextManager[str]],
) -> None:
    with new_server_database("postgresql") as uri:
        _check_cold_search(uri, "sqlalchemy.dialects.sqlite")
