"""A non-editable build ships the report, the prompts and the evaluation set as package data."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_wheel_carries_data_and_works_outside_the_checkout(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("opioid_assistant-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for data in (
        "opioid_assistant/data/cap-opioid-report-2023.txt",
        "opioid_assistant/data/evalset.jsonl",
        "opioid_assistant/data/help_lines.json",
        "opioid_assistant/data/guard_examples.json",
        "opioid_assistant/prompt_files/answer_system.txt",
        "opioid_assistant/prompt_files/answer_user.txt",
        "opioid_assistant/prompt_files/condense.txt",
    ):
        assert data in names, data
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    code = (
        "import opioid_assistant, pathlib;"
        "from opioid_assistant import load_report;"
        "from opioid_assistant.answer.prompts import load_prompt;"
        "from opioid_assistant.evaluate.runner import load_evalset;"
        f"assert str(pathlib.Path(opioid_assistant.__file__)).startswith({str(unpacked)!r});"
        "print(len(load_report().endnotes), len(load_evalset()), '{question}' in load_prompt('answer_user'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    items = len((Path(__file__).parents[1] / "eval/evalset.jsonl").read_text().splitlines())
    assert result.stdout.split() == ["159", str(items), "True"]
