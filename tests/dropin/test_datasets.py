"""``mlflow.data`` datasets logged with ``log_input``: tracklet stores the same name, digest,
source, source type, schema, profile and input tags as MLflow 3.17.2."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.interop

LOG_DATASETS = """
import mlflow
import mlflow.data
import numpy as np
import pandas as pd

mlflow.set_tracking_uri(sys.argv[1])
typed = pd.DataFrame({"s": ["a", "b", None], "i": [1, 2, 3], "f": [0.5, 1.5, np.nan], "b": [True, False, True],
                      "i32": np.array([1, 2, 3], dtype=np.int32), "f32": np.array([1, 2, 3], dtype=np.float32),
                      "dt": pd.to_datetime(["2020-01-01"] * 3), "by": [b"a", b"b", b"c"], "c": pd.Categorical(["x", "y", "x"])})
mixed = pd.DataFrame({"o": [1, "x", None], "n": [1.0, 2.0, 3.0]})
rows = pd.DataFrame({"x": np.arange(12000) % 7, "t": ["r%d" % i for i in range(12000)]})
datasets = [
    mlflow.data.from_pandas(typed),
    mlflow.data.from_pandas(typed, source="data/train.csv", name="train", targets="i"),
    mlflow.data.from_pandas(mixed, source="s3://bucket/x.parquet"),
    mlflow.data.from_pandas(rows, source="file:///data/rows.parquet", digest="given"),
    mlflow.data.from_pandas(rows, source="gs://b/rows"),
    mlflow.data.from_numpy(np.arange(12, dtype=np.float64).reshape(4, 3)),
    mlflow.data.from_numpy(np.arange(12).reshape(4, 3), targets=np.array([0, 1, 0, 1]),
                           source="https://example.com/d.npy", name="np"),
    mlflow.data.from_numpy({"b": np.array([0.5, 1.5, 2.5]), "a": np.arange(3)}, targets={"y": np.array([1, 0, 1])}),
    mlflow.data.from_numpy(np.array(["x", "yy"])),
]
with mlflow.start_run() as run:
    for i, dataset in enumerate(datasets):
        mlflow.log_input(dataset, context="train" if i % 2 else None, tags={"k": str(i), "z": "last"} if i < 3 else None)
    out["no_dataset_with_context"] = failure(lambda: mlflow.log_input(None, context="eval"))
    out["bad_targets"] = failure(lambda: mlflow.data.from_pandas(typed, targets="nope"))
seen = []
for dataset_input in mlflow.get_run(run.info.run_id).inputs.dataset_inputs:
    d = dataset_input.dataset
    source = json.loads(d.source)
    if "tags" in source:
        source["tags"] = sorted(source["tags"])  # the run context tags: names only
    seen.append({"name": d.name, "digest": d.digest, "source_type": d.source_type, "source": source,
                 "schema": d.schema and json.loads(d.schema), "profile": d.profile and json.loads(d.profile),
                 "tags": sorted([t.key, t.value] for t in dataset_input.tags)})
out["inputs"] = sorted(seen, key=lambda x: json.dumps(x, sort_keys=True))
out["object"] = [datasets[1].name, datasets[1].digest, datasets[1].source.to_json(), datasets[1].targets,
                 datasets[1].profile, datasets[0].name]
"""


def test_datasets_logged_as_mlflow_logs_them(compare):
    seen = compare(LOG_DATASETS)
    inputs = seen["inputs"]
    assert len(inputs) == 9 and {i["source_type"] for i in inputs} == {"code", "local", "s3", "gs", "http"}
    assert any(i["schema"] is None for i in inputs) and any(i["digest"] == "given" for i in inputs)


def test_from_dict_is_from_numpy_of_the_columns(run_as):
    """MLflow has no ``from_dict``; tracklet's gives what ``from_numpy`` of the arrays gives."""
    with_mlflow = run_as("mlflow", FROM_ARRAYS)
    with_tracklet = run_as("tracklet", FROM_ARRAYS.replace(ARRAYS, "from_dict(columns"))
    assert with_tracklet == with_mlflow and json.loads(with_mlflow["entity"])["name"] == "cols"


ARRAYS = "from_numpy({k: np.asarray(v) for k, v in columns.items()}"
FROM_ARRAYS = (
    """
import mlflow
import mlflow.data
import numpy as np
columns = {"x": [1, 2, 3], "y": [0.5, 0.25, 0.125]}
dataset = mlflow.data."""
    + ARRAYS
    + """, name="cols", source="/d/c.json")
entity = dataset._to_mlflow_entity()
out["entity"] = json.dumps({f: getattr(entity, f) for f in ("name", "digest", "source_type", "source", "schema", "profile")})
"""
)
