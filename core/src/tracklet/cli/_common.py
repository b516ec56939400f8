"""What every command shares: the lazily built client, the view option, tables and JSON.

rich is imported inside the printing functions so that ``tracklet --help`` and
``tracklet --version`` stay fast.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from tracklet.client import MlflowClient
    from tracklet.entities import PagedList
    from tracklet.entities._base import TrackletObject

T = TypeVar("T")
E = TypeVar("E", bound="TrackletObject")

VIEWS = ("active_only", "deleted_only", "all")


@dataclasses.dataclass
class CliState:
    """The root group's options, handed to every command as ``ctx.obj``.

    Plugin commands can take it with ``@click.pass_obj`` to honour ``--tracking-uri``.
    """

    tracking_uri: str | None = None
    #: True once a command asked for the client: its errors are about the tracking URI
    client_requested: bool = dataclasses.field(default=False, repr=False)
    _client: MlflowClient | None = dataclasses.field(default=None, repr=False)

    @property
    def client(self) -> MlflowClient:
        """The client for ``tracking_uri``, built on first use (so ``tracklet plugins``
        works even when no tracking backend is reachable)."""
        self.client_requested = True
        if self._client is None:
            from tracklet.client import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri)
        return self._client


pass_state = click.make_pass_decorator(CliState, ensure=True)


def view_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--view active_only|deleted_only|all``, converted to a ``ViewType`` number."""

    def to_view_type(ctx: click.Context, param: click.Parameter, value: str) -> int:
        from tracklet.entities import ViewType

        return ViewType.from_string(value)

    return click.option(
        "--view",
        "view_type",
        type=click.Choice(VIEWS, case_sensitive=False),
        default="active_only",
        show_default=True,
        callback=to_view_type,
        help=help_text,
    )


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def collect_pages(fetch: Callable[[str | None], PagedList[T]], limit: int | None = None) -> list[T]:
    """Call ``fetch(page_token)`` until the last page, or until ``limit`` items."""
    items: list[T] = []
    token: str | None = None
    while True:
        page = fetch(token)
        items.extend(page)
        token = page.token
        if not token or (limit is not None and len(items) >= limit):
            return items[:limit] if limit is not None else items


def format_ms(ms: int | None) -> str:
    """Milliseconds since the epoch as local time, ``""`` for None."""
    if ms is None:
        return ""
    return datetime.datetime.fromtimestamp(ms / 1000).isoformat(sep=" ", timespec="seconds")


def echo_json(value: Any) -> None:
    """Print ``value`` as indented, strictly valid JSON on stdout.

    Non-finite floats follow proto3's JSON mapping, as MLflow's REST API does: the strings
    ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (bare ``NaN`` is not JSON and breaks ``jq``).
    """
    click.echo(json.dumps(_finite(value), indent=2, default=str, allow_nan=False))


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its proto3 JSON string."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def print_listing(
    items: Sequence[E],
    as_json: bool,
    columns: Sequence[str],
    row: Callable[[E], Sequence[object]],
    empty: str,
) -> None:
    """Print entities as a JSON list of their dictionaries, or as a table of one ``row`` each
    (``empty`` when there are none)."""
    if as_json:
        echo_json([item.to_dictionary() for item in items])
    elif not items:
        click.echo(empty)
    else:
        print_table(columns, [row(item) for item in items])


def print_table(columns: Sequence[str], rows: Iterable[Sequence[object]], title: str | None = None) -> None:
    """Print a rich table on stdout; cells are plain text (never rich markup)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(*columns, highlight=False)
    for row in rows:
        table.add_row(*(Text("" if cell is None else str(cell)) for cell in row))
    console = _console()
    if title:
        # A heading line of its own: rich's table titles are padded to the table's width.
        console.print(Text(title, style="bold"))
    console.print(table)


def _console() -> Any:
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        # Piped output is read by people and greps alike: never truncate ids to fit 80
        # columns. A table without expand=True is only as wide as its content.
        console = Console(width=100_000)
    return console
