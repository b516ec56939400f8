"""Model flavors (``mlflow.sklearn``, ``mlflow.pyfunc``, ``mlflow.models``) are not part of tracklet.

Code written for MLflow imports them as ``tracklet.<flavor>`` after ``import tracklet as
mlflow``; each stub module raises this clear ImportError instead of "No module named".
"""

from __future__ import annotations


def unavailable_flavor(name: str) -> ImportError:
    """The error each flavor stub raises."""
    return ImportError(
        f"tracklet.{name}: tracklet tracks experiments but does not include MLflow's model flavors "
        f"(mlflow.{name}). Save the model with its own library (e.g. joblib.dump) and log the file "
        "with tracklet.log_artifact; registering models needs the model registry plugin "
        "(pip install tracklet-registry)."
    )
