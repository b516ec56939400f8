"""The plugin manager: loads ``tracklet`` entry points on first use and resolves URIs.

Nothing here runs at ``import tracklet``: the manager is built by
:func:`get_plugin_manager` the first time a store is needed.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import threading
from typing import TYPE_CHECKING, Any, Literal

import pluggy

from tracklet import hookspecs
from tracklet._install_hints import INSTALL_HINTS
from tracklet.exceptions import FEATURE_DISABLED, INVALID_PARAMETER_VALUE, TrackletException
from tracklet.uri import get_scheme

if TYPE_CHECKING:
    from tracklet._entry_points import EntryPoint
    from tracklet.routes import Assets, HttpTransport, Route
    from tracklet.stores import ArtifactRepository, RegistryStore, TrackingStore

__all__ = [
    "KNOWN_PACKAGES",
    "PluginInfo",
    "Scheme",
    "SqlMigrations",
    "default_tracking_uri",
    "get_artifact_repository",
    "get_plugin_manager",
    "get_registry_store",
    "get_tracking_store",
    "hookimpl",
    "http_transport",
    "install_hint",
    "installed_schemes",
    "list_plugins",
    "register",
    "request_headers",
    "reset",
    "run_context_tags",
    "server_assets",
    "server_routes",
    "sql_engine",
    "sql_migrations",
    "unregister",
]

_logger = logging.getLogger(__name__)

hookimpl = pluggy.HookimplMarker(hookspecs.PROJECT_NAME)
ENTRY_POINT_GROUP = "tracklet"
Kind = Literal["tracking", "artifacts", "registry"]
KINDS: tuple[Kind, ...] = ("tracking", "artifacts", "registry")

#: Which distribution serves a well-known scheme, for "pip install …" hints: generated
#: from the plugins' declarations (tools/gen_install_hints.py).
KNOWN_PACKAGES: dict[tuple[str, str], str] = {key: dist for key, (dist, _) in INSTALL_HINTS.items()}


def install_hint(kind: str, scheme: str) -> str | None:
    """The commands that install the plugin serving ``scheme``, from the package index and
    from a clone of tracklet's repository; None when no plugin of this repository does."""
    hint = INSTALL_HINTS.get((kind, scheme))
    if hint is None:
        return None
    distribution, folder = hint
    return f"pip install {distribution} (or, from a clone of the tracklet repository: pip install ./{folder})"


@dataclasses.dataclass(frozen=True)
class Scheme:
    """A URI scheme a plugin serves.

    :param kind: ``"tracking"``, ``"artifacts"`` or ``"registry"``.
    :param scheme: the scheme without ``:`` (``""`` means plain local paths).
    :param target: ``"package.module:ClassName"``, imported on first use.
    :param override: replace another plugin's declaration of the same scheme.
    """

    kind: Kind
    scheme: str
    target: str
    override: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Scheme kind must be one of {KINDS}, got {self.kind!r}")
        if ":" not in self.target:
            raise ValueError(f"Scheme target must look like 'module:Class', got {self.target!r}")


@dataclasses.dataclass(frozen=True)
class SqlMigrations:
    """A set of tables a plugin keeps in the tracking database, with its Alembic history.

    Returned by the ``tracklet_sql_migrations`` hook; the plugin serving SQL databases
    (tracklet-sql) creates, checks and upgrades every set.

    :param name: the set's name in messages (usually the distribution, e.g. ``"tracklet-registry"``).
    :param script_location: the Alembic scripts folder (``env.py``, ``versions/``), a path.
    :param version_table: the set's own Alembic version table, e.g.
        ``"tracklet_registry_alembic_version"``; never another set's.
    :param head: the revision the installed code reads and writes.
    :param metadata: ``"module:attr"`` naming the set's SQLAlchemy ``MetaData``, imported
        only when a fresh database needs the tables created (stamped at ``head``).
    """

    name: str
    script_location: str
    version_table: str
    head: str
    metadata: str

    def __post_init__(self) -> None:
        if ":" not in self.metadata:
            raise ValueError(f"SqlMigrations metadata must look like 'module:attr', got {self.metadata!r}")
        if not self.version_table or self.version_table == "alembic_version":
            raise ValueError(
                f"SqlMigrations {self.name!r}: version_table must be the set's own table "
                f"(e.g. 'tracklet_myplugin_alembic_version'), got {self.version_table!r}"
            )

    def load_metadata(self) -> Any:
        """The SQLAlchemy ``MetaData`` that :attr:`metadata` names."""
        return load_target(self.metadata)


@dataclasses.dataclass(frozen=True)
class PluginInfo:
    """What ``tracklet plugins`` shows about one registered plugin."""

    name: str
    distribution: str | None
    version: str | None
    schemes: tuple[Scheme, ...]


