"""Where the seeded data shows in the UI: one entry per page, with the texts a person would
look for there. The security, accessibility and screenshot tests walk these."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from playwright.sync_api import Page

# What is left of a payload once shown as text (also inside JSON, where quotes are escaped).
IMG_TEXT = "<img src=x onerror="
SCRIPT_TEXT = "<script>window.__xss=1"


@dataclass(frozen=True)
class View:
    name: str  # also the screenshot's name
    hash: str  # the route, "#" excluded
    texts: tuple[str, ...]  # each shown somewhere on the page once it has loaded
    ready: str | None = None  # a CSS selector present once the page has drawn (a chart...)


def views(seeded: dict[str, Any]) -> list[View]:
    """The UI's pages on the seeded data."""
    main = seeded["experiments"]["main"]["id"]
    second = seeded["experiments"]["second"]["id"]
    runs = seeded["runs"]
    art = seeded["artifacts"]
    model = seeded["model"]["name"]
    run = f"/experiments/{main}/runs/{runs['baseline']}"
    compare_runs = quote(json.dumps([runs["baseline"], runs["tuned"]]))
    return [
        View("experiments", "/experiments", ("ui-main", "ui-second")),
        View("runs-table", f"/experiments/{main}", ("baseline", "tuned", "sweep-parent")),
        View("runs-several", f"/runs?experiments={main},{second}", ("baseline", "second-a")),
        View("run", run, ("baseline", "0.01", "adam", "loss", "accuracy")),
        View("run-metrics", f"{run}/metrics", ("loss", "accuracy"), ready=".uplot canvas"),
        View(
            "run-artifacts",
            f"{run.replace(runs['baseline'], runs['artifacts'])}/artifacts/{art['text']}",
            ("readme.txt", "hello from the UI tests"),
        ),
        View(
            "run-artifact-image",
            f"/experiments/{main}/runs/{runs['artifacts']}/artifacts/{art['png']}",
            ("image.png",),
            ready="main img[src]",
        ),
        View(
            "run-artifact-table",
            f"/experiments/{main}/runs/{runs['artifacts']}/artifacts/{art['table']}",
            ("table.json", "Paris"),
        ),
        View(
            "compare",
            f"/compare-runs?runs={compare_runs}&experiments={quote(json.dumps([main]))}",
            ("baseline", "tuned", "lr"),
            ready=".uplot canvas",
        ),
        View(
            "metric",
            f"/metric/loss?runs={quote(json.dumps([runs['baseline']]))}&experiments="
            f"{quote(json.dumps([main]))}",
            ("loss",),
            ready=".uplot canvas",
        ),
        View(
            "metric-long",
            f"/metric/series?runs={quote(json.dumps([runs['long_history']]))}",
            ("series",),
            ready=".uplot canvas",
        ),
        View("models", "/models", (model,)),
        View("model", f"/models/{quote(model)}", (model, "champion")),
        View("model-version", f"/models/{quote(model)}/versions/1", (model, "Production")),
        View("traces", f"/experiments/{main}/traces", (seeded["traces"][0],)),
        View("trace", f"/traces/{seeded['traces'][0]}", ("retrieve", "embed", "generate")),
    ]


def hostile_views(seeded: dict[str, Any]) -> list[View]:
    """Every page that shows an attacker-controlled string, with the payloads it shows."""
    main = seeded["experiments"]["main"]["id"]
    runs = seeded["runs"]
    hostile_run = f"/experiments/{main}/runs/{runs['hostile']}"
    artifacts_run = f"/experiments/{main}/runs/{runs['artifacts']}"
    evil_model = seeded["model"]["hostile"]
    pair = quote(json.dumps([runs["hostile"], runs["baseline"]]))
    return [
        View("experiments", "/experiments", (seeded["experiments"]["hostile"]["name"],)),
        View("runs-table", f"/experiments/{main}", (IMG_TEXT,)),
        View("run", hostile_run, (IMG_TEXT, SCRIPT_TEXT)),
        View(
            "artifact-name-and-content",
            f"{artifacts_run}/artifacts/{quote(seeded['artifacts']['hostile'], safe='')}",
            (seeded["artifacts"]["hostile"], SCRIPT_TEXT),
        ),
        View(
            "compare",
            f"/compare-runs?runs={pair}&experiments={quote(json.dumps([main]))}",
            (IMG_TEXT, SCRIPT_TEXT),
        ),
        View("metric", f"/metric/score?runs={quote(json.dumps([runs['hostile']]))}", ("score",)),
        View("models", "/models", (evil_model,)),
        View("model", f"/models/{quote(evil_model, safe='')}", (evil_model, SCRIPT_TEXT)),
        View("model-version", f"/models/{quote(evil_model, safe='')}/versions/1", (IMG_TEXT,)),
        View("trace", f"/traces/{seeded['traces'][1]}", (IMG_TEXT,)),
        View("traces", f"/experiments/{main}/traces", (seeded["traces"][1],)),
    ]


def open_view(page: Page, base_url: str, view: View) -> None:
    """Go to ``view`` and wait until each of its texts is on the page."""
    page.goto(f"{base_url}/ui/#{view.hash}")
    for text in view.texts:
        page.get_by_text(text, exact=False).first.wait_for(state="attached")
    if view.ready:
        page.locator(view.ready).first.wait_for(state="visible")
