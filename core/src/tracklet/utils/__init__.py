"""Helpers store and plugin authors share, public and stable, named as MLflow names them.

- :mod:`tracklet.utils.mlflow_tags`: the names of MLflow's system run tags (``mlflow.*``);
- :mod:`tracklet.utils.time`: :func:`~tracklet.utils.time.now_ms`, the timestamps runs and
  metrics carry;
- :mod:`tracklet.utils.environment`: the one ``TRACKLET_*``-then-``MLFLOW_*`` lookup of
  settings from the environment, with errors that name the variable.

Each is a small module with no import cost beyond the standard library.
"""

__all__ = ["environment", "mlflow_tags", "time"]
