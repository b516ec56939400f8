"""The ``tracklet`` command line (also ``python -m tracklet``).

Built-in commands talk only to the public client; installed plugins add their own
commands through the ``tracklet_cli_commands`` hook. Nothing here is imported by
``import tracklet``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, cast

import click

from tracklet.cli._artifacts import artifacts
from tracklet.cli._common import CliState
from tracklet.cli._errors import user_message, wants_traceback
from tracklet.cli._experiments import experiments
from tracklet.cli._migrate import migrate
from tracklet.cli._plugins import plugins
from tracklet.cli._runs import runs
from tracklet.cli._sync import sync
from tracklet.cli._traces import traces
from tracklet.exceptions import TrackletException

__all__ = ["BUILTIN_COMMANDS", "CliState", "TrackletGroup", "build_cli", "main"]

BUILTIN_COMMANDS: tuple[click.Command, ...] = (experiments, runs, traces, artifacts, sync, migrate, plugins)


class TrackletGroup(click.Group):
    """The root group: turns tracklet's errors into ``Error: <message>`` and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the chosen command; every error becomes a one-line message, not a traceback.

        click's own exceptions (usage errors, ``--help``'s exit, Ctrl-C) pass through as they
        are; anything else, a store's or a driver's error included, is worded by
        :func:`~tracklet.cli._errors.user_message` (``TRACKLET_CLI_TRACEBACK=1`` lets the
        unexpected ones raise).
        """
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            if not isinstance(exc, (TrackletException, OSError)) and wants_traceback():
                raise
            state = ctx.find_object(CliState)
            if state is None:
                raise click.ClickException(user_message(exc, None, used_tracking=False)) from exc
            message = user_message(exc, state.tracking_uri, used_tracking=state.client_requested)
            raise click.ClickException(message) from exc


def build_cli(with_plugins: bool = True) -> click.Group:
    """A fresh ``tracklet`` group with the built-in commands and, by default, the plugins' ones.

    A new group per call, so a plugin registered at run time (a test, a notebook) is
    picked up by the next call.
    """

    @click.group(
        "tracklet",
        cls=TrackletGroup,
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )
    @click.option(
        "--tracking-uri",
        metavar="URI",
        envvar=["TRACKLET_TRACKING_URI", "MLFLOW_TRACKING_URI"],
        show_envvar=True,
        help="Where to track: a path, file:, sqlite:, postgresql:, http(s):...",
    )
    @click.version_option(_version(), "--version", prog_name="tracklet")
    @click.pass_context
    def cli(ctx: click.Context, tracking_uri: str | None) -> None:
        """tracklet: MLflow's tracking API with any storage through plugins."""
        ctx.obj = CliState(tracking_uri=tracking_uri or None)

    for command in BUILTIN_COMMANDS:
        cli.add_command(command)
    if with_plugins:
        _add_plugin_commands(cli)
    return cli


def _version() -> str:
    from tracklet import __version__

    return __version__


def _plugin_commands() -> Iterator[tuple[str, object]]:
    """(plugin name, command) for each command a plugin contributes, in hook call order.

    Goes hook implementation by implementation so that a refused command can name its plugin.
    """
    from tracklet import plugins as tracklet_plugins

    hook = tracklet_plugins.get_plugin_manager().hook.tracklet_cli_commands
    # pluggy calls the most recently registered implementation first
    for impl in reversed(hook.get_hookimpls()):
        commands = cast("list[object] | None", impl.function())
        for command in commands or []:
            yield impl.plugin_name, command


def _add_plugin_commands(group: click.Group) -> None:
    """Add what plugins contribute, refusing (with a warning) what would shadow a command."""
    try:
        contributed = list(_plugin_commands())
    except Exception as exc:  # a broken plugin must not take the built-in commands down with it
        _warn(f"could not load plugin commands: {exc}")
        return
    for plugin_name, command in contributed:
        if not isinstance(command, click.Command):
            _warn(f"plugin {plugin_name!r} returned {command!r}, not a click command; ignored.")
        elif command.name in group.commands:
            _warn(
                f"plugin {plugin_name!r} adds a command named {command.name!r}, "
                "which already exists; ignored."
            )
        else:
            group.add_command(command)


def _warn(message: str) -> None:
    click.echo(f"Warning: {message}", err=True)


def main(args: Sequence[str] | None = None) -> None:
    """Entry point of the ``tracklet`` console script and ``python -m tracklet``."""
    build_cli().main(args=args)
