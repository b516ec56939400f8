"""Hook implementations of tracklet-azure: the Azure Blob artifact repository."""

from __future__ import annotations

from tracklet.plugins import Scheme, hookimpl

#: The URI schemes served; ``abfss`` goes through the same account's Blob endpoint.
SCHEMES = ("wasbs", "wasb", "abfss")


@hookimpl
def tracklet_schemes() -> list[Scheme]:
    repo = "tracklet_azure.artifacts:AzureBlobArtifactRepository"
    return [Scheme("artifacts", scheme, repo) for scheme in SCHEMES]
