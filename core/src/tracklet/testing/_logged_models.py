"""LoggedModelStoreSuite: the conformance tests of a logged-model store (MLflow 3).

Inherit :class:`LoggedModelStoreSuite` and define two fixtures: ``tracking_store``, a new
:class:`~tracklet.stores.TrackingStore`, and ``logged_model_store``, the
:class:`~tracklet.stores.registry.LoggedModelStore` over the same data (experiments
created through the first are seen by the second)::

    class TestMyLoggedModels(LoggedModelStoreSuite):
        @pytest.fixture
        def tracking_store(self, tmp_path):
            return MyTrackingStore(store_uri=str(tmp_path))

        @pytest.fixture
        def logged_model_store(self, tracking_store):
            return MyLoggedModelStore(tracking_store.store_uri)

Covered: create (ids, names, random names, PENDING status, artifact location under the
experiment's ``models/<id>/artifacts``, tags, params, refusals for unknown and deleted
experiments), get, finalize, tags, params, delete (hidden unless ``allow_deleted``),
and search (experiment scope, filters, ``OR``, order by dicts, paging with MLflow's
page tokens, bad requests), each refusal with its code and that it changed nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from tracklet.entities import LoggedModel, LoggedModelParameter, LoggedModelStatus, LoggedModelTag
from tracklet.stores import TrackingStore
from tracklet.stores.registry import (
    LoggedModelStore,
    logged_model_experiment_not_active,
    no_logged_model_tag,
    no_such_logged_model,
)
from tracklet.testing._support import check_capabilities, pages, raises_code, says

_RUN_ID = "0123456789abcdef0123456789abcdef"


def _state(store: LoggedModelStore, experiment_ids: list[str]) -> list[tuple[Any, ...]]:
    """Every live model of the experiments: id, name, status, tags, params."""
    found = [
        m
        for page in pages(lambda t: store.search_logged_models(experiment_ids, max_results=100, page_token=t))
        for m in page
    ]
    return sorted(
        (m.model_id, m.name, str(m.status), tuple(sorted(m.tags.items())), tuple(sorted(m.params.items())))
        for m in found
    )


class LoggedModelTests:
    """Create, get, finalize, tags, params, delete."""

    def test_create_logged_model(self, logged_model_store: LoggedModelStore, experiment_id: str) -> None:
        model = logged_model_store.create_logged_model(
            experiment_id,
            name="my-model",
            source_run_id=_RUN_ID,
            tags=[LoggedModelTag("k", "v")],
            params=[LoggedModelParameter("lr", "0.1")],
            model_type="classifier",
        )
        assert isinstance(model, LoggedModel)
        assert model.model_id.startswith("m-") and len(model.model_id) == 34
        got = logged_model_store.get_logged_model(model.model_id)
        for m in (model, got):
            assert m.experiment_id == experiment_id
            assert m.name == "my-model"
            assert m.source_run_id == _RUN_ID
            assert m.model_type == "classifier"
            assert m.status == LoggedModelStatus.PENDING
            assert m.tags == {"k": "v"}
            assert m.params == {"lr": "0.1"}
            assert m.model_uri == f"models:/{model.model_id}"
            assert isinstance(m.creation_timestamp, int)

    def test_artifact_location_is_under_the_experiment(
        self, logged_model_store: LoggedModelStore, tracking_store: TrackingStore, experiment_id: str
    ) -> None:
        model = logged_model_store.create_logged_model(experiment_id, name="m")
        root = tracking_store.get_experiment(experiment_id).artifact_location.rstrip("/")
        assert model.artifact_location == f"{root}/models/{model.model_id}/artifacts"

    def test_ids_are_unique_and_names_are_chosen_when_missing(
        self, logged_model_store: LoggedModelStore, experiment_id: str
    ) -> None:
        models = [logged_model_store.create_logged_model(experiment_id) for _ in range(3)]
        assert len({m.model_id for m in models}) == 3
        assert all(isinstance(m.name, str) and m.name for m in models)

    @pytest.mark.parametrize("name", ["", "a/b", "a:b", "a.b", "a%b", "it's"], ids=str)
    def test_invalid_name_is_refused(
        self, logged_model_store: LoggedModelStore, experiment_id: str, name: str
    ) -> None:
        before = _state(logged_model_store, [experiment_id])
        with raises_code("INVALID_PARAMETER_VALUE"):
            logged_model_store.create_logged_model(experiment_id, name=name)
        assert _state(logged_model_store, [experiment_id]) == before

    def test_invalid_param_or_tag_is_refused(
        self, logged_model_store: LoggedModelStore, experiment_id: str
    ) -> None:
        before = _state(logged_model_store, [experiment_id])
        with raises_code("INVALID_PARAMETER_VALUE"):
            logged_model_store.create_logged_model(experiment_id, params=[LoggedModelParameter("../x", "1")])
        with raises_code("INVALID_PARAMETER_VALUE"):
            logged_model_store.create_logged_model(experiment_id, tags=[LoggedModelTag("../x", "1")])
        with raises_code("INVALID_PARAMETER_VALUE"):
            logged_model_store.create_logged_model(
                experiment_id, params=[LoggedModelParameter("p", "v" * 6001)]
            )
        assert _state(logged_model_store, [experiment_id]) == before

    def test_unknown_experiment_is_refused(self, logged_model_store: LoggedModelStore) -> None:
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            logged_model_store.create_logged_model("987654321", name="m")

    def test_deleted_experiment_is_refused(
        self, logged_model_store: LoggedModelStore, tracking_store: TrackingStore
    ) -> None:
        experiment_id = tracking_store.create_experiment("doomed")
        tracking_store.delete_experiment(experiment_id)
        with raises_code("INVALID_STATE") as excinfo:
            logged_model_store.create_logged_model(experiment_id, name="m")
        assert says(excinfo, logged_model_experiment_not_active(experiment_id).message)

    def test_get_unknown_model(self, logged_model_store: LoggedModelStore) -> None:
        with raises_code("RESOURCE_DOES_NOT_EXIST") as excinfo:
            logged_model_store.get_logged_model("m-0123456789abcdef0123456789abcdef")
        assert says(excinfo, no_such_logged_model("m-0123456789abcdef0123456789abcdef").message)

    @pytest.mark.parametrize("status", [LoggedModelStatus.READY, "READY", 2], ids=["enum", "name", "number"])
    def test_finalize(self, logged_model_store: LoggedModelStore, experiment_id: str, status: Any) -> None:
        model = logged_model_store.create_logged_model(experiment_id, name="m")
        finalized = logged_model_store.finalize_logged_model(model.model_id, status)
        assert finalized.status == LoggedModelStatus.READY
        got = logged_model_store.get_logged_model(model.model_id)
        assert got.status == LoggedModelStatus.READY
        assert got.last_updated_timestamp >= model.creation_timestamp

    def test_finalize_failed_and_unknown(
        self, logged_model_store: LoggedModelStore, experiment_id: str
    ) -> None:
        model = logged_model_store.create_logged_model(experiment_id, name="m")
        logged_model_store.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
        assert logged_model_store.get_logged_model(model.model_id).status == LoggedModelStatus.FAILED
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            logged_model_store.finalize_logged_model(
                "m-0123456789abcdef0123456789abcdef", LoggedModelStatus.READY
            )
        with raises_code("INVALID_PARAMETER_VALUE"):
            logged_model_store.finalize_logged_model(model.model_id, "DONE")  # type: ignore[arg-type]

    def test_tags(self, logged_model_store: LoggedModelStore, experiment_id: str) -> None:
        model = logged_model_store.create_logged_model(
            experiment_id, name="m", tags=[LoggedModelTag("a", "1")]
        )
        logged_model_store.set_logged_model_tags(
            model.model_id, [LoggedModelTag("a", "2"), LoggedModelTag("b", "3")]
        )
        assert logged_model_store.get_logged_model(model.model_id).tags == {"a": "2", "b": "3"}
        logged_model_store.delete_logged_model_tag(model.model_id, "a")
        assert logged_model_store.get_logged_model(model.model_id).tags == {"b": "3"}
        with raises_code("RESOURCE_DOES_NOT_EXIST") as excinfo:
            logged_model_store.delete_logged_model_tag(model.model_id, "a")
        assert says(excinfo, no_logged_model_tag(model.model_id, "a").message)
        with raises_code("INVALID_PARAMETER_VALUE"):
            logged_model_store.set_logged_model_tags(model.model_id, [LoggedModelTag("../x", "v")])
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            logged_model_store.set_logged_model_tags(
                "m-0123456789abcdef0123456789abcdef", [LoggedModelTag("a", "b")]
            )

    def test_params(self, logged_model_store: LoggedModelStore, experiment_id: str) -> None:
        model = logged_model_store.create_logged_model(experiment_id, name="m")
        logged_model_store.log_logged_model_params(
            model.model_id, [LoggedModelParameter("a", "1"), LoggedModelParameter("b", "2")]
        )
        assert logged_model_store.get_logged_model(model.model_id).params == {"a": "1", "b": "2"}
        with raises_code("INVALID_PARAMETER_VALUE"):
            logged_model_store.log_logged_model_params(model.model_id, [LoggedModelParameter("../x", "1")])

    def test_delete(self, logged_model_store: LoggedModelStore, experiment_id: str) -> None:
        model = logged_model_store.create_logged_model(experiment_id, name="m")
        keep = logged_model_store.create_logged_model(experiment_id, name="keep")
        logged_model_store.delete_logged_model(model.model_id)
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            logged_model_store.get_logged_model(model.model_id)
        assert (
            logged_model_store.get_logged_model(model.model_id, allow_deleted=True).model_id == model.model_id
        )
        assert [m.model_id for m in logged_model_store.search_logged_models([experiment_id])] == [
            keep.model_id
        ]
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            logged_model_store.delete_logged_model(model.model_id)


class LoggedModelSearchTests:
    """search_logged_models: scope, filters, order, pages."""

    def _populate(self, store: LoggedModelStore, experiment_id: str) -> dict[str, LoggedModel]:
        made = {}
        for name, model_type, tags, params, ready in [
            ("alpha", "clf", {"team": "vision"}, {"lr": "0.1"}, True),
            ("beta", "reg", {"team": "nlp"}, {"lr": "0.01"}, False),
            ("gamma", "clf", {}, {"lr": "0.1", "depth": "3"}, True),
        ]:
            model = store.create_logged_model(
                experiment_id,
                name=name,
                model_type=model_type,
                tags=[LoggedModelTag(k, v) for k, v in tags.items()],
                params=[LoggedModelParameter(k, v) for k, v in params.items()],
            )
            if ready:
                store.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
            made[name] = model
        return made

    def test_search_is_scoped_to_experiments(
        self, logged_model_store: LoggedModelStore, tracking_store: TrackingStore, experiment_id: str
    ) -> None:
        self._populate(logged_model_store, experiment_id)
        other = tracking_store.create_experiment("other")
        logged_model_store.create_logged_model(other, name="elsewhere")
        assert {m.name for m in logged_model_store.search_logged_models([experiment_id])} == {
            "alpha",
            "beta",
            "gamma",
        }
        assert {m.name for m in logged_model_store.search_logged_models([other])} == {"elsewhere"}
        assert len(logged_model_store.search_logged_models([experiment_id, other])) == 4
        with raises_code("INVALID_PARAMETER_VALUE"):
            logged_model_store.search_logged_models(experiment_id)

    @pytest.mark.parametrize(
        ("filter_string", "expected"),
        [
            ("name = 'alpha'", {"alpha"}),
            ("name LIKE '%a'", {"alpha", "beta", "gamma"}),
            ("model_type = 'clf'", {"alpha", "gamma"}),
            ("status = 'READY'", {"alpha", "gamma"}),
            ("attributes.status = 'PENDING'", {"beta"}),
            ("tags.team = 'vision' OR params.depth = '3'", {"alpha", "gamma"}),
            ("params.lr = '0.1' AND name != 'alpha'", {"gamma"}),
            ("creation_timestamp > 0", {"alpha", "beta", "gamma"}),
            ("metrics.acc > 0.5", set()),
        ],
    )
    def test_filters(
        self, logged_model_store: LoggedModelStore, experiment_id: str, filter_string: str, expected: set[str]
    ) -> None:
        self._populate(logged_model_store, experiment_id)
        found = logged_model_store.search_logged_models([experiment_id], filter_string=filter_string)
        assert {m.name for m in found} == expected

    def test_order_and_pages(self, logged_model_store: LoggedModelStore, experiment_id: str) -> None:
        self._populate(logged_model_store, experiment_id)
        by_name = logged_model_store.search_logged_models(
            [experiment_id], order_by=[{"field_name": "name", "ascending": False}]
        )
        assert [m.name for m in by_name] == ["gamma", "beta", "alpha"]
        order = [{"field_name": "name"}]
        every = pages(
            lambda t: logged_model_store.search_logged_models(
                [experiment_id], max_results=2, order_by=order, page_token=t
            )
        )
        assert [[m.name for m in page] for page in every] == [["alpha", "beta"], ["gamma"]]

    def test_page_token_of_another_search_is_refused(
        self, logged_model_store: LoggedModelStore, experiment_id: str
    ) -> None:
        self._populate(logged_model_store, experiment_id)
        first = logged_model_store.search_logged_models([experiment_id], max_results=1)
        assert first.token
        with raises_code("INVALID_PARAMETER_VALUE"):
            logged_model_store.search_logged_models(
                [experiment_id], filter_string="name = 'alpha'", max_results=1, page_token=first.token
            )

    @pytest.mark.parametrize(
        "order_by",
        [[{"field_name": "nope"}], [{"ascending": True}], [{"field_name": "params.lr"}], ["name"]],
        ids=["unknown-field", "no-field", "params", "not-a-dict"],
    )
    def test_bad_order_by_is_refused(
        self, logged_model_store: LoggedModelStore, experiment_id: str, order_by: Any
    ) -> None:
        with raises_code("INVALID_PARAMETER_VALUE"):
            logged_model_store.search_logged_models([experiment_id], order_by=order_by)

    @pytest.mark.parametrize("filter_string", ["name =", "foo = 'x'", "dataset.name = 'x'"])
    def test_bad_filter_is_refused(
        self, logged_model_store: LoggedModelStore, experiment_id: str, filter_string: str
    ) -> None:
        with raises_code("INVALID_PARAMETER_VALUE"):
            logged_model_store.search_logged_models([experiment_id], filter_string=filter_string)

    def test_bad_max_results_is_refused(
        self, logged_model_store: LoggedModelStore, experiment_id: str
    ) -> None:
        with raises_code("INVALID_PARAMETER_VALUE"):
            logged_model_store.search_logged_models([experiment_id], max_results=0)


class LoggedModelStoreSuite(LoggedModelTests, LoggedModelSearchTests):
    """Inherit this and define ``tracking_store`` and ``logged_model_store`` fixtures (see
    the module docstring); every test above runs on them."""

    @pytest.fixture
    def tracking_store(self) -> TrackingStore:
        """Override: a fresh tracking store sharing its data with ``logged_model_store``."""
        pytest.fail(f"{type(self).__name__} must define a `tracking_store` fixture")

    @pytest.fixture
    def logged_model_store(self) -> LoggedModelStore:
        """Override: a fresh logged-model store over ``tracking_store``'s data."""
        pytest.fail(f"{type(self).__name__} must define a `logged_model_store` fixture")

    @pytest.fixture(autouse=True)
    def _tracklet_logged_model_capabilities(self, request: pytest.FixtureRequest) -> None:
        check_capabilities(request, "logged_model_store")

    @pytest.fixture
    def experiment_id(self, tracking_store: TrackingStore) -> str:
        """A new, empty, active experiment."""
        return tracking_store.create_experiment("logged-models")

    def test_store_is_a_logged_model_store(self, logged_model_store: LoggedModelStore) -> None:
        assert isinstance(logged_model_store, LoggedModelStore)
