"""``tracklet ui``: the one-command local viewer (``mlflow ui``'s counterpart).

It is ``tracklet server`` on loopback with fewer options: the command finds the root
group's ``server`` command (contributed by tracklet-http, which this package never
imports) and invokes it, so the two can never disagree about how a server starts.
"""

from __future__ import annotations

from typing import Any

import click

__all__ = ["NEEDS_SERVER", "ui"]

NEEDS_SERVER = (
    "tracklet ui needs the server: pip install 'tracklet-http[server]' "
    "(from a clone: pip install './plugins/http[server]')"
)


@click.command("ui")
@click.option(
    "--backend-store-uri",
    metavar="URI",
    help="Where experiments and runs are kept: sqlite:///tracklet.db, a folder, postgresql://… "
    "[default: the tracking URI tracklet would use]",
)
@click.option(
    "--default-artifact-root",
    metavar="URI",
    help="Artifact root for new experiments [default: as tracklet server].",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", "-p", default=5000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--mlflow-ui",
    is_flag=True,
    default=False,
    help="Also serve the installed mlflow package's own UI at / (tracklet's stays at /ui/).",
)
@click.pass_context
def ui(ctx: click.Context, /, **options: Any) -> None:
    """Browse experiments, runs, charts, artifacts and models in a web browser.

    Starts tracklet server with the web UI and prints its address.
    """
    server = _server_command(ctx)
    arguments: dict[str, Any] = {"host": options["host"], "port": options["port"]}
    for name in ("backend_store_uri", "default_artifact_root"):
        if options[name]:
            arguments[name] = options[name]
    if options["mlflow_ui"]:
        if not any(param.name == "mlflow_ui" for param in server.params):
            raise click.UsageError(
                "this tracklet server has no --mlflow-ui option: upgrade tracklet-http "
                "(from a clone: pip install './plugins/http[server]')"
            )
        arguments["mlflow_ui"] = True
    host = options["host"]
    shown = f"[{host}]" if ":" in host else host
    click.echo(
        f"tracklet ui: open http://{shown}:{options['port']}/ in a browser (Ctrl+C stops it)", err=True
    )
    ctx.invoke(server, **arguments)


def _server_command(ctx: click.Context) -> click.Command:
    root = ctx.find_root().command
    server = root.get_command(ctx, "server") if isinstance(root, click.Group) else None
    if server is None:
        raise click.ClickException(NEEDS_SERVER)
    return server
