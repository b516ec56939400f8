"""The GraphQL schema MLflow's server answers at ``/graphql`` (MLflow 3.17's), written as
SDL, and the rules that turn the REST handlers' JSON into its fields.

The objects come from the REST handlers as MLflow's JSON (snake_case keys, unset fields
left out). MLflow resolves the same fields on protobuf messages, where a field that was
never set still reads as its default, so :func:`proto_field` answers ``""``, ``0``,
``false``, ``[]``, the enum's first value or an empty object for a key the JSON left
out, and ``null`` only for ``apiError`` (which no protobuf message has). Metric values
that GraphQL's ``Float`` cannot carry (NaN, infinities) are ``null``.
"""

from __future__ import annotations

import math
import re
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    IntValueNode,
    ValueNode,
    build_schema,
)

__all__ = ["SDL", "build", "proto_field", "snake_case"]

SDL = '''
directive @component(name: String!) on QUERY | MUTATION

"""Long converted to string to prevent truncation to max integer in JavaScript"""
scalar LongString

type Query {
  mlflowGetExperiment(input: MlflowGetExperimentInput): MlflowGetExperimentResponse
  mlflowGetMetricHistoryBulkInterval(input: MlflowGetMetricHistoryBulkIntervalInput): MlflowGetMetricHistoryBulkIntervalResponse
  mlflowGetRun(input: MlflowGetRunInput): MlflowGetRunResponse
  mlflowListArtifacts(input: MlflowListArtifactsInput): MlflowListArtifactsResponse
  mlflowSearchModelVersions(input: MlflowSearchModelVersionsInput): MlflowSearchModelVersionsResponse
  """Simple echoing field"""
  test(inputString: String): Test
  mlflowSearchRuns(input: MlflowSearchRunsInput): MlflowSearchRunsResponse
}

type Mutation {
  mlflowSearchDatasets(input: MlflowSearchDatasetsInput): MlflowSearchDatasetsResponse
  mlflowSearchRuns(input: MlflowSearchRunsInput): MlflowSearchRunsResponse
  """Simple echoing field"""
  testMutation(inputString: String): TestMutation
}

type ApiError { code: String message: String helpUrl: String traceId: String errorDetails: [ErrorDetail] }
type ErrorDetail { field: String message: String }
type Test { """Echoes the input string""" output: String }
type TestMutation { """Echoes the input string""" output: String }

type MlflowExperimentTag { key: String value: String }
type MlflowExperiment {
  experimentId: String name: String artifactLocation: String lifecycleStage: String
  lastUpdateTime: LongString creationTime: LongString tags: [MlflowExperimentTag!]
  effectiveTraceArchivalRetention: String workspace: String
}
type MlflowGetExperimentResponse { experiment: MlflowExperiment apiError: ApiError }

enum MlflowRunStatus { RUNNING SCHEDULED FINISHED FAILED KILLED }
enum MlflowViewType { ACTIVE_ONLY DELETED_ONLY ALL }
type MlflowRunInfo {
  runId: String runUuid: String runName: String experimentId: String userId: String
  status: MlflowRunStatus startTime: LongString endTime: LongString artifactUri: String
  lifecycleStage: String
}
type MlflowMetricExtension {
  key: String value: Float timestamp: LongString step: LongString datasetName: String
  datasetDigest: String modelId: String runId: String
}
type MlflowParam { key: String value: String }
type MlflowRunTag { key: String value: String }
type MlflowRunData { metrics: [MlflowMetricExtension!] params: [MlflowParam!] tags: [MlflowRunTag!] }
type MlflowInputTag { key: String value: String }
type MlflowDataset { name: String digest: String sourceType: String source: String schema: String profile: String }
type MlflowDatasetInput { tags: [MlflowInputTag!] dataset: MlflowDataset }
type MlflowModelInput { modelId: String }
type MlflowRunInputs { datasetInputs: [MlflowDatasetInput!] modelInputs: [MlflowModelInput!] }
type MlflowModelOutput { modelId: String step: LongString }
type MlflowRunOutputs { modelOutputs: [MlflowModelOutput!] }
type MlflowRunExtension {
  info: MlflowRunInfo data: MlflowRunData inputs: MlflowRunInputs outputs: MlflowRunOutputs
  experiment: MlflowExperiment modelVersions: [MlflowModelVersion!]
}
type MlflowGetRunResponse { run: MlflowRunExtension apiError: ApiError }
type MlflowSearchRunsResponse { runs: [MlflowRunExtension!] nextPageToken: String apiError: ApiError }

type MlflowMetricWithRunId { key: String value: Float timestamp: LongString step: LongString runId: String }
type MlflowGetMetricHistoryBulkIntervalResponse { metrics: [MlflowMetricWithRunId!] apiError: ApiError }

type MlflowFileInfo { path: String isDir: Boolean fileSize: LongString }
type MlflowListArtifactsResponse { rootUri: String files: [MlflowFileInfo!] nextPageToken: String apiError: ApiError }

type MlflowDatasetSummary { experimentId: String name: String digest: String context: String }
type MlflowSearchDatasetsResponse { datasetSummaries: [MlflowDatasetSummary!] apiError: ApiError }

enum MlflowModelVersionStatus { PENDING_REGISTRATION FAILED_REGISTRATION READY }
enum MlflowDeploymentJobConnectionState {
  DEPLOYMENT_JOB_CONNECTION_STATE_UNSPECIFIED NOT_SET_UP CONNECTED NOT_FOUND REQUIRED_PARAMETERS_CHANGED
}
enum MlflowModelVersionDeploymentJobStateDeploymentJobRunState {
  DEPLOYMENT_JOB_RUN_STATE_UNSPECIFIED NO_VALID_DEPLOYMENT_JOB_FOUND RUNNING SUCCEEDED FAILED PENDING APPROVAL
}
type MlflowModelVersionTag { key: String value: String }
type MlflowModelParam { name: String value: String }
type MlflowModelMetric {
  key: String value: Float timestamp: LongString step: LongString datasetName: String
  datasetDigest: String modelId: String runId: String
}
type MlflowModelVersionDeploymentJobState {
  jobId: String runId: String jobState: MlflowDeploymentJobConnectionState
  runState: MlflowModelVersionDeploymentJobStateDeploymentJobRunState currentTaskName: String
}
type MlflowModelVersion {
  name: String version: String creationTimestamp: LongString lastUpdatedTimestamp: LongString
  userId: String currentStage: String description: String source: String runId: String
  status: MlflowModelVersionStatus statusMessage: String tags: [MlflowModelVersionTag!]
  runLink: String aliases: [String] modelId: String modelParams: [MlflowModelParam!]
  modelMetrics: [MlflowModelMetric!] deploymentJobState: MlflowModelVersionDeploymentJobState
}
type MlflowSearchModelVersionsResponse { modelVersions: [MlflowModelVersion!] nextPageToken: String apiError: ApiError }

input MlflowGetExperimentInput { experimentId: String }
input MlflowGetRunInput { runId: String runUuid: String }
input MlflowGetMetricHistoryBulkIntervalInput {
  runIds: [String] metricKey: String startStep: Int endStep: Int maxResults: Int
}
input MlflowListArtifactsInput { runId: String runUuid: String path: String pageToken: String }
input MlflowSearchRunsInput {
  experimentIds: [String] filter: String runViewType: MlflowViewType = null maxResults: Int
  orderBy: [String] pageToken: String
}
input MlflowSearchModelVersionsInput { filter: String maxResults: LongString orderBy: [String] pageToken: String }
input MlflowSearchDatasetsInput { experimentIds: [String] }
'''

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_SNAKE: dict[str, str] = {}
#: The scalars' protobuf defaults (LongString is a 64-bit integer).
_SCALAR_DEFAULTS: dict[str, Any] = {"String": "", "Boolean": False, "Float": 0.0, "Int": 0, "LongString": 0}


