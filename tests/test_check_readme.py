"""eval/check_readme.py: every figure in the README names a command or file beside it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[1]
SCRIPT = ROOT / "eval" / "check_readme.py"


@pytest.fixture(scope="module")
def check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_readme", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up while being defined
    spec.loader.exec_module(module)
    return module


def test_every_readme_figure_names_its_command_or_file() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout) == (0, "")


def flagged(check: ModuleType, tmp_path: Path, text: str) -> list[int]:
    readme = tmp_path / "README.md"
    readme.write_text(text, encoding="utf-8")
    return [n for n, _ in check.unsourced(readme, ROOT)]


def test_a_figure_without_a_source_is_flagged(check: ModuleType, tmp_path: Path) -> None:
    text = (
        "# Speed\n\nAnswers take 20 ms at p50.\n\nThe fused model embeds 20-30% faster.\n\n"
        "Accuracy is 0.878 on the main set.\n\nA cold start is 2.4 s.\n"
    )
    assert flagged(check, tmp_path, text) == [3, 5, 7, 9]


def test_a_command_or_file_nearby_sources_it(check: ModuleType, tmp_path: Path) -> None:
    text = (
        "Answers take 20 ms (`.venv/bin/python eval/benchmark_answering.py`).\n\n"
        "Accuracy is 0.878 (`opioid-assistant eval --set eval/evalset.jsonl`).\n\n"
        "Cosine 0.9999999 (`tests/test_onnx_embedder.py`).\n\n"
        "Memory (`.venv/bin/python\neval/benchmark_memory.py`): 439 MB.\n\n"  # a wrapped span
        "Load (`.venv/bin/python eval/load_test.py`):\n\n"
        "| path | p95 (ms) |\n|---|---|\n| /v1 | 865 |\n\n"  # the paragraph before a table
        "Where the time goes (`pytest tests/test_fast_start.py`):\n\n"
        "- imports: 1.5 s\n- parse: 0.3 s\n"  # the paragraph before a list
    )
    assert flagged(check, tmp_path, text) == []


def test_what_does_not_source_a_figure(check: ModuleType, tmp_path: Path) -> None:
    text = (
        "Answers take 20 ms (`.venv/bin/python eval/no_such_benchmark.py`).\n\n"  # no script
        "Index in `OA_DATA_DIR/index` (3.7 MB).\n\n"  # not a file of the repository
        "Load (`.venv/bin/python eval/load_test.py`):\n\n| path | N |\n|---|---|\n| a | 1 |\n\n"
        "So the p95 target is missed (1.16 s).\n\n"  # after a table: not introduced by it
        "Intro naming nothing:\n\n- first, `make test`, 2 s\n- second, 3 s\n\n"  # own item only
        "```sh\nmake test   # about 10 s\n```\n"  # fenced code is skipped
    )
    assert flagged(check, tmp_path, text) == [1, 3, 11, 16]


def test_numbers_that_are_not_figures(check: ModuleType, tmp_path: Path) -> None:
    text = (
        "The first wave began in the 1990s; screenshots at 1280×800; Python 3.11;\n"
        "llama-cpp-python 0.3.36; endnote 59; 324 questions; top_k 6; cosine 0.6.\n"
    )
    assert flagged(check, tmp_path, text) == []
