"""The package's shape: imports run one way down the pipeline, with no circle, and every
module stays small enough to read."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from opioid_assistant.answer import STAGES as ANSWER_STAGES

PACKAGE = Path(__file__).parents[1] / "src" / "opioid_assistant"
# Each stage may import the stages before it, never one after it.
STAGES = ["report", "index", "answer", "evaluate", "serve"]
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Every package module and the package modules it imports, anywhere in its body."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
            for target in targets:
                while target and target not in modules:  # `from pkg import name`: the pkg
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle, as the modules around it; [] when there is none."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str]:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return []
        path.append(node)
        for target in sorted(graph[node]):
            found = visit(target)
            if found:
                return found
        path.pop()
        done.add(node)
        return []

    for node in sorted(graph):
        found = visit(node)
        if found:
            return found
    return []


def test_the_import_graph_has_no_circle() -> None:
    assert _cycle(_imports()) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _cycle(graph) == ["a", "b", "c", "a"]


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_imports_no_later_stage(stage: str) -> None:
    later = STAGES[STAGES.index(stage) + 1 :]
    backwards = sorted(
        f"{module} -> {target}"
        for module, targets in _imports().items()
        if module.startswith(f"opioid_assistant.{stage}.")
        for target in targets
        if any(target.startswith(f"opioid_assistant.{s}") for s in later)
    )
    assert backwards == []


def _stage_breaches(graph: dict[str, set[str]], stages: dict[str, tuple[str, ...]]) -> list[str]:
    """Each import of an answer module by one of a later stage's, as "module -> target"."""
    order = {
        f"opioid_assistant.answer.{module}": rank
        for rank, modules in enumerate(stages.values())
        for module in modules
    }
    return sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if module in order
        for target in targets
        if order.get(target, -1) > order[module]
    )


def test_every_answer_module_has_one_answer_stage() -> None:
    modules = sorted(p.stem for p in (PACKAGE / "answer").glob("*.py") if p.stem != "__init__")
    staged = [module for modules in ANSWER_STAGES.values() for module in modules]
    assert sorted(staged) == modules


def test_answer_stages_import_no_later_answer_stage() -> None:
    assert _stage_breaches(_imports(), ANSWER_STAGES) == []


def test_the_stage_check_finds_a_backward_import() -> None:
    graph = {
        "opioid_assistant.answer.turn": {"opioid_assistant.answer.ranking"},
        "opioid_assistant.answer.ranking": {"opioid_assistant.answer.turn", "numpy"},
    }
    stages = {"understand": ("turn",), "select": ("ranking",)}
    assert _stage_breaches(graph, stages) == [
        "opioid_assistant.answer.turn -> opioid_assistant.answer.ranking"
    ]


def test_shared_modules_import_no_stage() -> None:
    shared = ["errors", "settings", "text", "types", "offline"]
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in _imports().items()
        if module.rpartition(".")[2] in shared and module.count(".") == 1
        for target in targets
        if any(target.startswith(f"opioid_assistant.{s}") for s in STAGES)
    )
    assert upward == []


def test_every_module_is_under_400_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text("utf-8").splitlines())) >= MAX_LINES
    }
    assert long == {}


def test_answer_logic_loads_without_the_store() -> None:
    # Composing, ranking and checking citations are pure: they must not pull in chromadb.
    code = (
        "import sys; import opioid_assistant.answer.extractive, opioid_assistant.answer.citations,"
        " opioid_assistant.answer.answer_kinds; print('chromadb' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr
