"""``tracklet traces``: list, get, delete."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from tracklet.cli._common import CliState, echo_json, format_ms, pass_state, print_table

if TYPE_CHECKING:
    from tracklet.entities import Span, Trace
    from tracklet.tracing.client import TracingClient

_EXPERIMENT_ENV = ["TRACKLET_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_ID"]
_PREVIEW_WIDTH = 60


@click.group("traces")
def traces() -> None:
    """List, show and delete traces (the spans of instrumented code)."""


def _output_option(default: str, what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn = click.option("--json", "as_json", is_flag=True, help="Same as --output json.")(fn)
        return click.option(
            "--output",
            type=click.Choice(["table", "json"], case_sensitive=False),
            default=default,
            show_default=True,
            help=what,
        )(fn)

    return decorate


def _tracing_client(state: CliState) -> TracingClient:
    """The tracing client of the group's ``--tracking-uri`` (built on first use)."""
    from tracklet.tracing.client import TracingClient

    state.client_requested = True  # errors from here on are about the tracking URI
    return TracingClient(tracking_uri=state.tracking_uri)


@traces.command("list")
@click.option(
    "--experiment-id",
    "experiment_ids",
    metavar="ID",
    multiple=True,
    help="Experiment whose traces to list (repeat for several; default: "
    "$TRACKLET_EXPERIMENT_ID or $MLFLOW_EXPERIMENT_ID).",
)
@click.option(
    "--filter",
    "--filter-string",
    "filter_string",
    metavar="STR",
    default=None,
    help="Trace search filter, e.g. \"status = 'OK' and tags.env = 'prod'\".",
)
@click.option(
    "--order-by",
    metavar="STR",
    multiple=True,
    help='Order clause, e.g. "timestamp_ms ASC" (repeatable; default: newest first).',
)
@click.option(
    "--max-results",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    metavar="N",
    help="Traces on this page.",
)
@click.option(
    "--page-token", metavar="TOKEN", help="Token of the next page, as a previous listing printed it."
)
@click.option("--run-id", metavar="ID", help="Only the traces made under this run.")
@_output_option("table", "Table of traces, or MLflow's JSON (with every span).")
@pass_state
def list_traces(
    state: CliState,
    experiment_ids: tuple[str, ...],
    filter_string: str | None,
    order_by: tuple[str, ...],
    max_results: int,
    page_token: str | None,
    run_id: str | None,
    output: str,
    as_json: bool,
) -> None:
    """List one page of traces, newest first; the next page's token is printed after it."""
    import os

    ids = list(experiment_ids)
    if not ids:
        ids = [os.environ[name] for name in _EXPERIMENT_ENV if os.environ.get(name)][:1]
    if not ids and not run_id:
        raise click.UsageError("Give --experiment-id (or set TRACKLET_EXPERIMENT_ID), or --run-id.")
    want_json = as_json or output.lower() == "json"
    client = _tracing_client(state)
    for experiment_id in ids:
        _require_experiment(state, experiment_id)
    page = client.search_traces(
        experiment_ids=ids or None,
        filter_string=filter_string or None,
        max_results=max_results,
        order_by=list(order_by) or None,
        page_token=page_token or None,
        run_id=run_id or None,
        include_spans=want_json,
    )
    if want_json:
        echo_json({"traces": [trace.to_dict() for trace in page], "next_page_token": page.token})
        return
    if not page:
        click.echo("No traces.")
    else:
        print_table(_TRACE_COLUMNS, [_trace_row(trace) for trace in page])
    if page.token:
        click.echo(f"\nNext page token: {page.token}")


def _require_experiment(state: CliState, experiment_id: str) -> None:
    """An unknown experiment id is an error, as in ``tracklet runs list``, rather than an
    empty listing that looks like an experiment without traces."""
    from tracklet.cli._runs import _existing_experiment_id

    _existing_experiment_id(state, experiment_id)


_TRACE_COLUMNS = (
    "Trace ID",
    "Name",
    "Experiment",
    "State",
    "Started",
    "Duration (ms)",
    "Request",
    "Response",
)


def _trace_row(trace: Trace) -> tuple[object, ...]:
    info = trace.info
    return (
        info.trace_id,
        info.tags.get("mlflow.traceName", ""),
        info.experiment_id,
        _text(info.state),
        format_ms(info.request_time),
        info.execution_duration,
        _short(info.request_preview),
        _short(info.response_preview),
    )


def _text(value: object) -> str:
    """An enum's name (``TraceState.OK`` -> ``OK``), anything else as str()."""
    return str(getattr(value, "value", value))


def _short(text: str | None) -> str:
    if not text:
        return ""
    text = " ".join(text.split())
    return text if len(text) <= _PREVIEW_WIDTH else text[: _PREVIEW_WIDTH - 1] + "…"


