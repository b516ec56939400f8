"""``tracklet runs``: list, describe, delete, restore."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tracklet.cli._common import (
    CliState,
    collect_pages,
    echo_json,
    format_ms,
    json_option,
    pass_state,
    print_listing,
    print_table,
    view_option,
)

if TYPE_CHECKING:
    from tracklet.entities import Run

# Page size when the user asked for every run (MLflow's default search page).
_PAGE_SIZE = 1000


@click.group("runs")
def runs() -> None:
    """List, describe, delete and restore runs."""


@runs.command("list")
@click.option(
    "--experiment-id",
    "experiment_ids",
    metavar="ID",
    multiple=True,
    help="Experiment whose runs to list (repeat for several).",
)
@click.option(
    "--experiment-name",
    "experiment_names",
    metavar="NAME",
    multiple=True,
    help="Experiment to list, by name (repeatable; combines with --experiment-id).",
)
@view_option("Which runs to list.")
@click.option(
    "--filter",
    "filter_string",
    metavar="STR",
    default="",
    help="MLflow search filter, e.g. \"metrics.acc > 0.9 and params.lr = '0.1'\".",
)
@click.option(
    "--order-by", metavar="STR", multiple=True, help='Order clause, e.g. "metrics.acc DESC" (repeatable).'
)
@click.option("--max-results", type=click.IntRange(min=1), metavar="N", help="List at most N runs.")
@json_option
@pass_state
def list_runs(
    state: CliState,
    experiment_ids: tuple[str, ...],
    experiment_names: tuple[str, ...],
    view_type: int,
    filter_string: str,
    order_by: tuple[str, ...],
    max_results: int | None,
    as_json: bool,
) -> None:
    """List the runs of one or more experiments, optionally filtered and ordered."""
    if not experiment_ids and not experiment_names:
        raise click.UsageError("Give --experiment-id or --experiment-name (or both).")
    ids = [_existing_experiment_id(state, experiment_id) for experiment_id in experiment_ids]
    for name in experiment_names:
        experiment = state.client.get_experiment_by_name(name)
        if experiment is None:
            raise click.ClickException(f"No experiment named {name!r}. See: tracklet experiments list")
        ids.append(experiment.experiment_id)
    found = collect_pages(
        lambda token: state.client.search_runs(
            ids,
            filter_string,
            view_type,
            max_results or _PAGE_SIZE,
            list(order_by) or None,
            token,
        ),
        limit=max_results,
    )
    print_listing(found, as_json, _RUN_COLUMNS, _run_row, empty="No runs.")


def _existing_experiment_id(state: CliState, experiment_id: str) -> str:
    """``experiment_id`` once the store knows it: an unknown id is an error, as an unknown
    name is, rather than an empty listing that looks like an experiment without runs."""
    from tracklet.exceptions import RESOURCE_DOES_NOT_EXIST, TrackletException

    try:
        state.client.get_experiment(experiment_id)
    except TrackletException as exc:
        if exc.error_code != RESOURCE_DOES_NOT_EXIST:
            raise
        raise click.ClickException(
            f"No experiment with id {experiment_id!r}. See: tracklet experiments list"
        ) from exc
    return experiment_id


_RUN_COLUMNS = ("Run ID", "Name", "Experiment", "Status", "Started", "Stage")


def _run_row(run: Run) -> tuple[object, ...]:
    info = run.info
    return (
        info.run_id,
        info.run_name,
        info.experiment_id,
        info.status,
        format_ms(info.start_time),
        info.lifecycle_stage,
    )


@runs.command("describe")
@click.argument("run_id")
@json_option
@pass_state
def describe_run(state: CliState, run_id: str, as_json: bool) -> None:
    """Show RUN_ID: its info, params, latest metrics and tags."""
    run = state.client.get_run(run_id)
    if as_json:
        echo_json(run.to_dictionary())
        return
    _print_run(run)


def _print_run(run: Run) -> None:
    info = run.info
    print_table(
        ("Field", "Value"),
        [
            ("run_id", info.run_id),
            ("run_name", info.run_name),
            ("experiment_id", info.experiment_id),
            ("status", info.status),
            ("user_id", info.user_id),
            ("start_time", format_ms(info.start_time)),
            ("end_time", format_ms(info.end_time)),
            ("artifact_uri", info.artifact_uri),
            ("lifecycle_stage", info.lifecycle_stage),
        ],
        title="Run",
    )
    data = run.data
    if data.params:
        print_table(("Param", "Value"), sorted(data.params.items()), title="Params")
    if data.metric_objs:
        metrics = sorted(data.metric_objs, key=lambda m: m.key)
        rows = [(m.key, str(m.value), m.step, format_ms(m.timestamp)) for m in metrics]
        print_table(("Metric", "Value", "Step", "Logged at"), rows, title="Metrics")
    if data.tags:
        print_table(("Tag", "Value"), sorted(data.tags.items()), title="Tags")


@runs.command("delete")
@click.argument("run_id")
@pass_state
def delete_run(state: CliState, run_id: str) -> None:
    """Mark RUN_ID deleted (undo with ``restore``)."""
    state.client.delete_run(run_id)
    click.echo(f"Run with id {run_id} has been deleted.")


@runs.command("restore")
@click.argument("run_id")
@pass_state
def restore_run(state: CliState, run_id: str) -> None:
    """Restore deleted run RUN_ID."""
    state.client.restore_run(run_id)
    click.echo(f"Run with id {run_id} has been restored.")
