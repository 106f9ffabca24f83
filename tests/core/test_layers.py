"""No module imports back up the house: the imports between predarb's modules (at the
top of a file or inside a function, not those only for type checking) form no cycle.
The composition root (``app``) is imported by the commands' runners alone (``runner``,
the rehearsal), and ``runner`` by ``cli`` alone."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def _module(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.Module) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside.update(id(sub) for stmt in node.body for sub in ast.walk(stmt))
    return inside


def import_graph() -> dict[str, set[str]]:
    """Each module's predarb imports, by module (packages by their ``__init__``)."""
    modules = {_module(p): p for p in SRC.rglob("*.py")}

    def known(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = set()
        tree = ast.parse(path.read_text())
        skip = _type_checking_only(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("predarb"):
                assert node.module is not None
                targets = [known(f"{node.module}.{a.name}") for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [known(a.name) for a in node.names if a.name.startswith("predarb")]
            for target in targets:
                # A module's own package (its ``__init__``) is not an import back up.
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def test_no_module_imports_back_up_the_house() -> None:
    graph = import_graph()
    assert "predarb.engine" in graph and "predarb.safety" in graph
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_only_the_runners_build_the_app_and_only_the_cli_uses_the_runner() -> None:
    graph = import_graph()

    def importers(module: str) -> set[str]:
        return {name for name, targets in graph.items() if module in targets}

    # The rehearsal (record, replay) is a command of its own: it matches as the bot does.
    assert importers("predarb.app") <= {
        "predarb.runner",
        "predarb.rehearsal.recorder",
        "predarb.rehearsal.replay",
    }
    assert importers("predarb.runner") == {"predarb.cli"}
    assert importers("predarb.cli") == {"predarb.__main__"}


def test_what_follows_an_execution_is_wired_in_the_composition_root() -> None:
    """The engine announces; the alerts and the limits subscribe in ``app``."""
    graph = import_graph()
    assert "predarb.notify.alerts" not in graph["predarb.engine"]
    assert {"predarb.notify.alerts", "predarb.post_trade"} <= graph["predarb.app"]