@traces.command("get")
@click.argument("trace_id")
@_output_option("json", "The trace as MLflow's JSON, or tables of its info and span tree.")
@pass_state
def get_trace(state: CliState, trace_id: str, output: str, as_json: bool) -> None:
    """Show TRACE_ID: its JSON (MLflow's), or its info and span tree as tables."""
    from tracklet.exceptions import RESOURCE_DOES_NOT_EXIST, TrackletException

    try:
        trace = _tracing_client(state).get_trace(trace_id)
    except TrackletException as exc:
        if exc.error_code != RESOURCE_DOES_NOT_EXIST:
            raise
        raise click.ClickException(
            f"No trace with id {trace_id!r}. See: tracklet traces list --experiment-id ID"
        ) from exc
    if as_json or output.lower() == "json":
        click.echo(trace.to_json(pretty=True))
        return
    info = trace.info
    print_table(
        ("Field", "Value"),
        [
            ("trace_id", info.trace_id),
            ("name", info.tags.get("mlflow.traceName", "")),
            ("experiment_id", info.experiment_id),
            ("state", _text(info.state)),
            ("request_time", format_ms(info.request_time)),
            ("execution_duration_ms", info.execution_duration),
            ("client_request_id", info.client_request_id),
            ("request_preview", _short(info.request_preview)),
            ("response_preview", _short(info.response_preview)),
        ],
        title="Trace",
    )
    if info.trace_metadata:
        print_table(("Metadata", "Value"), sorted(info.trace_metadata.items()), title="Metadata")
    if info.tags:
        print_table(("Tag", "Value"), sorted(info.tags.items()), title="Tags")
    if trace.data.spans:
        print_table(
            ("Span", "Type", "Span ID", "Status", "Start offset (ms)", "Duration (ms)"),
            _span_rows(trace.data.spans),
            title="Spans",
        )
    else:
        click.echo("No spans.")


def _span_rows(spans: Sequence[Span]) -> list[tuple[object, ...]]:
    """One row per span, depth-first from the roots, children by start time; names indented
    by depth. A span whose parent is not in the trace is shown as a root."""
    ids = {span.span_id for span in spans}
    children: dict[str | None, list[Span]] = {}
    for span in spans:
        parent = span.parent_id if span.parent_id in ids else None
        children.setdefault(parent, []).append(span)
    for group in children.values():
        group.sort(key=lambda s: (s.start_time_ns or 0, s.span_id))
    starts = [span.start_time_ns for span in spans if span.start_time_ns is not None]
    origin = min(starts) if starts else 0
    rows: list[tuple[object, ...]] = []
    stack: list[tuple[Span, int]] = [(root, 0) for root in reversed(children.get(None, []))]
    seen: set[str] = set()
    while stack:
        span, depth = stack.pop()
        if span.span_id in seen:  # a cycle in bad data: show each span once
            continue
        seen.add(span.span_id)
        rows.append(
            (
                "  " * depth + span.name,
                _text(span.span_type),
                span.span_id,
                _text(getattr(span.status, "status_code", span.status)),
                _ms(span.start_time_ns - origin if span.start_time_ns is not None else None),
                _ms(
                    span.end_time_ns - span.start_time_ns
                    if span.end_time_ns is not None and span.start_time_ns is not None
                    else None
                ),
            )
        )
        stack.extend((child, depth + 1) for child in reversed(children.get(span.span_id, [])))
    return rows


def _ms(ns: int | None) -> str:
    return "" if ns is None else f"{ns / 1e6:.3f}"


@traces.command("delete")
@click.option(
    "--experiment-id",
    required=True,
    metavar="ID",
    envvar=_EXPERIMENT_ENV,
    help="Experiment holding the traces (default: $TRACKLET_EXPERIMENT_ID or $MLFLOW_EXPERIMENT_ID).",
)
@click.option(
    "--trace-id",
    "--trace-ids",
    "trace_ids",
    metavar="ID",
    multiple=True,
    help="A trace to delete (repeatable; a comma-separated list also works).",
)
@click.option(
    "--max-timestamp-millis",
    type=int,
    metavar="MS",
    help="Delete the traces started at or before this time (ms since the epoch).",
)
@click.option(
    "--max-traces",
    type=click.IntRange(min=1),
    metavar="N",
    help="With --max-timestamp-millis: delete at most N traces, oldest first.",
)
@pass_state
def delete_traces(
    state: CliState,
    experiment_id: str,
    trace_ids: tuple[str, ...],
    max_timestamp_millis: int | None,
    max_traces: int | None,
) -> None:
    """Delete traces of an experiment for good: by id, or all up to a time."""
    ids = [part.strip() for given in trace_ids for part in given.split(",") if part.strip()]
    if ids and max_timestamp_millis is not None:
        raise click.UsageError("Give --trace-id or --max-timestamp-millis, not both.")
    if not ids and max_timestamp_millis is None:
        raise click.UsageError("Give --trace-id (repeatable) or --max-timestamp-millis.")
    if max_traces is not None and max_timestamp_millis is None:
        raise click.UsageError("--max-traces goes with --max-timestamp-millis.")
    client = _tracing_client(state)
    _require_experiment(state, experiment_id)
    count = client.delete_traces(
        experiment_id,
        max_timestamp_millis=max_timestamp_millis,
        max_traces=max_traces,
        trace_ids=ids or None,
    )
    click.echo(f"Deleted {count} trace(s) from experiment {experiment_id}.")
