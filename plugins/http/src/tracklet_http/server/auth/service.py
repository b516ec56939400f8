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
  the same for (user, registered model), and each user's readable experiments and models;
* run -> experiment: forever (a run never changes experiment; unknown runs are not cached).

Another replica (or worker process) does not see this process's invalidations: there a
changed password, a deleted user or a changed admin flag takes effect within
``credential_ttl``, and a changed grant within ``permission_ttl``.

Authentication, cheapest first (:meth:`AuthService.authenticate_async` on the event loop,
:meth:`AuthService.authenticate_header` on a thread):

1. the header is decoded: the user name must be UTF-8, the password is kept as the exact
   bytes sent (no decoding, truncation or normalisation up to the hash);
2. a credential verified within ``credential_ttl`` is answered from the cache: one HMAC;
3. otherwise a client address over a failed-login limit is answered 429 (Retry-After),
   and a password no account can have (under 12 bytes, over 16 KiB, or with a NUL) 401,
   both without hashing (:class:`~tracklet_http.server.auth.limits.FailureLimiter`);
4. otherwise the users-table lookup and scrypt run on the process's few hashing threads
   (:class:`~tracklet_http.server.auth.limits.HashingPool`, a bounded queue: 429 beyond
   it), never on the event loop; a failure is counted, a success clears the user's count
   from that address and, for a hash in the older format, stores a new one.

