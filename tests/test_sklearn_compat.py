"""scikit-learn's private names reach the package through _sklearn_compat only."""

import ast
from pathlib import Path

import skdistillhash

PACKAGE = Path(skdistillhash.__file__).parent


def _private_sklearn_imports(path: Path) -> list[str]:
    """``from sklearn... import name`` where the module path or the name is private."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sklearn":
            private_module = any(part.startswith("_") for part in node.module.split("."))
            for alias in node.names:
                if private_module or alias.name.startswith("_"):
                    found.append(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("sklearn.") and "._" in a.name]
    return found


def test_only_the_compat_module_imports_private_sklearn_names():
    offenders = {
        str(path.relative_to(PACKAGE)): names
        for path in PACKAGE.rglob("*.py")
        if path.name != "_sklearn_compat.py" and (names := _private_sklearn_imports(path))
    }
    assert offenders == {}

