from mlflow import MlflowClient
client = MlflowClient()
span = client.start_trace("my_trace")
x = 2
# Create a child span
child_span = client.start_span(
    "child_span",
    request_id=span.request_id,
    parent_id=span.span_id,
    inputs={"x": x},
)
y = x**2
client.end_span(
    request_id=child_span.request_id,
    span_id=child_span.span_id,
    attributes={"factor": 2},
    outputs={"y": y},
)
client.end_trace(span.request_id)
