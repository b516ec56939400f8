"""A sqlite store forked while another thread of the parent is inside sqlite.

SQLite keeps library-wide mutexes (memory, the file system layer); a thread that holds
one at the moment of a fork leaves it locked forever in the child, which then hangs on
its first ``sqlite3.connect``. The conformance suite's fork test caught that about one
run in six; this test forks 40 children from under a thread that queries without pause.
"""

from __future__ import annotations

import os
import pathlib
import threading

import pytest

from tracklet.testing import in_forked_child  # noqa: E402
from tracklet_sql.store import SqlStore  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() does not exist on this platform")


def test_children_forked_while_a_thread_queries_sqlite_all_finish(tmp_path: pathlib.Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'tracking.db'}", str(tmp_path / "artifacts"))
    experiment_id = store.create_experiment("parent")
    stop = threading.Event()

    def query() -> None:
        while not stop.is_set():
            store.get_experiment(experiment_id)

    churn = threading.Thread(target=query, daemon=True)
    churn.start()
    try:
        for i in range(40):
            name = f"child-{i}"
            got = in_forked_child(
                lambda name=name: store.get_experiment(store.create_experiment(name)).name, timeout=30
            )
            assert got == name
    finally:
        stop.set()
        churn.join(30)
        store.close()
    assert store.get_experiment(experiment_id).name == "parent"