_lock = threading.RLock()
_manager: pluggy.PluginManager | None = None
_scheme_table: dict[tuple[str, str], list[tuple[str, Scheme]]] | None = None
_store_cache: dict[tuple[Any, ...], Any] = {}
#: The entry point each plugin loaded from one came from, by ``id()`` of the plugin.
_entry_point_of: dict[int, EntryPoint] = {}


def _new_lock_after_fork() -> None:
    # Another thread may have held the lock (building a store) when the process forked;
    # the child's copy would stay locked forever. The cached stores stay: each rebuilds
    # its own pools and clients in the child.
    global _lock
    _lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_after_fork)


def get_plugin_manager() -> pluggy.PluginManager:
    """The plugin manager, built (and entry points loaded) on first call."""
    global _manager
    if _manager is not None:
        return _manager
    with _lock:
        if _manager is None:
            pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
            pm.add_hookspecs(hookspecs)
            from tracklet import _builtin

            pm.register(_builtin, name="tracklet.builtin")
            _load_entry_points(pm)
            pm.check_pending()
            _manager = pm
    return _manager


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    """Register every ``tracklet`` entry point's plugin, as pluggy's
    ``load_setuptools_entrypoints`` does (the first of a name wins; blocked names are
    skipped), through :mod:`tracklet._entry_points`, which spares the process the import
    of ``importlib.metadata``."""
    from tracklet._entry_points import entry_points

    for entry_point in entry_points(ENTRY_POINT_GROUP):
        if pm.get_plugin(entry_point.name) or pm.is_blocked(entry_point.name):
            continue
        plugin = entry_point.load()
        pm.register(plugin, name=entry_point.name)
        _entry_point_of[id(plugin)] = entry_point


def register(plugin: object, name: str | None = None) -> None:
    """Register a plugin object at run time (tests, notebooks); clears resolution caches."""
    get_plugin_manager().register(plugin, name=name)
    _clear_caches()


def unregister(plugin: object) -> None:
    """Undo :func:`register`."""
    get_plugin_manager().unregister(plugin)
    _clear_caches()


def reset() -> None:
    """Forget the manager and every cached store (the next use reloads entry points)."""
    global _manager
    with _lock:
        _manager = None
        _clear_caches()


def _clear_caches() -> None:
    """Forget the scheme table and close every cached store: a store dropped here (after a
    plugin is registered or unregistered) would otherwise keep its connections open until
    the garbage collector finds it."""
    global _scheme_table
    _scheme_table = None
    stores = list(_store_cache.values())
    _store_cache.clear()
    for store in stores:
        close = getattr(store, "close", None)
        if callable(close):
            close()


def _plugin_label(pm: pluggy.PluginManager, plugin: object) -> str:
    return pm.get_name(plugin) or repr(plugin)


def _schemes() -> dict[tuple[str, str], list[tuple[str, Scheme]]]:
    global _scheme_table
    if _scheme_table is not None:
        return _scheme_table
    pm = get_plugin_manager()
    table: dict[tuple[str, str], list[tuple[str, Scheme]]] = {}
    for impl in pm.hook.tracklet_schemes.get_hookimpls():
        declared: list[Scheme] = impl.function() or []  # type: ignore[assignment]
        for scheme in declared:
            table.setdefault((scheme.kind, scheme.scheme), []).append(
                (_plugin_label(pm, impl.plugin), scheme)
            )
    _scheme_table = table
    return table


def installed_schemes(kind: Kind) -> list[str]:
    """Schemes of one kind that installed plugins declare, sorted."""
    return sorted({scheme for (k, scheme) in _schemes() if k == kind})


def declared_scheme(kind: Kind, scheme: str) -> Scheme | None:
    """The declaration that wins for (kind, scheme), or None when nothing serves it."""
    entries = _schemes().get((kind, scheme), [])
    if not entries:
        return None
    overriding = [e for e in entries if e[1].override]
    candidates = overriding or entries
    if len(candidates) > 1:
        names = ", ".join(name for name, _ in candidates)
        raise TrackletException(
            f"Plugins {names} all serve the {kind} scheme '{scheme}'. Uninstall all but one, "
            "or have one declare Scheme(..., override=True).",
            INVALID_PARAMETER_VALUE,
        )
    return candidates[0][1]


def load_target(target: str) -> Any:
    """Import ``"module:attr"`` and return the attribute."""
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


def _missing(kind: Kind, uri: str) -> TrackletException:
    scheme = get_scheme(uri)
    shown = f"'{scheme}'" if scheme else "plain paths"
    installed = ", ".join(repr(s) for s in installed_schemes(kind)) or "none"
    message = (
        f"No {kind} plugin is installed for {shown} (URI {uri!r}). Installed {kind} schemes: {installed}."
    )
    hint = install_hint(kind, scheme)
    if hint:
        message += f" Install the plugin with: {hint}"
    elif kind == "registry" and not installed_schemes(kind):
        message += (
            " Install tracklet-registry (pip install tracklet-registry, or from a clone:"
            " pip install ./plugins/registry), or a plugin that serves this scheme."
        )
    else:
        message += " Install a plugin that serves this scheme, or check the URI for typos."
    code = FEATURE_DISABLED if kind == "registry" else INVALID_PARAMETER_VALUE
    return TrackletException(message, code)


