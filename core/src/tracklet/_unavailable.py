"""Method-name lists of ``MlflowClient``'s contributed halves, for the signature checks.

Tracing and the model registry are real now (:mod:`tracklet._tracing_client`,
:mod:`tracklet._model_registry`); this module only re-exports their method names
(``TRACE_METHODS``, ``REGISTRY_METHODS``, ``LOGGED_MODEL_METHODS``) where the tests and
tools have always looked for them.
"""

from __future__ import annotations

from tracklet._model_registry import LOGGED_MODEL_METHODS, REGISTRY_METHODS
from tracklet._tracing_client import TRACE_METHODS

__all__ = ["LOGGED_MODEL_METHODS", "REGISTRY_METHODS", "TRACE_METHODS"]
