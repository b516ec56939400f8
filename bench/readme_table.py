"""Print the README's speed table from one ``bench/run.py`` result file, as Markdown.

    python bench/readme_table.py bench/results/<time>-<backends>[-quick].json

Every row comes from that one file, so the README never mixes runs; warm, first-call and
cold figures stand beside each other in the order ``bench/workloads.py`` declares them. A
missed bar is marked **missed** in its row. Peak memory, one figure per workload, is
summed up in one line per backend (a missed peak-memory bar gets its own row).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import fmt  # noqa: E402  (bench/ is not a package)


def _ratio(row: dict[str, Any]) -> str:
    return "-" if row["ratio"] is None else f"{row['ratio']:.1f}x"


def _result(row: dict[str, Any]) -> str:
    if row["pass"] is None:
        return ""
    return f"meets {row['bar']}" if row["pass"] else f"**missed** ({row['bar']})"


def table(document: dict[str, Any]) -> str:
    """The Markdown table (one column group per backend) and the peak-memory lines."""
    backends: list[str] = document["backends"]
    by_figure: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for row in document["rows"]:
        by_figure.setdefault((row["workload"], row["figure"]), {})[row["backend"]] = row
    header = ["workload", "unit"]
    for backend in backends:
        header += [f"{backend}: tracklet", "MLflow", "ratio", "bar"]
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|---:|---:|---|" * len(backends)]
    memory: dict[str, list[dict[str, Any]]] = {b: [] for b in backends}
    for (_workload, figure), group in by_figure.items():
        if figure == "peak_rss_mb":
            for backend, row in group.items():
                memory[backend].append(row)
            if all(row["pass"] is not False for row in group.values()):
                continue
        first = next(iter(group.values()))
        cells = [first["label"], first["unit"]]
        for backend in backends:
            row = group.get(backend)
            cells += (
                ["", "", "", ""]
                if row is None
                else [fmt(row["tracklet"]), fmt(row["mlflow"]), _ratio(row), _result(row)]
            )
        lines.append("| " + " | ".join(cells) + " |")
    notes = []
    for backend, rows in memory.items():
        ours = [r["tracklet"] for r in rows if r["tracklet"] is not None]
        theirs = [r["mlflow"] for r in rows if r["mlflow"] is not None]
        missed = [r["workload"] for r in rows if r["pass"] is False]
        if ours and theirs:
            verdict = f"**missed** on {', '.join(missed)}" if missed else "at most MLflow's on every workload"
            notes.append(
                f"Peak memory on {backend}: {min(ours):.0f}–{max(ours):.0f} MB against MLflow's "
                f"{min(theirs):.0f}–{max(theirs):.0f} MB ({verdict})."
            )
    return "\n".join(lines) + "\n\n" + " ".join(notes)


def main(argv: list[str]) -> int:
    """Read the result file named on the command line and print its table."""
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    document = json.loads(Path(argv[0]).read_text())
    print(table(document))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
