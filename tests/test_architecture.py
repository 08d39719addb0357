"""The dependency rule of DESIGN.md §3, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "domain": {"bot", "admin_web", "scheduler", "fieldops", "aiohttp", "telegram", "apscheduler",
               "aiohttp_jinja2", "aiohttp_session"},
    "bot": {"admin_web", "scheduler", "fieldops"},
    "admin_web": {"bot", "scheduler", "fieldops", "telegram"},
    "scheduler": {"bot", "admin_web", "fieldops", "telegram", "aiohttp"},
}


def imported_roots(path: Path) -> set[str]:
    """Top-level package names a module imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_respect_the_dependency_rule(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import aiohttp\nfrom telegram.ext import Application\n", encoding="utf-8")
    assert imported_roots(module) == {"aiohttp", "telegram"}


def test_helpers_are_imported_from_support_modules_never_from_test_modules() -> None:
    offenders = {}
    for path in (ROOT / "tests").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = {node.module for node in ast.walk(tree)
                   if isinstance(node, ast.ImportFrom) and node.module}
        modules |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        if bad := sorted(m for m in modules if m.startswith("tests.test_")):
            offenders[path.name] = bad
    assert offenders == {}