def snake_case(name: str) -> str:
    key = _SNAKE.get(name)
    if key is None:
        key = _SNAKE[name] = _CAMEL.sub("_", name).lower()
    return key


def _default(field_type: Any) -> Any:
    """What a protobuf message answers for a field of this type that was never set."""
    if isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    if isinstance(field_type, GraphQLList):
        return []
    if isinstance(field_type, GraphQLObjectType):
        return {}
    if isinstance(field_type, GraphQLEnumType):
        return next(iter(field_type.values))
    return _SCALAR_DEFAULTS.get(getattr(field_type, "name", ""))


def _finite(value: Any) -> float | None:
    """A metric value for GraphQL's Float: MLflow's JSON spells NaN and the infinities
    as strings; none of them is a GraphQL Float, so they are null."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def proto_field(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    """The default resolver: the field's snake_case key of a JSON object, or its protobuf
    default when the JSON left it out."""
    if not isinstance(source, dict):
        return getattr(source, info.field_name, None)
    if info.field_name == "apiError":
        return source.get("api_error")
    value = source.get(snake_case(info.field_name))
    if value is None:
        return _default(info.return_type)
    if getattr(info.return_type, "name", None) == "Float":
        return _finite(value)
    return value


def _parse_long_literal(node: ValueNode, variables: Any = None) -> int | None:
    # as MLflow's LongString: an integer literal; any other literal reads as unset
    return int(node.value) if isinstance(node, IntValueNode) else None


def build(resolvers: dict[str, dict[str, Any]]) -> GraphQLSchema:
    """The schema with ``resolvers`` (``{type name: {field name: resolver}}``) attached."""
    schema = build_schema(SDL)
    long_string = schema.type_map["LongString"]
    assert isinstance(long_string, GraphQLScalarType)
    long_string.serialize = lambda value: str(int(value))  # type: ignore[method-assign]
    long_string.parse_value = lambda value: int(value)  # type: ignore[method-assign]
    long_string.parse_literal = _parse_long_literal  # type: ignore[method-assign]
    for type_name, fields in resolvers.items():
        graphql_type = schema.type_map[type_name]
        assert isinstance(graphql_type, GraphQLObjectType)
        for field_name, resolver in fields.items():
            graphql_type.fields[field_name].resolve = resolver
    return schema
