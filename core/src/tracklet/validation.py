"""MLflow's input rules, checked before anything is stored.

Every check raises :class:`~tracklet.exceptions.TrackletException` with
``INVALID_PARAMETER_VALUE`` and a message naming the field, the value and the rule.
Stores call these before writing so that a rejected call changes nothing.
"""

from __future__ import annotations

import numbers
import posixpath
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from tracklet.entities import DatasetInput, Metric, Param, RunTag, ViewType
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_ARTIFACT_PATH_DEPTH",
    "MAX_ARTIFACT_PATH_LENGTH",
    "MAX_DATASET_DIGEST_SIZE",
    "MAX_DATASET_NAME_SIZE",
    "MAX_DATASET_PROFILE_SIZE",
    "MAX_DATASET_SCHEMA_SIZE",
    "MAX_DATASET_SOURCE_SIZE",
    "MAX_DATASET_SOURCE_TYPE_SIZE",
    "MAX_ENTITIES_PER_BATCH",
    "MAX_ENTITY_KEY_LENGTH",
    "MAX_EXPERIMENT_NAME_LENGTH",
    "MAX_EXPERIMENT_TAG_VAL_LENGTH",
    "MAX_INPUT_TAG_KEY_SIZE",
    "MAX_INPUT_TAG_VALUE_SIZE",
    "MAX_METRICS_PER_BATCH",
    "MAX_PARAMS_TAGS_PER_BATCH",
    "MAX_PARAM_VAL_LENGTH",
    "MAX_RUN_NAME_LENGTH",
    "MAX_TAG_VAL_LENGTH",
    "MAX_USER_ID_LENGTH",
    "MetricBatch",
    "MetricColumns",
    "SEARCH_MAX_RESULTS_DEFAULT",
    "SEARCH_MAX_RESULTS_THRESHOLD",
    "canonical_experiment_id",
    "canonical_run_id",
    "canonical_view_type",
    "metric_columns",
    "short_repr",
    "validate_artifact_location",
    "validate_artifact_path",
    "validate_batch",
    "validate_dataset",
    "validate_dataset_inputs",
    "validate_experiment_id",
    "validate_experiment_name",
    "validate_experiment_tag",
    "validate_key",
    "validate_max_results",
    "validate_metric",
    "validate_page_token",
    "validate_param",
    "validate_run_id",
    "validate_run_name",
    "validate_tag",
    "validate_text",
    "validate_timestamp",
    "validate_user_id",
]

MAX_ENTITY_KEY_LENGTH = 250
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_EXPERIMENT_TAG_VAL_LENGTH = 20000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_RUN_NAME_LENGTH = 250
MAX_DATASET_NAME_SIZE = 500
MAX_DATASET_DIGEST_SIZE = 36
MAX_DATASET_SOURCE_TYPE_SIZE = 36
MAX_DATASET_SOURCE_SIZE = 65535
MAX_DATASET_SCHEMA_SIZE = 1048575
MAX_DATASET_PROFILE_SIZE = 16777215
MAX_INPUT_TAG_KEY_SIZE = 255
MAX_INPUT_TAG_VALUE_SIZE = 500
MAX_USER_ID_LENGTH = 256
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
SEARCH_MAX_RESULTS_DEFAULT = 1000
SEARCH_MAX_RESULTS_THRESHOLD = 50000
#: What a database's BIGINT holds: metric timestamps and steps, run times, page offsets.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: Artifact paths: Linux's PATH_MAX, and a depth a folder tree can be created at.
MAX_ARTIFACT_PATH_LENGTH = 4096
MAX_ARTIFACT_PATH_DEPTH = 256

_PLAIN_NUMBERS = (float, int)
_VALID_KEY = re.compile(r"^[/\w.\- :]*$")
# MLflow's id rules, but ASCII and matched whole: ``$`` alone lets "1<newline>" through, and
# ``\w`` takes ARABIC-INDIC DIGIT ONE, which int() reads as 1.
_RUN_ID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_\-]{0,255}")
_EXPERIMENT_ID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_\-]{0,63}")
# What PostgreSQL (NUL) or UTF-8 itself (lone surrogates, which only a JSON escape such as
# "\ud800" can produce) cannot store.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _bad(message: str) -> TrackletException:
    return TrackletException(message, INVALID_PARAMETER_VALUE)


def _path_not_unique(name: str) -> bool:
    norm = posixpath.normpath(name)
    return norm != name or norm == "." or norm.startswith("..") or norm.startswith("/")


