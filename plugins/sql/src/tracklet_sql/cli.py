"""``tracklet db``: create, upgrade and inspect the schema of a tracklet-sql database.

Imported only when the ``tracklet`` CLI starts (through the ``tracklet_cli_commands``
hook), never by a process that only uses a store. SQLAlchemy and the migrations are
imported when a ``db`` command runs, so that ``tracklet --help`` stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.uri import masked_uri

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["db"]

_URI = click.argument("uri", metavar="URI")


@contextmanager
def _engine(uri: str) -> Iterator[sa.Engine]:
    """An engine for ``uri``, disposed afterwards; database errors become one-line messages."""
    from sqlalchemy.exc import DBAPIError

    from ._engine import make_engine

    engine = make_engine(uri)
    try:
        yield engine
    except DBAPIError as exc:
        raise click.ClickException(f"Database error on {masked_uri(uri)}: {exc.orig}".strip()) from exc
    finally:
        engine.dispose()


def _url(uri: str) -> sa.URL | None:
    """The parsed URI (None when it does not parse: make_engine then says why)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(uri)
    except ArgumentError:
        return None


def _sqlite_file(uri: str) -> str | None:
    """The file of a ``sqlite:`` URI (None for other URIs and in-memory databases)."""
    url = _url(uri)
    if url is None or url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.database


@click.group("db")
def db() -> None:
    """Create, upgrade and inspect tracklet-sql database schemas."""


@db.command("upgrade")
@_URI
def upgrade(uri: str) -> None:
    """Create or upgrade the schema of the database at URI.

    Brings the schema to the revision this tracklet-sql needs, creating it in an empty
    database, and the tables other installed plugins keep there (the model registry's…)
    to theirs. Back the database up first: an upgrade cannot be undone from the command line.
    """
    from . import _migrations

    with _engine(uri) as engine:
        done = _migrations.upgrade_all(engine)
    where = masked_uri(uri)
    for name, before, after in done:
        what = "the tracklet schema" if name == _migrations.OWN_SET else f"{name}'s tables"
        if before == after:
            click.echo(
                f"{what[0].upper() + what[1:]} of {where}: already at revision {after} (current); nothing to do."
            )
        elif before is None:
            click.echo(f"Created {what} at revision {after} in {where}.")
        else:
            click.echo(f"Upgraded {what} of {where} from revision {before} to {after}.")


def _mlflow_current(engine: Any, where: str) -> None:
    """``tracklet db current`` on a database holding MLflow's schema."""
    from . import _migrations

    revision = _migrations.mlflow_revision(engine)
    try:
        _migrations.mlflow_schema_of(engine, revision or "")
    except TrackletException as refused:
        click.echo(
            f"{where}: MLflow's schema at revision {revision or 'none'} (not served: {refused.message})"
        )
        return
    click.echo(
        f"{where}: MLflow's schema at revision {revision} (served as is: tracklet creates, changes and "
        f"upgrades nothing there; upgrade it with MLflow: mlflow db upgrade {where})"
    )


@db.command("current")
@_URI
def current(uri: str) -> None:
    """Show the schema revision of the database at URI.

    Says whether it is current, older (run `tracklet db upgrade`) or newer than this tracklet-sql.
    """
    from . import _migrations

    path = _sqlite_file(uri)
    if path is not None and not os.path.exists(path):
        raise TrackletException(
            f"There is no sqlite database at {path!r}. Create it with: tracklet db upgrade {uri}",
            INVALID_PARAMETER_VALUE,
        )
    with _engine(uri) as engine:
        revision = _migrations.current_revision(engine)
        mlflow = revision is None and _migrations.is_mlflow_database(engine)
        if mlflow:
            _mlflow_current(engine, masked_uri(uri))
            return
        others = _migrations.set_statuses(engine)[1:]
    where = masked_uri(uri)
    head = _migrations.HEAD
    if revision is None:
        state = f"no tracklet schema yet; create it with: tracklet db upgrade {where}"
    elif revision == head:
        state = "current"
    elif revision in _migrations.REVISIONS:
        state = f"older than {head}; back the database up, then run: tracklet db upgrade {where}"
    else:
        state = f"newer than {head}, which this tracklet-sql needs; run: pip install -U tracklet-sql"
    click.echo(f"{where}: revision {revision or 'none'} ({state})")
    for status in others:
        explained = {
            "current": "current",
            "missing": f"not created yet; create them with: tracklet db upgrade {where}",
            "older": f"older than {status.head}; back the database up, then run: tracklet db upgrade {where}",
            "newer": f"newer than {status.head}, which the installed {status.name} needs; "
            f"run: pip install -U {status.name}",
        }[status.state]
        click.echo(f"{where}: {status.name} tables at revision {status.revision or 'none'} ({explained})")
