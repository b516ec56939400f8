import mlflow
from mlflow import MlflowClient
client = MlflowClient()
with mlflow.start_span("parent_span") as parent_span:
    child_span = client.start_span(
        name="child_span",
        request_id=parent_span.request_id,
        parent_id=parent_span.span_id,
    )
    # Do something...
    client.end_span(
        request_id=parent_span.request_id,
        span_id=child_span.span_id,
    )
