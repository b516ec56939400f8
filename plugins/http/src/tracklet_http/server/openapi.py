"""The OpenAPI 3.0 document at ``/openapi.json``, generated from the wire definition.

Every operation comes from :data:`tracklet_http.protocol.ENDPOINTS` and every object
schema from :data:`tracklet_http.protocol.SCHEMAS`, the same tables the server parses
requests with, so the document cannot describe a field the server does not read. A
POST takes a JSON body (``requestBody``), a GET query parameters (a repeated field is
a repeated parameter). Answers: 200 with the endpoint's response fields; 400, 404 and
500 (and 501) with ``#/components/schemas/Error`` (401, 403 and 429 too when auth is on). The artifact
proxy and the auth API add their own path items (``OPENAPI_PATHS`` of
:mod:`tracklet_http.server.artifacts` and :mod:`tracklet_http.server.auth`) when
they are served.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from tracklet.routes import Route
from tracklet_http.protocol import API_PREFIX, ENDPOINTS, SCALAR_SCHEMAS, SCHEMAS, Endpoint, Field
from tracklet_http.server.settings import ServerSettings

API3_PREFIX = "/api/3.0/mlflow"

__all__ = ["build_openapi", "field_schema"]

ERROR_REF = {"$ref": "#/components/schemas/Error"}
_INT_RANGES = {"int64": 63, "int32": 31}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def _scalar(type_: str) -> dict[str, Any]:
    bits = _INT_RANGES.get(type_)
    if bits is not None:
        # The server refuses integers that do not fit the field; the document says so.
        bounded = {"type": "integer", "minimum": -(2**bits), "maximum": 2**bits - 1}
        digits = 18 if bits == 63 else 9
        return {"oneOf": [bounded, {"type": "string", "pattern": f"^-?[0-9]{{1,{digits}}}$"}]}
    if type_ in SCALAR_SCHEMAS:
        return copy.deepcopy(SCALAR_SCHEMAS[type_])
    return {"$ref": f"#/components/schemas/{type_}"}


def field_schema(f: Field) -> dict[str, Any]:
    """A request field's JSON Schema (an array of the type when ``repeated``)."""
    schema = _scalar(f.type)
    if f.repeated:
        schema = {"type": "array", "items": schema}
    if f.doc:
        schema = {**schema, "description": f.doc} if "$ref" not in schema else schema
    return schema


def _response_schema(endpoint: Endpoint) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name, type_ in endpoint.response.items():
        if type_.endswith("[]"):
            properties[name] = {"type": "array", "items": _scalar(type_[:-2])}
        elif type_ in SCALAR_SCHEMAS:
            properties[name] = copy.deepcopy(SCALAR_SCHEMAS[type_])
        else:
            properties[name] = {"$ref": f"#/components/schemas/{type_}"}
    return {"type": "object", "properties": properties}


def _operation(endpoint: Endpoint, method: str, auth: bool) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": endpoint.name if method == endpoint.method else f"{endpoint.name}_{method.lower()}",
        "summary": endpoint.summary or endpoint.name,
        "tags": [endpoint.path.strip("/").split("/", 1)[0]],
    }
    if method == "GET":
        op["parameters"] = [
            {
                "name": f.name,
                "in": "query",
                "required": f.required,
                "schema": field_schema(f),
                **({"style": "form", "explode": True} if f.repeated else {}),
                **({"description": f.doc} if f.doc else {}),
            }
            for f in endpoint.request
        ]
    else:
        required = [f.name for f in endpoint.request if f.required]
        body: dict[str, Any] = {
            "type": "object",
            "properties": {f.name: field_schema(f) for f in endpoint.request},
        }
        if required:
            body["required"] = required
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    responses: dict[str, Any] = {
        "200": {
            "description": "Success.",
            "content": {"application/json": {"schema": _response_schema(endpoint)}},
        },
        "400": _error(
            "Refused: a missing or invalid field (INVALID_PARAMETER_VALUE), malformed JSON or a "
            "body over the size limit (BAD_REQUEST), a name already taken (RESOURCE_ALREADY_EXISTS), "
            "or a write to a deleted run or experiment (INVALID_STATE)."
        ),
        "404": _error("A run or experiment that does not exist (RESOURCE_DOES_NOT_EXIST)."),
        "500": _error("An internal error (INTERNAL_ERROR): the server's log has the details."),
        "501": _error("The backend store lacks the feature (FEATURE_DISABLED), e.g. dataset inputs."),
    }
    if auth:
        responses["401"] = _error("No or wrong credentials (UNAUTHENTICATED).")
        responses["403"] = _error("The user may not do this (PERMISSION_DENIED).")
        responses["429"] = _error(
            "Too many failed logins from this address, or for this user from it "
            "(REQUEST_LIMIT_EXCEEDED); retry after the Retry-After header's seconds."
        )
    op["responses"] = responses
    return op


def _text_operation(operation_id: str, summary: str, content_type: str = "text/plain") -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "tags": ["server"],
            "responses": {
                "200": {"description": summary, "content": {content_type: {"schema": {"type": "string"}}}}
            },
        }
    }


