"""``tracklet migrate``: copy experiments, runs, metric histories, artifacts, traces and the
model registry from any tracking store into one that declares capability ``"import"``.

The copy reads the source through the public :class:`~tracklet.stores.TrackingStore` calls
(so an MLflow database, an MLflow server or a third party's store can be a source) and
writes through the destination's import primitives, which keep ids, names, times and
lifecycle stages (traces go through the destination's trace calls, keeping their ids).
It is resumable: a journal records each run and trace once all of it is written,
and the primitives are upserts, so a copy killed at any moment and started again ends with
nothing missing and nothing twice::

    from tracklet.migrate import Options, migrate, verify

    summary = migrate("sqlite:///mlflow.db", "sqlite:///tracklet.db", Options(progress=True))
    assert verify("sqlite:///mlflow.db", "sqlite:///tracklet.db") == []
"""

from __future__ import annotations

from tracklet.migrate._copy import migrate
from tracklet.migrate._options import Options, default_journal_path
from tracklet.migrate._summary import Summary
from tracklet.migrate._verify import Difference, verify

__all__ = ["Difference", "Options", "Summary", "default_journal_path", "migrate", "verify"]