Hashes for new passwords (``users/create``, ``users/update-password``) are made on the
same pool, so no more scrypt runs at once than it allows.
"""

from __future__ import annotations

import asyncio
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

from .config import AuthConfig, load_config
from .limits import THROTTLED_ANSWER_DELAY, FailureLimiter, HashingPool, LoginThrottled
from .passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    dummy_hash,
    hash_password,
    needs_rehash,
    password_problem,
    random_password,
    verify_password,
)
from .permissions import MANAGE, Permission, get_permission
from .store import MAX_MODEL_NAME, MAX_NAME, AuthStore

__all__ = ["AuthService", "Caller", "TTLCache", "check_name", "check_password", "service_for"]

logger = logging.getLogger("tracklet_http.server.auth")

UNAUTHENTICATED = "UNAUTHENTICATED"
_NOT_AUTHENTICATED = (
    "You are not authenticated: send a user name and password with HTTP basic authentication "
    "(clients read them from MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or "
    "TRACKLET_TRACKING_USERNAME and TRACKLET_TRACKING_PASSWORD)."
)
_BAD_CREDENTIALS = "Invalid username or password."
_NOT_UTF8 = "Invalid username or password: send the user name and password encoded as UTF-8."
# the most bytes a password of MAX_PASSWORD_LENGTH characters has in UTF-8
_MAX_PASSWORD_BYTES = 4 * MAX_PASSWORD_LENGTH
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
    """A new password: a string of 12 to 4096 characters without control characters
    (:func:`~tracklet_http.server.auth.passwords.password_problem`)."""
    problem = password_problem(value)
    if problem is not None:
        raise _bad(f"Invalid value for parameter '{field}': {problem}.")
    return value  # type: ignore[no-any-return]


def _basic_credentials(header: str | None) -> tuple[str, bytes]:
    """(user name, password bytes) from an ``Authorization: Basic …`` header. The password
    is kept as the exact bytes sent; the name must be UTF-8, as MLflow's server requires."""
    if not header or header[:6].lower() != "basic ":
        raise TrackletException(_NOT_AUTHENTICATED, UNAUTHENTICATED)
    try:
        raw = base64.b64decode(header[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        raise TrackletException(_NOT_AUTHENTICATED, UNAUTHENTICATED) from None
    name, sep, password = raw.partition(b":")
    try:
        username = name.decode("utf-8")
    except UnicodeDecodeError:
        raise TrackletException(_NOT_UTF8, UNAUTHENTICATED) from None
    if not sep or not _valid_id(username):
        raise TrackletException(_BAD_CREDENTIALS, UNAUTHENTICATED)
    return username, password


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
        self._model_grants = TTLCache(config.permission_ttl, max_size=100_000)
        self._visible_models = TTLCache(config.permission_ttl)
        self._runs: dict[str, str] = {}
        self._runs_lock = threading.Lock()
        self.limiter = FailureLimiter(config.max_failures, config.max_address_failures, config.failure_window)
        self.hashing = HashingPool(config.hash_threads, config.hash_queue)
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

    def _digest(self, password: bytes) -> bytes:
        return hmac.new(self._key, password, hashlib.sha256).digest()

    def authenticate_header(self, header: str | None, address: str = "") -> Caller:
        """The user an ``Authorization: Basic …`` header names, if the password is right;
        UNAUTHENTICATED (401) otherwise, REQUEST_LIMIT_EXCEEDED (429) when ``address`` (the
        client's) is over a failed-login limit. Blocks this thread while a password is
        checked: event-loop code awaits :meth:`authenticate_async` instead."""
        return self.verify(*_basic_credentials(header), address=address)

    async def authenticate_async(self, header: str | None, address: str = "") -> Caller:
        """:meth:`authenticate_header` for the event loop: a recently verified credential is
        answered at once (one HMAC); anything else is checked on the hashing pool."""
        username, password = _basic_credentials(header)
        try:
            key, cached = self._fast_path(username, password, address)
            if cached is not None:
                return cached
            return await self.hashing.run_async(self._check, username, password, address, key)
        except LoginThrottled:
            # a client ignoring Retry-After gets about one answer a second per connection,
            # instead of keeping the event loop busy with refusals
            await asyncio.sleep(THROTTLED_ANSWER_DELAY)
            raise

    def verify(self, username: str, password: str | bytes, address: str = "") -> Caller:
        """The user, if ``password`` (a str is taken as its UTF-8 bytes) is theirs."""
        secret = password.encode("utf-8") if isinstance(password, str) else password
        key, cached = self._fast_path(username, secret, address)
        if cached is not None:
            return cached
        return self.hashing.run(self._check, username, secret, address, key)

    def _fast_path(
        self, username: str, password: bytes, address: str
    ) -> tuple[tuple[str, bytes], Caller | None]:
        """(cache key, the caller if this credential was verified recently). On a miss,
        before any hashing: refuse a login over a limit (429), and one whose password no
        account can have (401, counted as a failure)."""
        key = (username, self._digest(password))
        cached: Caller | None = self._credentials.get(key)
        if cached is None:
            self.limiter.check(username, address)
            if not MIN_PASSWORD_LENGTH <= len(password) <= _MAX_PASSWORD_BYTES or b"\0" in password:
                self.limiter.failed(username, address)
                raise TrackletException(_BAD_CREDENTIALS, UNAUTHENTICATED)
        return key, cached

    def _check(self, username: str, password: bytes, address: str, key: tuple[str, bytes]) -> Caller:
        """The slow path, on the hashing pool: look the user up and run scrypt."""
        user = self.store.find_user(username)
        ok = verify_password(password, user.password_hash if user is not None else dummy_hash())
        if user is None or not ok:
            self.limiter.failed(username, address)
            raise TrackletException(_BAD_CREDENTIALS, UNAUTHENTICATED)
        self.limiter.succeeded(username, address)
        if needs_rehash(user.password_hash):
            self._rehash(username, password, user.password_hash)
        caller = Caller(user.id, user.username, user.is_admin)
        self._credentials.put(key, caller)
        self._callers.put(username, caller)
        return caller

    def _rehash(self, username: str, password: bytes, old_hash: str) -> None:
        try:
            self.store.replace_password_hash(username, old_hash, hash_password(password))
        except Exception as exc:  # noqa: BLE001 - the login stands; the next one tries again
            logger.warning("Could not store user %r's password in the current hash format: %r", username, exc)

    def hash_password(self, password: str) -> str:
        """A new hash of ``password``, made on the hashing pool (never more scrypt at once
        than the pool allows, whoever asks)."""
        return self.hashing.run(hash_password, password)

    def password_matches(self, username: str, password: str) -> bool:
        """Whether ``password`` is ``username``'s, checked on the hashing pool."""
        user = self.store.get_user(username)
        return self.hashing.run(verify_password, password, user.password_hash)

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
        self.model_grants_changed()

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
                g.experiment_id
                for g in self.store.grants_of(caller.id)
                if get_permission(g.permission).can_read
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
        self.model_grants_changed(user_id)

    def grant_creator(self, caller: Caller, experiment_id: str) -> None:
        """MANAGE for whoever created an experiment."""
        self.store.set_grant(experiment_id, caller.id, MANAGE.name)
        self.grants_changed(caller.id)

    # -- registered models ---------------------------------------------------------------

    def model_permission(self, caller: Caller, name: str) -> Permission:
        """What ``caller`` may do on the registered model called ``name``: everything for
        an admin, else their grant on it, else the server's default."""
        if caller.is_admin:
            return MANAGE
        if not isinstance(name, str) or not 0 < len(name) <= MAX_MODEL_NAME or "\x00" in name:
            return self.default  # no grant can name it
        key = (caller.id, name)
        permission = self._model_grants.get(key, _MISSING)
        if permission is _MISSING:
            permission = self.store.model_permission_of(caller.id, name)
            self._model_grants.put(key, permission)
        return self.default if permission is None else get_permission(permission)

    def visible_model_names(self, caller: Caller) -> set[str] | None:
        """The registered models ``caller`` may read; None when that is all of them."""
        if caller.is_admin or self.default.can_read:
            return None
        visible = self._visible_models.get(caller.id)
        if visible is None:
            visible = frozenset(
                g.name for g in self.store.model_grants_of(caller.id) if get_permission(g.permission).can_read
            )
            self._visible_models.put(caller.id, visible)
        return set(visible)

    def model_grants_changed(self, user_id: int | None = None) -> None:
        """Drop cached registered model grants (of one user, or all)."""
        if user_id is None:
            self._model_grants.clear()
            self._visible_models.clear()
        else:
            self._model_grants.drop(lambda key: key[0] == user_id)
            self._visible_models.drop(lambda key: key == user_id)

    def grant_model_creator(self, caller: Caller, name: str) -> None:
        """MANAGE for whoever created a registered model."""
        self.store.set_model_grant(name, caller.id, MANAGE.name)
        self.model_grants_changed(caller.id)

    def model_renamed(self, old_name: str, new_name: str) -> None:
        """A registered model was renamed: its grants follow it."""
        self.store.rename_model_grants(old_name, new_name)
        self.model_grants_changed()

    def model_deleted(self, name: str) -> None:
        """A registered model was deleted: its grants go with it."""
        self.store.delete_model_grants(name)
        self.model_grants_changed()

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
