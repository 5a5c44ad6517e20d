"""The import graph of a package, read from its source: module-level and
function-local imports alike (what runs, sooner or later, when it is used)."""

from __future__ import annotations

import ast
import os
from typing import Dict, List, Optional, Set


def modules(root: str, package: str) -> Dict[str, str]:
    """Dotted module name -> file, for every .py file of `package` under `root`."""
    found = {}
    for directory, _, files in os.walk(os.path.join(root, package)):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                dotted = os.path.relpath(path, root)[:-3].replace(os.sep, ".")
                found[dotted.removesuffix(".__init__")] = path
    return found


def _imported(module: str, path: str, known: Set[str]):
    is_package = path.endswith("__init__.py")
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read(), path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the package of `module`
                parts = module.split(".") if is_package else module.split(".")[:-1]
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield sub if sub in known else base


def import_graph(root: str, package: str) -> Dict[str, List[str]]:
    """Module -> the modules of `package` it imports (anywhere in its source)."""
    found = modules(root, package)
    known = set(found)
    return {m: sorted({t for t in _imported(m, p, known) if t in known and t != m})
            for m, p in found.items()}


def find_cycle(graph) -> Optional[List[str]]:
    """One import cycle as [a, b, ..., a], or None (`graph`: module -> modules it imports)."""
    state: Dict[str, int] = {}  # 1: on the current path, 2: done
    path: List[str] = []

    def visit(node: str) -> Optional[List[str]]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None
