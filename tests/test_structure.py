"""The package's shape: no import circle, small modules, a format-free data core, and a
command line whose help is what it was before the package was split into command groups."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.cli_walk import all_help

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "lps_robot"
MAX_LINES = 400
DATA_TABLES: set[str] = set()  # modules that are tables of data, allowed to be longer
FORMATS = {"robomimic", "lerobot", "rosbag", "video"}


def _name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the lps_robot modules it imports, lazily imported ones included."""
    modules = {_name(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in modules.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    deps.add(sub if sub in modules else base)
        graph[mod] = {d for d in deps if d in modules and d != mod}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle as a path that ends where it starts, or [] when there is none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str]:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                return [*stack[stack.index(d) :], d]
            if d not in state and (found := visit(d)):
                return found
        stack.pop()
        state[m] = 2
        return []

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return []


def test_no_import_circle_in_the_package():
    cycle = find_cycle(import_graph())
    assert not cycle, "import circle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_the_data_core_imports_no_format():
    graph = import_graph()
    for core in ("schema", "reader", "writer"):
        bad = {d for d in graph[f"lps_robot.data.{core}"] if FORMATS & set(d.split("."))}
        assert not bad, f"lps_robot.data.{core} imports format modules {sorted(bad)}"


def _unit(module: str) -> str:
    return module.split(".")[1] if "." in module else "lps_robot"


def documented_imports() -> dict[str, set[str]]:
    """docs/architecture.md's table 'What each unit may import': unit -> units ('*': any)."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## What each unit may import", 1)[1].split("\n## ", 1)[0]
    table = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or cells[0] in ("unit", "") or set(cells[0]) <= {"-"}:
            continue
        table[cells[0]] = {u.strip() for u in cells[1].split(",") if u.strip()}
    return table


def test_imports_across_units_are_what_the_architecture_page_allows():
    allowed = documented_imports()
    actual: dict[str, set[str]] = {}
    for mod, deps in import_graph().items():
        for dep in deps:
            if _unit(dep) != _unit(mod):
                actual.setdefault(_unit(mod), set()).add(_unit(dep))
    units = {_unit(m) for m in import_graph()} - {"lps_robot"}
    missing = units - set(allowed)
    assert not missing, f"units missing from docs/architecture.md: {sorted(missing)}"
    for unit, deps in sorted(actual.items()):
        if "*" in allowed.get(unit, set()):
            continue
        extra = deps - allowed.get(unit, set())
        assert not extra, f"{unit} imports {sorted(extra)}: docs/architecture.md does not allow it"
    stale = {u: allowed[u] - actual.get(u, set()) for u in allowed if "*" not in allowed[u]}
    assert not any(stale.values()), f"docs/architecture.md allows imports no module makes: {stale}"


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: str(p.relative_to(PKG)))
def test_no_module_over_the_line_limit(path):
    if _name(path) in DATA_TABLES:
        return
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(PKG.parent)} has {n} lines (limit {MAX_LINES})"


def test_every_command_help_is_as_recorded():
    """tests/golden/cli_help.txt holds every command's --help as it was before the command
    line became one module per group; change it only for an intended fix."""
    from lps_robot.cli import build_parser

    golden = Path(__file__).parent / "golden" / "cli_help.txt"
    assert all_help(build_parser()) == golden.read_text()
