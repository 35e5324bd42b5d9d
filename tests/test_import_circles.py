"""No import circle among tui_trainer's modules: each module's imports (at the top AND inside
functions: a lazy import still ties the two modules together, and only hides the circle until
that function runs) form a graph that must have no cycle. Imports under `if TYPE_CHECKING:` are
left out: they never run, and only name types for the checker.

`import a.b.c` is an import of a.b.c; `from a.b import c` of the submodule a.b.c where there is
one, else of a.b itself. The parent packages every import runs first are not edges of their own
(else every `from pkg import submodule` inside pkg would read as a circle); a package's
__init__ is the module of that package's name."""

from __future__ import annotations

import ast
from pathlib import Path

import tui_trainer

ROOT = Path(tui_trainer.__file__).parent


def module_names() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, list[str]]]:
    """Every import anywhere in `tree` except under `if TYPE_CHECKING:`, as (module, names):
    `import a.b` is ("a.b", []), `from a import b, c` is ("a", ["b", "c"]), a relative import
    resolved against `module`."""
    found: list[tuple[str, list[str]]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            found.append((base, [alias.name for alias in node.names]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """Each tui_trainer module, and the tui_trainer modules it imports."""
    modules = module_names()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets: set[str] = set()
        for base, names in _imports(tree, name, path.name == "__init__.py"):
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in modules]
            targets.update(submodules)
            if len(submodules) < len(names) or not names:
                targets.add(base)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as the modules along it (the first repeated at the end), or None."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, list[str]]] = [(start, sorted(graph.get(start, ())))]
        path.append(start)
        on_path.add(start)
        while stack:
            node, todo = stack[-1]
            if not todo:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
                continue
            nxt = todo.pop(0)
            if nxt in on_path:
                return [*path[path.index(nxt) :], nxt]
            if nxt in done:
                continue
            stack.append((nxt, sorted(graph.get(nxt, ()))))
            path.append(nxt)
            on_path.add(nxt)
    return None


def test_no_module_of_the_package_imports_itself_through_others():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


# The layers, bottom up (ARCHITECTURE.md): what each package must never import, lazily or not.
ABOVE = {
    "store": ("config", "study", "parallel", "train", "console", "cli", "ui"),
    "config": ("study", "parallel", "train", "console", "cli", "ui"),
    "study": ("parallel", "train", "console", "cli", "ui"),
    "parallel": ("train", "console", "cli", "ui"),
    "train": ("parallel", "console", "cli", "ui"),
}


def arrows_up(graph: dict[str, set[str]]) -> list[str]:
    """Every import of a package by one beneath it, as 'importer -> imported'."""
    found = []
    for module, targets in sorted(graph.items()):
        package = module.split(".")[1] if module.count(".") else ""
        for target in sorted(targets):
            above = target.split(".")[1] if target.count(".") else ""
            if above in ABOVE.get(package, ()):
                found.append(f"{module} -> {target}")
    return found


def test_no_import_runs_up_the_layers():
    assert arrows_up(import_graph()) == []


def test_the_layer_check_names_an_arrow_running_up():
    graph = {"tui_trainer.train.study": {"tui_trainer.console.plain", "tui_trainer.store.lock"}}
    assert arrows_up(graph) == ["tui_trainer.train.study -> tui_trainer.console.plain"]


def test_the_check_finds_and_names_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_lazy_imports_count_and_type_checking_ones_do_not():
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from tui_trainer.x import y\n"
        "def f():\n    from tui_trainer.z import w\n"
        "from . import sibling\n"
    )
    found = _imports(ast.parse(source), "tui_trainer.pkg.mod", is_package=False)
    assert found == [
        ("typing", ["TYPE_CHECKING"]),
        ("tui_trainer.z", ["w"]),
        ("tui_trainer.pkg", ["sibling"]),
    ]
