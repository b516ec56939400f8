"""The auth state of one server process: configuration, the users database, the caches.

One :class:`AuthService` per process and server settings (:func:`service_for`), shared by
the :class:`~tracklet_http.server.auth.Authorizer` the server consults on every call and
the users/permissions routes, so a password change through the API drops the cached
credential at once in this process.

Caches (all in-process, bounded, thread-safe):

* verified credentials: (user name, HMAC of the password under a per-process random key)
  -> the user, for ``credential_ttl`` seconds (default 60), so scrypt runs about once a
  minute per client instead of on every request;
* grants: (user, experiment) -> permission, for ``permission_ttl`` seconds (default 5);
* run -> experiment: forever (a run never changes experiment; unknown runs are not cached).

Another replica (or worker process) does not see this process's invalidations: there a
changed password, a deleted user or a changed admin flag takes effect within
``credential_ttl``, and a changed grant within ``permission_ttl``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from tracklet.exceptions import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    TrackletException,
)

from .config import MIN_PASSWORD_LENGTH, AuthConfig, load_config
from .passwords import dummy_hash, hash_password, random_password, verify_password
from .permissions import MANAGE, Permission, get_permission
from .store import MAX_NAME, AuthStore

__all__ = ["AuthService", "Caller", "TTLCache", "check_name", "check_password", "service_for"]

logger = logging.getLogger("tracklet_http.server.auth")

UNAUTHENTICATED = "UNAUTHENTICATED"
_NOT_AUTHENTICATED = (
    "You are not authenticated: send a user name and password with HTTP basic authentication "
    "(clients read them from MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or "
    "TRACKLET_TRACKING_USERNAME and TRACKLET_TRACKING_PASSWORD)."
)
_BAD_CREDENTIALS = "Invalid username or password."
_MAX_PASSWORD = 4096
_MISSING = object()


@dataclass(frozen=True)
class Caller:
    """An authenticated user, as the authorizer needs it."""

    id: int
    username: str
    is_admin: bool


class TTLCache:
    """A small thread-safe mapping whose entries expire after ``ttl`` seconds (``ttl`` 0:
    nothing is kept). At ``max_size`` the oldest entries make room."""

    def __init__(self, ttl: float, max_size: int = 10_000) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._data: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, default: Any = None) -> Any:
        entry = self._data.get(key)
        if entry is None:
            return default
        expiry, value = entry
        if expiry < time.monotonic():
            with self._lock:
                self._data.pop(key, None)
            return default
        return value

    def put(self, key: Hashable, value: Any) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            while len(self._data) >= self.max_size:
                self._data.pop(next(iter(self._data)))
            self._data[key] = (time.monotonic() + self.ttl, value)

    def drop(self, predicate: Callable[[Any], bool]) -> None:
        """Forget every entry whose key satisfies ``predicate``."""
        with self._lock:
            for key in [k for k in self._data if predicate(k)]:
                del self._data[key]

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


def _bad(message: str) -> TrackletException:
    return TrackletException(message, INVALID_PARAMETER_VALUE)


def check_name(value: Any, field: str, *, username: bool = False) -> str:
    """A user name or experiment id from a request: a non-empty string of at most 255
    characters without NUL (and, for a user name, without ``:``, which HTTP basic
    authentication cannot carry)."""
    if isinstance(value, int) and not isinstance(value, bool) and not username:
        value = str(value)
    if not isinstance(value, str):
        raise _bad(f"Invalid value for parameter '{field}': expected a string.")
    if not value:
        raise _bad(f"Invalid value for parameter '{field}': it cannot be empty.")
    if len(value) > MAX_NAME:
        raise _bad(f"Invalid value for parameter '{field}': at most {MAX_NAME} characters.")
    if "\x00" in value:
        raise _bad(f"Invalid value for parameter '{field}': it cannot contain NUL characters.")
    if username and ":" in value:
        raise _bad(f"Invalid value for parameter '{field}': a user name cannot contain ':'.")
    return value


def check_password(value: Any, field: str = "password") -> str:
    """A new password: a string of 12 to 4096 characters."""
    if not isinstance(value, str):
        raise _bad(f"Invalid value for parameter '{field}': expected a string.")
    if len(value) < MIN_PASSWORD_LENGTH:
        raise _bad(f"Invalid value for parameter '{field}': a password needs at least {MIN_PASSWORD_LENGTH} characters.")
    if len(value) > _MAX_PASSWORD:
        raise _bad(f"Invalid value for parameter '{field}': at most {_MAX_PASSWORD} characters.")
    return value


def _valid_id(value: str) -> bool:
    return 0 < len(value) <= MAX_NAME and "\x00" not in value


class AuthService:
    """Users, grants and caches of one server process (see the module docstring)."""

    def __init__(self, config: AuthConfig) -> None:
        self.config = config
        self.default: Permission = get_permission(config.default_permission)
        self.store = AuthStore(config.database_uri)
        self._key = secrets.token_bytes(32)
        self._credentials = TTLCache(config.credential_ttl)
        self._callers = TTLCache(config.credential_ttl)
        self._grants = TTLCache(config.permission_ttl, max_size=100_000)
        self._visible = TTLCache(config.permission_ttl)
        self._runs: dict[str, str] = {}
        self._runs_lock = threading.Lock()
        self.bootstrap_admin()

    # -- start-up ------------------------------------------------------------------------

    def bootstrap_admin(self) -> str | None:
        """Make sure there is an admin to log in as; returns a generated password, if one was.

        With a configured password, the configured user (``admin`` by default) is created
        as an admin unless it exists (the password only bootstraps: change it later
        through the API). Without one, and with no admin in the database, ``admin`` is
        created with a random password, logged once at WARNING by the process that created
        it. There is never a fixed default password.
        """
        config = self.config
        username = check_name(config.admin_username, "TRACKLET_AUTH_ADMIN_USERNAME", username=True)
        password = config.admin_password
        if password is None and self.store.count_admins() > 0:
            return None
        existing = self.store.find_user(username)
        if existing is not None:
            if not existing.is_admin and self.store.count_admins() == 0:
                logger.warning(
                    "No admin user exists and user %r is not an admin. Set TRACKLET_AUTH_ADMIN_USERNAME "
                    "(and TRACKLET_AUTH_ADMIN_PASSWORD) to a new name to create one.",
                    username,
                )
            return None
        generated = password is None
        if password is None:
            password = random_password()
        try:
            self.store.create_user(username, hash_password(password), is_admin=True)
        except TrackletException as exc:
            if exc.error_code == RESOURCE_ALREADY_EXISTS:
                return None  # another worker or replica created it first
            raise
        if generated:
            logger.warning(
                "Created admin user %r with the generated password %r. It is shown only this once: "
                "log in and change it (PATCH /api/2.0/mlflow/users/update-password), or set "
                "TRACKLET_AUTH_ADMIN_USERNAME and TRACKLET_AUTH_ADMIN_PASSWORD before the first start.",
                username,
                password,
            )
            return password
        logger.info("Created admin user %r.", username)
        return None

    # -- authentication ------------------------------------------------------------------

    def _digest(self, password: str) -> bytes:
        return hmac.new(self._key, password.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()

    def authenticate_header(self, header: str | None) -> Caller:
        """The user an ``Authorization: Basic …`` header names, if the password is right;
        UNAUTHENTICATED otherwise."""
        if not header or header[:6].lower() != "basic ":
            raise TrackletException(_NOT_AUTHENTICATED, UNAUTHENTICATED)
        try:
            raw = base64.b64decode(header[6:].strip(), validate=True)
        except (binascii.Error, ValueError):
            raise TrackletException(_NOT_AUTHENTICATED, UNAUTHENTICATED) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        username, sep, password = text.partition(":")
        if not sep or not _valid_id(username) or len(password) > _MAX_PASSWORD:
            raise TrackletException(_BAD_CREDENTIALS, UNAUTHENTICATED)
        return self.verify(username, password)

    def verify(self, username: str, password: str) -> Caller:
        """The user, if ``password`` is theirs (from the cache when verified recently)."""
        key = (username, self._digest(password))
        cached = self._credentials.get(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        user = self.store.find_user(username)
        ok = verify_password(password, user.password_hash if user is not None else dummy_hash())
        if user is None or not ok:
            raise TrackletException(_BAD_CREDENTIALS, UNAUTHENTICATED)
        caller = Caller(user.id, user.username, user.is_admin)
        self._credentials.put(key, caller)
        self._callers.put(username, caller)
        return caller

    def caller(self, username: str) -> Caller:
        """The authenticated user called ``username`` (recently verified, or read back)."""
        cached = self._callers.get(username)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        user = self.store.find_user(username) if _valid_id(username) else None
        if user is None:
            raise TrackletException(_BAD_CREDENTIALS, UNAUTHENTICATED)
        caller = Caller(user.id, user.username, user.is_admin)
        self._callers.put(username, caller)
        return caller

    def forget_user(self, username: str) -> None:
        """Drop what this process cached about a user (password, admin flag or existence changed)."""
        self._credentials.drop(lambda key: key[0] == username)
        self._callers.drop(lambda key: key == username)
        self._grants.clear()
        self._visible.clear()

    # -- permissions ---------------------------------------------------------------------

    def permission(self, caller: Caller, experiment_id: str) -> Permission:
        """What ``caller`` may do on an experiment: everything for an admin, else their
        grant there, else the server's default."""
        if caller.is_admin:
            return MANAGE
        if not _valid_id(experiment_id):
            return self.default  # no grant can name it
        key = (caller.id, experiment_id)
        name = self._grants.get(key, _MISSING)
        if name is _MISSING:
            name = self.store.permission_of(caller.id, experiment_id)
            self._grants.put(key, name)
        return self.default if name is None else get_permission(name)

    def visible_experiment_ids(self, caller: Caller) -> set[str] | None:
        """The experiments ``caller`` may read; None when that is all of them."""
        if caller.is_admin or self.default.can_read:
            return None
        visible = self._visible.get(caller.id)
        if visible is None:
            visible = frozenset(
                g.experiment_id for g in self.store.grants_of(caller.id) if get_permission(g.permission).can_read
            )
            self._visible.put(caller.id, visible)
        return set(visible)

    def grants_changed(self, user_id: int | None = None) -> None:
        """Drop cached grants (of one user, or all) after a change through the API."""
        if user_id is None:
            self._grants.clear()
            self._visible.clear()
        else:
            self._grants.drop(lambda key: key[0] == user_id)
            self._visible.drop(lambda key: key == user_id)

    def grant_creator(self, caller: Caller, experiment_id: str) -> None:
        """MANAGE for whoever created an experiment."""
        self.store.set_grant(experiment_id, caller.id, MANAGE.name)
        self.grants_changed(caller.id)

    # -- runs ----------------------------------------------------------------------------

    def experiment_of_run(self, store: Any, run_id: str) -> str | None:
        """The experiment a run belongs to, or None if there is no such run."""
        experiment_id = self._runs.get(run_id)
        if experiment_id is not None:
            return experiment_id
        try:
            experiment_id = str(store.get_run(run_id).info.experiment_id)
        except TrackletException as exc:
            if exc.error_code in (RESOURCE_DOES_NOT_EXIST, INVALID_PARAMETER_VALUE):
                return None
            raise
        self.remember_run(run_id, experiment_id)
        return experiment_id

    def remember_run(self, run_id: str, experiment_id: str) -> None:
        with self._runs_lock:
            if len(self._runs) >= 100_000:
                self._runs.clear()
            self._runs[run_id] = experiment_id


_services: dict[tuple[int, str, str | None], AuthService] = {}
_services_lock = threading.Lock()


def service_for(settings: Any) -> AuthService:
    """The process's :class:`AuthService` for a server's settings (made on first use; a
    forked child makes its own rather than sharing its parent's connections)."""
    key = (os.getpid(), settings.backend_store_uri, settings.auth_db_uri)
    service = _services.get(key)
    if service is None:
        with _services_lock:
            service = _services.get(key)
            if service is None:
                config = load_config(settings.backend_store_uri, settings.auth_db_uri)
                service = _services[key] = AuthService(config)
    return service
