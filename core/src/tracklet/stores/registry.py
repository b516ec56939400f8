"""The model registry contracts: registered models and versions, and logged models.

Two abstract classes, implemented by the ``tracklet-registry`` plugin's stores:

* :class:`RegistryStore` — registered models, their versions, tags, stages and aliases
  (MLflow's ``mlflow.store.model_registry.abstract_store.AbstractStore``, without
  prompts, webhooks and deployment jobs);
* :class:`LoggedModelStore` — MLflow 3's logged models, which live with the tracking
  data (an experiment's ``models/``), so they are built from the *tracking* URI.

Same layering as :class:`~tracklet.stores.TrackingStore`:

* **public methods** (what the client and the server call) check and normalise every
  argument once, with MLflow's messages and error codes: names, versions (``"3"``, ``3``
  -> ``"3"``; anything else is ``Parameter 'version' must be an integer, got '...'``),
  stages (``"staging"`` -> ``"Staging"``), aliases (no ``latest``, no ``v<digits>``), tag
  keys and values, ``max_results``, page tokens and search filters (parsed once here so a
  bad filter reads the same on every store);
* **protected primitives** (``_create_registered_model``…, abstract) receive checked
  arguments only and refuse what depends on stored state with the refusals below
  (:func:`no_such_registered_model`, :func:`no_such_model_version`…), so every store
  words them alike.

Rules every implementation follows:

* versions are numbered 1, 2, 3… per model, never reused while the model exists: a new
  version is one more than the highest ever created (deleted ones count), even when
  several threads or processes create versions at once (capability
  ``concurrent_versions``);
* ``get_registered_model`` and search results carry ``latest_versions`` (the latest
  version per stage) and ``aliases``; versions carry their ``aliases``;
* deleting a version removes the aliases pointing at it; deleting a model removes its
  versions, tags and aliases; renaming a model moves its versions, tags and aliases;
* a rejected call changes nothing already stored.
"""

from __future__ import annotations

import abc
import json
import re
import sys
from collections.abc import Sequence
from typing import Any, ClassVar

from tracklet.entities import (
    LoggedModel,
    LoggedModelInput,
    LoggedModelOutput,
    LoggedModelParameter,
    LoggedModelStatus,
    LoggedModelTag,
    Metric,
    PagedList,
    Run,
    RunInputs,
    RunOutputs,
)
from tracklet.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelTag,
)
from tracklet.entities.model_registry.model_version_stages import (
    ALL_STAGES,
    DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS,
    get_canonical_stage,
)
from tracklet.exceptions import (
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    TrackletException,
)

__all__ = [
    "CAPABILITIES",
    "LOGGED_MODEL_CAPABILITIES",
    "LoggedModelStore",
    "MAX_MODEL_REGISTRY_TAG_KEY_LENGTH",
    "MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH",
    "MAX_REGISTERED_MODEL_ALIAS_LENGTH",
    "RegistryStore",
    "SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT",
    "SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT",
    "SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD",
    "SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT",
    "SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD",
    "alias_not_found",
    "canonical_version",
    "logged_model_experiment_not_active",
    "no_logged_model_tag",
    "no_such_logged_model",
    "no_such_model_version",
    "no_such_registered_model",
    "registered_model_exists",
    "validate_logged_model_name",
    "validate_model_alias",
    "validate_model_name",
    "validate_model_version_tag",
    "validate_registered_model_tag",
    "validate_tag_name",
]

#: Optional features a registry store may declare in :attr:`RegistryStore.capabilities`;
#: the conformance suite skips the tests of a feature a store does not declare.
#:
#: * ``concurrent_versions``: several threads *and processes* (each with its own store
#:   instance) may create versions of one model at once and get 1..N without gaps;
#: * ``logged_models``: the store also implements :class:`LoggedModelStore`;
#: * ``import``: the copy primitives (:meth:`RegistryStore.import_registered_model`,
#:   :meth:`~RegistryStore.import_model_version`,
#:   :meth:`~RegistryStore.import_registered_model_aliases`) that ``tracklet migrate``
#:   writes through: models and versions with the numbers, times, stages and fields they
#:   had in another store, idempotently.
CAPABILITIES = frozenset({"concurrent_versions", "logged_models", "import"})

#: Optional features of a :class:`LoggedModelStore` (none defined yet).
LOGGED_MODEL_CAPABILITIES: frozenset[str] = frozenset()

# MLflow's limits (mlflow/store/model_registry/__init__.py, mlflow/utils/validation.py).
SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT = 100
SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD = 1000
SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT = 10_000
SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD = 200_000
SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT = 100
MAX_MODEL_REGISTRY_TAG_KEY_LENGTH = 250
MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH = 100_000
MAX_REGISTERED_MODEL_ALIAS_LENGTH = 255
_MAX_PARAM_KEY_LENGTH = 250
_MAX_PARAM_VALUE_LENGTH = 6000

_VALID_NAME = re.compile(r"^[/\w.\- :]*$")
_ALIAS = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS = re.compile(r"^[vV]\d+$")
_LATEST_ALIAS = "latest"
#: The logged-model tag MLflow keeps the versions registered from a model in.
MLFLOW_MODEL_VERSIONS_TAG = "mlflow.modelVersions"


def _bad(message: str) -> TrackletException:
    return TrackletException(message, INVALID_PARAMETER_VALUE)


# == refusals that depend on stored state (worded once for every store) =======================


def no_such_registered_model(name: str) -> TrackletException:
    """A registered model name the store does not hold (MLflow's words)."""
    return TrackletException(f"Registered Model with name={name} not found", RESOURCE_DOES_NOT_EXIST)


def registered_model_exists(name: str) -> TrackletException:
    """A create or rename onto a name already taken."""
    return TrackletException(f"Registered Model (name={name}) already exists.", RESOURCE_ALREADY_EXISTS)


