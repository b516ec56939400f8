"""``from mlflow.store.artifact.models_artifact_repo import ModelsArtifactRepository``: the
repository of a ``models:/`` URI, served by whatever plugin declares the ``models`` artifact
scheme (tracklet-registry: ``tracklet_registry.models_artifacts.ModelsArtifactRepository``),
looked up on first use; the core never imports the plugin."""

from __future__ import annotations

from typing import Any

__all__ = ["ModelsArtifactRepository"]  # noqa: F822 (served by the module __getattr__ below)


def __getattr__(name: str) -> Any:
    if name != "ModelsArtifactRepository":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from tracklet import plugins

    declared = plugins.declared_scheme("artifacts", "models")
    if declared is None:
        from tracklet.exceptions import FEATURE_DISABLED, TrackletException

        hint = plugins.install_hint("artifacts", "models") or "pip install tracklet-registry"
        raise TrackletException(
            f"No plugin serves models:/ URIs (ModelsArtifactRepository). Install the model registry: {hint}",
            FEATURE_DISABLED,
        )
    return plugins.load_target(declared.target)
