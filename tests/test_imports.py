"""The package's modules import each other in one direction only: no circle,
direct or through others, counting imports inside functions too."""

import ast
from pathlib import Path

import skdistillhash

PACKAGE = Path(skdistillhash.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _imports(path: Path) -> set[str]:
    """The package modules a file imports, at any depth of its code."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("skdistillhash"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("skdistillhash"):
                target = node.module
            else:
                continue
            # "from . import x" names a module; "from .m import f" names m.
            submodules = {f"{target}.{alias.name}" for alias in node.names}
            modules = {sub for sub in submodules if _is_module(sub)}
            found.update(modules or {target})
    return found - {name}


def _graph() -> dict[str, set[str]]:
    graph = {_module_name(path): _imports(path) for path in PACKAGE.rglob("*.py")}
    # A package's __init__ only gathers names: an import of the package
    # stands for the modules it re-exports, which are edges of their own.
    packages = {name for name in graph if (PACKAGE.parent.joinpath(*name.split(".")) / "__init__.py").exists()}
    return {name: targets - packages for name, targets in graph.items() if name not in packages}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A circle of imports, if there is one (depth-first search)."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_module_imports_another_that_imports_it():
    graph = _graph()
    assert "skdistillhash.approximate" in graph and "skdistillhash.neighbors" in graph
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_a_circle_is_found():
    # The search itself: a circle through a third module is reported.
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