def no_such_model_version(name: str, version: str | int) -> TrackletException:
    """A version the model does not have (or a deleted one)."""
    return TrackletException(
        f"Model Version (name={name}, version={version}) not found", RESOURCE_DOES_NOT_EXIST
    )


def alias_not_found(alias: str) -> TrackletException:
    """An alias the model does not have (MLflow answers INVALID_PARAMETER_VALUE here)."""
    return TrackletException(f"Registered model alias {alias} not found.", INVALID_PARAMETER_VALUE)


def no_such_logged_model(model_id: str) -> TrackletException:
    """A logged model id the store does not hold (or a deleted one)."""
    return TrackletException(f"Model '{model_id}' not found", RESOURCE_DOES_NOT_EXIST)


def no_logged_model_tag(model_id: str, key: str) -> TrackletException:
    """Deleting a tag the logged model does not have."""
    return TrackletException(
        f"No tag with key {key!r} found for model with ID {model_id!r}.", RESOURCE_DOES_NOT_EXIST
    )


def logged_model_experiment_not_active(experiment_id: str) -> TrackletException:
    """Creating a logged model in a deleted experiment."""
    return TrackletException(
        f"Could not create model under non-active experiment with ID {experiment_id}.", INVALID_STATE
    )


# == argument checks (MLflow's messages) ======================================================


def _json(value: object) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return repr(value)


def _invalid_value(path: str, value: object, message: str | None = None) -> str:
    shown = _json(value)
    if message:
        return f"Invalid value {shown} for parameter '{path}' supplied: {message}"
    return f"Invalid value {shown} for parameter '{path}' supplied."


def _path_not_unique(name: str) -> bool:
    import posixpath

    norm = posixpath.normpath(name)
    return norm != name or norm == "." or norm.startswith("..") or norm.startswith("/")


def _bad_path_message(name: str) -> str:
    import posixpath

    return (
        "Names may be treated as files in certain cases, and must not resolve to other names"
        f" when treated as such. This name would resolve to {posixpath.normpath(name)!r}"
    )


_BAD_CHARACTERS = (
    "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.),"
    " spaces ( ), colon(:) and slashes (/)."
)


def _check_length(what: str, limit: int, value: str | None) -> None:
    if value is not None and len(value) > limit:
        raise _bad(f"'{what}' exceeds the maximum length of {limit} characters")


