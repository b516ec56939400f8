"""The model registry and MLflow 3 logged models on ``tracklet server``: the routes
(:mod:`~tracklet_registry.server.routes`), their handlers
(:mod:`~tracklet_registry.server.handlers`), the JSON both ends of the wire share
(:mod:`~tracklet_registry.server.wire`) and the checks on client-given locations
(:mod:`~tracklet_registry.server.safety`)."""
