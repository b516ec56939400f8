"""MLflow's ``mlflow.utils.async_logging`` import path; the code is in
:mod:`tracklet.async_logging`."""
