"""The pool of a sqlite file's engine (``tracklet_sql._engine``): idle connections are
reused, and a thread that finds every connection taken waits for one to come back.

The pool's queue takes a shorter path than SQLAlchemy's when no thread waits; these tests
pin what the pool must still do.
"""

from __future__ import annotations

import contextlib
import pathlib
import threading

from tracklet_sql._engine import make_engine


def test_an_idle_connection_is_reused(tmp_path: pathlib.Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pool.db'}")
    try:
        with engine.connect() as conn:
            first = conn.connection.dbapi_connection
        with engine.connect() as conn:
            assert conn.connection.dbapi_connection is first
        assert engine.pool.checkedin() == 1
    finally:
        engine.dispose()


def test_a_thread_waits_for_a_connection_when_all_are_taken(tmp_path: pathlib.Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pool.db'}")
    limit = engine.pool.size() + engine.pool._max_overflow  # type: ignore[attr-defined]
    got: list[object] = []
    with contextlib.ExitStack() as held:
        taken = [held.enter_context(engine.connect()) for _ in range(limit)]
        kept = {id(conn.connection.dbapi_connection) for conn in taken}

        def wait_for_one() -> None:
            with engine.connect() as conn:
                got.append(id(conn.connection.dbapi_connection))

        waiter = threading.Thread(target=wait_for_one)
        waiter.start()
        try:
            waiter.join(0.2)
            assert got == []  # every connection is taken: it cannot have one yet
            giving_back = taken[0]
            giving_back.close()
            # woken by the connection's return, not by the pool's 30 s timeout running out
            waiter.join(20)
            assert not waiter.is_alive(), "the waiting thread was not woken when a connection came back"
        finally:
            waiter.join(30)
    assert len(got) == 1 and got[0] in kept  # the connection given back, not a new one
    engine.dispose()