def _cached(key: tuple[Any, ...], build: Any) -> Any:
    store = _store_cache.get(key)
    if store is None:
        with _lock:
            store = _store_cache.get(key)
            if store is None:
                store = build()
                _store_cache[key] = store
    return store


def get_tracking_store(uri: str, artifact_uri: str | None = None) -> TrackingStore:
    """The tracking store for ``uri`` (cached per URI for the life of the process)."""

    def build() -> TrackingStore:
        store: TrackingStore | None = get_plugin_manager().hook.tracklet_tracking_store(
            uri=uri, artifact_uri=artifact_uri
        )
        if store is None:
            raise _missing("tracking", uri)
        return store

    return _cached(("tracking", uri, artifact_uri), build)  # type: ignore[no-any-return]


def get_artifact_repository(uri: str, tracking_uri: str | None = None) -> ArtifactRepository:
    """A new artifact repository rooted at ``uri`` (cheap: repositories hold no connections
    of their own beyond what their SDK caches). ``tracking_uri`` is the caller's tracking
    URI (None: the current one), for repositories on a tracking server."""
    repo = get_plugin_manager().hook.tracklet_artifact_repository(uri=uri, tracking_uri=tracking_uri)
    if repo is None:
        raise _missing("artifacts", uri)
    return repo  # type: ignore[no-any-return]


def get_registry_store(uri: str, tracking_uri: str | None = None) -> RegistryStore:
    """The registry store for ``uri`` (cached per URI)."""

    def build() -> RegistryStore:
        store: RegistryStore | None = get_plugin_manager().hook.tracklet_registry_store(
            uri=uri, tracking_uri=tracking_uri
        )
        if store is None:
            raise _missing("registry", uri)
        return store

    return _cached(("registry", uri, tracking_uri), build)  # type: ignore[no-any-return]


def default_tracking_uri() -> str | None:
    """The URI the installed plugins propose when the user configured none."""
    return get_plugin_manager().hook.tracklet_default_tracking_uri()  # type: ignore[no-any-return]


def run_context_tags() -> dict[str, str]:
    """Tags every plugin contributes to a new run, merged."""
    merged: dict[str, str] = {}
    for tags in reversed(get_plugin_manager().hook.tracklet_run_context_tags()):
        merged.update(tags or {})
    return merged


def request_headers(uri: str) -> dict[str, str]:
    """Headers every plugin contributes for requests to ``uri``, merged."""
    merged: dict[str, str] = {}
    for headers in reversed(get_plugin_manager().hook.tracklet_request_headers(uri=uri)):
        merged.update(headers or {})
    return merged


def list_plugins() -> list[PluginInfo]:
    """Every registered plugin with its distribution, version and schemes."""
    pm = get_plugin_manager()
    table = _schemes()
    out = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        entry_point = _entry_point_of.get(id(plugin))
        distribution, version = (
            entry_point.distribution_name_version() if entry_point is not None else (None, None)
        )
        label = _plugin_label(pm, plugin)
        schemes = tuple(s for entries in table.values() for (n, s) in entries if n == label)
        out.append(PluginInfo(name=name, distribution=distribution, version=version, schemes=schemes))
    return out


def _not_served(what: str, hint_key: tuple[str, str], uri: str | None) -> TrackletException:
    distribution, folder = INSTALL_HINTS.get(hint_key, (None, None))
    shown = f" for {uri!r}" if uri else ""
    message = f"No installed plugin provides {what}{shown}."
    if distribution:
        message += (
            f" Install {distribution}: pip install {distribution} "
            f"(or, from a clone of the tracklet repository: pip install ./{folder})"
        )
    return TrackletException(message, FEATURE_DISABLED)


def http_transport(uri: str) -> HttpTransport:
    """The :class:`~tracklet.routes.HttpTransport` to the tracking server at ``uri``
    (``http(s)://…``), from the ``tracklet_http_transport`` hook (tracklet-http serves it).

    :raises TrackletException: ``FEATURE_DISABLED`` naming the package to install when no
        plugin answers.
    """
    transport: HttpTransport | None = get_plugin_manager().hook.tracklet_http_transport(uri=uri)
    if transport is None:
        if get_scheme(uri) not in ("http", "https"):
            raise TrackletException(
                f"No installed plugin provides an HTTP transport for {uri!r}: "
                "expected a tracking server's http(s)://host[:port] URL.",
                INVALID_PARAMETER_VALUE,
            )
        raise _not_served("an HTTP transport", ("tracking", "http"), uri)
    return transport


