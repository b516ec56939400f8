"""Extract the code examples (and their printed output) of the seeds into examples/.

Run from the repository root: ``python tests/seed_examples/extract.py`` writes

- ``examples/NN_<method>.py`` (and ``.out`` where the seed shows the output) from seed 003,
  MlflowClient's source;
- ``examples/aN_<function>.py`` and ``.out`` from seed 000, ``mlflow.artifacts``'s page
  (seed 001, its Chinese translation, must hold the very same examples).

Seed 003 lost its indentation, so the committed ``NN_*.py`` files are re-indented by hand
into the runnable code the original doc had. Hence:

- ``--check`` compares each line *ignoring leading whitespace*: it fails only when the
  seed's text itself changed (or an example is missing), never for the re-indentation;
- writing refuses to overwrite an existing file whose text differs from the seed's only
  by indentation (that would throw the re-indentation away) unless ``--force``.

The ``bNN_*.py`` scripts (the older API of seed 002) and ``cN_*.py`` scripts (the calls of
seeds 000/001 that have no example) are written by hand; this script does not touch them. The seeds live in ../shared/seeds beside the checkout (``TRACKLET_SEEDS_DIR`` names
another folder).

``seeds.sha256`` (committed, rewritten with the examples) records the digest of each seed
file read and of each extracted example's text, indentation aside. ``--check`` therefore
runs on every machine: with the seeds at hand it checks them against the examples and the
record; without them (a CI clone has no ../shared) it checks the committed examples
against the record, so an example edited by hand, or a missing one, still fails.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).parent
SEEDS = pathlib.Path(os.environ.get("TRACKLET_SEEDS_DIR") or HERE.parents[2] / "shared" / "seeds")
SEED = SEEDS / "003_mlflow.tracking.client_source.txt"
ARTIFACTS_SEED = SEEDS / "000_mlflow.artifacts.txt"
ARTIFACTS_SEED_ZH = SEEDS / "001_mlflow.artifacts_newer_zh.txt"
_DEF = re.compile(r"^(?:\[docs\]\s*)?(?:@\w+.*)?\s*def (\w+)\(")
# With the indentation gone, the docstring text that follows a code block in seed 003 looks
# like code. A block therefore also ends at a Google-style section header ("Args:") or at a
# prose sentence ("However, **the opposite ..."): a capitalised word, then a plain word,
# which no Python statement starts with.
_SECTION = re.compile(r"^(?:Args|Arguments|Returns|Raises|Yields|Examples?|Notes?|See Also):$")
_PROSE = re.compile(r"^[A-Z][a-z]+,? (?:\*\*)?[a-z]+\b")
# Seed 000 (rendered HTML) keeps indentation: "Example" / "Output" headings around blocks,
# each function introduced by its signature line.
_ARTIFACTS_DEF = re.compile(r"^mlflow\.artifacts\.(\w+)\(")
_EXAMPLE_HEADINGS = frozenset({"Example", "示例"})


def _ends_block(line: str, kind: str) -> bool:
    stripped = line.strip()
    if stripped.startswith(".. code-block::") or stripped == '"""':
        return True
    # printed output ("Run tags: {...}") looks like prose: only code blocks end at prose
    return kind == "python" and bool(_SECTION.match(stripped) or _PROSE.match(stripped))


def _blocks(lines: list[str]) -> list[tuple[str, str, str]]:
    """(method, kind, text) for every code block of seed 003; kind is 'python' or 'text'."""
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
            while j < len(lines) and not _ends_block(lines[j], kind):
                body.append(lines[j])
                j += 1
            out.append((method, kind, "\n".join(body).strip() + "\n"))
            i = j
            continue
        i += 1
    return out


def render() -> dict[str, str]:
    """File name -> contents of every example extracted from seed 003."""
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


def _artifact_blocks(lines: list[str]) -> list[tuple[str, str, str]]:
    """(function, code, output) for every "Example ... Output ..." pair of seed 000/001."""
    out, function, i = [], "", 0
    while i < len(lines):
        m = _ARTIFACTS_DEF.match(lines[i])
        if m:
            function = m.group(1)
        if lines[i].strip() in _EXAMPLE_HEADINGS:
            j = lines.index("Output", i)
            k = j + 1
            while k < len(lines) and not _ARTIFACTS_DEF.match(lines[k]):
                k += 1
            code = "\n".join(lines[i + 1 : j]).strip("\n") + "\n"
            output = "\n".join(lines[j + 1 : k]).strip() + "\n"
            out.append((function, code, output))
            i = k
            continue
        i += 1
    return out


def _read_lines(path: pathlib.Path) -> list[str]:
    # seed 000 ends without a newline, glued to the next page's title: cut at that title
    text = path.read_text(encoding="utf-8")
    return [line.removesuffix("mlflow.artifacts").rstrip() for line in text.splitlines()]


