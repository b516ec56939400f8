"""Basic authentication with per-experiment and per-registered-model permissions for
``tracklet server --auth``.

MLflow's basic-auth app, rebuilt for tracklet: users with scrypt-hashed passwords and
READ / USE / EDIT / MANAGE grants on experiments and registered models, kept in SQL (the
tracking database itself when it is SQL, so replicas share them); the same REST API for
users and permissions; the same rules for which call needs which permission, also for
the routes plugins contribute (:mod:`~tracklet_http.server.auth.registry`).

* :class:`Authorizer` — what the server consults on each call;
* :func:`auth_routes` — the users and permissions API, as Starlette routes;
* :data:`OPENAPI_PATHS` / :data:`OPENAPI_SCHEMAS` — that API in the OpenAPI document.
"""

from __future__ import annotations

from .authorizer import ENDPOINT_RULES, Authorizer
from .routes import AUTH_ROUTES, OPENAPI_PATHS, OPENAPI_SCHEMAS, auth_routes

__all__ = ["AUTH_ROUTES", "ENDPOINT_RULES", "OPENAPI_PATHS", "OPENAPI_SCHEMAS", "Authorizer", "auth_routes"]
