"""``tracklet models``: list, describe, versions, alias, transition, download.

Imported only when the ``tracklet`` CLI starts (through the ``tracklet_cli_commands`` hook).
Every command goes through :class:`tracklet.MlflowClient`, so it works on every registry
store (a folder, a database, a server). Listings print a table, or JSON with ``--json``
(the entities' dictionaries), as the built-in commands do.
"""

from __future__ import annotations

import datetime
import json
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import click

from tracklet.cli import CliState

if TYPE_CHECKING:
    from tracklet.client import MlflowClient

__all__ = ["models"]

_pass_state = click.make_pass_decorator(CliState, ensure=True)


class _ModelsState:
    """The ``models`` group's ``--registry-uri`` and the client for it, built on first use."""

    def __init__(self, state: CliState, registry_uri: str | None) -> None:
        self.state = state
        self.registry_uri = registry_uri
        self._client: MlflowClient | None = None

    @property
    def client(self) -> MlflowClient:
        self.state.client_requested = True
        if self._client is None:
            from tracklet.client import MlflowClient

            self._client = MlflowClient(tracking_uri=self.state.tracking_uri, registry_uri=self.registry_uri)
        return self._client


_pass_models = click.make_pass_decorator(_ModelsState)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


# -- printing ---------------------------------------------------------------------------------------


def _format_ms(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.datetime.fromtimestamp(ms / 1000).isoformat(sep=" ", timespec="seconds")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(_finite(value), indent=2, default=str, allow_nan=False))


