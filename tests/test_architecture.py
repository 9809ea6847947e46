"""Architecture rules for arena's import graph, read statically (``ast``; nothing here imports arena).

Rules: no import cycles; layers envs/replay < agents < runners; ray only in runners/distributed/; wandb only in
runners/local/logging; no private name imported from another arena module; only runners/cli imports runners.cli.
``if TYPE_CHECKING:`` imports do not count for cycles (they never run) but do count for every other rule.
The analysis (tests/imports_graph.py and the rule functions below) takes a root and a package list, and the
``test_rule_*`` self-tests at the bottom prove on tiny fake trees that each check can fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pytest

from tests.imports_graph import Import, collect_imports, module_graph, strongly_connected

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agents", "envs", "replay", "runners")
# A package may import packages of its own layer or below, never above.
LAYERS: Mapping[str, int] = {"envs": 0, "replay": 0, "agents": 1, "runners": 2}
# Where a third-party package may be imported: file paths relative to ROOT, a folder ending in "/".
RAY_HOME = ("runners/distributed/",)
WANDB_HOME = ("runners/local/logging.py", "runners/local/logging/")
CLI_PACKAGE = "runners.cli"  # the `arena` command: nothing else in arena imports it


def cycle_report(imports: Sequence[Import]) -> list[str]:
    """One entry per strongly connected component: its modules, then each run-time edge inside it with its lines."""
    out = []
    for comp in strongly_connected(module_graph(imports)):
        lines: dict[tuple[str, str], set[str]] = {}
        for i in imports:
            if i.module in comp and i.resolved in comp and i.resolved != i.module and not i.type_checking:
                lines.setdefault((i.module, i.resolved), set()).add(f"{i.path}:{i.line}")
        edges = [f"    {a} -> {b}   ({', '.join(sorted(at))})" for (a, b), at in sorted(lines.items())]
        out.append(f"cycle among {len(comp)} modules: {', '.join(comp)}\n" + "\n".join(edges))
    return out


def layer_violations(imports: Iterable[Import], layers: Mapping[str, int]) -> list[str]:
    """Imports from a lower layer up to a higher one (TYPE_CHECKING imports included)."""
    out = []
    for i in imports:
        src, dst = i.module.split(".")[0], i.target.split(".")[0]
        if src in layers and dst in layers and layers[dst] > layers[src]:
            out.append(f"{src} -> {dst}: {i.where()}")
    return sorted(out)


def _under(dotted: str, package: str) -> bool:
    """``dotted`` is ``package`` or inside it (``ray.util`` is under ``ray``, ``raylib`` is not)."""
    return dotted == package or dotted.startswith(package + ".")


def misplaced_imports(imports: Iterable[Import], package: str, homes: Sequence[str]) -> list[str]:
    """Imports of ``package`` (or any ``package.*``) from files outside ``homes``."""
    return sorted(
        i.where() for i in imports
        if _under(i.target, package) and not i.path.startswith(tuple(homes))
    )


def private_imports(imports: Iterable[Import], packages: Sequence[str]) -> list[str]:
    """``from a.b import _x`` between arena modules; dunder names (``__version__``) are public."""
    return sorted(
        i.where() for i in imports
        if i.target.split(".")[0] in packages and i.name and i.name.startswith("_") and not i.name.startswith("__")
    )


def cli_importers(imports: Iterable[Import], cli: str) -> list[str]:
    """Imports of ``cli`` (``import cli``, ``from cli import x``, ``from parent import cli``) from outside it."""
    return sorted(
        i.where() for i in imports
        if _under(i.dotted, cli) and not _under(i.module, cli)
    )


def _fail_if(problems: list[str], title: str) -> None:
    """Fail with the title and one problem a line."""
    if problems:
        pytest.fail(f"{title} ({len(problems)}):\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def arena() -> list[Import]:
    """Every import of arena's own modules."""
    return collect_imports(ROOT, PACKAGES)


def test_no_import_cycles(arena: list[Import]) -> None:
    _fail_if(cycle_report(arena), "import cycles among arena modules")


def test_layers(arena: list[Import]) -> None:
    _fail_if(layer_violations(arena, LAYERS), "upward imports (envs/replay < agents < runners)")


def test_ray_only_in_runners_distributed(arena: list[Import]) -> None:
    _fail_if(misplaced_imports(arena, "ray", RAY_HOME), f"ray imported outside {RAY_HOME}")


