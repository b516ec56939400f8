"""MLflow's GraphQL endpoint on ``tracklet server``: ``/graphql``, the schema of MLflow
3.17 (:mod:`.schema`), answered by the REST API's handlers (:mod:`.resolvers`), with
MLflow's size limits (:mod:`.limits`); the HTTP part is :mod:`.endpoint`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

__all__ = ["graphql_routes"]


async def _graphql(request: Request) -> Response:
    # graphql-core is imported on the first GraphQL request, not when the server starts
    from tracklet_http.server.graphql.endpoint import graphql_endpoint

    response: Response = await graphql_endpoint(request)
    return response


def graphql_routes() -> list[BaseRoute]:
    """``/graphql``, where MLflow's server and its web UI have it (GET and POST)."""
    return [Route("/graphql", _graphql, methods=["GET", "POST"])]
