"""MLflow's import path of ``RunOperations``: ``from mlflow.utils.async_logging.run_operations
import RunOperations`` works with ``tracklet`` in place of ``mlflow``."""

from tracklet.async_logging.operations import RunOperations, get_combined_run_operations

__all__ = ["RunOperations", "get_combined_run_operations"]