def _check_text(path: str, value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise _bad(_invalid_value(path, value, "it must be a string."))


def validate_model_name(name: object, path: str = "name") -> str:
    """A registered model name: non-blank, no ``/`` or ``:``, not a path resolving elsewhere."""
    if name is None or (isinstance(name, str) and name.strip() == ""):
        raise _bad(f"Missing value for required parameter '{path}'.")
    if not isinstance(name, str):
        raise _bad(_invalid_value(path, name, "it must be a string."))
    if "/" in name or ":" in name:
        raise _bad(f"Invalid model name '{name}'. Names cannot contain '/' or ':'.")
    if _path_not_unique(name):
        raise _bad(_invalid_value(path, name, _bad_path_message(name)))
    return name


def canonical_version(version: object) -> str:
    """A version number as stores receive it: ``3``, ``"3"`` -> ``"3"``."""
    if isinstance(version, bool) or version is None:
        raise _bad(f"Parameter 'version' must be an integer, got '{version}'.")
    try:
        return str(int(version))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise _bad(f"Parameter 'version' must be an integer, got '{version}'.") from None


def validate_tag_name(key: object, path: str = "key") -> str:
    """A tag key (MLflow's ``_validate_tag_name``)."""
    if key is None:
        raise _bad(f"Missing value for required parameter '{path}'.")
    if not isinstance(key, str) or not _VALID_NAME.match(key):
        raise _bad(_invalid_value(path, key, _BAD_CHARACTERS))
    if _path_not_unique(key):
        raise _bad(_invalid_value(path, key, _bad_path_message(key)))
    return key


def validate_registered_model_tag(key: object, value: object) -> None:
    """A registered model tag: key rules, key ≤ 250 and value ≤ 100000 characters."""
    validate_tag_name(key)
    _check_text("value", value)
    _check_length("key", MAX_MODEL_REGISTRY_TAG_KEY_LENGTH, key)  # type: ignore[arg-type]
    _check_length("value", MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH, value)  # type: ignore[arg-type]


def validate_model_version_tag(key: object, value: object) -> None:
    """A model version tag: as a model tag, and the value may not be None."""
    validate_tag_name(key)
    if value is None:
        raise _bad("Tag value cannot be None")
    _check_text("value", value)
    _check_length("key", MAX_MODEL_REGISTRY_TAG_KEY_LENGTH, key)  # type: ignore[arg-type]
    _check_length("value", MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH, value)  # type: ignore[arg-type]


def validate_model_alias(alias: object, reserved: bool = False) -> str:
    """An alias name: ``[\\w-]``, ≤ 255 characters; with ``reserved``, also not ``latest``
    (any case) and not ``v<digits>`` (the names a new alias may not take)."""
    if alias is None or alias == "":
        raise _bad("Registered model alias name cannot be empty.")
    if not isinstance(alias, str) or not _ALIAS.match(alias):
        raise _bad(
            f"Invalid alias name: '{alias}'. "
            "Names may only contain alphanumerics, underscores (_), and dashes (-)."
        )
    _check_length("Registered model alias name", MAX_REGISTERED_MODEL_ALIAS_LENGTH, alias)
    if reserved:
        if alias.lower() == _LATEST_ALIAS:
            raise _bad("'latest' alias name (case insensitive) is reserved.")
        if _VERSION_ALIAS.match(alias):
            raise _bad(f"Version alias name '{alias}' is reserved.")
    return alias


def validate_logged_model_name(name: object) -> None:
    """A logged model name: None (a random one is chosen) or non-empty without ``/:.%"'``."""
    if name is None:
        return
    bad_chars = ("/", ":", ".", "%", '"', "'")
    if not isinstance(name, str) or not name or any(c in name for c in bad_chars):
        raise _bad(
            f"Invalid model name ({name!r}) provided. Model name must be a non-empty string "
            f"and cannot contain the following characters: {bad_chars}"
        )


def _check_import_number(path: str, value: object, allow_zero: bool = False) -> int:
    """A version number being imported: a positive int (or a string of one)."""
    try:
        number = int(str(value))
    except ValueError:
        number = -1
    if isinstance(value, bool) or number < (0 if allow_zero else 1):
        raise _bad(f"Parameter '{path}' must be a positive integer, got {value!r}.")
    return number


def _validate_max_results(max_results: object, limit: int) -> None:
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise _bad(f"Invalid value for max_results. It must be a positive integer, but got {max_results}")
    if max_results > limit:
        raise _bad(
            "Invalid value for request parameter max_results. It must be at most "
            f"{limit}, but got value {max_results}"
        )


def _validate_page_token(page_token: object) -> str | None:
    """None for the first page; otherwise a token a previous page handed out (MLflow's
    base64 JSON with an ``offset``), refused alike on every store when it is not."""
    if page_token is None or page_token == "":
        return None
    if not isinstance(page_token, str):
        raise _bad(f"Invalid page token, could not base64-decode. Got {page_token!r}")
    from tracklet.search import read_offset

    read_offset(page_token)
    return page_token


def _order_by(order_by: object) -> list[str]:
    if order_by is None:
        return []
    if isinstance(order_by, str):
        return [order_by]
    return [str(o) for o in order_by]  # type: ignore[attr-defined]


def _description(description: object, path: str = "description") -> str | None:
    _check_text(path, description)
    return description  # type: ignore[return-value]


def _tags(tags: object, kind: type[Any]) -> list[Any]:
    """Tags as a list of ``kind``: a list of tag objects, or a dict key -> value."""
    if tags is None:
        return []
    if isinstance(tags, dict):
        return [kind(str(k), v if v is None else str(v)) for k, v in tags.items()]
    return [t if isinstance(t, kind) else kind(t.key, t.value) for t in tags]  # type: ignore[attr-defined]


def _check_search(kind: str, filter_string: str | None, order_by: Any) -> None:
    """Parse the filter and order once, here, so every store refuses a bad search with the
    same words (stores parse again: the parse is cached)."""
    from tracklet import search

    if kind == "registered_model":
        search.parse_registered_model_filter(filter_string)
        search.parse_registered_model_order_by(order_by)
    elif kind == "model_version":
        search.parse_model_version_filter(filter_string)
        search.parse_model_version_order_by(order_by)
    else:
        search.parse_logged_model_filter(filter_string)
        search.parse_logged_model_order_by(order_by)


# == the registry contract =====================================================================


class RegistryStore(abc.ABC):
    """Abstract registry store, built by a plugin from a registry URI.

    A store implements the abstract ``_``-prefixed primitives; callers use the public
    methods, which check the arguments first (see the module docstring).
    """

    #: Features beyond the required surface (see :data:`CAPABILITIES`).
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, store_uri: str | None = None) -> None:
        self.store_uri = store_uri

    def close(self) -> None:  # noqa: B027 - optional hook with a do-nothing default
        """Release what the store holds (connections, files); the default holds nothing."""

    # -- registered models -----------------------------------------------------------------

    def create_registered_model(
        self,
        name: str,
        tags: Sequence[RegisteredModelTag] | None = None,
        description: str | None = None,
        deployment_job_id: str | None = None,
    ) -> RegisteredModel:
        """Create a registered model (``RESOURCE_ALREADY_EXISTS`` if the name is taken)."""
        validate_model_name(name)
        tag_list = _tags(tags, RegisteredModelTag)
        for tag in tag_list:
            validate_registered_model_tag(tag.key, tag.value)
        return self._create_registered_model(
            name, tag_list, _description(description), deployment_job_id or None
        )

    def update_registered_model(
        self, name: str, description: str | None, deployment_job_id: str | None = None
    ) -> RegisteredModel:
        """Change a model's description; returns the updated model."""
        validate_model_name(name)
        return self._update_registered_model(name, _description(description), deployment_job_id or None)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Rename a model; its versions, tags and aliases follow."""
        validate_model_name(name)
        if new_name is None or str(new_name).strip() == "":
            raise _bad("Missing value for required parameter 'new_name'.")
        validate_model_name(new_name)
        return self._rename_registered_model(name, new_name)

    def delete_registered_model(self, name: str) -> None:
        """Delete a model with all its versions, tags and aliases."""
        validate_model_name(name)
        self._delete_registered_model(name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        """Registered models matching a filter (default order: name ascending), one page at a time.

        ``max_results`` defaults to 100 and may be at most 1000 (MLflow's limits).
        """
        size = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT if max_results is None else max_results
        _validate_max_results(size, SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD)
        filter_string = filter_string or None
        orders = _order_by(order_by)
        _check_search("registered_model", filter_string, orders)
        return self._search_registered_models(filter_string, size, orders, _validate_page_token(page_token))

    def get_registered_model(self, name: str) -> RegisteredModel:
        """The registered model with its latest versions (per stage) and aliases."""
        validate_model_name(name)
        return self._get_registered_model(name)

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]:
        """The latest version in each of ``stages`` (every stage when None or empty)."""
        validate_model_name(name)
        if isinstance(stages, str):
            stages = [stages]
        wanted = [get_canonical_stage(s) for s in stages] if stages else list(ALL_STAGES)
        return self._get_latest_versions(name, list(dict.fromkeys(wanted)))

    def set_registered_model_tag(self, name: str, tag: RegisteredModelTag) -> None:
        """Set (or overwrite) a tag on a model."""
        validate_model_name(name)
        validate_registered_model_tag(tag.key, tag.value)
        self._set_registered_model_tag(name, RegisteredModelTag(tag.key, tag.value))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Remove a tag from a model (a missing key is not an error)."""
        validate_model_name(name)
        validate_tag_name(key)
        self._delete_registered_model_tag(name, key)

    # -- model versions --------------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Sequence[ModelVersionTag] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        local_model_path: str | None = None,
        model_id: str | None = None,
    ) -> ModelVersion:
        """Add a version to a model: 1, 2, 3… (``RESOURCE_DOES_NOT_EXIST`` for an unknown model).

        A ``models:/<name>/<version>`` source is stored as given and downloaded from that
        version's location; a ``models:/<model_id>`` source (or ``model_id`` without a
        ``run_id``) takes the logged model's location and source run when the store can
        look logged models up (see :meth:`_find_logged_model`).
        """
        validate_model_name(name)
        if source is None or not isinstance(source, str) or source == "":
            raise _bad("Missing value for required parameter 'source'.")
        tag_list = _tags(tags, ModelVersionTag)
        for tag in tag_list:
            validate_model_version_tag(tag.key, tag.value)
        _check_text("run_id", run_id)
        _check_text("run_link", run_link)
        _check_text("model_id", model_id)
        storage_location = source
        if source.startswith("models:/"):
            storage_location, source_run_id = self._resolve_models_source(source)
            run_id = run_id or source_run_id
        if not run_id and model_id:
            logged = self._find_logged_model(model_id)
            if logged is not None:
                run_id = logged.source_run_id
        return self._create_model_version(
            name,
            source,
            run_id or None,
            tag_list,
            run_link or None,
            _description(description),
            model_id or None,
            storage_location,
        )

    def _resolve_models_source(self, source: str) -> tuple[str, str | None]:
        """Where a ``models:/`` source's files are, and the run that made it (if known)."""
        body = source[len("models:/") :].strip("/")
        parts = body.split("/")
        try:
            if len(parts) >= 2 and parts[1].isdigit():
                return self.get_model_version_download_uri(parts[0], parts[1]), None
            if len(parts) >= 2:  # models:/name/Stage or models:/name/latest
                stage = parts[1]
                if stage.lower() == _LATEST_ALIAS:
                    versions = self.get_latest_versions(parts[0])
                else:
                    versions = self.get_latest_versions(parts[0], [stage])
                if versions:
                    best = max(versions, key=lambda v: int(v.version))
                    return self.get_model_version_download_uri(parts[0], str(best.version)), best.run_id
                raise no_such_registered_model(parts[0])
            if "@" in parts[0]:
                model_name, alias = parts[0].split("@", 1)
                version = self.get_model_version_by_alias(model_name, alias)
                return self.get_model_version_download_uri(model_name, str(version.version)), version.run_id
            logged = self._find_logged_model(parts[0])
            if logged is not None:
                return logged.artifact_location, logged.source_run_id
            return source, None
        except TrackletException as e:
            raise TrackletException(
                f"Unable to fetch model from model URI source artifact location '{source}'.Error: {e}",
                e.error_code,
            ) from e

    def _find_logged_model(self, model_id: str) -> LoggedModel | None:
        """The logged model ``model_id`` if this store holds logged models (else None).

        A store serving both contracts finds it itself; override to look elsewhere.
        """
        if isinstance(self, LoggedModelStore):
            return self.get_logged_model(model_id)
        return None

    def update_model_version(self, name: str, version: str, description: str | None) -> ModelVersion:
        """Change a version's description; returns the updated version."""
        validate_model_name(name)
        return self._update_model_version(name, canonical_version(version), _description(description))

    def transition_model_version_stage(
        self, name: str, version: str, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        """Move a version to a stage; with ``archive_existing_versions`` (only for Staging and
        Production) the other versions in that stage move to Archived."""
        validate_model_name(name)
        version = canonical_version(version)
        if stage is None or not isinstance(stage, str):
            raise _bad("Missing value for required parameter 'stage'.")
        canonical = get_canonical_stage(stage)
        archive = bool(archive_existing_versions)
        if archive and canonical not in DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS:
            raise _bad(
                "Model version transition cannot archive existing model versions "
                f"because '{stage}' is not an Active stage. Valid stages are "
                f"{DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS}"
            )
        return self._transition_model_version_stage(name, version, canonical, archive)

    def delete_model_version(self, name: str, version: str) -> None:
        """Delete a version (its number is not reused; aliases pointing at it go)."""
        validate_model_name(name)
        self._delete_model_version(name, canonical_version(version))

    def get_model_version(self, name: str, version: str) -> ModelVersion:
        """One version of a model."""
        validate_model_name(name)
        return self._get_model_version(name, canonical_version(version))

    def get_model_version_download_uri(self, name: str, version: str) -> str:
        """Where a version's files are (its storage location, else its source)."""
        validate_model_name(name)
        return self._get_model_version_download_uri(name, canonical_version(version))

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        """Model versions matching a filter, one page at a time.

        Default order: ``last_updated_timestamp DESC, name ASC, version_number DESC``
        (MLflow's); an explicit order is followed by ``name ASC, version_number DESC``.
        ``max_results`` defaults to 10000 and may be at most 200000.
        """
        size = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT if max_results is None else max_results
        _validate_max_results(size, SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD)
        filter_string = filter_string or None
        orders = _order_by(order_by)
        _check_search("model_version", filter_string, orders)
        return self._search_model_versions(filter_string, size, orders, _validate_page_token(page_token))

    def set_model_version_tag(self, name: str, version: str, tag: ModelVersionTag) -> None:
        """Set (or overwrite) a tag on a version."""
        validate_model_name(name)
        version = canonical_version(version)
        validate_model_version_tag(tag.key, tag.value)
        self._set_model_version_tag(name, version, ModelVersionTag(tag.key, tag.value))

    def delete_model_version_tag(self, name: str, version: str, key: str) -> None:
        """Remove a tag from a version (a missing key is not an error)."""
        validate_model_name(name)
        version = canonical_version(version)
        validate_tag_name(key)
        self._delete_model_version_tag(name, version, key)

    # -- aliases ---------------------------------------------------------------------------

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        """Point an alias at a version (moving it if it pointed elsewhere)."""
        validate_model_name(name)
        validate_model_alias(alias, reserved=True)
        self._set_registered_model_alias(name, alias, canonical_version(version))

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias (a missing alias is not an error; an unknown model is)."""
        validate_model_name(name)
        validate_model_alias(alias)
        self._delete_registered_model_alias(name, alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at; ``latest`` (any case) is the highest version."""
        validate_model_name(name)
        if isinstance(alias, str) and alias.lower() == _LATEST_ALIAS:
            versions = self.get_latest_versions(name)
            if not versions:
                raise alias_not_found(alias)
            return self.get_model_version(name, str(max(versions, key=lambda v: int(v.version)).version))
        validate_model_alias(alias)
        return self._get_model_version_by_alias(name, alias)

    def copy_model_version(self, src_mv: ModelVersion, dst_name: str) -> ModelVersion:
        """Copy a version into another model (created if missing) as its next version.

        The copy's source is ``models:/<src name>/<src version>``; tags, run, run link,
        description and logged model id come along.
        """
        try:
            created = self.create_registered_model(dst_name)
            print(f"Successfully registered model '{created.name}'.", file=sys.stderr)
        except TrackletException as e:
            if e.error_code != RESOURCE_ALREADY_EXISTS:
                raise
            print(
                f"Registered model '{dst_name}' already exists. Creating a new version of this model...",
                file=sys.stderr,
            )
        try:
            copy = self.create_model_version(
                name=dst_name,
                source=f"models:/{src_mv.name}/{src_mv.version}",
                run_id=src_mv.run_id,
                tags=[ModelVersionTag(k, v) for k, v in src_mv.tags.items()],
                run_link=src_mv.run_link,
                description=src_mv.description,
                model_id=src_mv.model_id,
            )
        except TrackletException as e:
            raise TrackletException(
                "Failed to create model version copy. The current model registry backend "
                f"may not yet support model version URI sources.\nError: {e}",
                e.error_code,
            ) from e
        print(
            f"Copied version '{src_mv.version}' of model '{src_mv.name}' "
            f"to version '{copy.version}' of model '{copy.name}'.",
            file=sys.stderr,
        )
        return copy

    # -- copying between stores (capability ``import``) ------------------------------------
    #
    # ``tracklet migrate`` copies a registry through these calls. Each makes the destination
    # hold exactly what it is given, whatever was there before, so a copy that was killed and
    # is started again ends with nothing missing and nothing twice. They write what the
    # ordinary calls cannot (a given version number, stage and times); a store without
    # capability ``import`` refuses them with ``NOT_IMPLEMENTED``.

    def get_last_version_number(self, name: str) -> int:
        """The highest version number the model ever gave, deleted versions included (0 for
        none): a copy keeps the gaps deleted versions left, so the destination's next
        version gets the number the source's would."""
        validate_model_name(name)
        return self._get_last_version_number(name)

    def import_registered_model(self, model: RegisteredModel, last_version: int = 0) -> None:
        """Create or overwrite the model ``model.name``: creation and update times,
        description, deployment job id, and its tags replaced by ``model.tags``. Versions
        created afterwards are numbered above ``last_version`` (and above every version it
        holds). Its versions and aliases are not written here."""
        validate_model_name(model.name)
        for key, value in model.tags.items():
            validate_registered_model_tag(key, value)
        _description(model.description)
        _check_import_number("last_version", last_version, allow_zero=True)
        self._import_registered_model(model, int(last_version))

    def import_model_version(self, version: ModelVersion, storage_location: str | None = None) -> None:
        """Create or overwrite version ``version.version`` of the (existing) model
        ``version.name`` with every field as given: times, description, user, stage,
        source, run id, run link, status and message, logged model id, and its tags
        replaced; ``storage_location`` (default: the source) is where it downloads from.
        The model's own update time is left as it is. ``RESOURCE_DOES_NOT_EXIST`` for an
        unknown model."""
        validate_model_name(version.name)
        number = _check_import_number("version", version.version)
        if version.current_stage not in ALL_STAGES:
            raise _bad(
                f"Invalid stage {version.current_stage!r} for version {number} of {version.name!r}: "
                f"it must be one of {', '.join(ALL_STAGES)}."
            )
        if not version.source:
            raise _bad(f"Missing source for version {number} of {version.name!r}.")
        for key, value in version.tags.items():
            validate_model_version_tag(key, value)
        _description(version.description)
        self._import_model_version(version, number, storage_location or version.source)

    def import_registered_model_aliases(self, name: str, aliases: dict[str, str | int]) -> None:
        """Make the model's aliases exactly ``aliases`` (alias -> version number): others are
        removed, each target version must exist. The model's update time is left as it is."""
        validate_model_name(name)
        targets = {}
        for alias, version in aliases.items():
            validate_model_alias(alias, reserved=True)
            targets[alias] = _check_import_number("version", version)
        self._import_registered_model_aliases(name, targets)

    # == primitives: what a store writes (arguments already checked) ============================

    @abc.abstractmethod
    def _create_registered_model(
        self,
        name: str,
        tags: list[RegisteredModelTag],
        description: str | None,
        deployment_job_id: str | None,
    ) -> RegisteredModel:
        """Store a new model (creation and update times = now) and return it.

        Raise :func:`registered_model_exists` if the name is taken.
        """

    @abc.abstractmethod
    def _update_registered_model(
        self, name: str, description: str | None, deployment_job_id: str | None
    ) -> RegisteredModel:
        """Set the description (and update time) of an existing model; return the model.

        ``deployment_job_id`` None leaves the stored one as it is.
        """

    @abc.abstractmethod
    def _rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Rename; versions, tags and aliases follow. :func:`no_such_registered_model` /
        :func:`registered_model_exists` (the new name is taken, even by the model itself)."""

    @abc.abstractmethod
    def _delete_registered_model(self, name: str) -> None:
        """Delete a model with its versions, tags and aliases."""

    @abc.abstractmethod
    def _search_registered_models(
        self, filter_string: str | None, max_results: int, order_by: list[str], page_token: str | None
    ) -> PagedList[RegisteredModel]:
        """One page of models. ``filter_string`` and ``order_by`` parse (see
        :func:`tracklet.search.parse_registered_model_filter`);
        :func:`tracklet.search.filter_registered_models` does it all in memory."""

    @abc.abstractmethod
    def _get_registered_model(self, name: str) -> RegisteredModel:
        """The model with ``latest_versions`` and ``aliases``, or :func:`no_such_registered_model`."""

    @abc.abstractmethod
    def _get_latest_versions(self, name: str, stages: list[str]) -> list[ModelVersion]:
        """For each canonical stage in ``stages``, the highest version in it (if any)."""

    @abc.abstractmethod
    def _set_registered_model_tag(self, name: str, tag: RegisteredModelTag) -> None:
        """Set a tag on an existing model."""

    @abc.abstractmethod
    def _delete_registered_model_tag(self, name: str, key: str) -> None:
        """Delete a tag of an existing model (no error when the key is absent)."""

    @abc.abstractmethod
    def _create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None,
        tags: list[ModelVersionTag],
        run_link: str | None,
        description: str | None,
        model_id: str | None,
        storage_location: str,
    ) -> ModelVersion:
        """Add the next version (stage ``None``, status ``READY``) to an existing model.

        ``storage_location`` is where its files are (``source`` itself unless the source
        was a ``models:/`` URI); :meth:`_get_model_version_download_uri` returns it.
        """

    @abc.abstractmethod
    def _update_model_version(self, name: str, version: str, description: str | None) -> ModelVersion:
        """Set a version's description (and update time); return the version."""

    @abc.abstractmethod
    def _transition_model_version_stage(
        self, name: str, version: str, stage: str, archive_existing_versions: bool
    ) -> ModelVersion:
        """Set the (canonical) stage; with ``archive_existing_versions`` move the model's other
        versions in that stage to ``Archived``. Return the version."""

    @abc.abstractmethod
    def _delete_model_version(self, name: str, version: str) -> None:
        """Delete a version and the aliases pointing at it."""

    @abc.abstractmethod
    def _get_model_version(self, name: str, version: str) -> ModelVersion:
        """The version with its tags and aliases, or :func:`no_such_model_version`."""

    @abc.abstractmethod
    def _get_model_version_download_uri(self, name: str, version: str) -> str:
        """The version's storage location (else its source)."""

    @abc.abstractmethod
    def _search_model_versions(
        self, filter_string: str | None, max_results: int, order_by: list[str], page_token: str | None
    ) -> PagedList[ModelVersion]:
        """One page of versions (see :func:`tracklet.search.filter_model_versions`)."""

    @abc.abstractmethod
    def _set_model_version_tag(self, name: str, version: str, tag: ModelVersionTag) -> None:
        """Set a tag on an existing version."""

    @abc.abstractmethod
    def _delete_model_version_tag(self, name: str, version: str, key: str) -> None:
        """Delete a tag of an existing version (no error when the key is absent)."""

    @abc.abstractmethod
    def _set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        """Point the alias at an existing version (:func:`no_such_model_version` otherwise)."""

    @abc.abstractmethod
    def _delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove the alias of an existing model (no error when absent)."""

    @abc.abstractmethod
    def _get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version the alias points at; :func:`alias_not_found` if the model lacks it."""

    # -- copy primitives (capability ``import``): defaults read through the primitives above,
    # or refuse -----------------------------------------------------------------------------

    def _get_last_version_number(self, name: str) -> int:
        """Default: the highest visible version (a store that keeps deleted versions or a
        counter overrides, so gaps after the highest visible version are kept too)."""
        model = self._get_registered_model(name)
        found = [int(v.version) for v in model.latest_versions or []]
        page = self._search_model_versions(
            f"name = '{name}'", SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD, [], None
        )
        found += [int(v.version) for v in page]
        return max(found, default=0)

    def _refuse_import(self, what: str) -> Any:
        from tracklet.exceptions import NOT_IMPLEMENTED

        raise TrackletException(
            f"{type(self).__name__} cannot {what}: it does not declare capability 'import' "
            "(tracklet migrate writes only into registries that do; see docs/migrate.md).",
            NOT_IMPLEMENTED,
        )

    def _import_registered_model(self, model: RegisteredModel, last_version: int) -> None:
        """Upsert a model with its times, description and tags (capability ``import``); the
        default refuses."""
        self._refuse_import("import registered models")

    def _import_model_version(self, version: ModelVersion, number: int, storage_location: str) -> None:
        """Upsert a version with its number and every field (capability ``import``); the
        default refuses."""
        self._refuse_import("import model versions")

    def _import_registered_model_aliases(self, name: str, aliases: dict[str, int]) -> None:
        """Replace a model's aliases (capability ``import``); the default refuses."""
        self._refuse_import("import aliases")


# == the logged model contract ================================================================


def _experiment_id(value: object) -> str:
    from tracklet.validation import canonical_experiment_id

    return canonical_experiment_id("0" if value is None else value)


def _canonical_status(status: object) -> LoggedModelStatus:
    if isinstance(status, LoggedModelStatus):
        return status
    if isinstance(status, int) and not isinstance(status, bool):
        return LoggedModelStatus.from_int(status)
    if isinstance(status, str):
        names = {"LOGGED_MODEL_READY": "READY", "LOGGED_MODEL_PENDING": "PENDING"}
        names["LOGGED_MODEL_UPLOAD_FAILED"] = "FAILED"
        names["LOGGED_MODEL_STATUS_UNSPECIFIED"] = "UNSPECIFIED"
        key = names.get(status.upper(), status.upper())
        if key in LoggedModelStatus.__members__:
            return LoggedModelStatus(key)
    raise _bad(f"Unknown model status: {status}")


def _validate_logged_model_param(param: LoggedModelParameter) -> None:
    if param.key is None:
        raise _bad(_invalid_value("key", "", "A key name must be provided."))
    validate_tag_name(param.key)
    _check_length("Param key", _MAX_PARAM_KEY_LENGTH, param.key)
    value = None if param.value is None else str(param.value)
    _check_length("Param value", _MAX_PARAM_VALUE_LENGTH, value)


def _run_id(run_id: object) -> str:
    if not isinstance(run_id, str) or not run_id:
        raise _bad("Missing value for required parameter 'run_id'.")
    return run_id


def _model_id(model_id: object) -> str:
    if not isinstance(model_id, str) or model_id == "":
        raise _bad("Missing value for required parameter 'model_id'.")
    return model_id


class LoggedModelStore(abc.ABC):
    """Abstract store of logged models, built from a tracking URI.

    The artifact location of a new model is
    ``<experiment artifact_location>/models/<model_id>/artifacts``; ids are
    ``m-<32 hex>``; a new model is ``PENDING`` until finalized.
    """

    #: Features beyond the required surface (see :data:`LOGGED_MODEL_CAPABILITIES`).
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def close(self) -> None:  # noqa: B027 - optional hook with a do-nothing default
        """Release what the store holds (connections, files); the default holds nothing."""

    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: Sequence[LoggedModelTag] | None = None,
        params: Sequence[LoggedModelParameter] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        """Create a ``PENDING`` logged model in an active experiment (random name if None)."""
        validate_logged_model_name(name)
        experiment_id = _experiment_id(experiment_id)
        tag_list = _tags(tags, LoggedModelTag)
        for tag in tag_list:
            validate_tag_name(tag.key)
        param_list = _tags(params, LoggedModelParameter)
        for param in param_list:
            _validate_logged_model_param(param)
        if name is None:
            from tracklet.stores.helpers import random_run_name

            name = random_run_name()
        return self._create_logged_model(
            experiment_id, name, source_run_id or None, tag_list, param_list, model_type or None
        )

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        """The logged model with its tags, params and metrics; :func:`no_such_logged_model`."""
        return self._get_logged_model(_model_id(model_id), bool(allow_deleted))

    def finalize_logged_model(self, model_id: str, status: LoggedModelStatus) -> LoggedModel:
        """Set a model's final status (READY or FAILED, as MLflow any status is accepted)."""
        return self._finalize_logged_model(_model_id(model_id), _canonical_status(status))

    def delete_logged_model(self, model_id: str) -> None:
        """Delete a logged model (it is no longer found nor searched)."""
        self._delete_logged_model(_model_id(model_id))

    def set_logged_model_tags(self, model_id: str, tags: Sequence[LoggedModelTag]) -> None:
        """Set (or overwrite) tags on a model."""
        tag_list = _tags(tags, LoggedModelTag)
        for tag in tag_list:
            validate_tag_name(tag.key)
        self._set_logged_model_tags(_model_id(model_id), tag_list)

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        """Delete a tag; :func:`no_logged_model_tag` if the model lacks it."""
        validate_tag_name(key)
        self._delete_logged_model_tag(_model_id(model_id), key)

    def log_logged_model_params(self, model_id: str, params: Sequence[LoggedModelParameter]) -> None:
        """Set parameters on a model."""
        param_list = _tags(params, LoggedModelParameter)
        for param in param_list:
            _validate_logged_model_param(param)
        self._log_logged_model_params(_model_id(model_id), param_list)

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        datasets: list[dict[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: list[dict[str, Any]] | None = None,
        page_token: str | None = None,
    ) -> PagedList[LoggedModel]:
        """Logged models of the experiments matching a filter, one page at a time.

        ``order_by`` is MLflow's list of dicts (``field_name``, ``ascending``,
        ``dataset_name``, ``dataset_digest``); default order: creation time descending.
        """
        if isinstance(experiment_ids, (str, bytes)):
            raise _bad(
                f"experiment_ids must be a list, got str. Did you mean to use "
                f"experiment_ids=[{experiment_ids!r}]?"
            )
        ids = [_experiment_id(e) for e in experiment_ids or []]
        size = SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT if max_results is None else max_results
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise _bad(f"Invalid value for max_results. It must be a positive integer, but got {size}")
        if order_by is not None and not isinstance(order_by, (list, tuple)):
            raise _bad("`order_by` must be a list of dictionaries.")
        orders = list(order_by or [])
        sets = list(datasets or [])
        for dataset in sets:
            if not isinstance(dataset, dict) or not dataset.get("dataset_name"):
                raise _bad("`dataset_name` in the `datasets` clause must be specified.")
        filter_string = filter_string or None
        _check_search("logged_model", filter_string, orders)
        orders = [dict(o) for o in orders]
        sets = [dict(d) for d in sets]
        return self._search_logged_models(
            ids, filter_string, sets, size, orders, _validate_page_token(page_token)
        )

    def log_outputs(self, run_id: str, models: Sequence[LoggedModelOutput]) -> None:
        """Record the logged models a run produced (MLflow's run outputs)."""
        if not isinstance(run_id, str) or not run_id:
            raise _bad("Missing value for required parameter 'run_id'.")
        self._log_outputs(run_id, list(models))

    def require_logged_models(self, metrics: Sequence[Metric]) -> None:
        """Raise ``RESOURCE_DOES_NOT_EXIST`` if a metric names a ``model_id`` no logged model
        has. Callers check before the run's own metrics are written, so a metric for an
        unknown model is refused with nothing stored (as MLflow's SQL store does)."""
        for model_id in dict.fromkeys(m.model_id for m in metrics if getattr(m, "model_id", None)):
            self.get_logged_model(str(model_id))

    def log_logged_model_metrics(self, run_id: str, metrics: Sequence[Metric]) -> None:
        """Record, on their logged models, the metrics a run logged with a ``model_id``
        (MLflow's ``log_metric(..., model_id=...)`` and log-batch); the others are skipped.
        The run metrics themselves are the tracking store's: log them there first."""
        run_id = _run_id(run_id)
        linked = [m for m in metrics if getattr(m, "model_id", None)]
        if linked:
            self._log_logged_model_metrics(run_id, linked)

    def log_model_inputs(self, run_id: str, models: Sequence[LoggedModelInput]) -> None:
        """Record the logged models a run used (MLflow's ``log_inputs(..., models=...)``),
        once per model."""
        run_id = _run_id(run_id)
        for model in models:
            _model_id(getattr(model, "model_id", None))
        if models:
            self._log_model_inputs(run_id, list(models))

    def get_run_model_links(self, run_id: str) -> tuple[list[LoggedModelInput], list[LoggedModelOutput]]:
        """The logged models a run used and produced: ``(model_inputs, model_outputs)``."""
        return self._get_run_model_links(_run_id(run_id))

    def with_run_model_links(self, run: Run) -> Run:
        """``run`` with its ``inputs.model_inputs`` and ``outputs`` read from this store (a
        tracking store knows only the run's datasets)."""
        model_inputs, model_outputs = self.get_run_model_links(run.info.run_id)
        return Run(
            run.info,
            run.data,
            RunInputs(run.inputs.dataset_inputs, model_inputs),
            RunOutputs(model_outputs),
        )

    def set_model_versions_tags(self, name: str, version: str, model_id: str) -> None:
        """Add ``{"name", "version"}`` to the model's ``mlflow.modelVersions`` tag (as MLflow
        does when a logged model is registered)."""
        entry = {"name": name, "version": str(version)}
        model = self.get_logged_model(model_id)
        entries: list[Any] = [entry]
        existing = model.tags.get(MLFLOW_MODEL_VERSIONS_TAG)
        if existing:
            previous = json.loads(existing)
            entries = previous if entry in previous else previous + entries
        self.set_logged_model_tags(model_id, [LoggedModelTag(MLFLOW_MODEL_VERSIONS_TAG, json.dumps(entries))])

    # == primitives =========================================================================

    @abc.abstractmethod
    def _create_logged_model(
        self,
        experiment_id: str,
        name: str,
        source_run_id: str | None,
        tags: list[LoggedModelTag],
        params: list[LoggedModelParameter],
        model_type: str | None,
    ) -> LoggedModel:
        """Store a new ``PENDING`` model with a new ``m-<hex>`` id and return it. Refuse an
        unknown experiment (``RESOURCE_DOES_NOT_EXIST``) and a deleted one
        (:func:`logged_model_experiment_not_active`)."""

    @abc.abstractmethod
    def _get_logged_model(self, model_id: str, allow_deleted: bool) -> LoggedModel:
        """The model, or :func:`no_such_logged_model` (also for a deleted one unless allowed)."""

    @abc.abstractmethod
    def _finalize_logged_model(self, model_id: str, status: LoggedModelStatus) -> LoggedModel:
        """Set the status (and update time); return the model."""

    @abc.abstractmethod
    def _delete_logged_model(self, model_id: str) -> None:
        """Mark the model deleted."""

    @abc.abstractmethod
    def _set_logged_model_tags(self, model_id: str, tags: list[LoggedModelTag]) -> None:
        """Set tags on an existing model."""

    @abc.abstractmethod
    def _delete_logged_model_tag(self, model_id: str, key: str) -> None:
        """Delete a tag; :func:`no_logged_model_tag` when absent."""

    @abc.abstractmethod
    def _log_logged_model_params(self, model_id: str, params: list[LoggedModelParameter]) -> None:
        """Set params on an existing model."""

    @abc.abstractmethod
    def _search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        datasets: list[dict[str, Any]],
        max_results: int,
        order_by: list[dict[str, Any]],
        page_token: str | None,
    ) -> PagedList[LoggedModel]:
        """One page (see :func:`tracklet.search.filter_logged_models`); deleted models excluded."""

    def _log_logged_model_metrics(self, run_id: str, metrics: list[Metric]) -> None:
        """Append each metric (``model_id`` set) to its model's metrics, with ``run_id``;
        :func:`no_such_logged_model` for an unknown model. By default refused."""
        from tracklet.exceptions import NOT_IMPLEMENTED

        raise TrackletException(
            f"{type(self).__name__} does not record logged-model metrics.", NOT_IMPLEMENTED
        )

    def _log_model_inputs(self, run_id: str, models: list[LoggedModelInput]) -> None:
        """Record the models a run used (each once). By default refused."""
        from tracklet.exceptions import NOT_IMPLEMENTED

        raise TrackletException(
            f"{type(self).__name__} does not record run model inputs (log_inputs models).",
            NOT_IMPLEMENTED,
        )

    def _get_run_model_links(self, run_id: str) -> tuple[list[LoggedModelInput], list[LoggedModelOutput]]:
        """``(model_inputs, model_outputs)`` of a run; by default none."""
        return [], []

    def _log_outputs(self, run_id: str, models: list[LoggedModelOutput]) -> None:
        """Record run outputs; by default refused (a store that can, overrides)."""
        from tracklet.exceptions import NOT_IMPLEMENTED

        raise TrackletException(
            f"{type(self).__name__} does not record run outputs (log_outputs).", NOT_IMPLEMENTED
        )
