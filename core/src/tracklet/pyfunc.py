"""``mlflow.pyfunc`` under tracklet: the model functions say how to log a model as
artifacts instead (see :mod:`tracklet._flavors`). ``PythonModel`` exists so that scripts
defining a model class still import; logging or loading such a model is not available."""

from __future__ import annotations

from typing import Any

from tracklet._flavors import flavor_getattr, model_function

__all__ = ["PythonModel", "load_model", "log_model", "save_model", "spark_udf"]


class PythonModel:
    """MLflow's base class for custom models: subclass it and define ``predict``; tracklet
    cannot log it as a model (save what it needs with :func:`tracklet.log_artifact`)."""

    def load_context(self, context: Any) -> None:
        """Called by MLflow when loading the model; never called by tracklet."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        """The model's prediction; define it in the subclass."""
        raise NotImplementedError


log_model = model_function("pyfunc", "log_model")
save_model = model_function("pyfunc", "save_model")
load_model = model_function("pyfunc", "load_model")
spark_udf = model_function("pyfunc", "spark_udf")
__getattr__ = flavor_getattr("pyfunc")
