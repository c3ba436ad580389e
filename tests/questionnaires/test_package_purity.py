"""`questionnaires` is pure: it imports only the standard library, msgspec, yaml, lxt's plumbing and itself."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import questionnaires

PACKAGE = Path(questionnaires.__file__).parent
ALLOWED_THIRD_PARTY = {"msgspec", "yaml", "plumbing"}
IO_MODULES = {"os", "io", "socket", "subprocess", "pathlib", "shutil", "urllib", "http", "asyncio", "sqlite3"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_modules_import_nothing_of_lxt_and_do_no_io() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) > 10
    for module in modules:
        roots = imported_roots(module) - {"__future__", "questionnaires"}
        outside_stdlib = roots - set(sys.stdlib_module_names)
        assert outside_stdlib <= ALLOWED_THIRD_PARTY, (module.name, outside_stdlib)
        assert not roots & IO_MODULES, (module.name, roots & IO_MODULES)
