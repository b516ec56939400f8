"""Hook specifications: the contract between tracklet and its plugins.

A plugin is a module (or object) registered under the entry-point group
``tracklet`` whose functions carry :data:`hookimpl`::

    # pyproject.toml
    [project.entry-points.tracklet]
    mystore = "tracklet_mystore.plugin"

    # tracklet_mystore/plugin.py
    from tracklet.plugins import Scheme, hookimpl

    @hookimpl
    def tracklet_schemes():
        return [Scheme("tracking", "mystore", "tracklet_mystore.store:MyStore")]

That is all most store plugins need: the core builds the class named by the
scheme lazily (``MyStore(store_uri=..., artifact_uri=...)`` for tracking stores,
``MyRepo(artifact_uri)`` for artifact repositories, ``MyRegistry(store_uri=...)``
for registries). The first-result hooks below exist to take over resolution
entirely, for example to wrap another plugin's store.

Plugins must be cheap to import: import SDKs inside the store class, not here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from tracklet.plugins import Scheme, SqlMigrations
    from tracklet.routes import Assets, HttpTransport, Route
    from tracklet.stores import ArtifactRepository, RegistryStore, TrackingStore

__all__ = [
    "PROJECT_NAME",
    "hookspec",
    "tracklet_artifact_repository",
    "tracklet_cli_commands",
    "tracklet_default_tracking_uri",
    "tracklet_http_transport",
    "tracklet_registry_store",
    "tracklet_request_headers",
    "tracklet_run_context_tags",
    "tracklet_schemes",
    "tracklet_server_routes",
    "tracklet_sql_engine",
    "tracklet_sql_migrations",
    "tracklet_tracking_store",
]

PROJECT_NAME = "tracklet"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)


@hookspec
def tracklet_schemes() -> list[Scheme]:
    """Declare the URI schemes this plugin serves, as lazy ``"module:Class"`` targets.

    Called once when plugins load; nothing is imported until a URI with the scheme is
    used. Two plugins declaring the same kind and scheme is an error at resolution
    time unless one of them sets ``Scheme(..., override=True)``.

    :returns: a list of :class:`tracklet.plugins.Scheme`.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def tracklet_tracking_store(uri: str, artifact_uri: str | None) -> TrackingStore | None:
    """Build the tracking store for ``uri``, or return None to pass.

    Stops at the first non-None result. The core's own implementation runs last and
    builds the class a :func:`tracklet_schemes` declaration names.

    :param uri: the tracking URI, as the user gave it.
    :param artifact_uri: the default artifact root the user asked for, if any.
    """


@hookspec(firstresult=True)
def tracklet_artifact_repository(uri: str, tracking_uri: str | None) -> ArtifactRepository | None:
    """Build the artifact repository rooted at ``uri``, or return None to pass.

    Stops at the first non-None result.

    :param uri: the artifact URI.
    :param tracking_uri: the tracking URI of the client asking, or None for the current
        one. Repositories that live on a tracking server (``mlflow-artifacts:/…``) need it
        to find the server; others ignore it (an implementation may leave it out).
    """


@hookspec(firstresult=True)
def tracklet_registry_store(uri: str, tracking_uri: str | None) -> RegistryStore | None:
    """Build the model registry store for ``uri``, or return None to pass.

    Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def tracklet_default_tracking_uri() -> str | None:
    """The tracking URI to use when none is configured (e.g. ``./mlruns``).

    Stops at the first non-None result; mark an implementation ``trylast=True`` to let
    other plugins take precedence.
    """


@hookspec
def tracklet_cli_commands() -> list[Any]:
    """Extra ``tracklet`` CLI commands: a list of ``click.Command`` or ``click.Group``.

    Called only when the CLI starts, so importing click here is fine.
    """
    raise NotImplementedError


@hookspec
def tracklet_request_headers(uri: str) -> dict[str, str] | None:
    """Headers to add to every request a remote store sends to ``uri``.

    All results are merged, later plugins winning on conflicts.
    """


@hookspec
def tracklet_run_context_tags() -> dict[str, str] | None:
    """Tags to set on every run the fluent API starts (e.g. git commit, user, source).

    All results are merged; tags the user passes explicitly win.
    """


@hookspec
def tracklet_server_routes() -> list[Route | Assets]:
    """Extra REST endpoints and static files for ``tracklet server``: a list of
    :class:`tracklet.routes.Route` and :class:`tracklet.routes.Assets`.

    Every result is collected; the plugin serving the server mounts each route (a path
    under ``/api/2.0/mlflow/`` also under ``/ajax-api/2.0/mlflow/``), checks its fields,
    authorizes it by its permission and lists it in ``/openapi.json``. A route taking the
    path of another route, or of one of the server's own endpoints, stops the server at
    start-up. Each :class:`~tracklet.routes.Assets` is served under its prefix (GET and
    HEAD only, never outside its folder); two assets with overlapping prefixes or the same
    name, or two with ``root=True``, stop the server at start-up naming both. Called when
    the server starts: import what the handlers need lazily.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def tracklet_http_transport(uri: str) -> HttpTransport | None:
    """The :class:`tracklet.routes.HttpTransport` for the tracking server at ``uri``
    (``http(s)://host[:port][/prefix]``), or None to pass.

    Stops at the first non-None result. tracklet-http answers with its own transport
    (retries, credentials, TLS, plugin headers, fork safety); plugins with a REST client
    reach it through :func:`tracklet.plugins.http_transport` instead of importing it.
    """


@hookspec(firstresult=True)
def tracklet_sql_engine(uri: str) -> Any:
    """The SQLAlchemy ``Engine`` for the database at ``uri``, or None to pass.

    Stops at the first non-None result. tracklet-sql answers with its per-process cached,
    fork-safe engine, the database prepared: the tables of every migration set
    (:func:`tracklet_sql_migrations`) created or checked. Plugins keeping tables in the
    tracking database reach it through :func:`tracklet.plugins.sql_engine`.
    """


@hookspec
def tracklet_sql_migrations() -> list[SqlMigrations]:
    """The migration sets of tables a plugin keeps in the tracking database: a list of
    :class:`tracklet.plugins.SqlMigrations`.

    Every result is collected. The plugin serving SQL databases (tracklet-sql) creates a
    new set's tables on a fresh database, refuses to open a database whose set is at
    another revision than the installed one, and upgrades every set with
    ``tracklet db upgrade``. Called when a database is opened: keep it cheap.
    """
    raise NotImplementedError
