"""The fluent tracing API of MLflow 3.17: ``@trace``, ``start_span``, ``update_current_trace``…

Behaviour follows ``mlflow/tracing/fluent.py``: a decorated function's inputs are its
bound arguments (``self``/``cls`` left out), its return value the span's outputs; an
exception is recorded as a span event ``exception`` (``exception.message``,
``exception.type``, ``exception.stacktrace``), the span's status set to ERROR, and the
exception re-raised unchanged; generator functions get one span over the whole
iteration, each item recorded as an event ``mlflow.chunk.item.<i>`` and the outputs the
list of items (or ``output_reducer(items)``). Tracing never changes what the traced
code returns or raises: a failure inside the runtime is logged at DEBUG and the code
runs untraced.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import warnings
from collections.abc import Callable, Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar, overload

from tracklet.entities.span import NO_OP_SPAN_TRACE_ID, NoOpSpan
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.tracing import is_tracing_enabled as tracing_enabled
from tracklet.tracing import provider
from tracklet.tracing.constant import SpanAttributeKey, TraceMetadataKey
from tracklet.tracing.trace_manager import InMemoryTraceManager

if TYPE_CHECKING:
    import pandas

    from tracklet.entities import LiveSpan, Trace

__all__ = [
    "add_trace",
    "capture_function_input_args",
    "delete_trace_tag",
    "flush_trace_async_logging",
    "get_active_trace_id",
    "get_current_active_span",
    "get_last_active_trace_id",
    "get_trace",
    "log_trace",
    "search_traces",
    "set_trace_tag",
    "start_span",
    "start_span_no_context",
    "trace",
    "update_current_trace",
]

_logger = logging.getLogger("tracklet.tracing")

_STREAM_CHUNK_EVENT_NAME_FORMAT = "mlflow.chunk.item.{index}"
_STREAM_CHUNK_EVENT_VALUE_KEY = "mlflow.chunk.value"
SEARCH_TRACES_DEFAULT_MAX_RESULTS = 100

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _invalid(message: str) -> TrackletException:
    return TrackletException(message, INVALID_PARAMETER_VALUE)


def _noop_span() -> Any:
    return NoOpSpan()


# -- inputs ------------------------------------------------------------------------------


def capture_function_input_args(
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    signature: inspect.Signature | None = None,
) -> dict[str, Any] | None:
    """The call's arguments bound to ``func``'s parameters, defaults applied, without
    ``self`` (and ``cls`` when it is a class): MLflow's inputs of a traced call."""
    try:
        bound = (signature or inspect.signature(func)).bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = bound.arguments
        if arguments.get("self"):
            del arguments["self"]
        params = list(arguments)
        if params and params[0] == "cls" and isinstance(arguments["cls"], type):
            del arguments["cls"]
        return dict(arguments)
    except Exception:
        _logger.warning(f"Failed to capture inputs for function {getattr(func, '__name__', func)}.")
        return None


# -- spans in context --------------------------------------------------------------------


class _SpanScope:
    """``with start_span(...)``: the span, active for the block, ended at its end; an
    exception in the block is recorded on the span and propagates unchanged."""

    __slots__ = (
        "_attributes",
        "_description",
        "_experiment_id",
        "_name",
        "_run_id",
        "_links",
        "_log_level",
        "_span",
        "_span_type",
        "_token",
    )

    def __init__(
        self,
        name: str,
        span_type: str | None,
        attributes: dict[str, Any] | None,
        experiment_id: str | None,
        run_id: str | None,
        description: str | None,
        log_level: Any | None = None,
        links: list[Any] | None = None,
    ) -> None:
        self._name = name
        self._log_level = log_level
        self._links = links
        self._span_type = span_type
        self._attributes = attributes
        self._experiment_id = experiment_id
        self._run_id = run_id
        self._description = description
        self._span: Any = None
        self._token: Any = None

    def __enter__(self) -> Any:
        try:
            span = provider.start_span_in_context(self._name, experiment_id=self._experiment_id)
            if span.trace_id != NO_OP_SPAN_TRACE_ID:
                span.set_span_type(self._span_type)
                if self._attributes:
                    span.set_attributes(dict(self._attributes))
                if self._description is not None:
                    span.set_attribute(SpanAttributeKey.DESCRIPTION, self._description)
                if self._log_level is not None:
                    span.set_log_level(self._log_level)
                if self._run_id is not None:
                    _set_run_id(span, self._name, self._run_id)
        except Exception:
            _logger.debug(f"Failed to start span {self._name}.", exc_info=True)
            span = _noop_span()
        if self._links:
            _add_links(span, self._links)
        self._span = span
        self._token = provider._ACTIVE_SPAN.set(span)
        return span

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            provider._ACTIVE_SPAN.reset(self._token)
        except ValueError:  # left in another context (a generator closed elsewhere)
            provider._ACTIVE_SPAN.set(None)
        span = self._span
        try:
            if isinstance(exc, Exception):
                span.record_exception(exc)
            span.end()
        except Exception:
            _logger.debug(f"Failed to end span {getattr(span, 'span_id', '?')}.", exc_info=True)


