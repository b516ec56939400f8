"""MLflow's users and permissions REST API, as its basic-auth app serves it.

Under ``/api/2.0/mlflow`` (and the web UI's ``/ajax-api/2.0/mlflow``):

=================================  ======  ==================================================
path                               method  who may call it
=================================  ======  ==================================================
users/create                       POST    admins
users/get                          GET     admins, and a user about themselves
users/list                         GET     admins
users/current                      GET     anyone signed in
users/update-password              PATCH   admins, and a user for themselves (with
                                           ``current_password``, as MLflow 3 requires)
users/update-admin                 PATCH   admins
users/delete                       DELETE  admins (not themselves)
experiments/permissions/create     POST    admins, and users with MANAGE on the experiment
experiments/permissions/get        GET     same
experiments/permissions/update     PATCH   same
experiments/permissions/delete     DELETE  same
registered-models/permissions/     POST    admins, and users with MANAGE on the registered
create                                     model
registered-models/permissions/get  GET     same
registered-models/permissions/     PATCH   same
update
registered-models/permissions/     DELETE  same
delete
=================================  ======  ==================================================

and MLflow 3's per-user grant API under ``/api/3.0/mlflow`` (what ``mlflow``'s own
``AuthServiceClient.grant_user_permission`` & co. call; ``resource_type`` is
``experiment`` or ``registered_model``): ``users/permissions/grant`` (POST), ``users/permissions/revoke`` (POST),
``users/permissions/get`` (GET; admins and the user themselves, as in MLflow without
workspaces: answering MANAGE holders too told anyone who had created an experiment which
user names exist and which are admins). For a non-admin, ``experiments/permissions/get``
answers alike whether the user or only the grant is missing.

GET takes query parameters; POST and PATCH a JSON body (``Content-Type:
application/json``); DELETE a JSON body or query parameters. Answers are JSON, errors
MLflow's ``{"error_code", "message"}``. MLflow's HTML sign-up page (``/signup``) is not
served: admins create users through ``users/create``.

Every call is authenticated from its headers (:meth:`Authorizer.authenticate_scope`)
before its body is read: a stranger gets 401 (or 429 over the failed-login limit, with
``Retry-After``) and ``Connection: close``, and the server reads nothing more.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tracklet.exceptions import (
    BAD_REQUEST,
    INTERNAL_ERROR,
    TrackletException,
    http_status_for,
)

from .authorizer import Authorizer, refusal_headers
from .handlers import (
    Data,
    Handler,
    create_experiment_permission,
    create_registered_model_permission,
    create_user,
    current_user,
    delete_experiment_permission,
    delete_registered_model_permission,
    delete_user,
    get_experiment_permission,
    get_registered_model_permission,
    get_user,
    get_user_permission,
    grant_user_permission,
    list_users,
    revoke_user_permission,
    update_admin,
    update_experiment_permission,
    update_password,
    update_registered_model_permission,
)
from .permissions import GRANTABLE
from .service import AuthService

__all__ = ["AUTH_ROUTES", "OPENAPI_PATHS", "OPENAPI_SCHEMAS", "auth_routes"]

logger = logging.getLogger("tracklet_http.server.auth")

#: Largest request body the auth API reads.
MAX_BODY = 64 * 1024


# -- the route table ----------------------------------------------------------------------------

_USERNAME = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^:\u0000]+$"}
_PASSWORD = {"type": "string", "minLength": 12, "maxLength": 4096}
# MLflow's clients send experiment ids as strings; older code sends numbers, also accepted.
_EXPERIMENT_ID = {
    "oneOf": [
        {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^\u0000]+$"},
        {"type": "integer"},
    ]
}
_MODEL_NAME = {"type": "string", "minLength": 1, "maxLength": 256, "pattern": "^[^\u0000]+$"}
_PERMISSION = {"type": "string", "enum": list(GRANTABLE)}
_RESOURCE_TYPE = {"type": "string", "enum": ["experiment", "registered_model"]}
# an experiment id, or a registered model's name
_RESOURCE_ID = {"oneOf": [_MODEL_NAME, {"type": "integer"}]}
_EMPTY: Data = {"type": "object", "properties": {}}
_USER_REF = {"$ref": "#/components/schemas/AuthUser"}
_GRANT_REF = {"$ref": "#/components/schemas/ExperimentPermission"}
_MODEL_GRANT_REF = {"$ref": "#/components/schemas/RegisteredModelPermission"}


@dataclass(frozen=True)
class AuthRoute:
    """One route of the auth API: where, how, what it reads and answers."""

    name: str
    method: str
    path: str
    handler: Handler
    fields: tuple[tuple[str, Data, bool], ...]
    response: Data
    summary: str
    version: str = "2.0"

    @property
    def url_path(self) -> str:
        return f"/api/{self.version}/mlflow{self.path}"

    @property
    def ajax_path(self) -> str:
        return f"/ajax-api/{self.version}/mlflow{self.path}"


AUTH_ROUTES: tuple[AuthRoute, ...] = (
    AuthRoute(
        "create_user",
        "POST",
        "/users/create",
        create_user,
        (("username", _USERNAME, True), ("password", _PASSWORD, True)),
        {"type": "object", "properties": {"user": _USER_REF}},
        "Create a user (admins).",
    ),
    AuthRoute(
        "get_user",
        "GET",
        "/users/get",
        get_user,
        (("username", _USERNAME, True),),
        {"type": "object", "properties": {"user": _USER_REF}},
        "Get a user with their experiment permissions (admins, or the user themselves).",
    ),
    AuthRoute(
        "list_users",
        "GET",
        "/users/list",
        list_users,
        (),
        {
            "type": "object",
            "properties": {
                "users": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "username": {"type": "string"},
                            "is_admin": {"type": "boolean"},
                        },
                    },
                }
            },
        },
        "List users (admins).",
    ),
    AuthRoute(
        "get_current_user",
        "GET",
        "/users/current",
        current_user,
        (),
        {"type": "object", "properties": {"user": {"type": "object"}, "is_basic_auth": {"type": "boolean"}}},
        "The signed-in user.",
    ),
    AuthRoute(
        "update_user_password",
        "PATCH",
        "/users/update-password",
        update_password,
        (
            ("username", _USERNAME, True),
            ("password", _PASSWORD, True),
            ("current_password", {"type": "string", "maxLength": 4096}, False),
        ),
        _EMPTY,
        "Change a password (admins; users their own, with current_password).",
    ),
    AuthRoute(
        "update_user_admin",
        "PATCH",
        "/users/update-admin",
        update_admin,
        (("username", _USERNAME, True), ("is_admin", {"type": "boolean"}, True)),
        _EMPTY,
        "Make a user an admin, or not (admins).",
    ),
    AuthRoute(
        "delete_user",
        "DELETE",
        "/users/delete",
        delete_user,
        (("username", _USERNAME, True),),
        _EMPTY,
        "Delete a user and their permissions (admins; not themselves).",
    ),
    AuthRoute(
        "create_experiment_permission",
        "POST",
        "/experiments/permissions/create",
        create_experiment_permission,
        (
            ("experiment_id", _EXPERIMENT_ID, True),
            ("username", _USERNAME, True),
            ("permission", _PERMISSION, True),
        ),
        {"type": "object", "properties": {"experiment_permission": _GRANT_REF}},
        "Grant a user a permission on an experiment (MANAGE on it).",
    ),
    AuthRoute(
        "get_experiment_permission",
        "GET",
        "/experiments/permissions/get",
        get_experiment_permission,
        (("experiment_id", _EXPERIMENT_ID, True), ("username", _USERNAME, True)),
        {"type": "object", "properties": {"experiment_permission": _GRANT_REF}},
        "A user's permission on an experiment (MANAGE on it).",
    ),
    AuthRoute(
        "update_experiment_permission",
        "PATCH",
        "/experiments/permissions/update",
        update_experiment_permission,
        (
            ("experiment_id", _EXPERIMENT_ID, True),
            ("username", _USERNAME, True),
            ("permission", _PERMISSION, True),
        ),
        _EMPTY,
        "Change a user's permission on an experiment (MANAGE on it).",
    ),
    AuthRoute(
        "delete_experiment_permission",
        "DELETE",
        "/experiments/permissions/delete",
        delete_experiment_permission,
        (("experiment_id", _EXPERIMENT_ID, True), ("username", _USERNAME, True)),
        _EMPTY,
        "Take a user's permission on an experiment away (MANAGE on it).",
    ),
    AuthRoute(
        "create_registered_model_permission",
        "POST",
        "/registered-models/permissions/create",
        create_registered_model_permission,
        (("name", _MODEL_NAME, True), ("username", _USERNAME, True), ("permission", _PERMISSION, True)),
        {"type": "object", "properties": {"registered_model_permission": _MODEL_GRANT_REF}},
        "Grant a user a permission on a registered model (MANAGE on it).",
    ),
    AuthRoute(
        "get_registered_model_permission",
        "GET",
        "/registered-models/permissions/get",
        get_registered_model_permission,
        (("name", _MODEL_NAME, True), ("username", _USERNAME, True)),
        {"type": "object", "properties": {"registered_model_permission": _MODEL_GRANT_REF}},
        "A user's permission on a registered model (MANAGE on it).",
    ),
    AuthRoute(
        "update_registered_model_permission",
        "PATCH",
        "/registered-models/permissions/update",
        update_registered_model_permission,
        (("name", _MODEL_NAME, True), ("username", _USERNAME, True), ("permission", _PERMISSION, True)),
        _EMPTY,
        "Change a user's permission on a registered model (MANAGE on it).",
    ),
    AuthRoute(
        "delete_registered_model_permission",
        "DELETE",
        "/registered-models/permissions/delete",
        delete_registered_model_permission,
        (("name", _MODEL_NAME, True), ("username", _USERNAME, True)),
        _EMPTY,
        "Take a user's permission on a registered model away (MANAGE on it).",
    ),
    AuthRoute(
        "grant_user_permission",
        "POST",
        "/users/permissions/grant",
        grant_user_permission,
        (
            ("username", _USERNAME, True),
            ("resource_type", _RESOURCE_TYPE, True),
            ("resource_id", _RESOURCE_ID, True),
            ("permission", _PERMISSION, True),
        ),
        _EMPTY,
        "MLflow 3: grant a user a permission on an experiment or registered model (MANAGE on it).",
        "3.0",
    ),
    AuthRoute(
        "revoke_user_permission",
        "POST",
        "/users/permissions/revoke",
        revoke_user_permission,
        (
            ("username", _USERNAME, True),
            ("resource_type", _RESOURCE_TYPE, True),
            ("resource_id", _RESOURCE_ID, True),
        ),
        _EMPTY,
        "MLflow 3: take a user's permission on an experiment or registered model away (MANAGE on it).",
        "3.0",
    ),
    AuthRoute(
        "get_user_permission",
        "GET",
        "/users/permissions/get",
        get_user_permission,
        (
            ("username", _USERNAME, True),
            ("resource_type", _RESOURCE_TYPE, True),
            ("resource_id", _RESOURCE_ID, True),
        ),
        {"type": "object", "properties": {"allowed": {"type": "boolean"}, "permission": {"type": "string"}}},
        "MLflow 3: a user's effective permission on an experiment or registered model.",
        "3.0",
    ),
)


# -- serving ------------------------------------------------------------------------------------


def _answer(status: int, body: Data, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status_code=status, headers=headers, media_type="application/json")


def _error(exc: BaseException, scope: Any) -> Response:
    if isinstance(exc, TrackletException):
        status = http_status_for(exc.error_code)
        headers = refusal_headers(exc, scope) if status in (401, 429) else None  # before the body was read
        return _answer(status, {"error_code": exc.error_code, "message": exc.message}, headers)
    logger.error("Unexpected error in the auth API", exc_info=exc)
    return _answer(
        500, {"error_code": INTERNAL_ERROR, "message": "Internal server error: see the server's log."}
    )


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise TrackletException(
            f"Request body too large: the auth API reads at most {MAX_BODY} bytes.", BAD_REQUEST
        )
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_BODY:
            raise TrackletException(
                f"Request body too large: the auth API reads at most {MAX_BODY} bytes.", BAD_REQUEST
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _is_json(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower() == "application/json"


async def _data(request: Request) -> Data:
    """The request's fields: query parameters for GET (and DELETE without a JSON body),
    else the JSON object in the body."""
    if request.method == "GET" or (request.method == "DELETE" and not _is_json(request)):
        return dict(request.query_params)
    body = await _body(request)
    if request.method == "DELETE" and not body.strip():
        return dict(request.query_params)
    if not _is_json(request):
        raise TrackletException("Bad Request. Content-Type must be 'application/json'.", BAD_REQUEST)
    try:
        data = json.loads(body) if body.strip() else {}
    except (ValueError, RecursionError) as exc:
        raise TrackletException(f"Malformed JSON in the request body: {exc}", BAD_REQUEST) from None
    if not isinstance(data, dict):
        raise TrackletException(
            f"The request body must be a JSON object, not {type(data).__name__}.", BAD_REQUEST
        )
    return data


def _call(route: AuthRoute, service: AuthService, username: str, data: Data) -> Data:
    return route.handler(service, service.caller(username), data)


def _endpoint(route: AuthRoute, settings: Any) -> Callable[[Request], Any]:
    own: list[Authorizer] = []  # made on first use when the app has no authorizer of its own

    async def endpoint(request: Request) -> Response:
        try:
            authorizer = getattr(request.app.state, "authorizer", None)
            if not isinstance(authorizer, Authorizer):
                if not own:
                    own.append(await run_in_threadpool(Authorizer, settings))
                authorizer = own[0]
            username = await authorizer.authenticate_scope(request.scope)  # before the body
            data = await _data(request)
            result = await run_in_threadpool(_call, route, authorizer.service, username, data)
            return _answer(200, result)
        except Exception as exc:  # noqa: BLE001 - every failure is an MLflow error answer
            return _error(exc, request.scope)

    endpoint.__name__ = route.name
    return endpoint


def auth_routes(settings: Any) -> list[BaseRoute]:
    """Starlette routes for the users and permissions API (both prefixes of each)."""
    routes: list[BaseRoute] = []
    for route in AUTH_ROUTES:
        endpoint = _endpoint(route, settings)
        for path in (route.url_path, route.ajax_path):
            routes.append(Route(path, endpoint, methods=[route.method], name=f"{route.name}:{path}"))
    return routes


# -- OpenAPI ------------------------------------------------------------------------------------

_ERROR = {"$ref": "#/components/schemas/Error"}


def _error_response(description: str) -> Data:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _operation(route: AuthRoute) -> Data:
    op: Data = {"operationId": route.name, "summary": route.summary, "tags": ["auth"]}
    if route.method == "GET":
        op["parameters"] = [
            {"name": name, "in": "query", "required": required, "schema": copy.deepcopy(schema)}
            for name, schema, required in route.fields
        ]
    else:
        body: Data = {
            "type": "object",
            "properties": {name: copy.deepcopy(schema) for name, schema, _ in route.fields},
        }
        required_names = [name for name, _, required in route.fields if required]
        if required_names:
            body["required"] = required_names
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    op["responses"] = {
        "200": {
            "description": "Success.",
            "content": {"application/json": {"schema": copy.deepcopy(route.response)}},
        },
        "400": _error_response(
            "A missing or invalid field (INVALID_PARAMETER_VALUE), a malformed body "
            "(BAD_REQUEST), or a name already taken (RESOURCE_ALREADY_EXISTS)."
        ),
        "401": _error_response("No or wrong credentials (UNAUTHENTICATED)."),
        "403": _error_response("The caller may not do this (PERMISSION_DENIED)."),
        "404": _error_response("No such user or permission (RESOURCE_DOES_NOT_EXIST)."),
        "429": _error_response(
            "Too many failed logins from this address, or too many being checked "
            "(REQUEST_LIMIT_EXCEEDED); wait for the Retry-After header's seconds."
        ),
    }
    return op


#: OpenAPI path items of the auth API (merged into /openapi.json by the server).
OPENAPI_PATHS: dict[str, Data] = {}
for _route in AUTH_ROUTES:
    OPENAPI_PATHS.setdefault(_route.url_path, {})[_route.method.lower()] = _operation(_route)

#: Object schemas the path items refer to.
OPENAPI_SCHEMAS: dict[str, Data] = {
    "ExperimentPermission": {
        "type": "object",
        "properties": {
            "experiment_id": {"type": "string"},
            "user_id": {"type": "integer"},
            "permission": {"type": "string", "enum": list(GRANTABLE)},
        },
    },
    "RegisteredModelPermission": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "user_id": {"type": "integer"},
            "permission": {"type": "string", "enum": list(GRANTABLE)},
        },
    },
    "AuthUser": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "username": {"type": "string"},
            "is_admin": {"type": "boolean"},
            "experiment_permissions": {"type": "array", "items": _GRANT_REF},
            "registered_model_permissions": {"type": "array", "items": _MODEL_GRANT_REF},
        },
    },
}