# Keys already found valid: training loops log the same few keys many times, and this check
# sits on every logging call. Bounded; cleared when full.
_KNOWN_GOOD_KEYS: set[str] = set()
_KNOWN_GOOD_LIMIT = 10_000


def validate_key(kind: str, key: object) -> None:
    """A metric, param or tag key: ``[/\\w.\\- :]``, at most 250 chars, a clean relative path."""
    if key in _KNOWN_GOOD_KEYS:
        return
    _check_key(kind, key)
    if len(_KNOWN_GOOD_KEYS) >= _KNOWN_GOOD_LIMIT:
        _KNOWN_GOOD_KEYS.clear()
    _KNOWN_GOOD_KEYS.add(key)  # type: ignore[arg-type]


def _check_key(kind: str, key: object) -> None:
    if not isinstance(key, str) or key == "":
        raise _bad(f"Invalid {kind} name: {key!r}. Names must be non-empty strings.")
    if not _VALID_KEY.match(key):
        raise _bad(
            f"Invalid {kind} name: '{key}'. Names may only contain alphanumerics, "
            "underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/)."
        )
    if _path_not_unique(key):
        raise _bad(
            f"Invalid {kind} name: '{key}'. Names cannot be a path that resolves elsewhere "
            "('..', '.', a leading '/', doubled or trailing slashes)."
        )
    if len(key) > MAX_ENTITY_KEY_LENGTH:
        raise _bad(
            f"{kind.capitalize()} name '{key[:40]}…' has length {len(key)}, "
            f"which exceeds the limit of {MAX_ENTITY_KEY_LENGTH}."
        )


def validate_text(what: str, value: object) -> None:
    """Text every backend can store: no NUL (PostgreSQL refuses it) and no lone surrogate
    (U+D800 to U+DFFF, which has no UTF-8 form). Non-strings are left to other checks.

    :param what: how messages name the value, e.g. ``"param 'lr'"`` or ``"filter"``.
    """
    if not isinstance(value, str):
        return
    found = _UNSTORABLE.search(value)
    if found is not None:
        char = found.group()
        name = "NUL" if char == "\x00" else "a lone surrogate"
        raise _bad(
            f"Invalid {what}: it contains U+{ord(char):04X} ({name}) at position {found.start()}, "
            "which cannot be stored. Send text without NUL characters and as valid UTF-8."
        )


def _check_length(kind: str, key: str, value: str, limit: int) -> None:
    validate_text(f"{kind.lower()} of '{key}'", value)
    if len(value) > limit:
        raise _bad(
            f"{kind} '{key}' had length {len(value)}, which exceeded length limit of {limit}. "
            f"Shorten the value to at most {limit} characters."
        )


def validate_metric(key: object, value: object, timestamp: object, step: object) -> None:
    """Key rules, a real number value (NaN and ±inf allowed), integer timestamp and step."""
    validate_key("metric", key)
    # fast path for the common case; the general checks below handle numpy scalars and errors
    if (
        type(value) in _PLAIN_NUMBERS
        and type(timestamp) is int
        and 0 <= timestamp <= INT64_MAX
        and type(step) is int
        and INT64_MIN <= step <= INT64_MAX
    ):
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        raise _bad(
            f"Got invalid value {value!r} for metric '{key}' (timestamp={timestamp}). "
            "Please specify value as a valid double (64-bit floating point)"
        )
    if isinstance(value, complex):
        raise _bad(f"Got invalid value {value!r} for metric '{key}': complex numbers are not allowed")
    if (
        isinstance(timestamp, bool)
        or not isinstance(timestamp, numbers.Integral)
        or not 0 <= int(timestamp) <= INT64_MAX
    ):
        raise _bad(
            f"Got invalid timestamp {timestamp!r} for metric '{key}' (value={value}). "
            f"Timestamp must be a nonnegative long (64-bit integer, at most {INT64_MAX})"
        )
    if (
        isinstance(step, bool)
        or not isinstance(step, numbers.Integral)
        or not INT64_MIN <= int(step) <= INT64_MAX
    ):
        raise _bad(
            f"Got invalid step {step!r} for metric '{key}' (value={value}). "
            f"Step must be a valid long (64-bit integer, {INT64_MIN} to {INT64_MAX})."
        )


def validate_param(key: object, value: object) -> None:
    """Key rules and a string value of at most 6000 characters."""
    validate_key("param", key)
    assert isinstance(key, str)
    _check_length("Param value", key, str(value), MAX_PARAM_VAL_LENGTH)


