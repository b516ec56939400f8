"""``tracklet experiments``: create, list, delete, restore, rename."""

from __future__ import annotations

import click

from tracklet.cli._common import (
    CliState,
    collect_pages,
    format_ms,
    json_option,
    pass_state,
    print_listing,
    view_option,
)


@click.group("experiments")
def experiments() -> None:
    """Create, list, delete, restore and rename experiments."""


@experiments.command("create")
@click.argument("name")
@click.option(
    "--artifact-location",
    metavar="URI",
    help="Root URI for the runs' artifacts (default: chosen by the tracking backend).",
)
@pass_state
def create_experiment(state: CliState, name: str, artifact_location: str | None) -> None:
    """Create an experiment called NAME and print its id."""
    experiment_id = state.client.create_experiment(name, artifact_location=artifact_location)
    click.echo(f"Created experiment '{name}' with id {experiment_id}")


@experiments.command("list")
@view_option("Which experiments to list.")
@json_option
@pass_state
def list_experiments(state: CliState, view_type: int, as_json: bool) -> None:
    """List experiments: id, name, artifact location, lifecycle stage."""
    found = collect_pages(
        lambda token: state.client.search_experiments(view_type=view_type, page_token=token)
    )
    print_listing(
        found,
        as_json,
        ("ID", "Name", "Artifact location", "Stage", "Created"),
        lambda e: (
            e.experiment_id,
            e.name,
            e.artifact_location,
            e.lifecycle_stage,
            format_ms(e.creation_time),
        ),
        empty="No experiments.",
    )


@experiments.command("delete")
@click.argument("experiment_id", metavar="ID")
@pass_state
def delete_experiment(state: CliState, experiment_id: str) -> None:
    """Mark experiment ID and its runs deleted (undo with ``restore``)."""
    state.client.delete_experiment(experiment_id)
    click.echo(f"Experiment with id {experiment_id} has been deleted.")


@experiments.command("restore")
@click.argument("experiment_id", metavar="ID")
@pass_state
def restore_experiment(state: CliState, experiment_id: str) -> None:
    """Restore deleted experiment ID."""
    state.client.restore_experiment(experiment_id)
    click.echo(f"Experiment with id {experiment_id} has been restored.")


@experiments.command("rename")
@click.argument("experiment_id", metavar="ID")
@click.argument("new_name")
@pass_state
def rename_experiment(state: CliState, experiment_id: str, new_name: str) -> None:
    """Rename experiment ID to NEW_NAME."""
    state.client.rename_experiment(experiment_id, new_name)
    click.echo(f"Experiment with id {experiment_id} has been renamed to '{new_name}'.")
