"""Where the users live and how the server treats them: read once at start-up.

Each value is looked up in this order (first found wins):

* database: ``--auth-db-uri`` (``settings.auth_db_uri``); ``database_uri`` in the
  MLflow auth config file named by ``MLFLOW_AUTH_CONFIG_PATH``; the backend store's own
  database when it is sqlite, PostgreSQL or MySQL (so replicas on one database share
  their users); else ``sqlite:///<cwd>/basic_auth.db``;
* admin user: ``TRACKLET_AUTH_ADMIN_USERNAME`` / ``TRACKLET_AUTH_ADMIN_PASSWORD``, then
  MLflow's ``MLFLOW_AUTH_ADMIN_USERNAME`` / ``MLFLOW_AUTH_ADMIN_PASSWORD``, then
  ``admin_username`` / ``admin_password`` in the config file; the name defaults to
  ``admin`` and the password to a random one (logged once, see ``store.bootstrap_admin``);
* default permission: ``TRACKLET_AUTH_DEFAULT_PERMISSION``, then ``default_permission``
  in the config file, then READ;
* cache lifetimes: ``TRACKLET_AUTH_CACHE_SECONDS`` (verified credentials, default 60)
  and ``TRACKLET_AUTH_PERMISSION_CACHE_SECONDS`` (grants, default 5); 0 turns a cache off;
* failed-login limits (see :mod:`tracklet_http.server.auth.limits`):
  ``TRACKLET_AUTH_MAX_FAILURES`` (per user name and client address, default 10) and
  ``TRACKLET_AUTH_MAX_ADDRESS_FAILURES`` (per client address, whatever the user name,
  default 100) within ``TRACKLET_AUTH_FAILURE_WINDOW_SECONDS`` (default 300); 0 turns a
  limit off;
* password checks at once per worker process: ``TRACKLET_AUTH_HASH_THREADS`` (default half
  the CPUs this process may use, at least 1, at most 4) with at most
  ``TRACKLET_AUTH_HASH_QUEUE`` more waiting (default 32).
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.engine import make_url

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.uri import get_scheme

from .passwords import MIN_PASSWORD_LENGTH, password_problem
from .permissions import ALL_PERMISSIONS

__all__ = [
    "AuthConfig",
    "MIN_PASSWORD_LENGTH",
    "database_uri",
    "default_hash_threads",
    "load_config",
    "sqlalchemy_uri",
]
#: The admin password older MLflow versions shipped in basic_auth.ini (GHSA-gq3w-7jj3-x7gr);
#: refused as a configured password.
LEGACY_DEFAULT_PASSWORD = "password1234"

_SQL_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb")
_DEFAULT_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
}


@dataclass(frozen=True)
class AuthConfig:
    """The auth settings of one server (see the module docstring for their sources)."""

    database_uri: str
    default_permission: str = "READ"
    admin_username: str = "admin"
    admin_password: str | None = None
    credential_ttl: float = 60.0
    permission_ttl: float = 5.0
    max_failures: int = 10
    max_address_failures: int = 100
    failure_window: float = 300.0
    hash_threads: int = 1
    hash_queue: int = 32


def default_hash_threads() -> int:
    """Half the CPUs this process may run on, at least 1 and at most 4: scrypt never holds
    every core, whatever arrives."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus // 2))


def sqlalchemy_uri(uri: str) -> str:
    """A database URI as SQLAlchemy wants it: ``postgresql://`` (and ``postgres://``) use
    psycopg 3, ``mysql://`` PyMySQL; a URI naming its driver is kept as it is."""
    scheme, sep, rest = uri.partition("://")
    if sep and scheme.lower() in _DEFAULT_DRIVERS:
        return f"{_DEFAULT_DRIVERS[scheme.lower()]}://{rest}"
    return uri


def _sqlite_is_file(uri: str) -> bool:
    try:
        database = make_url(uri).database or ""
    except Exception:  # noqa: BLE001 - an unparsable URI is reported when the engine is made
        return True
    return database not in ("", ":memory:") and not database.startswith("file::memory:")