def test_wandb_only_in_runners_local_logging(arena: list[Import]) -> None:
    _fail_if(misplaced_imports(arena, "wandb", WANDB_HOME), f"wandb imported outside {WANDB_HOME}")


def test_no_private_imports_between_arena_modules(arena: list[Import]) -> None:
    _fail_if(private_imports(arena, PACKAGES), "private names imported from another arena module")


def test_only_runners_cli_imports_runners_cli(arena: list[Import]) -> None:
    _fail_if(cli_importers(arena, CLI_PACKAGE), f"{CLI_PACKAGE} imported from outside it")


# --- self-tests: each check reports a planted violation in a tiny fake tree -------------------------------------


def _tree(root: Path, files: Mapping[str, str], packages: Sequence[str]) -> list[Import]:
    """Write ``files`` (path -> source) under ``root``, adding empty ``__init__.py`` files, and collect imports."""
    for rel, source in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in Path(rel).parents[:-1]:
            (root / parent / "__init__.py").touch()
        path.write_text(source, encoding="utf-8")
    return collect_imports(root, packages)


def test_rule_cycles_found_relative_and_in_functions_but_not_type_checking(tmp_path: Path) -> None:
    imports = _tree(tmp_path, {
        "a/x.py": "from a import y\nimport a\n",  # a.y is a module; the ancestor package a is no edge
        "a/y.py": "def f() -> None:\n    from . import x\n",  # function-level, relative
        "a/p.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from a.q import Q\n",
        "a/q.py": "import a.p\n",  # a.p -> a.q only for the type checker: no cycle
        "a/__init__.py": "from a.x import X\n",  # package re-exporting a child is not a cycle
    }, ["a"])
    report = cycle_report(imports)
    assert len(report) == 1 and report[0].startswith("cycle among 2 modules: a.x, a.y"), report
    assert "    a.y -> a.x   (a/y.py:2)" in report[0].splitlines()


def test_rule_layers_count_type_checking(tmp_path: Path) -> None:
    imports = _tree(tmp_path, {
        "low/m.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from high.n import N\n",
        "high/n.py": "import low.m\nfrom mid import k\n",  # downward: fine
        "mid/k.py": "from low import m\n",  # same layer: fine
    }, ["low", "mid", "high"])
    found = layer_violations(imports, {"low": 0, "mid": 0, "high": 1})
    assert found == ["low -> high: low/m.py:3  from high.n import N  [TYPE_CHECKING]"], found


def test_rule_third_party_only_in_its_home(tmp_path: Path) -> None:
    imports = _tree(tmp_path, {
        "runners/train.py": "import ray.util\n",
        "runners/helper.py": "def f() -> None:\n    from ray import remote\n",
        "runners/distributed/pool.py": "import ray\n",
        "runners/local/logging.py": "import wandb\n",
        "runners/local/other.py": "try:\n    import wandb.sdk\nexcept ImportError:\n    pass\n",
    }, ["runners"])
    assert misplaced_imports(imports, "ray", RAY_HOME) == [
        "runners/helper.py:2  from ray import remote", "runners/train.py:1  import ray.util"]
    assert misplaced_imports(imports, "wandb", WANDB_HOME) == ["runners/local/other.py:2  import wandb.sdk"]
    assert misplaced_imports(imports, "raylib", RAY_HOME) == []


def test_rule_private_names(tmp_path: Path) -> None:
    imports = _tree(tmp_path, {
        "a/x.py": "_hidden = 1\n__version__ = '1'\n",
        "a/y.py": "from a.x import _hidden, __version__\nfrom os import _exit\nfrom .x import _hidden as h\n",
    }, ["a"])
    assert private_imports(imports, ["a"]) == ["a/y.py:1  from a.x import _hidden", "a/y.py:3  from a.x import _hidden"]


def test_rule_cli_imported_only_by_itself(tmp_path: Path) -> None:
    imports = _tree(tmp_path, {
        "runners/cli/__init__.py": "from runners.cli.main import main\n",
        "runners/cli/main.py": "def main() -> None: ...\n",
        "runners/selfplay/t.py": "def f() -> None:\n    from runners import cli\n",
        "runners/local/u.py": "import runners.cli.main\nimport runners.cli_helpers\n",
    }, ["runners"])
    assert cli_importers(imports, "runners.cli") == [
        "runners/local/u.py:1  import runners.cli.main", "runners/selfplay/t.py:2  from runners import cli"]
