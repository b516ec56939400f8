"""Extract the code examples (and their printed output) of seed 003 into examples/.

Run from the repository root: ``python tests/seed_examples/extract.py`` writes
``tests/seed_examples/examples/NN_<method>.py`` (and ``.out`` where the seed shows the
output); ``--check`` exits 1 when the files differ from the seed (for CI).
The seed lives in ../shared/seeds beside the checkout.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).parent
SEED = HERE.parents[2] / "shared" / "seeds" / "003_mlflow.tracking.client_source.txt"
_DEF = re.compile(r"^(?:\[docs\]\s*)?(?:@\w+.*)?\s*def (\w+)\(")


def _blocks(lines: list[str]) -> list[tuple[str, str, str]]:
    """(method, kind, text) for every code block; kind is 'python' or 'text'."""
    out, method, i = [], "", 0
    while i < len(lines):
        m = _DEF.match(lines[i])
        if m:
            method = m.group(1)
        kind = lines[i].strip().removeprefix(".. code-block:: ")
        if lines[i].strip().startswith(".. code-block::"):
            j = i + 1
            while j < len(lines) and lines[j].strip().startswith(":"):
                j += 1
            body = []
            while j < len(lines) and not lines[j].strip().startswith(".. code-block::") and lines[j].strip() != '"""':
                body.append(lines[j])
                j += 1
            out.append((method, kind, "\n".join(body).strip() + "\n"))
            i = j
            continue
        i += 1
    return out


def render() -> dict[str, str]:
    """File name -> contents of every extracted example."""
    files: dict[str, str] = {}
    n = 0
    previous_py = None
    for method, kind, text in _blocks(SEED.read_text(encoding="utf-8").splitlines()):
        if kind == "python":
            name = f"{n:02d}_{method}"
            files[f"{name}.py"] = text
            previous_py = name
            n += 1
        elif kind == "text" and previous_py:
            files[f"{previous_py}.out"] = text
            previous_py = None
    return files


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    target = HERE / "examples"
    files = render()
    if args.check:
        stale = [n for n, t in files.items() if not (target / n).exists() or (target / n).read_text() != t]
        if stale:
            print("seed examples are stale; run tests/seed_examples/extract.py:", *stale, sep="\n  ")
            return 1
        return 0
    target.mkdir(exist_ok=True)
    for name, text in files.items():
        (target / name).write_text(text)
    print(f"wrote {len(files)} files to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
