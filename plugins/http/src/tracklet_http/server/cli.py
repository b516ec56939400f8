"""``tracklet server``: MLflow's tracking server API over any backend store.

The command checks its options, opens the backend store once (creating or upgrading
its schema before any worker exists, so ``--workers N`` processes never race to create
a database), puts the settings in the environment and hands over to uvicorn, which
builds the app in each worker through :func:`tracklet_http.server.app.app_factory`.

Nothing heavy is imported at module level: ``tracklet --help`` must work without the
``[server]`` extra.
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import re
import shutil
import tempfile
import urllib.parse
from typing import Any

import click

from tracklet.exceptions import TrackletException
from tracklet.uri import SECRET_QUERY_PARAMETER, masked_uri
from tracklet_http.server.settings import DEFAULT_HEADER_TIMEOUT

__all__ = ["exposure_warning", "is_loopback_host", "masked_uri", "parse_size", "server"]

APP_FACTORY = "tracklet_http.server.app:app_factory"
PROTOCOLS = "tracklet_http.server.connection"
MISSING_EXTRA = (
    "`tracklet server` needs the server extra (Starlette, uvicorn, prometheus_client): "
    "pip install 'tracklet-http[server]'"
)
_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str) -> int:
    """``1048576``, ``512K``, ``32MB``, ``1GiB`` -> bytes (K/M/G/T are powers of 1024)."""
    match = _SIZE.match(str(text))
    if not match:
        raise click.BadParameter(f"{text!r} is not a size: use bytes, or a number with K, M or G (32M).")
    unit = (match.group(2) or "").lower()[:1]
    return int(match.group(1)) * _UNITS[unit]


def _secrets(uri: str | None) -> list[str]:
    """The password and secret-looking query values in ``uri``, as written and decoded."""
    if not uri:
        return []
    parts = urllib.parse.urlsplit(uri)
    found = []
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        found.append(userinfo.partition(":")[2])
    found += [v for k, v in urllib.parse.parse_qsl(parts.query) if SECRET_QUERY_PARAMETER.search(k)]
    return [text for secret in found if secret for text in {secret, urllib.parse.unquote(secret)}]


def scrubbed(text: str, *uris: str | None) -> str:
    """``text`` with each of ``uris`` masked (:func:`masked_uri`) and any of their
    secrets that still appear on their own replaced by ``***``."""
    for uri in uris:
        if uri:
            text = text.replace(uri, masked_uri(uri))
    for uri in uris:
        for secret in sorted(_secrets(uri), key=len, reverse=True):
            text = text.replace(secret, "***")
    return text


def is_loopback_host(host: str) -> bool:
    """Whether binding ``host`` only accepts connections from this machine."""
    name = host.strip().strip("[]").lower()
    if name in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name that may resolve anywhere: assume reachable


def exposure_warning(host: str, auth: bool) -> str | None:
    """The warning to print when the server would be open to the network, else None."""
    if auth or is_loopback_host(host):
        return None
    return (
        f"WARNING: tracklet server is listening on {host} without --auth: anyone who can reach this "
        "port can read and write every experiment, run and artifact. Bind to 127.0.0.1, put an "
        "authenticating proxy in front, or start with --auth."
    )


def _default_backend_uri(ctx: click.Context) -> str:
    """The tracking URI tracklet would use now (``--tracking-uri``, the environment, the
    installed default), unless that is a tracking server itself: then the default store."""
    from tracklet import plugins
    from tracklet.tracking import get_tracking_uri
    from tracklet.uri import get_scheme

    state = ctx.find_root().obj
    uri = getattr(state, "tracking_uri", None) or get_tracking_uri()
    if get_scheme(uri) in ("http", "https"):
        uri = plugins.default_tracking_uri() or ""
    if not uri:
        raise click.ClickException("No backend store: pass --backend-store-uri (e.g. sqlite:///tracklet.db).")
    return uri


def _check_extra() -> None:
    try:
        import prometheus_client  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise click.ClickException(f"{MISSING_EXTRA} ({exc})") from None


def _http_protocol() -> str:
    """uvicorn's HTTP/1.1 protocol, with the head limits: httptools when installed (the
    faster parser), else h11; ``TRACKLET_SERVER_HTTP=h11|httptools`` chooses."""
    choice = os.environ.get("TRACKLET_SERVER_HTTP", "").strip().lower() or "auto"
    if choice not in ("auto", "h11", "httptools"):
        raise click.UsageError(f"TRACKLET_SERVER_HTTP={choice!r}: expected auto, h11 or httptools.")
    if choice == "httptools" and not _available("httptools"):
        raise click.UsageError(
            "TRACKLET_SERVER_HTTP=httptools, but httptools is not installed: pip install httptools."
        )
    if choice == "auto":
        choice = "httptools" if _available("httptools") else "h11"
    return f"{PROTOCOLS}:{'GuardedHttpToolsProtocol' if choice == 'httptools' else 'GuardedH11Protocol'}"


def _available(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _split_list(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(item.strip() for value in values for item in value.split(",") if item.strip())


def _open_store_once(settings: Any) -> None:
    """Open the backend store in this (parent) process: creates or migrates its schema and
    the default experiment before any worker starts, and fails fast on a bad URI. With
    ``--auth``, the users database too (its tables and the first admin are made once,
    and a bad auth configuration stops the command here)."""
    from tracklet.plugins import get_tracking_store

    try:
        store = get_tracking_store(settings.backend_store_uri, settings.default_artifact_root)
        if settings.auth:
            from tracklet_http.server.auth import Authorizer

            Authorizer(settings)
    except Exception as exc:  # noqa: BLE001 - any failure stops the command, its message scrubbed
        uris = (settings.backend_store_uri, settings.auth_db_uri)
        raise click.ClickException(
            scrubbed(
                f"Cannot open the backend store {settings.backend_store_uri}: {type(exc).__name__}: {exc}",
                *uris,
            )
        ) from None
    if settings.workers > 1:
        store.close()  # workers open their own connections


def _check_contributed_routes(settings: Any, mlflow_ui: str | None = None) -> None:
    """Stop here, before any worker starts, when a plugin's route would shadow one of the
    server's own (or two plugins' routes collide), or a plugin's assets overlap another's
    or a route (or two want ``/``)."""
    from tracklet_http.server.app import check_pages

    try:
        check_pages(settings, mlflow_ui)
    except TrackletException as exc:
        raise click.ClickException(exc.message) from None


def _preflight(settings: Any, mlflow_ui: str | None) -> str | None:
    """:func:`_open_store_once` and :func:`_check_contributed_routes`; the message that
    stops the command, or None."""
    try:
        _open_store_once(settings)
        _check_contributed_routes(settings, mlflow_ui)
    except click.ClickException as exc:
        return exc.message
    return None


def _preflight_in_child(settings: Any, mlflow_ui: str | None) -> None:
    """:func:`_preflight` in a short-lived process, for ``--workers N`` (N > 1): the parent
    only supervises the workers, and without the store, SQLAlchemy, Starlette and the
    plugins imported it stays ~40 MB smaller for the server's whole life."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        message = pool.submit(_preflight, settings, mlflow_ui).result()
    if message is not None:
        raise click.ClickException(message)


