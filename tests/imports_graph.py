"""Static import analysis of arena's own modules, for tests/test_architecture.py.

Every function takes a root directory and a package list, so the self-tests can run them on tiny fake trees.
Imports are read with ``ast`` at any depth of a file: module level, inside functions, under ``try`` and under
``if TYPE_CHECKING:``. Each one is recorded with where it is and whether only the type checker sees it.

Policy on ``if TYPE_CHECKING:`` imports: they never run, so they cannot form an import cycle and are left out
of the cycle graph; they still state a dependency, so every other rule (layers, ray, wandb, private names,
``runners.cli``) counts them.
"""

from __future__ import annotations

import ast
from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Import:
    """One imported name: ``import target`` (name None) or ``from target import name``."""

    module: str  # the importing module, e.g. "runners.local.train"
    path: str  # its file relative to the root, POSIX style, e.g. "runners/train.py"
    line: int
    target: str  # absolute dotted module written after import/from (relative imports resolved)
    name: str | None  # the name after ``from target import``; None for ``import target``
    type_checking: bool  # True when the import sits under ``if TYPE_CHECKING:``
    resolved: str | None  # the arena module it loads (longest known prefix), None when not arena's

    @property
    def dotted(self) -> str:
        """The full dotted name imported: ``target.name`` or ``target``."""
        return f"{self.target}.{self.name}" if self.name else self.target

    def where(self) -> str:
        """``path:line  statement`` for failure messages."""
        stmt = f"from {self.target} import {self.name}" if self.name else f"import {self.target}"
        return f"{self.path}:{self.line}  {stmt}" + ("  [TYPE_CHECKING]" if self.type_checking else "")


def module_files(root: Path, packages: Sequence[str]) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under each package of ``root`` (``__init__`` names the package)."""
    mods: dict[str, Path] = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            mods[".".join(parts)] = path
    return mods


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING`` (any module attribute of that name)."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, guarded: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    """Every node under ``node`` with whether it lies in the body of an ``if TYPE_CHECKING:`` (not its else)."""
    yield node, guarded
    children: Sequence[tuple[ast.AST, bool]]
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        children = [(child, True) for child in node.body] + [(child, guarded) for child in node.orelse]
    else:
        children = [(child, guarded) for child in ast.iter_child_nodes(node)]
    for child, flag in children:
        yield from _walk(child, flag)


def _resolve(dotted: str, modules: Container[str]) -> str | None:
    """The longest prefix of ``dotted`` that is a known module, or None."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in modules:
            return ".".join(parts[:i])
    return None


def collect_imports(root: Path, packages: Sequence[str]) -> list[Import]:
    """Every import statement of every module under ``root``'s packages, one record per imported name."""
    files = module_files(root, packages)
    found: list[Import] = []
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        rel = path.relative_to(root).as_posix()
        for node, guarded in _walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            pairs: list[tuple[str, str | None]]
            if isinstance(node, ast.Import):
                pairs = [(alias.name, None) for alias in node.names]
            else:
                target = node.module or ""
                if node.level:  # relative: level 1 is this package, each further dot one package up
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join([*base, target] if target else base)
                pairs = [(target, alias.name) for alias in node.names]
            for target, name in pairs:
                dotted = f"{target}.{name}" if name else target
                resolved = dotted if name and dotted in files else _resolve(target, files)
                found.append(Import(mod, rel, node.lineno, target, name, guarded, resolved))
    return found


def module_graph(imports: Iterable[Import], *, with_type_checking: bool = False) -> dict[str, set[str]]:
    """Arena-internal edges importer -> imported module.

    Dropped: imports of a module's own ancestor package (Python always starts ``a.b`` before ``a.b.c`` runs,
    so ``from a.b import x`` inside ``a.b.c`` is the normal re-export pattern, not a cycle between peers),
    self-imports, and unless asked, ``if TYPE_CHECKING:`` imports (they never run).
    """
    graph: dict[str, set[str]] = {}
    for imp in imports:
        graph.setdefault(imp.module, set())
        dst = imp.resolved
        if dst is None or dst == imp.module or imp.module.startswith(dst + "."):
            continue
        if imp.type_checking and not with_type_checking:
            continue
        graph[imp.module].add(dst)
        graph.setdefault(dst, set())
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the components with more than one module (each one or more cycles), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp: list[str] = []
            while not comp or comp[-1] != v:
                comp.append(stack.pop())
                on_stack.discard(comp[-1])
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)
