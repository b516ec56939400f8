"""``tracklet artifacts``: list, download, log, log-dir."""

from __future__ import annotations

import click

from tracklet.cli._common import CliState, json_option, pass_state, print_listing

_run_id_option = click.option("--run-id", required=True, metavar="ID", help="The run whose artifacts to use.")
_artifact_path_option = click.option(
    "--artifact-path", metavar="P", help="Path under the run's artifact root (default: the root)."
)


@click.group("artifacts")
def artifacts() -> None:
    """List, download and upload run artifacts."""


@artifacts.command("list")
@_run_id_option
@_artifact_path_option
@json_option
@pass_state
def list_artifacts(state: CliState, run_id: str, artifact_path: str | None, as_json: bool) -> None:
    """List the artifacts directly under a run's artifact path."""
    print_listing(
        state.client.list_artifacts(run_id, artifact_path),
        as_json,
        ("Path", "Type", "Size (bytes)"),
        lambda f: (f.path, "dir" if f.is_dir else "file", "" if f.file_size is None else f.file_size),
        empty="No artifacts.",
    )


@artifacts.command("download")
@click.option("--run-id", metavar="ID", help="The run whose artifacts to download.")
@_artifact_path_option
@click.option(
    "--artifact-uri",
    metavar="URI",
    help="Download this URI instead (runs:/<run_id>/<path>, or any artifact URI).",
)
@click.option(
    "--dst-path",
    metavar="D",
    type=click.Path(file_okay=False),
    help="Local directory to download into (default: in place for local artifacts, else a temp dir).",
)
@pass_state
def download_artifacts(
    state: CliState,
    run_id: str | None,
    artifact_path: str | None,
    artifact_uri: str | None,
    dst_path: str | None,
) -> None:
    """Download an artifact file or directory and print its local path."""
    if (run_id is None) == (artifact_uri is None):
        raise click.UsageError("Give exactly one of --run-id or --artifact-uri.")
    if artifact_uri is not None and artifact_path is not None:
        raise click.UsageError(
            "--artifact-path goes with --run-id; with --artifact-uri, put the path in the URI."
        )
    from tracklet import artifacts as tracklet_artifacts

    state.client_requested = True  # resolved through the tracking URI, as the client is
    local = tracklet_artifacts.download_artifacts(
        artifact_uri=artifact_uri,
        run_id=run_id,
        artifact_path=artifact_path,
        dst_path=dst_path,
        tracking_uri=state.tracking_uri,
    )
    click.echo(local)


@artifacts.command("log")
@_run_id_option
@click.option(
    "--local-file",
    required=True,
    metavar="F",
    type=click.Path(exists=True, dir_okay=False),
    help="The file to upload.",
)
@_artifact_path_option
@pass_state
def log_artifact(state: CliState, run_id: str, local_file: str, artifact_path: str | None) -> None:
    """Upload a local file into a run's artifacts."""
    state.client.log_artifact(run_id, local_file, artifact_path)
    click.echo(f"Logged artifact from local file {local_file} to artifact_path={artifact_path}")


@artifacts.command("log-dir")
@_run_id_option
@click.option(
    "--local-dir",
    required=True,
    metavar="D",
    type=click.Path(exists=True, file_okay=False),
    help="The directory whose contents to upload.",
)
@_artifact_path_option
@pass_state
def log_artifacts(state: CliState, run_id: str, local_dir: str, artifact_path: str | None) -> None:
    """Upload a local directory's contents into a run's artifacts."""
    state.client.log_artifacts(run_id, local_dir, artifact_path)
    click.echo(f"Logged artifacts from local dir {local_dir} to artifact_path={artifact_path}")
