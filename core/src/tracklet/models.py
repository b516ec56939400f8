"""``mlflow.models`` under tracklet: signatures, input examples and logged models are not
part of tracklet; each name says how to log a model as artifacts instead (see
:mod:`tracklet._flavors`)."""

from __future__ import annotations

from tracklet._flavors import flavor_getattr, model_function

__all__ = ["infer_signature", "set_model"]

infer_signature = model_function("models", "infer_signature")
set_model = model_function("models", "set_model")
__getattr__ = flavor_getattr("models")
