"""tracklet-gcs: artifacts in Google Cloud Storage.

:class:`tracklet_gcs.artifacts.GCSArtifactRepository` serves ``gs://<bucket>/<path>``
artifact URIs with google-cloud-storage.

Importing this package loads no Google library; google-cloud-storage loads when a
repository is first built.
"""
