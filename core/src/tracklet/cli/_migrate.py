"""``tracklet migrate SRC DST``: copy a tracking store (an MLflow database or server, a
folder, any plugin's store) into another that takes copies, or compare the two.

The work is :mod:`tracklet.migrate`'s; this module turns options into :class:`Options`,
prints the summary or the differences, and sets the exit status.
"""

from __future__ import annotations

import sys

import click

from tracklet.cli._errors import one_line

#: How many differences ``--verify`` prints (the count covers them all).
_DIFFERENCES_SHOWN = 50


@click.command("migrate")
@click.argument("src", metavar="SRC")
@click.argument("dst", metavar="DST")
@click.option(
    "--dry-run", is_flag=True, help="Read the source and count what would be copied; write nothing."
)
@click.option(
    "--verify",
    "verify_only",
    is_flag=True,
    help="Compare only: list every difference between the source and the copy; exit 1 on any.",
)
@click.option(
    "--experiment",
    "experiments",
    metavar="ID_OR_NAME",
    multiple=True,
    help="Copy only this experiment (repeatable). Default: all, deleted ones included.",
)
@click.option(
    "--filter",
    "run_filter",
    metavar="RUN_FILTER",
    default="",
    help="Copy only the runs matching this search filter.",
)
@click.option(
    "--artifact-root",
    metavar="URI",
    help="Put artifacts under URI (<URI>/<experiment id>/<run id>/artifacts). Default: the destination's root.",
)
@click.option(
    "--keep-artifact-uris",
    is_flag=True,
    help="Keep the source's artifact locations and copy no artifact files (both sides share them).",
)
@click.option("--no-artifacts", is_flag=True, help="Rewrite artifact URIs but copy no artifact files.")
@click.option(
    "--renumber-experiments",
    is_flag=True,
    help="Give experiments the destination's ids (its experiment of the same name, or a new one); "
    "runs keep theirs. For an MLflow mlruns folder's long ids, which SQL stores cannot hold.",
)
@click.option(
    "--journal",
    metavar="PATH",
    help="Resume state (default: $XDG_CACHE_HOME/tracklet/migrate/<hash of SRC, DST>.jsonl).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@click.option("-v", "--verbose", is_flag=True, help="With --dry-run: list the ids of what would be copied.")
def migrate(
    src: str,
    dst: str,
    dry_run: bool,
    verify_only: bool,
    experiments: tuple[str, ...],
    run_filter: str,
    artifact_root: str | None,
    keep_artifact_uris: bool,
    no_artifacts: bool,
    renumber_experiments: bool,
    journal: str | None,
    quiet: bool,
    verbose: bool,
) -> None:
    """Copy experiments, runs, metric histories, artifacts, traces and registered models from SRC to DST.

    SRC is any tracking URI (an MLflow database such as sqlite:///mlflow.db, an mlruns
    folder, an MLflow or tracklet server); DST is a tracklet store or server (it must
    take copies). Ids, names, times and lifecycle stages are kept. A copy that stops
    (killed, a network failure) is resumed by running the same command again; then check
    it with --verify.
    """
    from tracklet.migrate import Options, verify
    from tracklet.migrate import migrate as run_migrate

    if keep_artifact_uris and artifact_root:
        raise click.UsageError("--artifact-root and --keep-artifact-uris exclude each other: pick one.")
    if dry_run and verify_only:
        raise click.UsageError("--dry-run and --verify exclude each other: --verify writes nothing already.")
    options = Options(
        experiments=experiments,
        run_filter=run_filter,
        artifact_root=artifact_root,
        keep_artifact_uris=keep_artifact_uris,
        artifacts=not no_artifacts,
        renumber_experiments=renumber_experiments,
        journal=journal,
        progress=not quiet and sys.stderr.isatty(),  # bars on a terminal, not in a job's log
    )
    if verify_only:
        differences = verify(src, dst, options)
        if not differences:
            click.echo(f"No difference: {dst} holds everything selected in {src}.")
            return
        for difference in differences[:_DIFFERENCES_SHOWN]:
            click.echo(one_line(str(difference)))
        if len(differences) > _DIFFERENCES_SHOWN:
            click.echo(f"(the first {_DIFFERENCES_SHOWN} are shown)")
        raise click.ClickException(
            f"{len(differences):,} difference(s) between {src} and {dst}. Run `tracklet migrate SRC DST` "
            "(same options) to copy what is missing, then --verify again."
        )
    summary = run_migrate(src, dst, options, dry_run=dry_run)
    for line in summary.lines():
        click.echo(line)
    if dry_run and verbose:
        click.echo("Experiments: " + " ".join(summary.experiment_ids))
        click.echo("Runs:")
        for run_id in summary.run_ids:
            click.echo(f"  {run_id}")
