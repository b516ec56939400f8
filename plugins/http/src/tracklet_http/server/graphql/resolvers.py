"""The root fields of ``/graphql`` and the two fields MLflow adds to a run
(``experiment``, ``modelVersions``), each answered by the REST API's own handler — the
same field checks, store calls and JSON as ``/api/2.0/mlflow/...`` — so GraphQL and REST
never disagree.

With ``--auth`` each root field checks the caller's permission as its REST endpoint
does; as in MLflow, a field the caller may not read is ``null`` (no error), a search over
experiments is narrowed to those the caller may read, and model versions are those the
registry lets the caller read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLResolveInfo

from tracklet.exceptions import (
    ENDPOINT_NOT_FOUND,
    INVALID_PARAMETER_VALUE,
    PERMISSION_DENIED,
    TrackletException,
)
from tracklet_http.protocol import API_PREFIX, ENDPOINTS_BY_NAME, parse_request
from tracklet_http.server.contributed import ContributedRoutes, ServerRouteRequest
from tracklet_http.server.graphql.schema import snake_case
from tracklet_http.server.handlers import HANDLERS, Call, ServerState, check_ranges

__all__ = ["RESOLVERS", "Context"]

_MODEL_VERSIONS_SEARCH = API_PREFIX + "/model-versions/search"


@dataclass
class Context:
    """One request as the resolvers see it."""

    state: ServerState
    user: str | None
    contributed: ContributedRoutes | None
    registry: Any
    headers: dict[str, str] = field(default_factory=dict)
    #: experiments already read for this request's runs (a search's runs share a few)
    experiments: dict[str, Any] = field(default_factory=dict)


class _Denied(Exception):
    """The caller may not read what the field names: the field is null."""


def _input(info: GraphQLResolveInfo, given: Any) -> dict[str, Any]:
    if given is None:
        raise TrackletException(
            f"{info.field_name} needs its input argument: {info.field_name}(input: {{...}}).",
            INVALID_PARAMETER_VALUE,
        )
    return {snake_case(k): v for k, v in given.items() if v is not None}


def _rest(ctx: Context, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """The REST endpoint ``name``'s answer to ``body``, after the caller's authorization."""
    endpoint = ENDPOINTS_BY_NAME[name]
    params = parse_request(endpoint, body)
    check_ranges(endpoint, params)
    authorizer = ctx.state.authorizer
    if authorizer is not None and ctx.user is not None:
        try:
            authorizer.authorize(ctx.user, name, params, ctx.state.store)
        except TrackletException as exc:
            if exc.error_code == PERMISSION_DENIED:
                raise _Denied from None
            raise
    answer: dict[str, Any] = HANDLERS[name](ctx.state, params, Call(ctx.user))
    return answer


def _visible(ctx: Context, experiment_ids: list[str]) -> list[str]:
    authorizer = ctx.state.authorizer
    if authorizer is None or ctx.user is None:
        return experiment_ids
    visible = authorizer.visible_experiment_ids(ctx.user)
    return experiment_ids if visible is None else [e for e in experiment_ids if str(e) in visible]


def _search_model_versions(ctx: Context, body: dict[str, Any]) -> dict[str, Any] | None:
    """The registry's ``model-versions/search`` (a route tracklet-registry contributes);
    None when the server has no registry."""
    found = ctx.contributed.match(_MODEL_VERSIONS_SEARCH, "GET") if ctx.contributed else None
    if found is None:
        return None
    entry, _ = found
    params = parse_request(entry.endpoint, body)
    authorizer = ctx.state.authorizer
    request = ServerRouteRequest(
        params=params,
        path_params={},
        headers=ctx.headers,
        username=ctx.user,
        tracking_store=ctx.state.store,
        settings=ctx.state.settings,
        registry_holder=ctx.registry,
        authorizer=authorizer,
    )
    if authorizer is not None and ctx.user is not None:
        try:
            authorizer.authorize_route(ctx.user, entry.route.permission, params, request, route=entry.route)
        except TrackletException as exc:
            if exc.error_code == PERMISSION_DENIED:
                raise _Denied from None
            raise
    answer: dict[str, Any] = entry.route.handler(request)
    if authorizer is not None and ctx.user is not None:
        filtered = authorizer.after_route(ctx.user, entry.route, params, answer, request)
        if filtered is not None:
            answer = filtered
    return answer


def _nullable(resolve: Callable[..., Any]) -> Callable[..., Any]:
    def resolver(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        try:
            return resolve(info.context, info, **args)
        except _Denied:
            return None

    resolver.__name__ = resolve.__name__
    return resolver


# -- the root fields ---------------------------------------------------------------------------


def _get_experiment(ctx: Context, info: GraphQLResolveInfo, input: Any = None) -> Any:  # noqa: A002
    return _rest(ctx, "get_experiment", _input(info, input))


def _get_run(ctx: Context, info: GraphQLResolveInfo, input: Any = None) -> Any:  # noqa: A002
    body = _input(info, input)
    body.setdefault("run_id", body.get("run_uuid"))
    return _rest(ctx, "get_run", body)


def _list_artifacts(ctx: Context, info: GraphQLResolveInfo, input: Any = None) -> Any:  # noqa: A002
    body = _input(info, input)
    body.setdefault("run_id", body.get("run_uuid"))
    return _rest(ctx, "list_artifacts", body)


def _metric_history(ctx: Context, info: GraphQLResolveInfo, input: Any = None) -> Any:  # noqa: A002
    body = _input(info, input)
    if not body.get("run_ids"):
        return {}  # MLflow's answer: no runs, no metrics
    return _rest(ctx, "get_metric_history_bulk_interval", body)


def _search_runs(ctx: Context, info: GraphQLResolveInfo, input: Any = None) -> Any:  # noqa: A002
    body = _input(info, input)
    requested = body.get("experiment_ids") or []
    readable = _visible(ctx, requested)
    if requested and not readable:
        return None  # MLflow: nothing the caller may read, a null field
    body["experiment_ids"] = readable
    return _rest(ctx, "search_runs", body)


def _search_datasets(ctx: Context, info: GraphQLResolveInfo, input: Any = None) -> Any:  # noqa: A002
    body = _input(info, input)
    requested = body.get("experiment_ids") or []
    readable = _visible(ctx, requested)
    if requested and not readable:
        return None
    body["experiment_ids"] = readable
    return _rest(ctx, "search_datasets", body)


def _model_versions(ctx: Context, info: GraphQLResolveInfo, input: Any = None) -> Any:  # noqa: A002
    answer = _search_model_versions(ctx, _input(info, input))
    if answer is None:
        raise TrackletException(
            "This tracklet server has no model registry: pip install tracklet-registry "
            "(from a clone: pip install ./plugins/registry), then restart the server.",
            ENDPOINT_NOT_FOUND,
        )
    return answer


def _echo(source: Any, info: GraphQLResolveInfo, inputString: Any = None) -> Any:  # noqa: N803
    if inputString is None:
        raise TrackletException(f"{info.field_name} needs its inputString argument.", INVALID_PARAMETER_VALUE)
    return {"output": inputString}


# -- what MLflow adds to a run -----------------------------------------------------------------


def _run_experiment(run: dict[str, Any], info: GraphQLResolveInfo) -> Any:
    ctx: Context = info.context
    experiment_id = (run.get("info") or {}).get("experiment_id")
    # the run was readable, so is its experiment: no second authorization
    return HANDLERS["get_experiment"](ctx.state, {"experiment_id": experiment_id}, Call(ctx.user))[
        "experiment"
    ]


def _run_model_versions(run: dict[str, Any], info: GraphQLResolveInfo) -> Any:
    run_id = (run.get("info") or {}).get("run_id") or ""
    try:
        answer = _search_model_versions(info.context, {"filter": f"run_id = '{run_id}'"})
    except _Denied:
        return []
    return (answer or {}).get("model_versions") or []


RESOLVERS: dict[str, dict[str, Any]] = {
    "Query": {
        "mlflowGetExperiment": _nullable(_get_experiment),
        "mlflowGetMetricHistoryBulkInterval": _nullable(_metric_history),
        "mlflowGetRun": _nullable(_get_run),
        "mlflowListArtifacts": _nullable(_list_artifacts),
        "mlflowSearchModelVersions": _nullable(_model_versions),
        "mlflowSearchRuns": _nullable(_search_runs),
        "test": _echo,
    },
    "Mutation": {
        "mlflowSearchDatasets": _nullable(_search_datasets),
        "mlflowSearchRuns": _nullable(_search_runs),
        "testMutation": _echo,
    },
    "MlflowRunExtension": {"experiment": _run_experiment, "modelVersions": _run_model_versions},
}