def validate_tag(key: object, value: object) -> None:
    """Key rules and a string value of at most 8000 characters."""
    validate_key("tag", key)
    assert isinstance(key, str)
    _check_length("Tag value", key, "" if value is None else str(value), MAX_TAG_VAL_LENGTH)


def validate_experiment_tag(key: object, value: object) -> None:
    """Key rules and a string value of at most 20000 characters."""
    validate_key("tag", key)
    assert isinstance(key, str)
    _check_length("Tag value", key, "" if value is None else str(value), MAX_EXPERIMENT_TAG_VAL_LENGTH)


class MetricColumns(NamedTuple):
    """A batch's metrics as four columns, each metric read once (:func:`metric_columns`):
    checked in bulk by :func:`validate_batch`, then written by a store as they are."""

    keys: list[Any]
    values: list[Any]
    timestamps: list[Any]
    steps: list[Any]
    #: True once :func:`validate_batch` found every value a float and every timestamp and
    #: step an int: a writer need not convert (numpy scalars) or look at types again
    plain: bool = False


class MetricBatch(list[Metric]):
    """The metrics of one ``log_batch`` call, a list that keeps its :class:`MetricColumns`
    once read: what :func:`validate_batch` checked is what the store's ``_log_batch``
    writes, without reading 1,000 metrics' four properties a second time. Not to be changed
    once its columns are read (:meth:`TrackingStore.log_batch` builds one per call)."""

    __slots__ = ("columns",)

    def __init__(self, metrics: Iterable[Metric] = ()) -> None:
        super().__init__(metrics)
        #: set by the first :func:`metric_columns`
        self.columns: MetricColumns | None = None


def metric_columns(metrics: Sequence[Metric]) -> MetricColumns:
    """The metrics' keys, values, timestamps and steps as lists, in order; a
    :class:`MetricBatch`'s are read once and kept.

    A batch of exactly :class:`~tracklet.entities.Metric` (not a subclass, which may
    override a property) is read from its slots: a sixth of the cost of four property calls
    per metric (1,000 metrics: ~0.15 instead of ~0.9 ms). Anything else, an MLflow
    ``Metric`` for one, through its properties.
    """
    if isinstance(metrics, MetricBatch) and metrics.columns is not None:
        return metrics.columns
    if set(map(type, metrics)) <= _METRIC_ONLY:
        columns = MetricColumns(
            [m._key for m in metrics],
            [m._value for m in metrics],
            [m._timestamp for m in metrics],
            [m._step for m in metrics],
        )
    else:
        columns = MetricColumns(
            [m.key for m in metrics],
            [m.value for m in metrics],
            [m.timestamp for m in metrics],
            [m.step for m in metrics],
        )
    if isinstance(metrics, MetricBatch):
        metrics.columns = columns
    return columns


_METRIC_ONLY = frozenset({Metric})
_PLAIN_NUMBER_TYPES = frozenset(_PLAIN_NUMBERS)
_INT_ONLY = frozenset({int})
_FLOAT_ONLY = frozenset({float})


def _plain_numbers(columns: MetricColumns, value_types: set[type]) -> bool:
    """Whether every value is a float or int and every timestamp and step an int in
    range: :func:`validate_metric`'s fast path, over whole columns in C."""
    _, _, stamps, steps, _ = columns
    return value_types <= _PLAIN_NUMBER_TYPES and _int64s(stamps, 0) and _int64s(steps, INT64_MIN)


def _int64s(column: list[Any], low: int) -> bool:
    """Whether every item is an int from ``low`` to :data:`INT64_MAX`. Items of one step
    or one timestamp (the usual batch) are one range check after a ``count`` (equal ints:
    the types are checked first), not a ``min`` and a ``max`` over the column."""
    if not set(map(type, column)) <= _INT_ONLY:
        return False
    if not column:
        return True
    first: int = column[0]
    if column.count(first) == len(column):
        return low <= first <= INT64_MAX
    lowest: int = min(column)
    highest: int = max(column)
    return low <= lowest and highest <= INT64_MAX


def _known_keys(keys: list[Any]) -> bool:
    try:
        return _KNOWN_GOOD_KEYS.issuperset(keys)
    except TypeError:  # an unhashable key: validate_key says what it says of one
        return False