def _contributed_operation(route: Route, method: str, auth: bool) -> dict[str, Any]:
    endpoint = Endpoint(
        route.name, route.method, route.path, tuple(route.fields), also=route.also, summary=route.summary
    )
    names = route.path_param_names
    if names:  # path parameters are not body fields too
        endpoint = Endpoint(
            endpoint.name,
            endpoint.method,
            endpoint.path,
            tuple(f for f in endpoint.request if f.name not in names),
            also=endpoint.also,
            summary=endpoint.summary,
        )
    op = _operation(endpoint, method, auth)
    rest = route.path
    for prefix in (API_PREFIX, API3_PREFIX):
        if route.path.startswith(prefix + "/"):
            rest = route.path[len(prefix) :]
    op["tags"] = [rest.strip("/").split("/", 1)[0]]
    op["responses"]["200"]["content"]["application/json"]["schema"] = {"type": "object"}
    if names:
        path_params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in names
        ]
        op["parameters"] = path_params + [p for p in op.get("parameters", []) if p["name"] not in names]
    if route.permission is not None and auth:
        p = route.permission
        op["description"] = f"Needs {p.level} on the {p.resource.replace('_', ' ')} named by '{p.key}'."
    return op


def _otlp_operation(auth: bool) -> dict[str, Any]:
    detail = {"type": "object", "properties": {"detail": {}}}
    refusal = {"content": {"application/json": {"schema": detail}}}
    responses: dict[str, Any] = {
        "200": {
            "description": "Stored: an empty ExportTraceServiceResponse.",
            "content": {"application/x-protobuf": {"schema": {"type": "string", "format": "binary"}}},
        },
        "400": {"description": "A bad Content-Type, Content-Encoding or body (no spans).", **refusal},
        "422": {
            "description": "No x-mlflow-experiment-id header, or a span that cannot be converted.",
            **refusal,
        },
        "501": {"description": "The backend store keeps no traces.", **refusal},
    }
    if auth:
        responses["401"] = _error("No or wrong credentials (UNAUTHENTICATED).")
        responses["403"] = _error("The user may not edit the experiment (PERMISSION_DENIED).")
    return {
        "post": {
            "operationId": "otlp_export_traces",
            "summary": "OTLP/HTTP trace receiver: an ExportTraceServiceRequest into an experiment.",
            "tags": ["traces"],
            "parameters": [
                {
                    "name": "x-mlflow-experiment-id",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "the experiment the spans' traces go to",
                }
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                    "application/json": {"schema": {"type": "object", "description": "OTLP/JSON"}},
                },
            },
            "responses": responses,
        }
    }


def build_openapi(settings: ServerSettings, routes: Sequence[Route] = ()) -> dict[str, Any]:
    """The whole document for a server started with ``settings``, with the ``routes``
    plugins contribute."""
    from tracklet import __version__

    paths: dict[str, Any] = {}
    for endpoint in ENDPOINTS:
        item = paths.setdefault(API_PREFIX + endpoint.path, {})
        for method in endpoint.methods:
            item[method.lower()] = _operation(endpoint, method, settings.auth)
    for route in routes:
        item = paths.setdefault(route.path, {})
        for method in route.methods:
            item[method.lower()] = _contributed_operation(route, method, settings.auth)
    paths["/health"] = _text_operation("health", "Liveness probe: answers OK.")
    paths["/version"] = _text_operation(
        "version",
        "The MLflow version whose REST API the server speaks (MLflow's client gates features on "
        "it); tracklet's own version is in the X-Tracklet-Version header.",
    )
    paths["/metrics"] = _text_operation("metrics", "Prometheus metrics.")
    paths["/v1/traces"] = _otlp_operation(settings.auth)
    schemas = copy.deepcopy(SCHEMAS)
    from tracklet_http.server import ui_artifacts

    parts = [(ui_artifacts.OPENAPI_PATHS, {})]
    if settings.serve_artifacts:
        from tracklet_http.server import artifacts

        parts.append((artifacts.OPENAPI_PATHS, artifacts.OPENAPI_SCHEMAS))
    if settings.auth:
        from tracklet_http.server import auth

        parts.append((auth.OPENAPI_PATHS, auth.OPENAPI_SCHEMAS))
    for part_paths, part_schemas in parts:
        paths.update(copy.deepcopy(part_paths))
        schemas.update(copy.deepcopy(part_schemas))
    document: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": "tracklet tracking server",
            "version": str(__version__),
            "description": (
                "MLflow's tracking REST API 2.0 (and MLflow 3's trace API under /api/3.0/mlflow) as "
                "served by `tracklet server`. Every operation is also served under /ajax-api/2.0/mlflow "
                "(/ajax-api/3.0/mlflow: MLflow's web UI prefix). POST /v1/traces is an OTLP/HTTP "
                "trace receiver. int64 fields accept a JSON "
                'integer or a decimal string; doubles accept "NaN", "Infinity" and "-Infinity".'
            ),
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }
    if settings.auth:
        document["components"]["securitySchemes"] = {"basic": {"type": "http", "scheme": "basic"}}
        document["security"] = [{"basic": []}]
        for open_path in ("/health", "/version", "/metrics"):
            paths[open_path]["get"]["security"] = []  # answered without credentials
    return document