def _add_links(span: Any, links: list[Any]) -> None:
    for link in links:
        try:
            span.add_link(link)
        except TrackletException:
            _logger.warning("Skipping invalid link: %s", link)


def _no_op_trace_id() -> str:
    return NO_OP_SPAN_TRACE_ID


def _set_run_id(span: Any, name: str, run_id: str) -> None:
    if span.parent_id is not None:
        _logger.warning(
            "The `run_id` parameter can only be used for root spans, but the span "
            f"`{name}` is not a root span. The specified value `{run_id}` "
            "will be ignored."
        )
        return
    InMemoryTraceManager.get_instance().set_trace_metadata(span.trace_id, TraceMetadataKey.SOURCE_RUN, run_id)


def start_span(
    name: str = "span",
    span_type: str | None = "UNKNOWN",
    attributes: dict[str, Any] | None = None,
    trace_destination: Any | None = None,
    log_level: Any | None = None,
    run_id: str | None = None,
    links: list[Any] | None = None,
    description: str | None = None,
) -> _SpanScope:
    """A span as a context manager (MLflow's ``mlflow.start_span``): the block runs with
    the yielded :class:`~tracklet.entities.LiveSpan` active; the span ends with the block.
    Without an active span the span starts a new trace."""
    experiment_id = getattr(trace_destination, "experiment_id", None)
    return _SpanScope(name, span_type, attributes, experiment_id, run_id, description, log_level, links)


def start_span_no_context(
    name: str,
    span_type: str = "UNKNOWN",
    parent_span: Any | None = None,
    inputs: Any | None = None,
    attributes: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    metadata: dict[str, str] | None = None,
    experiment_id: str | None = None,
    start_time_ns: int | None = None,
    log_level: Any | None = None,
    links: list[Any] | None = None,
    description: str | None = None,
) -> Any:
    """A span that is not made active (MLflow's): ended by the caller with ``span.end()``."""
    from tracklet.tracing.client import _IMMUTABLE_TAGS

    if parent_span is not None and parent_span.trace_id == NO_OP_SPAN_TRACE_ID:
        return _noop_span()
    try:
        span = provider.start_detached_span(
            name, parent=parent_span, start_time_ns=start_time_ns, experiment_id=experiment_id
        )
        if span.trace_id == NO_OP_SPAN_TRACE_ID:
            return span
        span.set_span_type(span_type)
        if inputs is not None:
            span.set_inputs(inputs)
        span.set_attributes(attributes or {})
        if description is not None:
            span.set_attribute(SpanAttributeKey.DESCRIPTION, description)
        if log_level is not None:
            span.set_log_level(log_level)
        manager = InMemoryTraceManager.get_instance()
        if tags := {k: v for k, v in (tags or {}).items() if k not in _IMMUTABLE_TAGS}:
            with manager.get_trace(span.trace_id) as trace:
                if trace is not None:
                    trace.info.tags.update(tags)
        if metadata:
            with manager.get_trace(span.trace_id) as trace:
                if trace is not None:
                    trace.info.trace_metadata.update(metadata)
    except Exception as e:
        _logger.warning(
            f"Failed to start span {name}: {e}. For full traceback, set logging level to debug.",
            exc_info=_logger.isEnabledFor(logging.DEBUG),
        )
        return _noop_span()
    if links:
        _add_links(span, links)
    return span


# -- the decorator -----------------------------------------------------------------------