def _mlflow_ui_bundle(wanted: bool) -> str | None:
    """The folder of MLflow's UI (``--mlflow-ui``), put in the environment for the
    workers; None (and the variable cleared) without the flag."""
    from tracklet_http.server.mlflow_ui import ENV, find_bundle

    if not wanted:
        os.environ.pop(ENV, None)
        return None
    try:
        bundle = find_bundle()
    except TrackletException as exc:
        raise click.ClickException(exc.message) from None
    os.environ[ENV] = bundle
    return bundle


def _multiprocess_metrics_dir() -> None:
    """prometheus_client's multiprocess mode for --workers > 1: a fresh folder every
    worker records into, removed when the server stops."""
    from tracklet_http.server.metrics import MULTIPROC_ENV

    if os.environ.get(MULTIPROC_ENV):
        return  # the operator chose one (and keeps it clean)
    folder = tempfile.mkdtemp(prefix="tracklet-metrics-")
    os.environ[MULTIPROC_ENV] = folder
    atexit.register(shutil.rmtree, folder, True)


@click.command("server")
@click.option(
    "--backend-store-uri",
    metavar="URI",
    help="Where experiments and runs are kept: sqlite:///tracklet.db, postgresql://…, a folder… "
    "[default: the tracking URI tracklet would use]",
)
@click.option(
    "--registry-store-uri",
    metavar="URI",
    help="Where the model registry is kept, for the registry routes plugins add "
    "[default: the backend store URI].",
)
@click.option(
    "--default-artifact-root",
    metavar="URI",
    help="Artifact root for new experiments [default: mlflow-artifacts:/ with the proxy on, else ./mlruns].",
)
@click.option(
    "--artifacts-destination",
    metavar="URI",
    default="./mlartifacts",
    show_default=True,
    help="Where the artifact proxy keeps artifacts: a folder or any artifact URI (s3://…).",
)
@click.option(
    "--serve-artifacts/--no-serve-artifacts",
    default=True,
    show_default=True,
    help="Serve the artifact proxy (/api/2.0/mlflow-artifacts/…).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; 0.0.0.0 listens on every interface (use --auth).",
)
@click.option("--port", "-p", default=5000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers", "-w", default=1, show_default=True, type=click.IntRange(1, 256), help="Worker processes."
)
@click.option(
    "--auth/--no-auth",
    default=False,
    show_default=True,
    help="Require HTTP basic authentication, with per-experiment permissions.",
)
@click.option(
    "--auth-db-uri",
    metavar="URI",
    help="Database of users and permissions [default: the backend database when it is SQL, "
    "else sqlite:///basic_auth.db].",
)
@click.option(
    "--max-body-size",
    default="32M",
    show_default=True,
    metavar="SIZE",
    help="Largest JSON request body accepted (bytes, or 512K, 32M, 1G); artifact uploads "
    "are streamed and not limited by it.",
)
@click.option(
    "--header-timeout",
    default=DEFAULT_HEADER_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    type=click.FloatRange(0.1, 3600),
    help="Longest a client may take to send a request's line and headers; slower clients "
    "get 408 and are disconnected.",
)
@click.option(
    "--max-header-size",
    default="64K",
    show_default=True,
    metavar="SIZE",
    help="Largest request line and headers (a GET's query string included); bigger requests get 431.",
)
@click.option(
    "--allowed-hosts",
    multiple=True,
    metavar="HOSTS",
    help="Extra Host header values the server answers to (comma-separated, * patterns); "
    "loopback and private addresses are always allowed.",
)
@click.option(
    "--cors-allowed-origins",
    multiple=True,
    metavar="ORIGINS",
    help="Browser origins allowed to change state (comma-separated, * patterns).",
)
@click.option(
    "--mlflow-ui",
    is_flag=True,
    default=False,
    help="Serve MLflow's own web UI, from the installed mlflow package, at / (tracklet's UI, "
    "when installed, stays at /ui/).",
)
@click.option(
    "--access-log/--no-access-log",
    default=False,
    show_default=True,
    help="Log every request (costs throughput).",
)
@click.pass_context
def server(ctx: click.Context, **options: Any) -> None:
    """Run the tracking server: MLflow's REST API and artifact proxy over any backend, and
    the web UI at / when one is installed (pip install tracklet-ui, or --mlflow-ui)."""
    _check_extra()
    import uvicorn

    from tracklet_http.server.settings import ServerSettings

    backend = options["backend_store_uri"] or _default_backend_uri(ctx)
    serve_artifacts = options["serve_artifacts"]
    artifact_root = options["default_artifact_root"] or (
        "mlflow-artifacts:/" if serve_artifacts else os.path.abspath("mlruns")
    )
    values: dict[str, Any] = {
        "backend_store_uri": backend,
        "default_artifact_root": artifact_root,
        "artifacts_destination": options["artifacts_destination"],
        "serve_artifacts": serve_artifacts,
        "host": options["host"],
        "port": options["port"],
        "workers": options["workers"],
        "auth": options["auth"],
        "auth_db_uri": options["auth_db_uri"],
        "max_body_bytes": parse_size(options["max_body_size"]),
        "header_timeout": options["header_timeout"],
        "max_header_bytes": parse_size(options["max_header_size"]),
        "allowed_hosts": _split_list(options["allowed_hosts"]),
        "cors_allowed_origins": _split_list(options["cors_allowed_origins"]),
        "registry_store_uri": options["registry_store_uri"] or None,
    }
    settings = ServerSettings(**values)

    warning = exposure_warning(settings.host, settings.auth)
    if warning:
        click.echo(warning, err=True)
    mlflow_ui = _mlflow_ui_bundle(options["mlflow_ui"])
    if settings.workers > 1:
        _preflight_in_child(settings, mlflow_ui)
        _multiprocess_metrics_dir()
    else:  # this process serves: it imports all of it anyway
        _open_store_once(settings)
        _check_contributed_routes(settings, mlflow_ui)
    os.environ.update(settings.to_env())

    click.echo(
        f"tracklet server: {masked_uri(backend)} on http://{settings.host}:{settings.port} "
        f"({settings.workers} worker{'s' if settings.workers > 1 else ''})",
        err=True,
    )
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        # uvicorn's protocols with a time and size limit on each request's head
        # (tracklet_http.server.connection); h11 is told the size limit too.
        http=_http_protocol(),
        h11_max_incomplete_event_size=2 * settings.max_header_bytes,
        loop="uvloop" if _available("uvloop") else "asyncio",
        access_log=options["access_log"],
        log_level="info",
        proxy_headers=False,
        server_header=False,
        lifespan="on",
    )
