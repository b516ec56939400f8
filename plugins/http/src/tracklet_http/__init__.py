"""tracklet-http: MLflow's REST API from both ends.

* :class:`tracklet_http.client.RestStore` — a tracking store for ``http(s)://`` URIs;
* :class:`tracklet_http.artifacts.HttpArtifactRepository` — artifacts through a
  server's proxy (``mlflow-artifacts:`` and ``http(s)://…/api/2.0/mlflow-artifacts/…``);
* ``tracklet server`` — the tracking server (install ``tracklet-http[server]``).

Both ends share :mod:`tracklet_http.protocol`, the one definition of the wire format.
"""
