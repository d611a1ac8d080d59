"""The library's layout, computed from its source (ast): rooms by idea, floors, copyable cores.

- Directly under ``iqlib/`` stand only subpackages and ``__init__.py``; package ``__init__``
  files hold a docstring only (so importing a module never drags in its siblings).
- No module is longer than 300 lines; no import cycle; no function-level import inside
  ``iqlib`` except an optional heavy dependency with a comment saying so.
- Floors: a subpackage imports only from the rooms below it (``core`` from nothing else).
- Each copyable algorithm core (config, losses, pure ``update``) has an in-package import
  closure of at most 2 files and 600 lines, docstrings included.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "iqlib"

#: room -> the rooms it may import from (itself included).
FLOORS = {
    "core": {"core"},
    "data": {"data", "core"},
    "tabular": {"tabular", "core"},
    "problems": {"problems", "tabular", "core", "data"},
    "neural": {"neural", "core", "data"},
    "notebook": {"notebook", "neural", "problems", "tabular", "data", "core"},
}

#: algorithm -> its copyable core module.
CORES = {
    "tabular IQ-Learn": "iqlib.tabular.iq_learn",
    "offline neural IQ-Learn": "iqlib.neural.iq_learn_offline",
    "online IQ-Learn (SAC critic)": "iqlib.neural.iq_learn_online",
    "IQL (continuous and discrete)": "iqlib.neural.iql",
}
MAX_CORE_FILES, MAX_CORE_LINES, MAX_MODULE_LINES = 2, 600, 300


def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _resolve(name: str, imported: str | None = None) -> str | None:
    """The iqlib module a ``from name import imported`` (or ``import name``) loads."""
    if imported and f"{name}.{imported}" in MODULES:
        return f"{name}.{imported}"
    return name if name in MODULES else None


def _imports(module: str) -> tuple[set[str], list[tuple[int, str]]]:
    """(in-package modules imported at module level, [(line, text)] of function-level imports)."""
    path = MODULES[module]
    source = path.read_text()
    tree = ast.parse(source)
    lines = source.splitlines()
    top, nested = set(), []
    base = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]

    def targets(node):
        if isinstance(node, ast.Import):
            return [_resolve(a.name) for a in node.names if a.name.split(".")[0] == "iqlib"]
        if node.level:  # relative import
            pkg = base.rsplit(".", node.level - 1)[0] if node.level > 1 else base
            name = f"{pkg}.{node.module}" if node.module else pkg
        else:
            name = node.module or ""
        if name.split(".")[0] != "iqlib":
            return []
        return [_resolve(name, a.name) for a in node.names]

    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            top.update(t for t in targets(node) if t)
        elif isinstance(node, ast.If):  # e.g. `if TYPE_CHECKING:` blocks at module level
            for sub in node.body:
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    top.update(t for t in targets(sub) if t)
    top_nodes = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top_nodes:
            parent_if = any(isinstance(n, ast.If) and node in n.body for n in tree.body)
            if not parent_if:
                nested.append((node.lineno, lines[node.lineno - 1]))
    top.discard(module)
    return top, nested


GRAPH = {m: _imports(m)[0] for m in MODULES}


def closure(module: str) -> set[str]:
    """``module`` and every in-package module it imports, transitively (package inits excluded)."""
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo.extend(GRAPH[m])
    return {m for m in seen if MODULES[m].name != "__init__.py"}


def _lines(module: str) -> int:
    return len(MODULES[module].read_text().splitlines())


def test_only_subpackages_directly_under_iqlib():
    loose = sorted(p.name for p in ROOT.iterdir() if p.suffix == ".py" and p.name != "__init__.py")
    assert loose == [], f"modules directly under iqlib/: {loose}"
    rooms = sorted(p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert rooms == sorted(FLOORS)


@pytest.mark.parametrize("room", sorted(FLOORS))
def test_package_inits_hold_a_docstring_only(room):
    tree = ast.parse((ROOT / room / "__init__.py").read_text())
    body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    assert body == [], f"iqlib/{room}/__init__.py must hold only its docstring"


def test_no_module_over_300_lines():
    long = {m: _lines(m) for m in MODULES if _lines(m) > MAX_MODULE_LINES}
    assert long == {}


def test_floors():
    bad = []
    for m, deps in GRAPH.items():
        room = m.split(".")[1] if m.count(".") else None
        if room is None:
            assert deps == set(), "iqlib/__init__.py imports nothing"
            continue
        bad += [(m, d) for d in deps if d.count(".") and d.split(".")[1] not in FLOORS[room]]
    assert bad == [], f"imports that climb a floor: {bad}"


def test_no_import_cycles():
    state: dict[str, int] = {}

    def visit(m, stack):
        state[m] = 1
        for d in GRAPH[m]:
            if state.get(d) == 1:
                raise AssertionError(f"import cycle: {' -> '.join(stack[stack.index(d):] + [d])}")
            if d not in state:
                visit(d, stack + [d])
        state[m] = 2

    for m in sorted(MODULES):
        if m not in state:
            visit(m, [m])


def test_function_level_imports_are_optional_heavy_dependencies_with_a_reason():
    bad = [(m, line, text.strip()) for m in MODULES for line, text in _imports(m)[1]
           if "optional" not in text and "heavy" not in text]
    assert bad == [], f"function-level imports without a comment saying why: {bad}"


@pytest.mark.parametrize("algorithm", sorted(CORES))
def test_copyable_core_closure(algorithm):
    module = CORES[algorithm]
    files = closure(module)
    lines = sum(_lines(m) for m in files)
    assert len(files) <= MAX_CORE_FILES and lines <= MAX_CORE_LINES, (
        f"{algorithm}: copying {module} means {len(files)} files / {lines} lines: {sorted(files)}")
    tree = ast.parse(MODULES[module].read_text())
    names = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert "update" in names, f"{module} defines no `update(state, batch)`"


def test_closure_counts_what_a_copy_needs():
    """The closure walker itself: a module that imports two others counts three files."""
    assert closure("iqlib.core.nets") == {"iqlib.core.nets"}
    assert "iqlib.core.nets" in closure("iqlib.neural.bc")
    assert len(closure("iqlib.neural.bc")) >= 3  # bc -> offline driver -> transitions, nets, ...


def test_the_library_stands_alone():
    """Docstrings say the thing itself; they never point at files outside this repository."""
    bad = [m for m, p in MODULES.items() if "DESIGN.md" in p.read_text() or "shared/" in p.read_text()]
    assert bad == []


@pytest.mark.parametrize("algorithm", sorted(CORES))
def test_readme_copy_table_states_the_closure(algorithm):
    """The README's "Copy one algorithm" row names the closure's files and its line count."""
    module = CORES[algorithm]
    files = closure(module)
    readme = (ROOT.parent / "README.md").read_text()
    path = "iqlib/" + module.split(".", 1)[1].replace(".", "/") + ".py"
    rows = [r for r in readme.splitlines() if r.startswith("| ") and f"`{path}`" in r and "| copy" not in r]
    rows = [r for r in rows if all(f"`{MODULES[m].relative_to(ROOT.parent)}`" in r for m in files)]
    assert len(rows) == 1, f"no single README copy row for {path}"
    assert f"| {sum(_lines(m) for m in files)} |" in rows[0], rows[0]
