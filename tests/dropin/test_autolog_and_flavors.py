"""``autolog`` and MLflow's framework flavors under tracklet: same signatures as MLflow
3.17.2's, calls accepted and returning None (tracklet logs nothing automatically), model
functions refused with directions."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop

# flavor -> the file of MLflow's package that defines its ``autolog``
AUTOLOG_SOURCES = {
    "sklearn": "sklearn/__init__.py",
    "pytorch": "pytorch/__init__.py",
    "keras": "keras/autologging.py",
    "xgboost": "xgboost/__init__.py",
    "lightgbm": "lightgbm/__init__.py",
    "transformers": "transformers/__init__.py",
    "": "tracking/fluent.py",
}


def _mlflow_autolog_parameters(relative: str) -> list[tuple[str, object]]:
    """(name, default) of MLflow's ``autolog``, read from its source (importing the flavor
    would need the framework, e.g. keras)."""
    spec = importlib.util.find_spec("mlflow")
    assert spec is not None and spec.submodule_search_locations
    path = Path(spec.submodule_search_locations[0]) / relative
    tree = ast.parse(path.read_text())
    constants = {  # module-level NAME = "literal", which defaults may name
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name)
    }

    def value(default: ast.expr | None) -> object:
        if default is None:
            return inspect.Parameter.empty
        if isinstance(default, ast.Name) and default.id in constants:
            default = constants[default.id]
        return ast.literal_eval(default)

    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "autolog":
            args = node.args.args + node.args.kwonlyargs
            defaults = [*([None] * (len(node.args.args) - len(node.args.defaults))), *node.args.defaults]
            defaults += node.args.kw_defaults
            return [(arg.arg, value(default)) for arg, default in zip(args, defaults, strict=True)]
    raise AssertionError(f"no autolog in {path}")


@pytest.mark.parametrize("flavor", sorted(AUTOLOG_SOURCES))
def test_autolog_has_mlflows_signature(flavor):
    module = importlib.import_module(f"tracklet.{flavor}" if flavor else "tracklet")
    ours = [(p.name, p.default) for p in inspect.signature(module.autolog).parameters.values()]
    assert ours == _mlflow_autolog_parameters(AUTOLOG_SOURCES[flavor])


def test_autolog_calls_are_accepted_and_training_code_goes_on(compare):
    compare("""
import mlflow
import mlflow.sklearn
import mlflow.pyfunc
mlflow.set_tracking_uri(sys.argv[1])
out["autolog"] = [mlflow.autolog(log_models=False, silent=True), mlflow.autolog(disable=True),
                  mlflow.sklearn.autolog(max_tuning_runs=2, log_post_training_metrics=False, disable=True)]
class Model(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input
with mlflow.start_run() as run:
    mlflow.log_param("alpha", 0.5)
out["params"] = mlflow.get_run(run.info.run_id).data.params
out["predict"] = Model().predict(None, [1, 2])
""")