def _validate_metric_columns(columns: MetricColumns) -> bool:
    """:func:`validate_metric` of each metric in order, the same first error, in bulk when
    it can be: with every number plain only a key can be wrong, and the first bad key is
    the first error; with every key already known and every number plain, none is.
    Returns whether every value is a float and every timestamp and step an int."""
    value_types = set(map(type, columns.values))
    if _plain_numbers(columns, value_types):
        keys = columns.keys
        if not _known_keys(keys):
            for key in keys:
                validate_key("metric", key)
        return value_types <= _FLOAT_ONLY
    for key, value, timestamp, step in zip(*columns[:4], strict=True):
        validate_metric(key, value, timestamp, step)
    return False


def validate_batch(
    metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
) -> MetricColumns:
    """Batch limits (1000 metrics, 100 params, 100 tags, 1000 in all), then each entry, then
    duplicate param keys with different values inside the batch. Returns the metrics'
    columns (:func:`metric_columns`), which a :class:`MetricBatch` also keeps."""
    if len(metrics) > MAX_METRICS_PER_BATCH:
        raise _bad(
            f"A batch logging request can contain at most {MAX_METRICS_PER_BATCH} metrics. "
            f"Got {len(metrics)} metrics. Split the batch."
        )
    if len(params) > MAX_PARAMS_TAGS_PER_BATCH:
        raise _bad(
            f"A batch logging request can contain at most {MAX_PARAMS_TAGS_PER_BATCH} params. "
            f"Got {len(params)} params. Split the batch."
        )
    if len(tags) > MAX_PARAMS_TAGS_PER_BATCH:
        raise _bad(
            f"A batch logging request can contain at most {MAX_PARAMS_TAGS_PER_BATCH} tags. "
            f"Got {len(tags)} tags. Split the batch."
        )
    total = len(metrics) + len(params) + len(tags)
    if total > MAX_ENTITIES_PER_BATCH:
        raise _bad(
            f"A batch logging request can contain at most {MAX_ENTITIES_PER_BATCH} entities "
            f"in all. Got {total}. Split the batch."
        )
    columns = metric_columns(metrics)
    if _validate_metric_columns(columns):
        columns = columns._replace(plain=True)
        if isinstance(metrics, MetricBatch):
            metrics.columns = columns
    seen: dict[str, str] = {}
    for p in params:
        validate_param(p.key, p.value)
        if p.key in seen and seen[p.key] != str(p.value):
            raise _bad(
                f"Duplicate parameter keys have been submitted: '{p.key}' with values "
                f"'{seen[p.key]}' and '{p.value}'. A param can have only one value."
            )
        seen[p.key] = str(p.value)
    for t in tags:
        validate_tag(t.key, t.value)
    return columns


def validate_experiment_name(name: object) -> None:
    """A non-empty string of at most 500 characters."""
    if not isinstance(name, str) or name.strip() == "":
        raise _bad(f"Invalid experiment name: {name!r}. The name must be a non-empty string.")
    validate_text("experiment name", name)
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise _bad(
            f"Experiment name has length {len(name)}, which exceeds the limit of "
            f"{MAX_EXPERIMENT_NAME_LENGTH}."
        )


def validate_run_name(name: object) -> None:
    """None, or a string of at most 250 characters."""
    if name is None:
        return
    if not isinstance(name, str):
        raise _bad(f"Invalid run name {name!r}: it must be a string.")
    validate_text("run name", name)
    if len(name) > MAX_RUN_NAME_LENGTH:
        raise _bad(f"Run name has length {len(name)}, which exceeds the limit of {MAX_RUN_NAME_LENGTH}.")


def validate_run_id(run_id: object, field: str = "run_id") -> None:
    """ASCII letters, digits, ``_`` and ``-`` (a letter or digit first), at most 256."""
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise _bad(
            f"Invalid run ID {short_repr(run_id)} for parameter '{field}': run IDs are 1 to 256 ASCII "
            "letters, digits, '_' and '-', starting with a letter or digit."
        )


def _read_as_number(text: str) -> int | None:
    """What Python's int() makes of ``text`` (it takes " 1", "+1", "1_0", "01" and non-ASCII
    digits), or None."""
    if len(text) > 100:  # no id is this long; keeps int() off huge strings
        return None
    try:
        return int(text)
    except ValueError:
        return None


