"""Read a whole tracking store back through a tracker's client: the least a migration reads.

    python bench/readback.py MODULE TRACKING_URI [--expect MANIFEST.json]

``MODULE`` is ``mlflow`` or ``tracklet`` (whose ``MlflowClient`` is used). In this order:
every experiment (all pages, active and deleted), ``search_runs`` over all of them (all
pages of 1,000, active and deleted), ``get_run`` of every run, ``get_metric_history`` of
every metric key of every run, ``list_artifacts`` of every run (recursively) and
``download_artifacts`` of every run that has any, into ``./download/`` (the child's working
directory, a temporary folder). It prints one JSON object: the seconds from the first call
to the last (the tracker's import is not in it; the parent times the whole process too),
the seconds of each phase (experiments and runs searched, ``get_run``, histories,
artifacts listed and downloaded) and what was read, which must equal the build manifest's counts when ``--expect`` is given,
or the child fails: a fast wrong answer is no figure.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def _files(client: Any, run_id: str, path: str | None = None) -> int:
    """How many files ``run_id`` has under ``path``, listing folders recursively."""
    count = 0
    for info in client.list_artifacts(run_id, path):
        count += _files(client, run_id, info.path) if info.is_dir else 1
    return count


def read_all(module: str, uri: str) -> dict[str, Any]:
    """Read everything in the store at ``uri`` through ``module``'s client; counts and seconds."""
    tracker = importlib.import_module(module)
    view_all = importlib.import_module(f"{module}.entities").ViewType.ALL
    started = time.perf_counter()
    client = tracker.MlflowClient(uri)
    experiments: list[Any] = []
    token = None
    while True:
        page = client.search_experiments(view_type=view_all, max_results=1000, page_token=token)
        experiments.extend(page)
        token = page.token
        if not token:
            break
    experiment_ids = [e.experiment_id for e in experiments]
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(experiment_ids, run_view_type=view_all, max_results=1000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            break
    points = files = histories = inputs = 0
    download = Path("download").resolve()
    phases = dict.fromkeys(("get_run_s", "history_s", "artifacts_s"), 0.0)
    phases["search_s"] = time.perf_counter() - started
    for found in runs:
        run_id = found.info.run_id
        clock = time.perf_counter()
        run = client.get_run(run_id)
        inputs += len(run.inputs.dataset_inputs) if run.inputs else 0
        phases["get_run_s"] += (now := time.perf_counter()) - clock
        for key in run.data.metrics:
            points += len(client.get_metric_history(run_id, key))
            histories += 1
        phases["history_s"] += (clock := time.perf_counter()) - now
        listed = _files(client, run_id)
        if listed:
            target = download / run_id
            target.mkdir(parents=True)
            client.download_artifacts(run_id, "", str(target))
            files += listed
        phases["artifacts_s"] += time.perf_counter() - clock
    seconds = time.perf_counter() - started
    downloaded = sum(len(names) for _, _, names in os.walk(download)) if download.exists() else 0
    return {
        "read_s": seconds,
        "experiments": len(experiments),
        "runs": len(runs),
        "histories": histories,
        "points": points,
        "artifacts": files,
        "downloaded": downloaded,
        "dataset_inputs": inputs,
        **phases,
    }


def check(result: dict[str, Any], manifest: dict[str, Any]) -> list[str]:
    """What the read got that differs from what the build wrote (empty: all of it, once)."""
    wrong = [
        f"{key}: read {result[key]}, built {manifest[key]}"
        for key in ("experiments", "runs", "points", "artifacts", "dataset_inputs")
        if result[key] < manifest[key] or (key != "experiments" and result[key] != manifest[key])
    ]
    # MLflow's store has a Default experiment (id 0) the build did not make: at least, not equal
    if result["downloaded"] != result["artifacts"]:
        wrong.append(f"downloaded {result['downloaded']} of {result['artifacts']} files listed")
    return wrong


def main() -> int:
    """Read the store named on the command line; print the result, fail on a wrong count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", choices=["tracklet", "mlflow"])
    parser.add_argument("uri")
    parser.add_argument(
        "--expect", type=Path, help="the build's manifest.json: fail unless every count matches"
    )
    args = parser.parse_args()
    result = read_all(args.module, args.uri)
    print(json.dumps(result))
    if args.expect is not None:
        wrong = check(result, json.loads(args.expect.read_text()))
        if wrong:
            print("read-back differs from the build: " + "; ".join(wrong), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
