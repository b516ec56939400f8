"""MLflow's model flavors (``mlflow.sklearn``, ``mlflow.pytorch``…) under tracklet.

tracklet tracks experiments; it does not save, log or load models, and it logs nothing
automatically. So that MLflow training scripts still import and run, each flavor module
exists with MLflow's ``autolog`` signature: ``autolog()`` warns once per process that
nothing is logged automatically and returns None. Model functions (``log_model``,
``save_model``, ``load_model``, and any other name of the flavor) raise an error that says
how to keep a model with tracklet: save it with its own library, log the file or folder
with ``tracklet.log_artifact``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, NoReturn

from tracklet.exceptions import NOT_IMPLEMENTED, TrackletException

_autolog_warned = False


def autolog_ignored(flavor: str | None, disable: bool = False, silent: bool = False) -> None:
    """What every ``autolog`` does: nothing, with one warning per process (none for
    ``disable=True`` or ``silent=True``, which ask for no autologging or no output)."""
    global _autolog_warned
    if disable or silent or _autolog_warned:
        return
    _autolog_warned = True
    name = f"tracklet.{flavor}.autolog()" if flavor else "tracklet.autolog()"
    warnings.warn(
        f"{name} does nothing: tracklet logs nothing automatically (no params, metrics, "
        "datasets or models from the training library). Log them explicitly with "
        "tracklet.log_params, tracklet.log_metrics and tracklet.log_artifact. This warning "
        "is shown once.",
        UserWarning,
        stacklevel=3,
    )


def no_models_message(flavor: str, name: str) -> str:
    """The explanation every model function of a flavor gives."""
    return (
        f"tracklet.{flavor}.{name} is not available: tracklet tracks experiments but does not "
        f"include MLflow's model flavors (mlflow.{flavor}). To keep a model with a run, save it "
        "with its own library (e.g. joblib.dump(model, 'model.joblib'), torch.save(...), "
        "model.save_model(...)) and log the file or folder with tracklet.log_artifact"
        "('model.joblib', artifact_path='model'); load it back with "
        "tracklet.artifacts.download_artifacts and the library's own load function."
    )


def model_function(flavor: str, name: str) -> Callable[..., NoReturn]:
    """A stand-in for ``mlflow.<flavor>.<name>`` that raises NOT_IMPLEMENTED with
    :func:`no_models_message`."""

    def unavailable(*args: Any, **kwargs: Any) -> NoReturn:
        raise TrackletException(no_models_message(flavor, name), NOT_IMPLEMENTED)

    unavailable.__name__ = unavailable.__qualname__ = name
    unavailable.__doc__ = f"Not available in tracklet (raises NOT_IMPLEMENTED): see tracklet.{flavor}."
    return unavailable


def flavor_getattr(flavor: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` for a flavor: any other public name of MLflow's flavor is
    an AttributeError that says how to log a model as artifacts."""

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(no_models_message(flavor, name))

    return __getattr__


def flavor_model_functions(
    flavor: str,
) -> tuple[Callable[..., NoReturn], Callable[..., NoReturn], Callable[..., NoReturn], Callable[[str], Any]]:
    """``log_model``, ``save_model``, ``load_model`` and the module ``__getattr__`` of a
    framework flavor module, all explaining how to log a model as artifacts."""
    return (
        model_function(flavor, "log_model"),
        model_function(flavor, "save_model"),
        model_function(flavor, "load_model"),
        flavor_getattr(flavor),
    )
