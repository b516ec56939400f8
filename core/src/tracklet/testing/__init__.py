"""The conformance suite: the tests every tracking store and artifact repository passes.

A store "works" when it passes this suite. It ships inside the ``tracklet`` wheel, so
a third-party plugin runs exactly the tests the built-in stores run: inherit a suite
class and supply one fixture that builds your store (pytest is the only requirement;
``pip install "tracklet[testing]"`` brings it)::

    # tests/test_conformance.py of your plugin
    import pytest
    from tracklet.testing import ArtifactRepositorySuite, TrackingStoreSuite

    from tracklet_mystore.store import MyStore
    from tracklet_mystore.artifacts import MyRepo


    class TestMyStore(TrackingStoreSuite):
        @pytest.fixture
        def store(self, tmp_path):
            return MyStore(str(tmp_path))


    class TestMyArtifacts(ArtifactRepositorySuite):
        @pytest.fixture
        def repo(self, tmp_path):
            return MyRepo(str(tmp_path / "artifacts"))

Then ``pytest tests/test_conformance.py -ra`` runs some 320 tests. What the fixtures
must give:

* ``store``: a **new, empty** store for each test, holding only the Default experiment
  ``"0"`` (a fixture may ``yield`` the store and clean up afterwards; ``close()`` is
  not called for you). Build it the way the core does, ``MyStore(store_uri=...,
  artifact_uri=...)``: the multi-process tests rebuild it in child processes from
  ``store.store_uri`` (override ``reopen_spec`` when that cannot work);
* ``repo``: a **new, empty** repository for each test. Nothing else may write under
  its root while the test runs.

**Capabilities.** Optional features are declared on the store class, in the manner
of SQLAlchemy's dialect requirements::

    class MyStore(TrackingStore):
        capabilities = frozenset({"datasets"})

The names are :data:`tracklet.stores.CAPABILITIES`: ``"datasets"`` (``log_inputs``
and ``datasets.*`` search), ``"concurrent_processes"`` (several processes may write
through their own instances of the same store) and ``"idempotent_metrics"`` (a metric
point identical to a stored one is stored once; without it, repeats are kept) and ``"import"``
(the copy primitives ``import_experiment``, ``import_run`` and ``import_metric_history``
that ``tracklet migrate`` writes through: upserts with the given ids, times and stages,
idempotent). Tests of an undeclared feature are
skipped and ``-ra`` prints why, e.g. ``SKIPPED ... MyStore does not declare capability
'datasets'``. A store without ``"datasets"`` must refuse ``log_inputs`` with
``FEATURE_DISABLED`` (the :class:`~tracklet.stores.TrackingStore` default does); one
without ``"import"`` must refuse the copy primitives with ``NOT_IMPLEMENTED`` (the
default does).

**What is checked** is the contract in :mod:`tracklet.stores`, with MLflow's
semantics and error codes: experiments (the Default one, names, delete, restore,
rename, tags), runs (names, status, deletion with their experiment), ``log_batch``
(all or nothing, params immutable, key and value rules, batch limits), metric values
(NaN and ±inf, which value is latest, history order and paging, ``sample_metric_history``
equal to the default's M4 sample), search (filters,
``OR`` and parentheses, order-by, view types, page tokens), dataset inputs, several
processes at once, use across ``os.fork()`` (see :mod:`tracklet.stores.forking`), and
for artifacts: upload, listing, download, deletion, odd names and paths that try to
leave the root. Every refused call is checked for its error
code *and* for having changed nothing; the refusals that depend on stored state (a
write to a deleted run, a param changed, a missing tag, an unknown experiment…) are
also checked word for word against :mod:`tracklet.stores.refusals`, which carries
MLflow's messages, so one refusal reads the same on every backend.

**Fork.** ``test_forked_processes_each_read_their_own_objects`` (and ``..._files``)
forks 4 children from the test process after it used the store; the parent and every
child then read their own objects :data:`~tracklet.testing._fork.READS` times at once,
and any answer that is not the process's own, any error, or a child stuck for
``fork_timeout`` seconds fails it. Every store runs it, in-memory ones included (the
child works on its copy); set ``fork_reads`` lower in your class for a slow emulator.
:func:`in_forked_child` and :func:`held_by_another_thread` help with your own fork tests.

**The model registry.** :class:`RegistryStoreSuite` (fixture ``registry_store``) and
:class:`LoggedModelStoreSuite` (fixtures ``tracking_store`` and ``logged_model_store``)
check the contracts of :mod:`tracklet.stores.registry` the same way; their capabilities
are :data:`tracklet.stores.registry.CAPABILITIES` (``@requires_registry(...)``).

**Traces.** :class:`TraceStoreSuite` (fixture ``store``: a new, empty tracking store that
is also a :class:`~tracklet.stores.TraceStore`, holding only experiment ``"0"``) checks
the contract of :mod:`tracklet.stores.traces`: ``start_trace`` as an upsert with the
store-chosen ``mlflow.artifactLocation``, gets, tags, ``delete_traces`` by ids and by
timestamp, ``search_traces`` over every MLflow trace field with ``OR``, order and
paging, and every refusal's code, words and no-change. Tests of ``log_spans`` /
``get_trace_spans`` run when the store declares the trace capability ``span_storage``
in ``trace_capabilities`` (:data:`tracklet.stores.TRACE_CAPABILITIES`,
``@requires_traces(...)``); a store without it must refuse them with ``NOT_IMPLEMENTED``.

To run part of the suite, select by name as usual (``-k "not Process"``); to skip a
test your backend cannot pass yet, override it in your class with a
``pytest.mark.skip(reason=...)``-decorated method of the same name, and say why.
"""

from tracklet.testing._artifacts import ArtifactRepositorySuite
from tracklet.testing._fork import held_by_another_thread, in_forked_child
from tracklet.testing._logged_models import LoggedModelStoreSuite
from tracklet.testing._registry import RegistryStoreSuite, registry_state, requires_registry
from tracklet.testing._support import raises_code, requires, run_state, store_state
from tracklet.testing._traces import TraceStoreSuite, requires_traces, trace_store_state
from tracklet.testing._tracking import TrackingStoreSuite

__all__ = [
    "ArtifactRepositorySuite",
    "LoggedModelStoreSuite",
    "RegistryStoreSuite",
    "TraceStoreSuite",
    "TrackingStoreSuite",
    "held_by_another_thread",
    "in_forked_child",
    "raises_code",
    "registry_state",
    "requires",
    "requires_registry",
    "requires_traces",
    "run_state",
    "store_state",
    "trace_store_state",
]