def validate_experiment_id(experiment_id: object, field: str = "experiment_id") -> None:
    """ASCII letters, digits, ``_`` and ``-`` (a letter or digit first), at most 64; an id
    that reads as a number must be that number's one spelling ("1", not "01", " 1", "+1",
    "1_0" or non-ASCII digits), so no other spelling can reach a store that keys
    experiments by integer, or a permission check that compares ids as text."""
    if isinstance(experiment_id, str):
        number = _read_as_number(experiment_id)
        if number is not None and number >= 0 and str(number) != experiment_id:
            raise _bad(
                f"Invalid experiment ID {short_repr(experiment_id)} for parameter '{field}': it reads as "
                f"the number {number}, whose only spelling is '{number}'. Send '{number}'."
            )
        if _EXPERIMENT_ID.fullmatch(experiment_id):
            return
    raise _bad(
        f"Invalid experiment ID {short_repr(experiment_id)} for parameter '{field}': experiment IDs are "
        "1 to 64 ASCII letters, digits, '_' and '-', starting with a letter or digit."
    )


def canonical_experiment_id(value: object, field: str = "experiment_id") -> str:
    """An experiment id from a request: a valid id string (see :func:`validate_experiment_id`)
    as it is, or a non-negative JSON integer (older clients send one) as its decimal string.

    :raises TrackletException: ``INVALID_PARAMETER_VALUE`` naming ``field``, the rule and,
        for another spelling of a number, its canonical form.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    validate_experiment_id(value, field)
    return value  # type: ignore[return-value]


def canonical_run_id(value: object, field: str = "run_id") -> str:
    """A run id from a request, checked (see :func:`validate_run_id`)."""
    validate_run_id(value, field)
    return value  # type: ignore[return-value]


def short_repr(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (and an ellipsis), for error messages that
    quote what a client sent."""
    shown = repr(value)
    return shown if len(shown) <= limit else shown[:limit] + "…"


def validate_max_results(max_results: object, limit: int = SEARCH_MAX_RESULTS_THRESHOLD) -> None:
    """A positive integer no larger than ``limit``."""
    if max_results is None:
        return
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results <= 0:
        raise _bad(
            f"Invalid value {max_results!r} for parameter 'max_results': it must be a positive integer."
        )
    if max_results > limit:
        raise _bad(
            f"Invalid value {max_results} for parameter 'max_results' supplied. It must be at most {limit}."
        )


def validate_dataset(name: str, digest: str) -> None:
    """Dataset name and digest lengths."""
    validate_text("dataset name", name)
    validate_text("dataset digest", digest)
    if not name or len(name) > MAX_DATASET_NAME_SIZE:
        raise _bad(f"Dataset name must be 1 to {MAX_DATASET_NAME_SIZE} characters, got {len(name or '')}.")
    if not digest or len(digest) > MAX_DATASET_DIGEST_SIZE:
        raise _bad(
            f"Dataset digest must be 1 to {MAX_DATASET_DIGEST_SIZE} characters, got {len(digest or '')}."
        )


_DATASET_FIELD_SIZES = (
    ("source_type", MAX_DATASET_SOURCE_TYPE_SIZE),
    ("source", MAX_DATASET_SOURCE_SIZE),
    ("schema", MAX_DATASET_SCHEMA_SIZE),
    ("profile", MAX_DATASET_PROFILE_SIZE),
)


def _check_size(what: str, value: object, limit: int) -> None:
    validate_text(what, value)
    if isinstance(value, str) and len(value) > limit:
        raise _bad(f"Invalid {what}: it has {len(value)} characters; the limit is {limit}.")


def validate_dataset_inputs(datasets: Sequence[DatasetInput]) -> None:
    """Each item is a DatasetInput with a valid name and digest, and fields and input tags
    within MLflow's sizes (source 65,535, schema 1,048,575, profile 16,777,215 characters;
    tag keys 1 to 255, values up to 500) and its database's (source type 36)."""
    for item in datasets:
        if not isinstance(item, DatasetInput):
            raise _bad(f"Invalid dataset input {item!r}: expected a DatasetInput.")
        dataset = item.dataset
        validate_dataset(dataset.name, dataset.digest)
        for what, limit in _DATASET_FIELD_SIZES:
            _check_size(f"dataset {what}", getattr(dataset, what), limit)
        for tag in item.tags:
            if not isinstance(tag.key, str) or not tag.key:
                raise _bad(f"Invalid input tag key {tag.key!r}: it must be a non-empty string.")
            _check_size(f"input tag key '{tag.key[:40]}'", tag.key, MAX_INPUT_TAG_KEY_SIZE)
            _check_size(f"value of input tag '{tag.key}'", tag.value, MAX_INPUT_TAG_VALUE_SIZE)