@overload
def trace(
    func: Callable[_P, _R],
    name: str | None = None,
    span_type: str = "UNKNOWN",
    attributes: dict[str, Any] | None = None,
    output_reducer: Callable[[list[Any]], Any] | None = None,
    trace_destination: Any | None = None,
    sampling_ratio_override: float | None = None,
    log_level: Any | None = None,
    links: list[Any] | None = None,
    description: str | None = None,
) -> Callable[_P, _R]: ...


@overload
def trace(
    func: None = None,
    name: str | None = None,
    span_type: str = "UNKNOWN",
    attributes: dict[str, Any] | None = None,
    output_reducer: Callable[[list[Any]], Any] | None = None,
    trace_destination: Any | None = None,
    sampling_ratio_override: float | None = None,
    log_level: Any | None = None,
    links: list[Any] | None = None,
    description: str | None = None,
) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]: ...


def trace(
    func: Callable[..., Any] | None = None,
    name: str | None = None,
    span_type: str = "UNKNOWN",
    attributes: dict[str, Any] | None = None,
    output_reducer: Callable[[list[Any]], Any] | None = None,
    trace_destination: Any | None = None,
    sampling_ratio_override: float | None = None,
    log_level: Any | None = None,
    links: list[Any] | None = None,
    description: str | None = None,
) -> Callable[..., Any]:
    """Trace a function (MLflow's ``@mlflow.trace``): sync, ``async``, generator and async
    generator functions, ``classmethod``/``staticmethod`` objects; with or without
    arguments (``@trace``, ``@trace(name=..., span_type=...)``)."""
    if sampling_ratio_override is not None and not (0.0 <= sampling_ratio_override <= 1.0):
        raise _invalid(f"sampling_ratio_override must be between 0.0 and 1.0, got {sampling_ratio_override}")

    def decorator(fn: Any) -> Any:
        is_classmethod = isinstance(fn, classmethod)
        is_staticmethod = isinstance(fn, staticmethod)
        original = fn.__func__ if is_classmethod or is_staticmethod else fn
        experiment_id = getattr(trace_destination, "experiment_id", None)
        if inspect.isgeneratorfunction(original) or inspect.isasyncgenfunction(original):
            wrapped = _wrap_generator(
                original,
                name,
                span_type,
                attributes,
                output_reducer,
                experiment_id,
                description,
                log_level,
                links,
            )
        else:
            if output_reducer is not None:
                raise _invalid("The output_reducer argument is only supported for generator functions.")
            wrapped = _wrap_function(
                original, name, span_type, attributes, experiment_id, description, log_level, links
            )
        if is_classmethod:
            return classmethod(wrapped)
        if is_staticmethod:
            return staticmethod(wrapped)
        return wrapped

    return decorator(func) if func else decorator


