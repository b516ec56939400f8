"""Helpers the interop tests share: running a script under MLflow or tracklet in a
subprocess, comparing the two tools' JSON dumps, and fresh server databases for MLflow.

Test files import it by name (``from _interop_tools import ...``): the suite runs in
importlib mode, so this folder's ``conftest.py`` puts the folder on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import secrets
import subprocess
import sys
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest

POSTGRES = os.environ.get("TRACKLET_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL = os.environ.get("TRACKLET_TEST_MYSQL_URI", "mysql+pymysql://root@127.0.0.1:3306/test")

#: Settings that would point a child's client somewhere other than the URI it is given.
_URI_SETTINGS = (
    "MLFLOW_TRACKING_URI",
    "TRACKLET_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "TRACKLET_REGISTRY_URI",
)


def uri_free_env() -> dict[str, str]:
    """This process's environment without the tracking and registry URI settings."""
    return {k: v for k, v in os.environ.items() if k not in _URI_SETTINGS}


def run_python(script: str, *args: str, cwd: pathlib.Path, env: dict[str, str], who: str = "") -> str:
    """Run ``script`` with ``args`` in a child Python; what it printed (it must succeed)."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        cwd=str(cwd),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{who}{done.stderr[-4000:]}"
    return done.stdout


def run_script(
    script: str, tool: str, uri: str, state: pathlib.Path, cwd: pathlib.Path, env: dict[str, str]
) -> Any:
    """Run ``script`` under ``tool``; the JSON its last line prints (None when it prints none)."""
    lines = run_python(script, tool, uri, str(state), cwd=cwd, env=env, who=f"{tool}: ").strip().splitlines()
    return json.loads(lines[-1]) if lines else None


def schema(tables_script: str, uri: str, cwd: pathlib.Path, env: dict[str, str]) -> dict[str, Any]:
    """What ``tables_script`` prints of the database at ``uri`` (tables, revision...)."""
    return dict(json.loads(run_python(tables_script, uri, cwd=cwd, env=env).strip().splitlines()[-1]))


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two JSON values differ, as readable paths."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                out.append(f"{path}/{key}: only in {'mlflow' if key in a else 'tracklet'}")
            else:
                out += differences(a[key], b[key], f"{path}/{key}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [f"{path}: mlflow {a!r} != tracklet {b!r}"]


def _unavailable(what: str, exc: Exception) -> NoReturn:
    """Skip, or fail when ``TRACKLET_TEST_REQUIRE_SERVERS`` is set."""
    reason = f"{what} is not available: {exc}"
    if os.environ.get("TRACKLET_TEST_REQUIRE_SERVERS"):
        pytest.fail(reason)
    pytest.skip(reason)  # raises


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """``with postgres_database(prefix) as uri:`` a fresh PostgreSQL database (psycopg 3),
    dropped on exit; skipped when the server is not reachable, failed when
    ``TRACKLET_TEST_REQUIRE_SERVERS`` is set."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5)
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "not here"
        _unavailable(f"PostgreSQL at {POSTGRES}", exc)
    name = f"{prefix}_{secrets.token_hex(6)}"
    with admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        base = POSTGRES.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def mysql_database(prefix: str) -> Iterator[str]:
    """``with mysql_database(prefix) as uri:`` a fresh MariaDB/MySQL database (PyMySQL),
    dropped on exit; skipped or failed as :func:`postgres_database`."""
    import sqlalchemy as sa

    base = sa.engine.make_url(MYSQL)
    if base.drivername == "mysql":
        base = base.set(drivername="mysql+pymysql")
    try:
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "not here"
        _unavailable(f"MariaDB/MySQL at {MYSQL}", exc)
    name = f"{prefix}_{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()