def _print_table(columns: Sequence[str], rows: Iterable[Sequence[object]], title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(*columns, highlight=False)
    for row in rows:
        table.add_row(*(Text("" if cell is None else str(cell)) for cell in row))
    console = Console()
    if not console.is_terminal:  # piped: never truncate names or URIs to fit 80 columns
        console = Console(width=100_000)
    if title:
        console.print(Text(title, style="bold"))
    console.print(table)


def _aliases_by_version(aliases: Any) -> dict[str, list[str]]:
    """``{version: [alias, …]}`` from a model's aliases (a dict, as MLflow's entity has them,
    or a list of alias objects)."""
    pairs = aliases.items() if isinstance(aliases, dict) else ((a.alias, a.version) for a in aliases or [])
    out: dict[str, list[str]] = {}
    for alias, version in pairs:
        out.setdefault(str(version), []).append(alias)
    return out


def _dictionary(entity: Any) -> Any:
    return entity.to_dictionary() if hasattr(entity, "to_dictionary") else entity


def _version_rows(versions: Sequence[Any]) -> list[tuple[object, ...]]:
    return [
        (
            v.name,
            v.version,
            v.current_stage,
            v.status,
            ", ".join(v.aliases or []),
            v.run_id or "",
            v.source,
            _format_ms(v.creation_timestamp),
        )
        for v in versions
    ]


_VERSION_COLUMNS = ("Name", "Version", "Stage", "Status", "Aliases", "Run ID", "Source", "Created")


def _all_pages(fetch: Callable[[str | None], Any], limit: int | None) -> list[Any]:
    items: list[Any] = []
    token: str | None = None
    while True:
        page = fetch(token)
        items.extend(page)
        token = page.token
        if not token or (limit is not None and len(items) >= limit):
            return items[:limit] if limit is not None else items


# -- commands ---------------------------------------------------------------------------------------


@click.group("models")
@click.option(
    "--registry-uri",
    metavar="URI",
    envvar=["TRACKLET_REGISTRY_URI", "MLFLOW_REGISTRY_URI"],
    show_envvar=True,
    help="Where the model registry is (default: the tracking URI).",
)
@_pass_state
@click.pass_context
def models(ctx: click.Context, state: CliState, registry_uri: str | None) -> None:
    """Registered models: list, inspect, download.

    List and inspect registered models and their versions, move aliases and stages, and
    download a model's files (models:/NAME/VERSION, models:/NAME@ALIAS, ...)."""
    ctx.obj = _ModelsState(state, registry_uri or None)


@models.command("list")
@click.option(
    "--filter", "filter_string", metavar="F", help="e.g. \"name LIKE 'fraud%'\" or \"tags.team = 'x'\"."
)
@click.option("--max-results", type=click.IntRange(min=1), metavar="N", help="List at most N models.")
@click.option("--order-by", multiple=True, metavar="O", help="e.g. 'name ASC' (repeatable).")
@_json_option
@_pass_models
def list_models(
    models_state: _ModelsState,
    filter_string: str | None,
    max_results: int | None,
    order_by: tuple[str, ...],
    as_json: bool,
) -> None:
    """List registered models: name, latest version, aliases, description, last update."""
    client = models_state.client
    found = _all_pages(
        lambda token: client.search_registered_models(
            filter_string=filter_string, order_by=list(order_by) or None, page_token=token
        ),
        max_results,
    )
    if as_json:
        _echo_json([_dictionary(m) for m in found])
        return
    if not found:
        click.echo("No registered models.")
        return
    rows = []
    for m in found:
        latest = max((int(v.version) for v in m.latest_versions or []), default=None)
        aliases = ", ".join(f"{a}: {v}" for a, v in sorted((m.aliases or {}).items()))
        rows.append(
            (
                m.name,
                "" if latest is None else latest,
                aliases,
                m.description or "",
                _format_ms(m.last_updated_timestamp),
            )
        )
    _print_table(("Name", "Latest version", "Aliases", "Description", "Updated"), rows)


@models.command("describe")
@click.argument("name")
@_json_option
@_pass_models
def describe_model(models_state: _ModelsState, name: str, as_json: bool) -> None:
    """Show registered model NAME: description, tags, aliases and all its versions."""
    client = models_state.client
    model = client.get_registered_model(name)
    versions = _all_pages(
        lambda token: client.search_model_versions(filter_string=f"name = {_quoted(name)}", page_token=token),
        None,
    )
    versions.sort(key=lambda v: int(v.version), reverse=True)
    if as_json:
        _echo_json(
            {"registered_model": _dictionary(model), "model_versions": [_dictionary(v) for v in versions]}
        )
        return
    facts = [
        ("Name", model.name),
        ("Description", model.description or ""),
        ("Created", _format_ms(model.creation_timestamp)),
        ("Updated", _format_ms(model.last_updated_timestamp)),
        ("Tags", ", ".join(f"{k}={v}" for k, v in sorted((model.tags or {}).items()))),
        ("Aliases", ", ".join(f"{a} -> {v}" for a, v in sorted((model.aliases or {}).items()))),
    ]
    _print_table(("Field", "Value"), facts, title=f"Registered model {model.name}")
    if versions:
        _print_table(_VERSION_COLUMNS, _version_rows(versions), title="Versions")
    else:
        click.echo("No versions.")


def _quoted(value: str) -> str:
    """A filter-string literal for ``value``: single-quoted, or double-quoted when it holds
    a single quote (the grammar has no escapes)."""
    return f'"{value}"' if "'" in value else f"'{value}'"


@models.command("versions")
@click.argument("name", required=False)
@click.option("--filter", "filter_string", metavar="F", help="e.g. \"run_id = '…'\" (instead of NAME).")
@click.option("--max-results", type=click.IntRange(min=1), metavar="N", help="List at most N versions.")
@click.option("--order-by", multiple=True, metavar="O", help="e.g. 'version_number DESC' (repeatable).")
@_json_option
@_pass_models
def list_versions(
    models_state: _ModelsState,
    name: str | None,
    filter_string: str | None,
    max_results: int | None,
    order_by: tuple[str, ...],
    as_json: bool,
) -> None:
    """List the versions of registered model NAME (or those matching --filter)."""
    if (name is None) == (filter_string is None):
        raise click.UsageError("Give a model NAME or --filter (one of them).")
    client = models_state.client
    query = f"name = {_quoted(name)}" if name is not None else filter_string
    found = _all_pages(
        lambda token: client.search_model_versions(
            filter_string=query, order_by=list(order_by) or None, page_token=token
        ),
        max_results,
    )
    if as_json:
        _echo_json([_dictionary(v) for v in found])
    elif not found:
        click.echo("No model versions.")
    else:
        _print_table(_VERSION_COLUMNS, _version_rows(found))


@models.group("alias")
def alias() -> None:
    """Set, delete or show an alias of a registered model (models:/NAME@ALIAS)."""


@alias.command("set")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.argument("version")
@_pass_models
def set_alias(models_state: _ModelsState, name: str, alias_name: str, version: str) -> None:
    """Point ALIAS of model NAME at VERSION (moving it if it points elsewhere)."""
    models_state.client.set_registered_model_alias(name, alias_name, version)
    click.echo(f"Alias '{alias_name}' of model '{name}' now points at version {version}.")


@alias.command("delete")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@_pass_models
def delete_alias(models_state: _ModelsState, name: str, alias_name: str) -> None:
    """Delete ALIAS of model NAME."""
    models_state.client.delete_registered_model_alias(name, alias_name)
    click.echo(f"Alias '{alias_name}' of model '{name}' deleted.")


@alias.command("show")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@_json_option
@_pass_models
def show_alias(models_state: _ModelsState, name: str, alias_name: str, as_json: bool) -> None:
    """Show the version ALIAS of model NAME points at."""
    version = models_state.client.get_model_version_by_alias(name, alias_name)
    if as_json:
        _echo_json(_dictionary(version))
    else:
        _print_table(_VERSION_COLUMNS, _version_rows([version]))


@models.command("transition")
@click.argument("name")
@click.argument("version")
@click.argument(
    "stage", type=click.Choice(["None", "Staging", "Production", "Archived"], case_sensitive=False)
)
@click.option(
    "--archive-existing-versions",
    is_flag=True,
    help="Move the versions already in STAGE (Staging or Production) to Archived.",
)
@_json_option
@_pass_models
def transition(
    models_state: _ModelsState,
    name: str,
    version: str,
    stage: str,
    archive_existing_versions: bool,
    as_json: bool,
) -> None:
    """Move VERSION of model NAME to STAGE (stages are deprecated by MLflow: prefer aliases)."""
    with warnings.catch_warnings():  # the command's own help says it; no Python warning on stderr
        warnings.simplefilter("ignore", FutureWarning)
        moved = models_state.client.transition_model_version_stage(
            name, version, stage, archive_existing_versions
        )
    if as_json:
        _echo_json(_dictionary(moved))
    else:
        click.echo(f"Model '{moved.name}' version {moved.version} is now in stage {moved.current_stage}.")


@models.command("download")
@click.argument("model_uri", metavar="MODEL_URI")
@click.option(
    "--dst-path",
    metavar="D",
    type=click.Path(file_okay=False),
    help="Local directory to download into (default: a new temporary directory).",
)
@_pass_models
def download(models_state: _ModelsState, model_uri: str, dst_path: str | None) -> None:
    """Download a model's files and print their local path. MODEL_URI is models:/NAME/VERSION,
    models:/NAME@ALIAS, models:/NAME/STAGE, models:/NAME/latest or models:/MODEL_ID, with an
    optional sub-path (models:/NAME/1/MLmodel); a bare NAME means models:/NAME/latest."""
    from tracklet import artifacts

    if not model_uri.startswith("models:"):
        model_uri = f"models:/{model_uri}/latest"
    models_state.state.client_requested = True
    registry_uri = models_state.client.registry_uri
    local = artifacts.download_artifacts(
        artifact_uri=model_uri,
        dst_path=dst_path,
        tracking_uri=models_state.state.tracking_uri,
        registry_uri=registry_uri,
    )
    click.echo(local)
