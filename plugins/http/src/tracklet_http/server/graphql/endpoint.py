"""``POST /graphql`` (and ``GET /graphql?query=...``): MLflow's GraphQL endpoint, which
its web UI uses for the run page, the runs table's run details and sampled metric charts.

The request: a JSON object ``{"query", "variables", "operationName"}`` (POST, with
``Content-Type: application/json`` as MLflow requires), or the same names as query
parameters (GET). The answer, as MLflow's: ``200 {"data": ..., "errors": [message, ...]
or null}``; a request that is not GraphQL at all (no query, body not a JSON object) is
a 400 with MLflow's ``{"error_code", "message"}``, where MLflow answers a 500.

With ``--auth`` the caller is authenticated from the headers first (401 otherwise), then
every field is authorized as its REST endpoint (:mod:`.resolvers`). The document is
parsed and its size checked (:mod:`.limits`) on the event loop; it runs, with every
store call of its resolvers, in one hop to a worker thread.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from graphql import ExecutionResult, GraphQLError, GraphQLSchema, execute, parse, validate
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet_http.server.contributed import registry_holder
from tracklet_http.server.graphql.limits import QueryTooLarge, check_query_size
from tracklet_http.server.graphql.resolvers import RESOLVERS, Context
from tracklet_http.server.graphql.schema import build, proto_field

__all__ = ["graphql_endpoint", "schema"]

logger = logging.getLogger("tracklet_http.server.graphql")

_SCHEMA: GraphQLSchema | None = None
#: Headers a resolver never sees: the caller's credentials.
_PRIVATE_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


def schema() -> GraphQLSchema:
    """The schema, built on first use."""
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = build(RESOLVERS)
    return _SCHEMA


def _bad(message: str) -> TrackletException:
    return TrackletException(message, INVALID_PARAMETER_VALUE)


def _too_big(limit: int) -> TrackletException:
    return _bad(f"Request body too large: the limit is {limit} bytes (tracklet server --max-body-size).")


def _answer(data: Any, errors: list[str] | None) -> Response:
    body = json.dumps({"data": data, "errors": errors}, separators=(",", ":"), allow_nan=False)
    return Response(body, media_type="application/json")


async def _request_fields(request: Request) -> tuple[str, Any, Any]:
    """(query, variables, operationName) of a GET's query string or a POST's JSON body."""
    if request.method == "GET":
        fields: dict[str, Any] = dict(request.query_params)
        if isinstance(fields.get("variables"), str) and fields["variables"]:
            try:
                fields["variables"] = json.loads(fields["variables"])
            except ValueError:
                raise _bad("The 'variables' query parameter must be a JSON object.") from None
    else:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise _bad("Bad Request. Content-Type must be one of ['application/json'].")
        limit = request.app.state.settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:  # refused before a byte is read
            raise _too_big(limit)
        body = await request.body()
        if len(body) > limit:
            raise _too_big(limit)
        try:
            fields = json.loads(body) if body.strip() else {}
        except (ValueError, RecursionError) as exc:
            raise _bad(f"Malformed JSON in the request body: {exc}") from None
        if not isinstance(fields, dict):
            raise _bad('The request body must be a JSON object: {"query": ..., "variables": ...}.')
    query, variables, operation = fields.get("query"), fields.get("variables"), fields.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise _bad(
            'A GraphQL request needs a \'query\' string: {"query": "{ test(inputString: \\"x\\") { output } }"}.'
        )
    if variables is not None and not isinstance(variables, dict):
        raise _bad("'variables' must be a JSON object mapping each variable's name to its value.")
    if operation is not None and not isinstance(operation, str):
        raise _bad("'operationName' must be a string naming one operation of the query.")
    return query, variables, operation


def _run(context: Context, document: Any, variables: Any, operation: str | None) -> ExecutionResult:
    """Validation and execution: blocking (store calls), run on a worker thread."""
    current = schema()
    problems = validate(current, document)
    if problems:
        return ExecutionResult(None, problems)
    result = execute(
        current,
        document,
        context_value=context,
        variable_values=variables,
        operation_name=operation,
        field_resolver=proto_field,
    )
    assert not hasattr(result, "__await__"), "the resolvers are synchronous"
    return result


def _messages(errors: list[GraphQLError] | None) -> list[str] | None:
    if not errors:
        return None
    for error in errors:
        original = error.original_error
        if original is not None and not isinstance(original, (TrackletException, GraphQLError)):
            logger.warning("GraphQL field %s failed: %r", error.path, original, exc_info=original)
    return [error.message for error in errors]


async def graphql_endpoint(request: Request) -> Response:
    state = request.app.state
    tracking = state.tracking
    user = None
    if tracking.authorizer is not None:
        user = await tracking.authorizer.authenticate_scope(request.scope)
    query, variables, operation = await _request_fields(request)
    try:
        document = parse(query)
    except GraphQLError as exc:
        return _answer(None, [exc.message])
    try:
        check_query_size(document)
    except QueryTooLarge as exc:
        return _answer(None, [str(exc)])
    if getattr(state, "graphql_registry", None) is None:
        state.graphql_registry = registry_holder(state.settings)
    context = Context(
        tracking,
        user,
        getattr(state, "contributed", None),
        state.graphql_registry,
        {k: v for k, v in request.headers.items() if k.lower() not in _PRIVATE_HEADERS},
    )
    result = await run_in_threadpool(_run, context, document, variables, operation)
    return _answer(result.data, _messages(result.errors))