def database_uri(backend_store_uri: str, auth_db_uri: str | None, config_file_uri: str | None = None) -> str:
    """The users database for a server (see the module docstring)."""
    if auth_db_uri:
        return sqlalchemy_uri(auth_db_uri)
    if config_file_uri:
        return sqlalchemy_uri(config_file_uri)
    scheme = get_scheme(backend_store_uri)
    if scheme in _SQL_SCHEMES and (scheme != "sqlite" or _sqlite_is_file(backend_store_uri)):
        return sqlalchemy_uri(backend_store_uri)
    return f"sqlite:///{os.path.join(os.getcwd(), 'basic_auth.db')}"


def _config_file(env: Mapping[str, str]) -> dict[str, str]:
    path = env.get("MLFLOW_AUTH_CONFIG_PATH")
    if not path:
        return {}
    parser = configparser.ConfigParser()
    if not parser.read(path):
        raise TrackletException(
            f"MLFLOW_AUTH_CONFIG_PATH names {path!r}, which cannot be read.", INVALID_PARAMETER_VALUE
        )
    return dict(parser["mlflow"]) if parser.has_section("mlflow") else {}


def _number(
    env: Mapping[str, str], name: str, default: float, whole: bool = False, minimum: int = 0
) -> float:
    """``env[name]`` as a number >= ``minimum`` (``whole``: an integer), ``default`` when unset."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = float("nan")
    if not value >= minimum:  # also NaN
        expected = "a whole number" if whole else "a number of seconds"
        raise TrackletException(f"{name}={raw!r}: expected {expected} >= {minimum}.", INVALID_PARAMETER_VALUE)
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    return _number(env, name, default)


def _count(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    return int(_number(env, name, default, whole=True, minimum=minimum))


def load_config(
    backend_store_uri: str, auth_db_uri: str | None, environ: Mapping[str, str] | None = None
) -> AuthConfig:
    """The auth settings from the server's settings, the environment and MLflow's config file."""
    env = os.environ if environ is None else environ
    ini = _config_file(env)

    def first(*names: str, ini_key: str) -> str | None:
        for name in names:
            value = env.get(name)
            if value:
                return value
        return ini.get(ini_key) or None

    default_permission = (
        (first("TRACKLET_AUTH_DEFAULT_PERMISSION", ini_key="default_permission") or "READ").strip().upper()
    )
    if default_permission not in ALL_PERMISSIONS:
        raise TrackletException(
            f"Invalid default permission {default_permission!r} (TRACKLET_AUTH_DEFAULT_PERMISSION): "
            f"expected one of {', '.join(ALL_PERMISSIONS)}.",
            INVALID_PARAMETER_VALUE,
        )
    password = first("TRACKLET_AUTH_ADMIN_PASSWORD", "MLFLOW_AUTH_ADMIN_PASSWORD", ini_key="admin_password")
    if password is not None:
        if password == LEGACY_DEFAULT_PASSWORD:
            raise TrackletException(
                "Refusing the admin password 'password1234': it is the publicly known default older "
                "MLflow versions shipped (GHSA-gq3w-7jj3-x7gr). Set TRACKLET_AUTH_ADMIN_PASSWORD to "
                "another password.",
                INVALID_PARAMETER_VALUE,
            )
        problem = password_problem(password)
        if problem is not None:
            raise TrackletException(
                f"The configured admin password (TRACKLET_AUTH_ADMIN_PASSWORD) cannot be used: {problem}.",
                INVALID_PARAMETER_VALUE,
            )
    return AuthConfig(
        database_uri=database_uri(backend_store_uri, auth_db_uri, ini.get("database_uri")),
        default_permission=default_permission,
        admin_username=first(
            "TRACKLET_AUTH_ADMIN_USERNAME", "MLFLOW_AUTH_ADMIN_USERNAME", ini_key="admin_username"
        )
        or "admin",
        admin_password=password,
        credential_ttl=_seconds(env, "TRACKLET_AUTH_CACHE_SECONDS", 60.0),
        permission_ttl=_seconds(env, "TRACKLET_AUTH_PERMISSION_CACHE_SECONDS", 5.0),
        max_failures=_count(env, "TRACKLET_AUTH_MAX_FAILURES", 10),
        max_address_failures=_count(env, "TRACKLET_AUTH_MAX_ADDRESS_FAILURES", 100),
        failure_window=_seconds(env, "TRACKLET_AUTH_FAILURE_WINDOW_SECONDS", 300.0),
        hash_threads=_count(env, "TRACKLET_AUTH_HASH_THREADS", default_hash_threads(), minimum=1),
        hash_queue=_count(env, "TRACKLET_AUTH_HASH_QUEUE", 32),
    )