def sql_engine(uri: str) -> Any:
    """The SQLAlchemy ``Engine`` for the database at ``uri``, its tables (every migration
    set's) prepared, from the ``tracklet_sql_engine`` hook (tracklet-sql serves it).

    :raises TrackletException: ``FEATURE_DISABLED`` naming the package to install when no
        plugin answers.
    """
    engine = get_plugin_manager().hook.tracklet_sql_engine(uri=uri)
    if engine is None:
        raise _not_served("a SQL engine", ("tracking", "sqlite"), uri)
    return engine


def _server_contributions() -> list[tuple[str, object]]:
    """``(plugin label, Route or Assets)`` for everything ``tracklet_server_routes`` returns,
    in the order the plugins were registered."""
    pm = get_plugin_manager()
    out: list[tuple[str, object]] = []
    for impl in reversed(pm.hook.tracklet_server_routes.get_hookimpls()):
        label = _plugin_label(pm, impl.plugin)
        contributed: list[object] = impl.function() or []  # type: ignore[assignment]
        out.extend((label, item) for item in contributed)
    return out


def server_routes() -> list[Route]:
    """Every route the plugins contribute to ``tracklet server`` (``tracklet_server_routes``;
    the :class:`~tracklet.routes.Assets` they return beside them are :func:`server_assets`).

    :raises TrackletException: when two plugins' routes share a name, or a method and path.
    """
    from tracklet.routes import Assets, Route

    routes: list[Route] = []
    owners: dict[tuple[str, ...], str] = {}
    for label, route in _server_contributions():
        if isinstance(route, Assets):
            continue
        if not isinstance(route, Route):
            raise TrackletException(
                f"Plugin {label} returned {type(route).__name__} from tracklet_server_routes; "
                "expected tracklet.routes.Route or tracklet.routes.Assets objects. Fix or uninstall the plugin.",
                INVALID_PARAMETER_VALUE,
            )
        keys = [("name", route.name)] + [("path", method, route.path) for method in route.methods]
        for key in keys:
            other = owners.get(key)
            if other is not None:
                what = f"the name {route.name!r}" if key[0] == "name" else f"{key[1]} {route.path}"
                raise TrackletException(
                    f"Plugins {other} and {label} both contribute a server route with {what}. "
                    "Uninstall one of them, or rename the route in one.",
                    INVALID_PARAMETER_VALUE,
                )
            owners[key] = label
        routes.append(route)
    return routes


def server_assets() -> list[Assets]:
    """Every :class:`~tracklet.routes.Assets` (static files) the plugins contribute to
    ``tracklet server`` through ``tracklet_server_routes``.

    :raises TrackletException: when two share a name, their prefixes overlap (``/ui`` and
        ``/ui/x``), or both set ``root=True``; the message names both plugins.
    """
    from tracklet.routes import Assets

    found: list[tuple[str, Assets]] = []
    for label, item in _server_contributions():
        if not isinstance(item, Assets):
            continue
        for other_label, other in found:
            clash = None
            if other.name == item.name:
                clash = f"the assets name {item.name!r}"
            elif other.overlaps(item):
                clash = f"overlapping asset prefixes {other.prefix!r} ({other.name!r}) and {item.prefix!r} ({item.name!r})"
            elif other.root and item.root:
                clash = f"assets answering '/' (root=True): {other.name!r} and {item.name!r}"
            if clash is not None:
                raise TrackletException(
                    f"Plugins {other_label} and {label} both contribute {clash}. "
                    "Uninstall one of them, or change the prefix (or root) of one.",
                    INVALID_PARAMETER_VALUE,
                )
        found.append((label, item))
    return [assets for _, assets in found]


def sql_migrations() -> list[SqlMigrations]:
    """Every migration set the plugins contribute (``tracklet_sql_migrations``), in the
    order the plugins were registered.

    :raises TrackletException: when two sets share a name or a version table.
    """
    pm = get_plugin_manager()
    sets: list[SqlMigrations] = []
    owners: dict[tuple[str, str], str] = {}
    for impl in reversed(pm.hook.tracklet_sql_migrations.get_hookimpls()):
        label = _plugin_label(pm, impl.plugin)
        declared: list[SqlMigrations] = impl.function() or []  # type: ignore[assignment]
        for entry in declared:
            for key in (("name", entry.name), ("version table", entry.version_table)):
                other = owners.get(key)
                if other is not None:
                    raise TrackletException(
                        f"Plugins {other} and {label} both contribute a SQL migration set with the "
                        f"{key[0]} {key[1]!r}. Each set needs its own name and version table.",
                        INVALID_PARAMETER_VALUE,
                    )
                owners[key] = label
            sets.append(entry)
    return sets
