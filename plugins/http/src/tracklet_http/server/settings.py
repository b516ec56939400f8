"""The server's settings: one frozen object, passed to worker processes through the
environment (``TRACKLET_SERVER_*``) so ``--workers N`` processes all see the same."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass

_ENV = "TRACKLET_SERVER_SETTINGS"

#: The default cap on a request body (JSON calls); artifact uploads are streamed and
#: not subject to it.
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
#: How long a client may take to send a request's line and headers (seconds), and how
#: many bytes they may take (a GET's query string included).
DEFAULT_HEADER_TIMEOUT = 30.0
DEFAULT_MAX_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True)
class ServerSettings:
    """Everything ``tracklet server`` was started with.

    :param backend_store_uri: tracking store URI, resolved by the installed plugins.
    :param default_artifact_root: artifact root for new experiments; with the proxy on,
        ``mlflow-artifacts:/`` so clients go through the server.
    :param artifacts_destination: where the proxy keeps artifacts (any artifact URI).
    :param serve_artifacts: whether the artifact proxy routes are served.
    :param auth: whether basic authentication is required.
    :param auth_db_uri: SQLAlchemy URI of the users/permissions database (None: the
        backend store's database when it is SQL, else ``sqlite:///basic_auth.db``).
    :param max_body_bytes: largest JSON request body accepted (bigger: 400).
    :param header_timeout: seconds a client has to send a request's line and headers
        (slower: 408 and the connection closed).
    :param max_header_bytes: largest request line and headers accepted (bigger: 431).
    :param allowed_hosts: Host header values answered besides loopback and private
        addresses (``*`` patterns).
    :param cors_allowed_origins: browser origins allowed to change state (``*`` patterns).
    :param registry_store_uri: the model registry's store URI, for the routes plugins
        contribute (None: the backend store URI).
    """

    backend_store_uri: str
    default_artifact_root: str = "mlflow-artifacts:/"
    artifacts_destination: str = "./mlartifacts"
    serve_artifacts: bool = True
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    auth: bool = False
    auth_db_uri: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    allowed_hosts: tuple[str, ...] = ()
    cors_allowed_origins: tuple[str, ...] = ()
    registry_store_uri: str | None = None

    def to_env(self) -> dict[str, str]:
        """The settings as an environment variable, for worker processes."""
        return {_ENV: json.dumps(dataclasses.asdict(self))}

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ServerSettings:
        """Read back what :meth:`to_env` wrote."""
        env = os.environ if environ is None else environ
        raw = env.get(_ENV)
        if not raw:
            raise RuntimeError(f"{_ENV} is not set: start the server with `tracklet server`.")
        values = json.loads(raw)
        for name in ("allowed_hosts", "cors_allowed_origins"):
            values[name] = tuple(values.get(name) or ())
        return cls(**values)