def validate_user_id(user_id: object) -> None:
    """None, or text of at most 256 characters (the size of the runs table's column)."""
    if user_id is None:
        return
    if not isinstance(user_id, str):
        raise _bad(f"Invalid user_id {short_repr(user_id)}: it must be a string.")
    _check_size("user_id", user_id, MAX_USER_ID_LENGTH)


_DRIVE = re.compile(r"^[a-zA-Z]:")


def validate_artifact_path(path: str | None) -> str:
    """Return ``path`` as a clean relative POSIX path ('' for the root), or raise.

    Refused: absolute paths, ``..`` components, backslashes, drive letters, NUL bytes and
    URLs; and, since a server may decode a path once more, anything whose percent-decoded
    form is absolute or climbs with ``..`` (``%2e%2e/x``, ``%2Fetc``, ``a%5c..%5cb``). A ``%``
    that decodes to nothing dangerous is an ordinary character (MLflow names image files
    ``dogs%step%3%timestamp%…%<uuid>.png``, and a uuid may start with ``2e``, ``2f`` or ``5c``).
    """
    if path is None or path in ("", "."):
        return ""
    if not isinstance(path, str):
        raise _bad(f"Invalid artifact path {path!r}: it must be a string.")
    _check_path_size(path)
    if "\\" in path or "\x00" in path or "://" in path or _escapes(path.split("/"), path):
        raise _bad(
            f"Invalid artifact path: '{path}'. Artifact paths must be relative, use '/', and stay "
            "inside the artifact root (no '..', absolute paths, drive letters or backslashes)."
        )
    if "%" in path:
        decoded = urllib.parse.unquote(path)
        if _escapes(re.split(r"[/\\]", decoded), decoded.replace("\\", "/")):
            raise _bad(
                f"Invalid artifact path: '{path}'. Once percent-decoded it would leave the artifact "
                "root ('..', or an absolute path)."
            )
    return "/".join(p for p in path.split("/") if p not in ("", "."))


def _check_path_size(path: str) -> None:
    if len(path) > MAX_ARTIFACT_PATH_LENGTH:
        raise _bad(
            f"Invalid artifact path '{path[:60]}…': it has {len(path)} characters; artifact paths "
            f"have at most {MAX_ARTIFACT_PATH_LENGTH} characters."
        )
    depth = path.count("/") + 1
    if depth > MAX_ARTIFACT_PATH_DEPTH:
        raise _bad(
            f"Invalid artifact path '{path[:60]}…': it is {depth} levels deep; artifact paths have "
            f"at most {MAX_ARTIFACT_PATH_DEPTH} levels."
        )


def _escapes(parts: list[str], path: str) -> bool:
    return ".." in parts or path.startswith("/") or bool(_DRIVE.match(path))


def validate_artifact_location(location: object) -> None:
    """An experiment's artifact location: None, or a string that is not a ``runs:/`` URI
    (MLflow's rule: a run's artifacts cannot be the root of an experiment's)."""
    if location is None:
        return
    if not isinstance(location, str):
        raise _bad(f"Invalid artifact_location {short_repr(location)}: it must be a string.")
    if location[:5].lower() == "runs:":
        raise TrackletException(
            f"Artifact location cannot be a runs:/ URI. Given: '{location}'", INVALID_PARAMETER_VALUE
        )


def validate_timestamp(field: str, value: object) -> None:
    """None, or an integer number of milliseconds since the epoch (``start_time``, ``end_time``)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise _bad(f"Invalid {field} {short_repr(value)}: it must be an integer (ms since the epoch).")


def validate_page_token(page_token: object) -> None:
    """None, or a string: what a previous page handed out (its format is the store's)."""
    if page_token is not None and not isinstance(page_token, str):
        raise _bad(
            f"Invalid page_token {short_repr(page_token)}: it must be the string a previous page returned."
        )


def canonical_view_type(view_type: object) -> int:
    """A view type as :class:`~tracklet.entities.ViewType`'s number: 1, 2 or 3, their names
    (``"active_only"`` or ``"ACTIVE_ONLY"``…), or None for ``ALL``."""
    if view_type is None:
        return ViewType.ALL
    if isinstance(view_type, str):
        return ViewType.from_string(view_type)
    if isinstance(view_type, bool) or not isinstance(view_type, int):
        raise _bad(
            f"Invalid view type {short_repr(view_type)}: use ViewType.ACTIVE_ONLY, DELETED_ONLY or ALL."
        )
    ViewType.to_string(view_type)  # refuses an unknown number, listing the valid ones
    return view_type
