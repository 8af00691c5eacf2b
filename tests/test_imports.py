"""The static import graph of the nnref package has no cycle (lazy imports inside functions count)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _module_names(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the package (``pkg`` for ``pkg/__init__.py``)."""
    names = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Edges module -> modules of the same package it imports, from every import statement in the file.

    Imports inside functions, methods and ``if`` blocks count as much as those
    at the top. ``from . import name`` points at the submodule ``name`` if one
    exists, otherwise at the package itself (its ``__init__``). Importing a
    submodule is not counted as importing its parent package too: Python runs
    the parent's ``__init__`` first, but that edge exists for every submodule
    and says nothing about the design.
    """
    modules = _module_names(package_dir)
    top = package_dir.name
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        here = name.split(".") if is_package else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[: len(here) - (node.level - 1)]
                    stem = ".".join(base + ([node.module] if node.module else []))
                else:
                    stem = node.module or ""
                for alias in node.names:
                    sub = f"{stem}.{alias.name}"
                    targets.append(sub if sub in modules else stem)
            for target in targets:
                # `import pkg.a.b` imports pkg.a.b; keep the longest prefix that is one of our modules
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and (target == top or target.startswith(top + ".")) and target != name:
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of nodes (first == last), or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_nnref_import_graph_has_no_cycle():
    """No chain of imports (top-level or inside functions) leads from an nnref module back to itself."""
    graph = import_graph(ROOT / "nnref")
    assert "nnref.persistence" in graph and "nnref.model" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_persistence_does_not_import_model():
    """persistence owns the file formats and never imports nnref.model; model imports persistence."""
    graph = import_graph(ROOT / "nnref")
    assert "nnref.model" not in graph["nnref.persistence"]
    assert "nnref.persistence" in graph["nnref.model"]


def test_loaded_model_is_an_nnref_model(tmp_path):
    """load_model still builds nnref.Model objects although persistence does not import the model module."""
    import nnref

    model = nnref.Model(log=None)
    model.add(nnref.Dense(2, 2, rng=0))
    model.add(nnref.Softmax())
    model.set(loss=nnref.CategoricalCrossentropy(), optimizer=nnref.Adam(), accuracy=nnref.CategoricalAccuracy())
    model.finalize()
    model.save(tmp_path / "m.nnref")
    assert type(nnref.persistence.load_model(tmp_path / "m.nnref", log=None)) is nnref.Model


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    pkg = tmp_path / "pkg"
    for rel, text in files.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    return pkg


def test_lazy_import_inside_a_function_closes_a_cycle(tmp_path):
    """The checker sees an import inside a method (the form the model/persistence circle had) and reports the cycle."""
    pkg = _package(tmp_path, {
        "__init__.py": "",
        "model.py": "class Model:\n    def save(self):\n        from . import persistence\n",
        "persistence.py": "def load_model():\n    from .model import Model\n    return Model()\n",
    })
    graph = import_graph(pkg)
    assert graph["pkg.model"] == {"pkg.persistence"} and graph["pkg.persistence"] == {"pkg.model"}
    assert find_cycle(graph) in (["pkg.model", "pkg.persistence", "pkg.model"],
                                 ["pkg.persistence", "pkg.model", "pkg.persistence"])


@pytest.mark.parametrize("source, target", [
    ("from . import __version__", "pkg"),
    ("import pkg.sub.leaf", "pkg.sub.leaf"),
    ("from pkg.sub import leaf", "pkg.sub.leaf"),
    ("from .sub.leaf import thing", "pkg.sub.leaf"),
    ("import numpy", None),
])
def test_import_forms_resolve(tmp_path, source, target):
    """Relative, absolute and package-attribute imports resolve to the right module; outside packages are ignored."""
    pkg = _package(tmp_path, {"__init__.py": "", "a.py": source + "\n", "sub/__init__.py": "", "sub/leaf.py": ""})
    assert import_graph(pkg)["pkg.a"] == ({target} if target else set())


def test_relative_import_in_a_subpackage(tmp_path):
    """`from .. import x` inside a subpackage module points at the parent package's module x."""
    pkg = _package(tmp_path, {"__init__.py": "", "x.py": "", "sub/__init__.py": "", "sub/leaf.py": "from .. import x\n"})
    assert import_graph(pkg)["pkg.sub.leaf"] == {"pkg.x"}