def render_artifacts(path: pathlib.Path = ARTIFACTS_SEED) -> dict[str, str]:
    """File name -> contents of every example of the ``mlflow.artifacts`` page."""
    files: dict[str, str] = {}
    for n, (function, code, output) in enumerate(_artifact_blocks(_read_lines(path))):
        files[f"a{n}_{function}.py"] = code
        files[f"a{n}_{function}.out"] = output
    return files


def _unindented(text: str) -> list[str]:
    return [line.lstrip() for line in text.splitlines()]


def _problems(target: pathlib.Path, files: dict[str, str]) -> list[str]:
    """What --check reports: missing files, changed seed text, a translation out of step."""
    return [
        name
        for name, text in files.items()
        if not (target / name).exists() or _unindented((target / name).read_text()) != _unindented(text)
    ]


# -- the record of what was extracted (seeds.sha256) ------------------------------------------

MANIFEST = HERE / "seeds.sha256"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _text_digest(text: str) -> str:
    """An example's digest, indentation aside (as --check compares)."""
    return _digest("\n".join(_unindented(text)).encode("utf-8"))


def manifest(files: dict[str, str]) -> str:
    """The record: one ``<sha256>  seed <file>`` line per seed read, one
    ``<sha256>  example <name>`` line per extracted file."""
    seeds = [
        f"{_digest(path.read_bytes())}  seed {path.name}"
        for path in (SEED, ARTIFACTS_SEED, ARTIFACTS_SEED_ZH)
    ]
    examples = [f"{_text_digest(text)}  example {name}" for name, text in sorted(files.items())]
    return "\n".join(seeds + examples) + "\n"


def _recorded(text: str, kind: str) -> dict[str, str]:
    return {
        name: digest
        for digest, k, name in (line.split(None, 2) for line in text.splitlines() if line.strip())
        if k == kind
    }


def manifest_problems(target: pathlib.Path, record: str) -> list[str]:
    """Without the seeds: each recorded example exists in ``target`` with the recorded text."""
    problems = []
    for name, digest in sorted(_recorded(record, "example").items()):
        path = target / name
        if not path.exists():
            problems.append(f"{name}: missing")
        elif _text_digest(path.read_text()) != digest:
            problems.append(f"{name}: differs from the extracted seed text recorded in {MANIFEST.name}")
    return problems


def _is_indented(text: str) -> bool:
    return any(line[:1].isspace() for line in text.splitlines())


def _write(target: pathlib.Path, files: dict[str, str], force: bool) -> int:
    """Write the examples, keeping re-indented ones; returns an exit code.

    A file that differs from the seed's text only by indentation is the re-indented
    version of the same example: it is kept. One that is indented *and* has other
    changes is refused (nothing is written) unless ``force``: the seed changed, and
    overwriting would throw the re-indentation away.
    """
    writes, kept, refused = {}, [], []
    for name, text in files.items():
        path = target / name
        old = path.read_text() if path.exists() else None
        if old == text:
            continue
        if old is None or force or not _is_indented(old):
            writes[name] = text
        elif _unindented(old) == _unindented(text):
            kept.append(name)
        else:
            refused.append(name)
    if refused:
        print(
            "refusing to overwrite re-indented examples whose seed text changed (use --force,",
            "then re-indent them again):",
            *refused,
            sep="\n  ",
        )
        return 1
    target.mkdir(exist_ok=True)
    for name, text in writes.items():
        (target / name).write_text(text)
    print(f"wrote {len(writes)} files to {target}; kept {len(kept)} re-indented ones")
    return 0


def main() -> int:
    """Command line: write the examples, or ``--check`` them against the seeds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the seeds' text changed")
    parser.add_argument("--force", action="store_true", help="overwrite re-indented examples")
    args = parser.parse_args()
    target = HERE / "examples"
    record = MANIFEST.read_text() if MANIFEST.exists() else ""
    if args.check and not SEED.exists():
        problems = manifest_problems(target, record) if record else [f"{MANIFEST.name} is missing"]
        if problems:
            print(f"seed examples do not match {MANIFEST.name}:", *problems, sep="\n  ")
            return 1
        print(f"the seeds are not at {SEEDS}: checked the examples against {MANIFEST.name}")
        return 0
    files = {**render(), **render_artifacts()}
    if args.check:
        stale = _problems(target, files)
        if render_artifacts(ARTIFACTS_SEED_ZH) != render_artifacts(ARTIFACTS_SEED):
            stale.append(f"{ARTIFACTS_SEED_ZH.name}: examples differ from {ARTIFACTS_SEED.name}")
        if record != manifest(files):
            stale.append(f"{MANIFEST.name}: the seeds or the extraction changed since it was written")
        if stale:
            print("seed examples are stale; run tests/seed_examples/extract.py:", *stale, sep="\n  ")
            return 1
        return 0
    code = _write(target, files, args.force)
    if code == 0:
        MANIFEST.write_text(manifest(files))
    return code


if __name__ == "__main__":
    sys.exit(main())
