"""The dependency rule of DESIGN.md §3, checked on the source."""

from __future__ import annotations

import ast
import re
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


PRODUCT = ("domain", "bot", "admin_web", "scheduler", "fieldops")
# The domain's areas, lowest first: an area may import the ones before it, never after.
AREAS = ("platform", "people", "ledgers", "vouchers", "cases", "oversight")
LARGEST_MODULE = 550
LARGEST_SHARE = 0.25


def product_modules() -> dict[str, Path]:
    """Every product module by dotted name (migrations are generated history, left out)."""
    modules = {}
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def imported_modules(path: Path, known: dict[str, Path]) -> set[str]:
    """The product modules a module imports, at any depth of its code (lazy imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in known else node.module)
    return found & known.keys()


def import_graph() -> dict[str, set[str]]:
    known = product_modules()
    return {name: imported_modules(path, known) - {name} for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def area_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "domain" and len(parts) > 1 and parts[1] in AREAS else None


def test_no_module_imports_itself_back_in_a_circle() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_sees_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_an_area_imports_only_the_areas_below_it() -> None:
    upward = sorted(
        (module, target) for module, targets in import_graph().items() for target in targets
        if (mine := area_of(module)) and (theirs := area_of(target))
        and AREAS.index(theirs) > AREAS.index(mine))
    assert upward == []


def test_no_one_imports_another_areas_private_module() -> None:
    private = sorted(
        (module, target) for module, targets in import_graph().items() for target in targets
        if (theirs := area_of(target)) and target.split(".")[-1].startswith("_")
        and area_of(module) != theirs)
    assert private == []


def test_modules_and_packages_stay_readable() -> None:
    lines = {name: len(path.read_text(encoding="utf-8").splitlines())
             for name, path in product_modules().items()}
    assert {name: n for name, n in lines.items() if n > LARGEST_MODULE} == {}
    total = sum(lines.values())
    packages = {name.rsplit(".", 1)[0] for name in lines if "." in name}
    share = {package: sum(n for name, n in lines.items()
                          if name.rsplit(".", 1)[0] == package) / total
             for package in packages}
    assert {package: round(s, 2) for package, s in share.items() if s > LARGEST_SHARE} == {}


# The domain names actions; only the edges spell them as callback data or admin URLs.
CALLBACK_DATA = re.compile(r"^[a-z]+:[a-z_]+:")  # "rv:claim:", "vc:count:"
ADMIN_URL = re.compile(r"^/[a-z]")  # "/cases/", "/special-approvals"
# Org paths ("/1/2/", f"/{org.id}/") and network prefixes (f"{address}/64") are data, not
# URLs: their literals are a bare "/" or start with a digit.
# Migration 0014 reads the callback data and paths that notifications of 0013 stored.
EDGE_SPELLING_ALLOWED = {"domain/migrations/0014_notification_intents.py"}


def edge_spellings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of callback data, admin URLs and *_PREFIX callback constants in a module,
    docstrings aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                                | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)}
    found = [(node.lineno, node.value) for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str)
             and id(node) not in docstrings
             and (CALLBACK_DATA.match(node.value) or ADMIN_URL.match(node.value))]
    found += [(node.lineno, target.id) for node in ast.walk(tree)
              if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
              and isinstance(node.value.value, str) and ":" in node.value.value
              for target in node.targets
              if isinstance(target, ast.Name) and target.id.endswith("_PREFIX")]
    return sorted(found)


def test_the_domain_spells_no_callback_data_and_no_admin_url() -> None:
    offenders = {str(path.relative_to(ROOT)): spelt for path in (ROOT / "domain").rglob("*.py")
                 if str(path.relative_to(ROOT)) not in EDGE_SPELLING_ALLOWED
                 and (spelt := edge_spellings(path))}
    assert offenders == {}


def test_the_spelling_checker_sees_callback_data_urls_and_prefixes(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('"""See /cases/7."""\nCOUNT_PREFIX = "vc:count:"\n'
                      'CASE_NO_PREFIX = "YD"\n'
                      'def f(i, org):\n    return [f"rv:claim:{i}", f"/cases/{i}", '
                      'f"/{org}/", f"{i}/64", "a/b"]\n', encoding="utf-8")
    assert edge_spellings(module) == [(2, "COUNT_PREFIX"), (2, "vc:count:"), (5, "/cases/"),
                                      (5, "rv:claim:")]
