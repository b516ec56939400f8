"""tracklet-sql: the tracking store for ``sqlite:``, ``postgresql:`` and ``mysql:`` URIs."""
