"""The fork gate of sqlite engines (``tracklet_sql._engine``): a fork waits while another
thread holds a pooled connection, and the child opens connections of its own.

The gate's common path (no fork under way) is a plain lock around a counter; these tests
pin the protocol that the cheaper path must keep.
"""

from __future__ import annotations

import os
import pathlib
import threading
import time

import pytest

from tracklet.testing import in_forked_child
from tracklet_sql._engine import make_engine

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() does not exist on this platform")


def test_a_fork_waits_until_another_thread_gives_its_connection_back(tmp_path: pathlib.Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    holding = threading.Event()
    state = {"given_back": False}

    def hold() -> None:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1").fetchall()
            holding.set()
            time.sleep(0.5)  # the fork below starts while this thread holds the connection
            state["given_back"] = True  # set before the connection leaves the gate

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(30)
        # the child's memory is the parent's at the moment of the fork
        assert in_forked_child(lambda: state["given_back"], timeout=30) is True
    finally:
        holder.join(30)
        engine.dispose()


def test_a_thread_waiting_for_a_connection_during_a_fork_gets_one_after_it(tmp_path: pathlib.Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    stop = threading.Event()
    counts = {"queries": 0}

    def query() -> None:
        while not stop.is_set():
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1").fetchall()
            counts["queries"] += 1

    churn = threading.Thread(target=query)
    churn.start()
    try:
        for _ in range(10):
            before = counts["queries"]
            assert in_forked_child(lambda: 1, timeout=30) == 1
            while counts["queries"] == before and churn.is_alive():
                time.sleep(0.001)  # the querying thread carries on after every fork
    finally:
        stop.set()
        churn.join(30)
        engine.dispose()
    assert not churn.is_alive()


def test_a_forked_child_opens_its_own_connections(tmp_path: pathlib.Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    with engine.begin() as first, engine.connect() as second:
        first.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        parents = {id(first.connection.dbapi_connection), id(second.connection.dbapi_connection)}

    def child() -> tuple[bool, int]:
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            mine = id(conn.connection.dbapi_connection)
        with engine.connect() as conn:
            return mine in parents, conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one()

    try:
        assert in_forked_child(child, timeout=30) == (False, 1)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 1
    finally:
        engine.dispose()