def _signature(fn: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


class _InputBinder:
    """``capture_function_input_args`` for one function, with a fast path for the common
    signature (only plain positional-or-keyword parameters): same result as binding."""

    __slots__ = ("_defaults", "_fn", "_names", "_signature")

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn
        self._signature = _signature(fn)
        self._names: tuple[str, ...] | None = None
        self._defaults: dict[str, Any] = {}
        if self._signature is not None and all(
            p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in self._signature.parameters.values()
        ):
            self._names = tuple(self._signature.parameters)
            self._defaults = {
                name: p.default
                for name, p in self._signature.parameters.items()
                if p.default is not inspect.Parameter.empty
            }

    def __call__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
        names = self._names
        if names is not None and len(args) <= len(names):
            bound = dict(zip(names, args, strict=False))
            if not kwargs or all(k in names and k not in bound for k in kwargs):
                bound.update(kwargs)
                if len(bound) < len(names):
                    for name in names:
                        if name not in bound:
                            if name not in self._defaults:
                                break
                            bound[name] = self._defaults[name]
                if len(bound) == len(names):
                    arguments = {name: bound[name] for name in names}
                    if arguments.get("self"):
                        del arguments["self"]
                    first = next(iter(arguments), None)
                    if first == "cls" and isinstance(arguments["cls"], type):
                        del arguments["cls"]
                    return arguments
        return capture_function_input_args(self._fn, args, kwargs, self._signature)


def _begin(
    fn: Callable[..., Any],
    scope: _SpanScope,
    binder: _InputBinder,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    span = scope.__enter__()
    if span.trace_id != NO_OP_SPAN_TRACE_ID:
        try:
            span.set_attribute(SpanAttributeKey.FUNCTION_NAME, fn.__name__)
            span.set_inputs(binder(args, kwargs))
        except Exception:
            _logger.debug(f"Failed to record the inputs of {fn.__name__}.", exc_info=True)
    return span


def _set_result(span: Any, result: Any) -> None:
    try:
        if span._raw_attributes.get(SpanAttributeKey.OUTPUTS, "null") == "null":  # outputs not set
            span.set_outputs(result)
    except Exception:
        _logger.debug("Failed to record the outputs of a traced call.", exc_info=True)


def _wrap_function(
    fn: Callable[..., Any],
    name: str | None,
    span_type: str,
    attributes: dict[str, Any] | None,
    experiment_id: str | None,
    description: str | None,
    log_level: Any | None = None,
    links: list[Any] | None = None,
) -> Callable[..., Any]:
    span_name = name or fn.__name__
    binder = _InputBinder(fn)

    if inspect.iscoroutinefunction(fn):

        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            scope = _SpanScope(
                span_name, span_type, attributes, experiment_id, None, description, log_level, links
            )
            span = _begin(fn, scope, binder, args, kwargs)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as e:
                scope.__exit__(type(e), e, e.__traceback__)
                raise
            _set_result(span, result)
            scope.__exit__(None, None, None)
            return result

        return _wrap_function_safe(fn, async_wrapper)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        scope = _SpanScope(
            span_name, span_type, attributes, experiment_id, None, description, log_level, links
        )
        span = _begin(fn, scope, binder, args, kwargs)
        try:
            result = fn(*args, **kwargs)
        except BaseException as e:
            scope.__exit__(type(e), e, e.__traceback__)
            raise
        _set_result(span, result)
        scope.__exit__(None, None, None)
        return result

    return _wrap_function_safe(fn, wrapper)


def _wrap_generator(
    fn: Callable[..., Any],
    name: str | None,
    span_type: str,
    attributes: dict[str, Any] | None,
    output_reducer: Callable[[list[Any]], Any] | None,
    experiment_id: str | None,
    description: str | None,
    log_level: Any | None = None,
    links: list[Any] | None = None,
) -> Callable[..., Any]:
    binder = _InputBinder(fn)

    def start(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        inputs = binder(args, kwargs)
        try:
            return start_span_no_context(
                name=name or fn.__name__,
                parent_span=get_current_active_span(),
                span_type=span_type,
                attributes=attributes,
                inputs=inputs,
                experiment_id=experiment_id,
                log_level=log_level,
                links=links,
                description=description,
            )
        except Exception as e:
            _logger.debug(f"Failed to start stream span: {e}")
            return _noop_span()

    def finish(span: Any, outputs: list[Any] | None = None, error: BaseException | None = None) -> None:
        try:
            if error is not None:
                from tracklet.entities import SpanEvent

                span.add_event(SpanEvent.from_exception(error))
                span.end(status="ERROR")
                return
            result: Any = outputs
            if output_reducer:
                try:
                    result = output_reducer(outputs or [])
                except Exception as e:
                    _logger.debug(f"Failed to reduce outputs from stream: {e}")
            span.end(outputs=result)
        except Exception:
            _logger.debug("Failed to end a stream span.", exc_info=True)

    def record_chunk(span: Any, chunk: Any, index: int) -> None:
        try:
            from tracklet.entities import SpanEvent
            from tracklet.entities._trace_common import TraceJSONEncoder

            span.add_event(
                SpanEvent(
                    name=_STREAM_CHUNK_EVENT_NAME_FORMAT.format(index=index),
                    attributes={_STREAM_CHUNK_EVENT_VALUE_KEY: json.dumps(chunk, cls=TraceJSONEncoder)},
                )
            )
        except Exception as e:
            _logger.debug(f"Failing to record chunk event for span {getattr(span, 'name', '?')}: {e}")

    if inspect.isgeneratorfunction(fn):

        def gen_wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, None]:
            span = start(args, kwargs)
            generator = fn(*args, **kwargs)
            i = 0
            outputs: list[Any] = []
            while True:
                token = provider._ACTIVE_SPAN.set(span)
                try:
                    value = next(generator)
                except StopIteration:
                    break
                except Exception as e:
                    finish(span, error=e)
                    raise
                finally:
                    try:
                        provider._ACTIVE_SPAN.reset(token)
                    except ValueError:
                        pass
                outputs.append(value)
                record_chunk(span, value, i)
                try:
                    yield value
                except GeneratorExit:
                    generator.close()
                    finish(span, outputs)
                    raise
                i += 1
            finish(span, outputs)

        return _wrap_function_safe(fn, gen_wrapper)

    async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
        span = start(args, kwargs)
        generator = fn(*args, **kwargs)
        i = 0
        outputs: list[Any] = []
        while True:
            token = provider._ACTIVE_SPAN.set(span)
            try:
                value = await generator.__anext__()
            except StopAsyncIteration:
                break
            except Exception as e:
                finish(span, error=e)
                raise
            finally:
                try:
                    provider._ACTIVE_SPAN.reset(token)
                except ValueError:
                    pass
            outputs.append(value)
            record_chunk(span, value, i)
            try:
                yield value
            except GeneratorExit:
                await generator.aclose()
                finish(span, outputs)
                raise
            i += 1
        finish(span, outputs)

    return _wrap_function_safe(fn, agen_wrapper)


def _wrap_function_safe(fn: Callable[..., Any], wrapper: Callable[..., Any]) -> Callable[..., Any]:
    wrapped = functools.wraps(fn)(wrapper)
    try:
        wrapped.__signature__ = inspect.signature(fn)  # type: ignore[attr-defined]
    except Exception:
        pass
    wrapped.__mlflow_traced__ = True  # type: ignore[attr-defined]
    return wrapped


# -- the active trace --------------------------------------------------------------------


def get_current_active_span() -> LiveSpan | None:
    """The span the calling code runs in (None outside any span)."""
    span = provider.get_current_span()
    if span is None or span.trace_id == NO_OP_SPAN_TRACE_ID:
        return None
    return span  # type: ignore[no-any-return]


def get_active_trace_id() -> str | None:
    """The id of the trace the calling code runs in (None outside any span)."""
    span = get_current_active_span()
    return span.trace_id if span is not None else None


def get_last_active_trace_id(thread_local: bool = False) -> str | None:
    """The id of the trace that ended last (in this process, or this thread/context with
    ``thread_local=True``); None before any."""
    return (
        provider._LAST_ACTIVE_TRACE_ID_THREAD_LOCAL.get() if thread_local else provider._last_active_trace_id
    )


_set_last_active_trace_id = provider._set_last_active_trace_id


def update_current_trace(
    tags: dict[str, str] | None = None,
    metadata: dict[str, str] | None = None,
    client_request_id: str | None = None,
    request_preview: str | None = None,
    response_preview: str | None = None,
    state: Any | None = None,
    model_id: str | None = None,
    session_id: str | None = None,
    user: str | None = None,
) -> None:
    """Add tags/metadata to the trace in progress, set its client request id, previews or
    final state (``"OK"``/``"ERROR"``), as MLflow's ``mlflow.update_current_trace``."""
    from tracklet.entities import TraceState

    active_span = get_current_active_span()
    if not active_span:
        _logger.warning(
            "No active trace found. Please create a span using `mlflow.start_span` or "
            "`@mlflow.trace` before calling `mlflow.update_current_trace`.",
        )
        return

    def _warn_non_string_values(d: dict[str, Any], field_name: str) -> None:
        if non_string_items := {k: v for k, v in d.items() if not isinstance(v, str)}:
            _logger.warning(
                f"Found non-string values in {field_name}. Non-string values in {field_name} will "
                f"automatically be stringified when the trace is logged. Non-string items: "
                f"{non_string_items}"
            )

    tags = tags or {}
    metadata = dict(metadata) if metadata else {}
    if session_id is not None:
        metadata[TraceMetadataKey.TRACE_SESSION] = session_id
    if user is not None:
        metadata[TraceMetadataKey.TRACE_USER] = user
    if model_id:
        metadata[TraceMetadataKey.MODEL_ID] = model_id
    _warn_non_string_values(tags, "tags")
    _warn_non_string_values(metadata, "metadata")
    if request_preview is not None and not isinstance(request_preview, str):
        raise _invalid("The `request_preview` parameter must be a string.")
    if response_preview is not None and not isinstance(response_preview, str):
        raise _invalid("The `response_preview` parameter must be a string.")

    with InMemoryTraceManager.get_instance().get_trace(active_span.trace_id) as trace:
        if trace is None:
            return
        if request_preview:
            trace.info.request_preview = request_preview
        if response_preview:
            trace.info.response_preview = response_preview
        if state is not None:
            if state not in (TraceState.OK, TraceState.ERROR):
                raise _invalid(f"State must be either 'OK' or 'ERROR', but got '{state}'.")
            trace.info.state = TraceState(state) if isinstance(state, str) else state
        trace.info.tags.update({k: str(v) for k, v in tags.items()})
        trace.info.trace_metadata.update({k: str(v) for k, v in metadata.items()})
        if client_request_id is not None:
            trace.info.client_request_id = str(client_request_id)


def validate_list_param(param_name: str, param_value: Any, allow_none: bool = False) -> None:
    """MLflow's ``_validate_list_param``: the argument must be a list (or None if allowed)."""
    if allow_none and param_value is None:
        return
    if not isinstance(param_value, list):
        raise _invalid(
            f"{param_name} must be a list, got {type(param_value).__name__}. "
            f"Did you mean to use {param_name}=[{param_value!r}]?"
        )


# -- stored traces -----------------------------------------------------------------------


def _deprecated_parameter(old: str, new: str) -> Callable[[Callable[..., _R]], Callable[..., _R]]:
    """MLflow's ``deprecated_parameter``: accept ``old=`` (FutureWarning) as ``new=``."""

    def decorator(func: Callable[..., _R]) -> Callable[..., _R]:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> _R:
            if old in kwargs:
                value = kwargs.pop(old)
                warnings.warn(
                    f"Parameter '{old}' is deprecated. Please use '{new}' instead.",
                    category=FutureWarning,
                    stacklevel=2,
                )
                if new in kwargs:
                    raise ValueError(
                        f"Cannot specify both '{old}' (deprecated) and '{new}'. Use '{new}' only."
                    )
                kwargs[new] = value
            return func(*args, **kwargs)

        wrapper.__signature__ = signature  # type: ignore[attr-defined]
        return wrapper

    return decorator


def flush_trace_async_logging(terminate: bool = False) -> None:
    """Wait until every ended trace has been written (MLflow's name)."""
    from tracklet.tracing import export

    export.flush_trace_async_logging(terminate=terminate)


_flush_pending_async_trace_writes = flush_trace_async_logging


def _tracing_client() -> Any:
    from tracklet.tracing.client import TracingClient

    return TracingClient()


@_deprecated_parameter("request_id", "trace_id")
def get_trace(trace_id: str, silent: bool = False, flush: bool = False) -> Trace | None:
    """The stored trace, or None (with MLflow's warning unless ``silent``)."""
    exc: Exception | None = None
    try:
        return _tracing_client().get_trace(trace_id)  # type: ignore[no-any-return]
    except TrackletException as e:
        exc = e
    if flush:
        flush_trace_async_logging()
        exc = None
        try:
            return _tracing_client().get_trace(trace_id)  # type: ignore[no-any-return]
        except TrackletException as e:
            exc = e
    if not silent:
        hint = (
            " If using async trace logging, pass flush=True to wait for pending writes." if not flush else ""
        )
        _logger.warning(
            f"Failed to get trace from the tracking store: {exc}.{hint} "
            "For full traceback, set logging level to debug.",
            exc_info=_logger.isEnabledFor(logging.DEBUG),
        )
    else:
        _logger.debug(f"Failed to get trace from the tracking store: {exc}.", exc_info=True)
    return None


@_deprecated_parameter("experiment_ids", "locations")
def search_traces(
    experiment_ids: list[str] | None = None,
    filter_string: str | None = None,
    max_results: int | None = None,
    order_by: list[str] | None = None,
    extract_fields: list[str] | None = None,
    run_id: str | None = None,
    return_type: Literal["pandas", "list"] | None = None,
    model_id: str | None = None,
    sql_warehouse_id: str | None = None,
    include_spans: bool = True,
    locations: list[str] | None = None,
    flush: bool = False,
) -> pandas.DataFrame | list[Trace]:
    """Traces of the experiments (default: the active one) as a pandas DataFrame (MLflow
    3.17's columns) or, with ``return_type="list"``, a list of ``Trace``."""
    import importlib.util
    import os

    if sql_warehouse_id is not None:
        warnings.warn(
            "The `sql_warehouse_id` parameter is deprecated. Please use the "
            "`MLFLOW_TRACING_SQL_WAREHOUSE_ID` environment variable instead.",
            category=FutureWarning,
            stacklevel=2,
        )
        os.environ["MLFLOW_TRACING_SQL_WAREHOUSE_ID"] = sql_warehouse_id
    if extract_fields is not None:
        warnings.warn(
            "The `extract_fields` parameter is deprecated and will be removed in a future version.",
            category=FutureWarning,
            stacklevel=2,
        )
    if return_type is None:
        return_type = "pandas" if importlib.util.find_spec("pandas") is not None else "list"
    if return_type not in ["pandas", "list"]:
        raise _invalid(f"Invalid return type: {return_type}. Return type must be either 'pandas' or 'list'.")
    if return_type == "list" and extract_fields:
        raise _invalid(
            "The `extract_fields` parameter is only supported when return type is set to 'pandas'."
        )
    if return_type == "pandas" and importlib.util.find_spec("pandas") is None:
        raise TrackletException(
            "The `pandas` library is not installed. Please install `pandas` to use"
            " the `return_type='pandas'` option, or set `return_type='list'`."
        )
    validate_list_param("locations", locations, allow_none=True)
    if flush:
        flush_trace_async_logging()
    if not experiment_ids and not locations:
        from tracklet import fluent

        locations = [fluent._current_experiment_id()]

    client = _tracing_client()
    results: list[Trace] = []
    token: str | None = None
    while max_results is None or len(results) < max_results:
        wanted = SEARCH_TRACES_DEFAULT_MAX_RESULTS
        if max_results is not None:
            wanted = min(wanted, max_results - len(results))
        page = client.search_traces(
            experiment_ids=experiment_ids,
            run_id=run_id,
            max_results=wanted,
            filter_string=filter_string,
            order_by=order_by,
            page_token=token,
            model_id=model_id,
            include_spans=include_spans,
            locations=locations,
        )
        results.extend(page)
        token = getattr(page, "token", None)
        if not token:
            break
    if return_type == "pandas":
        from tracklet.tracing._dataframe import traces_to_dataframe

        return traces_to_dataframe(results, extract_fields=extract_fields)
    return results


@_deprecated_parameter("request_id", "trace_id")
def set_trace_tag(trace_id: str, key: str, value: str) -> None:
    """Set a tag on a trace (in progress or stored)."""
    _set_trace_tag(trace_id, key, value)


@_deprecated_parameter("request_id", "trace_id")
def delete_trace_tag(trace_id: str, key: str) -> None:
    """Delete a tag of a trace (in progress or stored)."""
    _delete_trace_tag(trace_id, key)


def _set_trace_tag(trace_id: str, key: str, value: Any, client: Any = None) -> None:
    """MLflow's ``TracingClient.set_trace_tag``: the live trace first, else the store."""
    from tracklet.tracing.client import _IMMUTABLE_TAGS

    if key not in _IMMUTABLE_TAGS:
        with InMemoryTraceManager.get_instance().get_trace(trace_id) as trace:
            if trace is not None:
                if not isinstance(value, str):
                    _logger.warning(
                        "Received non-string value for trace tag. Please note that non-string tag values"
                        "will automatically be stringified when the trace is logged."
                    )
                trace.info.tags[key] = str(value)
                return
    (client or _tracing_client()).set_trace_tag(trace_id, key, value)


def _delete_trace_tag(trace_id: str, key: str, client: Any = None) -> None:
    from tracklet.exceptions import RESOURCE_DOES_NOT_EXIST
    from tracklet.tracing.client import _IMMUTABLE_TAGS

    if key not in _IMMUTABLE_TAGS or key == "mlflow.trace.archivalFailure":
        with InMemoryTraceManager.get_instance().get_trace(trace_id) as trace:
            if trace is not None:
                if key in trace.info.tags:
                    trace.info.tags.pop(key)
                    return
                raise TrackletException(
                    f"Tag with key {key} not found in trace with ID {trace_id}.", RESOURCE_DOES_NOT_EXIST
                )
    (client or _tracing_client()).delete_trace_tag(trace_id, key)


def log_trace(
    name: str = "Task",
    request: Any | None = None,
    response: Any | None = None,
    intermediate_outputs: dict[str, Any] | None = None,
    attributes: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    start_time_ms: int | None = None,
    execution_time_ms: int | None = None,
) -> str:
    """Record a finished single-span trace (MLflow's ``mlflow.log_trace``); returns its id."""
    if intermediate_outputs:
        if attributes:
            attributes[SpanAttributeKey.INTERMEDIATE_OUTPUTS] = intermediate_outputs
        else:
            attributes = {SpanAttributeKey.INTERMEDIATE_OUTPUTS: intermediate_outputs}
    span = start_span_no_context(
        name=name,
        inputs=request,
        attributes=attributes,
        tags=tags,
        start_time_ns=start_time_ms * 1000000 if start_time_ms else None,
    )
    span.end(
        outputs=response,
        end_time_ns=(start_time_ms + execution_time_ms) * 1000000
        if start_time_ms and execution_time_ms
        else None,
    )
    return str(span.trace_id)


def add_trace(trace: Trace | dict[str, Any], target: LiveSpan | None = None) -> None:
    """Put a finished trace (e.g. one returned by a remote service) under ``target`` or the
    active span, as MLflow's ``mlflow.add_trace``: its spans keep their ids and data and
    join the current trace; without a span in progress a root span ``Remote Trace <name>``
    is made for them."""
    from tracklet.entities import Trace

    if not tracing_enabled():
        _logger.debug("Tracing is disabled. Skipping add_trace.")
        return
    if isinstance(trace, dict):
        try:
            trace = Trace.from_dict(trace)
        except Exception as e:
            raise _invalid(
                "Failed to load a trace object from the given dictionary. Please ensure the "
                f"dictionary is in the correct MLflow Trace format. Error: {e}",
            ) from e
    elif not isinstance(trace, Trace):
        raise _invalid(
            f"Invalid trace object: {type(trace)}. Please provide a valid MLflow Trace object "
            "to use it as a remote trace. You can create a Trace object from its json format by "
            "using the Trace.from_dict() method."
        )
    status = getattr(trace.info.status, "value", trace.info.status)
    if status not in ("OK", "ERROR"):
        raise _invalid(
            f"The trace must be ended before adding it to another trace. Current status: {trace.info.status}."
        )
    if target_span := target or get_current_active_span():
        _merge_trace(trace, target_span.trace_id, target_span.span_id)
        return
    remote_root = trace.data.spans[0]
    span = start_span_no_context(
        name=f"Remote Trace <{remote_root.name}>",
        inputs=remote_root.inputs,
        attributes={k: v for k, v in remote_root.attributes.items() if k != SpanAttributeKey.REQUEST_ID},
        start_time_ns=remote_root.start_time_ns - 1,
    )
    _merge_trace(trace, span.trace_id, span.span_id)
    span.end(status=status, outputs=remote_root.outputs, end_time_ns=remote_root.end_time_ns)


def _merge_trace(trace: Trace, target_trace_id: str, target_parent_span_id: str) -> None:
    manager = InMemoryTraceManager.get_instance()
    if manager.get_span_from_id(target_trace_id, target_parent_span_id) is None:
        _logger.warning(f"Parent trace with ID {target_trace_id} not found. Skipping merge.")
        return
    for span in trace.data.spans:
        parent_span_id = span.parent_id or target_parent_span_id
        parent = manager.get_span_from_id(target_trace_id, parent_span_id)
        if parent is None:
            raise _invalid(
                f"Span with ID {parent_span_id} not found. Please make sure the "
                "spans in the trace are ordered correctly i.e. the parent span comes before "
                "its children."
            )
        provider.clone_span(span, parent).end(end_time_ns=span.end_time_ns)
    with manager.get_trace(target_trace_id) as parent_trace:
        if parent_trace is not None:
            parent_trace.info.tags = trace.info.tags | parent_trace.info.tags
            parent_trace.info.trace_metadata = {
                **trace.info.request_metadata,
                **parent_trace.info.trace_metadata,
            }
