"""The arrows of shared/DESIGN.md, checked over the source: no package imports one above it, none imports `server`.

Every top-level package (or module) of the repository is checked, whichever exist today; one the table below
does not place fails the test, so a new package is placed deliberately. `tests/` and `bench/` are not part of the
app. Imports are read with `ast` from every .py file, wherever they stand (module level, inside functions, under
``if TYPE_CHECKING``), so nothing is executed and a late import cannot hide an upward arrow.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LAYERS = ["server", "research", "responses", "notifications", "triggers", "customers", "questionnaires"]
"""Top to bottom: a package may import the packages after it, never one before it."""
PLUMBING = {"plumbing"}
"""Domain-neutral plumbing at the very bottom (ids, typed rows, field errors with JSON pointers): any package
may import it, and it imports no package of the app."""
NOT_THE_APP = {"tests", "bench"}

QUESTIONNAIRES_THIRD_PARTY = {"msgspec", "yaml"}
IO_MODULES = {"os", "io", "socket", "subprocess", "pathlib", "shutil", "urllib", "http", "asyncio", "sqlite3"}


def app_packages(root: Path = ROOT) -> dict[str, list[Path]]:
    """Each top-level package (a directory with ``__init__.py``) or module of the app, with its .py files."""
    found: dict[str, list[Path]] = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or entry.name in NOT_THE_APP:
            continue
        if entry.is_dir() and (entry / "__init__.py").exists():
            found[entry.name] = sorted(entry.rglob("*.py"))
        elif entry.is_file() and entry.suffix == ".py":
            found[entry.stem] = [entry]
    return found


def imports(path: Path, package: str) -> Iterator[tuple[int, str]]:
    """(line, top-level name) of every import in the file; relative imports resolve to `package` itself, and
    ``importlib.import_module("…")`` / ``__import__("…")`` with a literal name count as imports."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, package if node.level else (node.module or "").split(".")[0]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            name = node.args[0].value
            yield node.lineno, package if name.startswith(".") else name.split(".")[0]


def upward_imports(packages: dict[str, list[Path]], root: Path = ROOT) -> list[str]:
    """Every import that breaks the arrows, as ``file:line: package imports other``. Packages the table does
    not place are left to `test_every_package_has_a_place_in_the_layers`."""
    rank = {name: position for position, name in enumerate(LAYERS)}
    problems = []
    for package, files in packages.items():
        if package not in rank and package not in PLUMBING:
            continue
        for path in files:
            for line, imported in imports(path, package):
                if imported == package or imported not in packages or imported in PLUMBING or imported not in rank:
                    continue
                if package in PLUMBING or rank[imported] < rank[package]:
                    problems.append(f"{path.relative_to(root)}:{line}: {package} imports {imported}")
    return problems


def test_every_package_has_a_place_in_the_layers() -> None:
    unplaced = set(app_packages()) - set(LAYERS) - PLUMBING
    assert not unplaced, (
        f"place {sorted(unplaced)} in LAYERS (a domain package, by what it may import) or PLUMBING "
        "(bottom-level, imported by any package), following shared/DESIGN.md"
    )


def test_no_package_imports_one_above_it() -> None:
    packages = app_packages()
    assert {"server", "triggers", "questionnaires"} <= set(packages)  # the walk sees the app at all
    problems = upward_imports(packages)
    assert not problems, "imports against the arrows of shared/DESIGN.md:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("package", "source", "allowed"),
    [
        ("triggers", "from questionnaires.model import Definition", True),
        ("triggers", "import server.settings", False),
        ("questionnaires", "from triggers import model", False),
        ("notifications", "def late():\n    from server.app import redis_settings", False),
        ("questionnaires", "from plumbing.ids import uuid7", True),
        ("plumbing", "from questionnaires import errors", False),
        ("server", "from notifications import jobs", True),
        ("triggers", "from . import sampling\nfrom .queries import customers", True),
        ("customers", "import importlib\nimportlib.import_module('triggers.model')", False),
    ],
)
def test_the_check_sees_upward_imports(tmp_path: Path, package: str, source: str, allowed: bool) -> None:
    # The walk over a fixture tree: proves the check would catch an upward import, not merely finds none.
    packages = {name: [] for name in (*LAYERS, *PLUMBING)}
    module = tmp_path / f"{package}_module.py"
    module.write_text(source + "\n", encoding="utf-8")
    packages[package] = [module]
    problems = upward_imports(packages, tmp_path)
    assert (problems == []) is allowed, problems


def test_questionnaires_imports_only_the_standard_library_msgspec_and_yaml_and_does_no_io() -> None:
    # The bottom domain stays pure: no I/O modules, no third-party code beyond decoding.
    modules = app_packages()["questionnaires"]
    assert len(modules) > 10
    for module in modules:
        roots = {name for _, name in imports(module, "questionnaires")} - {"__future__", "questionnaires"}
        outside_stdlib = roots - set(sys.stdlib_module_names) - PLUMBING
        assert outside_stdlib <= QUESTIONNAIRES_THIRD_PARTY, (module.name, outside_stdlib)
        assert not roots & IO_MODULES, (module.name, roots & IO_MODULES)


SQL_CALL = ("fetch", "fetchrow", "fetchval", "execute", "executemany", "copy_records_to_table", "cursor")


@pytest.mark.parametrize(
    "path", sorted([*(ROOT / "server" / "routes").glob("*.py"), ROOT / "server" / "cli.py"]), ids=lambda p: p.name
)
def test_routes_and_the_cli_run_no_sql_of_their_own(path: Path) -> None:
    """SQL lives in the domains' queries modules (and server's stores); routes and commands call them."""
    calls = [
        f"line {node.lineno}: .{node.func.attr}()"
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALL
    ]
    assert not calls, f"{path.name} runs SQL itself: {calls}"
