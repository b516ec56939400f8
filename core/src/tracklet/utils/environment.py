"""Settings from the environment: ``TRACKLET_<NAME>`` first, then MLflow's spelling.

tracklet reads each setting under its own name and falls back to the variable MLflow
reads for the same thing, so an MLflow set-up keeps working unchanged. Every plugin
reads its settings through these functions, so the order of precedence, what counts
as unset (empty or blank) and the wording of a bad value are the same everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TypeVar, overload

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

__all__ = ["first_set", "flag_set", "get", "get_flag", "get_parsed", "lookup", "variables"]

T = TypeVar("T")

_TRUE = ("1", "true", "yes", "on")


def variables(name: str, *, mlflow: str | None = None, also: Sequence[str] = ()) -> tuple[str, ...]:
    """The variables a setting is read from, in order.

    :param name: the setting without prefix (``"TRACKING_URI"``).
    :param mlflow: MLflow's variable when it is not ``MLFLOW_<name>``; ``""`` when MLflow
        has none.
    :param also: further full variable names tried last (a cloud SDK's own, …).
    :returns: ``("TRACKLET_<name>", "MLFLOW_<name>", *also)``.
    """
    mlflow_variable = f"MLFLOW_{name}" if mlflow is None else mlflow
    return (f"TRACKLET_{name}", *([mlflow_variable] if mlflow_variable else []), *also)


# ``os.environ`` reads a missing variable through a Python ``__getitem__`` that raises
# KeyError: about a microsecond, and settings such as async logging are read on every
# logging call, where they are nearly always unset. CPython's ``os.environ`` keeps its
# values in ``_data`` under ``encodekey(name)``: a name whose key is absent there is unset,
# which one dict lookup shows. Anything else (a set variable, another ``os.environ``) is
# read the ordinary way.
_encoded_names: dict[str, object] = {}


def _maybe_set(variable: str) -> bool:
    """False only when ``variable`` is certainly unset (see above)."""
    environ = os.environ
    data = getattr(environ, "_data", None)
    if type(data) is not dict:
        return True
    key = _encoded_names.get(variable)
    if key is None:
        try:
            key = _encoded_names[variable] = environ.encodekey(variable)
        except (AttributeError, TypeError, ValueError):
            return True
    return key in data


def first_set(names: Sequence[str]) -> tuple[str, str] | None:
    """The first of the full variable ``names`` that is set, as ``(variable, value)``.

    The value is stripped of surrounding blanks; an empty or blank variable counts as
    unset. None when none is set.
    """
    for variable in names:
        if not _maybe_set(variable):
            continue
        value = os.environ.get(variable, "").strip()
        if value:
            return variable, value
    return None


def flag_set(names: Sequence[str]) -> bool:
    """:func:`get_flag` for full variable names worked out once (see :func:`variables`):
    for settings read on every logging call."""
    found = first_set(names)
    return found is not None and found[1].lower() in _TRUE


def lookup(name: str, *, mlflow: str | None = None, also: Sequence[str] = ()) -> tuple[str, str] | None:
    """``(variable, value)`` of the first variable set for a setting (see :func:`variables`)."""
    return first_set(variables(name, mlflow=mlflow, also=also))


@overload
def get(name: str, default: str, *, mlflow: str | None = None, also: Sequence[str] = ()) -> str: ...


@overload
def get(
    name: str, default: None = None, *, mlflow: str | None = None, also: Sequence[str] = ()
) -> str | None: ...


def get(
    name: str, default: str | None = None, *, mlflow: str | None = None, also: Sequence[str] = ()
) -> str | None:
    """The value of a setting: ``TRACKLET_<name>``, else MLflow's variable, else ``default``."""
    found = lookup(name, mlflow=mlflow, also=also)
    return default if found is None else found[1]


def get_flag(name: str, *, mlflow: str | None = None, also: Sequence[str] = ()) -> bool:
    """True when the setting is ``1``, ``true``, ``yes`` or ``on`` (any case)."""
    return (get(name, mlflow=mlflow, also=also) or "").lower() in _TRUE


def get_parsed(names: Sequence[str], default: T, parse: Callable[[str], T], rule: str) -> T:
    """The first set variable of ``names`` (full names, see :func:`variables`), parsed.

    :param parse: turns the text into the value; raises ``ValueError`` when the text
        breaks ``rule``.
    :param rule: what a valid value is, for the error (``"it must be a whole number of at
        least 1"``).
    :returns: the parsed value, or ``default`` when no variable is set.
    :raises TrackletException: ``INVALID_PARAMETER_VALUE`` naming the variable, its value
        and the rule.
    """
    found = first_set(names)
    if found is None:
        return default
    variable, raw = found
    try:
        return parse(raw)
    except ValueError:
        raise TrackletException(
            f"{variable}={raw!r} is not valid: {rule}. Fix or unset the variable.",
            INVALID_PARAMETER_VALUE,
        ) from None
