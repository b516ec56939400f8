"""Check the dependency rule on every source file of the repository.

The rule (docs/architecture.md, STYLE.md rule 2):

- the core (``tracklet``) never imports a plugin: no ``tracklet_*`` module at all;
- a plugin (or contrib package) never imports another package of this repository;
- a plugin imports only tracklet's *public* modules and names: no ``tracklet._x``,
  no ``tracklet.x._y``, no ``from tracklet.x import _y``; a public module it imports
  declares ``__all__``, and every name it takes from one is listed there (or is a
  public submodule).

The packages come from the pyproject files (``core/``, ``plugins/*/``, ``contrib/*/``:
the ``src/<package>`` folders the wheel ships), so a new plugin is covered the moment
it exists; nothing is kept by hand per package. Each package's whole folder is checked,
its tests included; the cross-package ``tests/`` at the root is not (it may import
anything).

Usage: ``python tools/check_imports.py [ROOT]`` prints one line per violation
(``path:line: rule``) and exits 1 if there is any, 0 otherwise.
"""

from __future__ import annotations

import ast
import dataclasses
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser from PyPI (requirements-dev.txt)
    import tomli as tomllib

__all__ = ["Package", "Violation", "check", "find_packages", "main", "tomllib"]

CORE = "tracklet"
PACKAGE_GLOBS = ("core/pyproject.toml", "plugins/*/pyproject.toml", "contrib/*/pyproject.toml")
SKIPPED_PARTS = {".venv", "__pycache__", "build", "dist", ".git"}


@dataclasses.dataclass(frozen=True)
class Package:
    """One distribution of the repository: its folder and the import names it ships."""

    distribution: str
    folder: Path
    modules: tuple[str, ...]

    @property
    def is_core(self) -> bool:
        return CORE in self.modules


@dataclasses.dataclass(frozen=True)
class Violation:
    """One import that breaks the rule, with the file and line it is on."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def find_packages(root: Path) -> list[Package]:
    """Every package of the repository, read from its pyproject.toml."""
    packages = []
    for pattern in PACKAGE_GLOBS:
        for pyproject in sorted(root.glob(pattern)):
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            shipped = data["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
            packages.append(
                Package(
                    distribution=data["project"]["name"],
                    folder=pyproject.parent,
                    modules=tuple(Path(p).name for p in shipped),
                )
            )
    return packages


def _imports(tree: ast.AST) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    """(line, module, names taken from it) for each absolute import in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module, tuple(alias.name for alias in node.names)


@cache
def _core_module(core_src: Path, module: str) -> tuple[bool, frozenset[str] | None, bool]:
    """(exists, its ``__all__`` or None when it has no literal one, is a package)."""
    base = core_src.joinpath(*module.split("."))
    for path, is_package in ((base / "__init__.py", True), (base.with_suffix(".py"), False)):
        if path.is_file():
            return True, _literal_all(path), is_package
    return False, None, False


def _literal_all(path: Path) -> frozenset[str] | None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            try:
                return frozenset(ast.literal_eval(value))
            except ValueError:
                return None
    return None


def _core_rule(module: str, names: tuple[str, ...], core_src: Path) -> Iterator[str]:
    """What is wrong with a plugin importing ``names`` from core module ``module``."""
    private = [part for part in module.split(".") if part.startswith("_")]
    if private:
        yield f"imports private module {module!r}; use a public tracklet module (no '_' part)"
        return
    exists, public, is_package = _core_module(core_src, module)
    if not exists:
        return  # not a source module (an attribute path): Python reports it at run time
    if public is None:
        yield f"imports {module!r}, which has no literal __all__: declare its public names there"
        return
    for name in names:
        if name == "*" or name in public:
            continue
        submodule = is_package and _core_module(core_src, f"{module}.{name}")[0]
        if name.startswith("_") or not submodule:
            yield f"imports {name!r} from {module!r}, which is not in its __all__ (not public)"


def _check_file(path: Path, own: Package, banned: set[str], core_src: Path) -> Iterator[Violation]:
    tree = ast.parse(path.read_bytes(), filename=str(path))
    for line, module, names in _imports(tree):
        top = module.partition(".")[0]
        if top in own.modules:
            continue
        if top in banned or (own.is_core and top.startswith(f"{CORE}_")):
            whose = "the core" if own.is_core else own.distribution
            yield Violation(
                path,
                line,
                f"{whose} imports {module!r}: the core never imports a plugin and plugins never "
                "import each other; share through the core (tracklet's public modules and hooks)",
            )
        elif top == CORE:
            for message in _core_rule(module, names, core_src):
                yield Violation(path, line, f"{own.distribution} {message}")


def _source_files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*.py")):
        if not SKIPPED_PARTS.intersection(path.relative_to(folder).parts):
            yield path


def check(root: Path) -> list[Violation]:
    """Every violation of the dependency rule under ``root``."""
    packages = find_packages(root)
    every_module = {m for p in packages for m in p.modules}
    core_src = root / "core" / "src"
    violations: list[Violation] = []
    for package in packages:
        banned = every_module - set(package.modules) - {CORE}
        for path in _source_files(package.folder):
            violations.extend(_check_file(path, package, banned, core_src))
    return violations


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else Path(__file__).resolve().parent.parent
    violations = check(root)
    for violation in violations:
        print(violation)
    if violations:
        print(f"{len(violations)} dependency-rule violation(s); see tools/check_imports.py for the rule.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
